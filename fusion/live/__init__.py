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
"""

from fusion.live.analyzer import LiveConfig, LiveSquatAnalyzer
from fusion.live.events import (
    Calibrated,
    LiveAngles,
    LiveEvent,
    RepCompleted,
    RepStarted,
    WinkOnset,
)
from fusion.live.history import PLACEMENTS

__all__ = [
    "PLACEMENTS",
    "Calibrated",
    "LiveAngles",
    "LiveConfig",
    "LiveEvent",
    "LiveSquatAnalyzer",
    "RepCompleted",
    "RepStarted",
    "WinkOnset",
]
