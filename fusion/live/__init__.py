"""Causal, incremental analysis of one athlete's two sensors, for the live gateway.

Pure and synchronous: samples in (`push`), events out. The caller maps each sensor's clock
to the gateway clock first; here both streams are interpolated onto one uniform grid as far
as both have data, fused causally, calibrated on the fly and segmented into reps. Completed
reps are measured with the same `rep_metrics` as the offline pipeline.

Calibration on the fly:
1. standing still (or, after `STILL_SEARCH_S`, the quietest moment) gives each segment's
   vertical;
2. the first descent (thigh inclination past `AXIS_LOCK_DEG`) gives each flexion axis from
   the angular rate so far, and the signs (thigh positive, pelvis rising with the thigh).
Angles and reps start after that; the first rep is kept because its samples are buffered.

The events (`fusion.live.events`) import without the analyser, so the gateway can name them
without loading the whole core until a set starts.
"""

from typing import TYPE_CHECKING

from fusion.live.events import (
    Calibrated,
    DepthCeilingNear,
    LiveAngles,
    LiveEvent,
    RepCompleted,
    RepNotCounted,
    RepStarted,
    WinkOnset,
)
from fusion.live.history import PLACEMENTS

if TYPE_CHECKING:
    from fusion.live.analyzer import LiveConfig, LiveSquatAnalyzer


def __getattr__(name: str) -> object:
    """`LiveSquatAnalyzer` and `LiveConfig`, imported on first use (PEP 562)."""
    if name in ("LiveConfig", "LiveSquatAnalyzer"):
        from fusion.live import analyzer

        return getattr(analyzer, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "PLACEMENTS",
    "Calibrated",
    "DepthCeilingNear",
    "LiveAngles",
    "LiveConfig",
    "LiveEvent",
    "LiveSquatAnalyzer",
    "RepCompleted",
    "RepNotCounted",
    "RepStarted",
    "WinkOnset",
]
