"""Angles of a stored set through time: the offline analysis of its raw samples.

The live stream only carries ~20 Hz angles while a set records; for a rep's detail (tilt
against thigh angle, time series) after the fact, the stored raw samples are analysed
again with `fusion.pipeline.analyze_recordings`. Times are set-relative seconds, the same
clock as the stored reps' `start_s` / `bottom_s` / `end_s`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from api.storage import sets as set_store
from api.storage.db import Database
from fusion.pipeline import AnalysisResult, analyze_recordings


@dataclass(frozen=True)
class AngleSeries:
    """Angles (deg) on a uniform grid `t_s` (s since the set started), thinned for display."""

    t_s: np.ndarray
    thigh_deg: np.ndarray
    pelvic_tilt_deg: np.ndarray
    hip_flexion_deg: np.ndarray
    in_gap: np.ndarray  # bool: a sensor had no samples here (values interpolated)


def analyse_stored_set(database: Database, set_id: int) -> AnalysisResult:
    """Offline analysis of a set's stored raw samples (raises NotFoundError / fusion AnalysisError)."""
    with database.sessions() as db:
        stored = set_store.load_set_recordings(db, set_id)
    return analyze_recordings(stored.sacrum, stored.thigh, load_kg=stored.load_kg)


def thin(result: AnalysisResult, max_rate_hz: float) -> AngleSeries:
    """Every k-th sample so that the series is at most `max_rate_hz` (plots need no more)."""
    if result.t_s.size < 2:
        step = 1
    else:
        rate_hz = (result.t_s.size - 1) / max(float(result.t_s[-1] - result.t_s[0]), 1e-9)
        # 1 % slack: a 100.01 Hz grid (clock drift) thinned for 50 Hz keeps every 2nd sample.
        step = max(1, int(np.ceil(rate_hz / max_rate_hz - 0.01)))
    return AngleSeries(
        t_s=result.t_s[::step],
        thigh_deg=result.thigh_deg[::step],
        pelvic_tilt_deg=result.pelvic_tilt_deg[::step],
        hip_flexion_deg=result.hip_flexion_deg[::step],
        in_gap=result.in_gap[::step],
    )
