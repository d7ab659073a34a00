"""Angles of a stored set through time, for a rep's detail: analysed once, then kept.

The live stream only carries ~20 Hz angles while a set records; for a rep's detail (tilt
against thigh angle, time series) after the fact, the set's stored raw samples are analysed
(`api.reanalysis.analyse_stored_set`, the same analysis `winkwatch reanalyze` runs) and the
result is kept (`api.storage.angle_series`), valid while the set holds the same number of raw
samples. So a set is analysed once, not on every request: again only when samples were added
(a set still recording, an edge catching up) or when `reanalyze` replaced it. Times are
set-relative seconds, the same clock as the stored reps' `start_s` / `bottom_s` / `end_s`.
"""

from __future__ import annotations

import numpy as np

from api.storage import sets as set_store
from api.storage.angle_series import (
    AngleSeries,
    keep_angle_series,
    kept_angle_series,
    raw_sample_count,
)
from api.storage.db import Database
from api.vocab import SetStatus


def set_angle_series(database: Database, set_id: int) -> AngleSeries:
    """The set's angles: kept ones if still valid, else analysed now (and kept once the set
    has stopped recording). Raises NotFoundError, fusion AnalysisError."""
    from api.reanalysis import analyse_stored_set

    with database.sessions() as db:
        recording = set_store.get_set(db, set_id).status == SetStatus.RECORDING.value
        samples = raw_sample_count(db, set_id)
        kept = kept_angle_series(db, set_id, samples)
        if kept is not None:
            return kept
    series = AngleSeries.of(analyse_stored_set(database, set_id))
    if not recording:
        with database.sessions() as db:
            keep_angle_series(db, set_id, samples, series)
    return series


def thin(series: AngleSeries, max_rate_hz: float) -> AngleSeries:
    """Every k-th sample so that the series is at most `max_rate_hz` (plots need no more)."""
    if series.t_s.size < 2:
        step = 1
    else:
        rate_hz = (series.t_s.size - 1) / max(float(series.t_s[-1] - series.t_s[0]), 1e-9)
        # 1 % slack: a 100.01 Hz grid (clock drift) thinned for 50 Hz keeps every 2nd sample.
        step = max(1, int(np.ceil(rate_hz / max_rate_hz - 0.01)))
    return AngleSeries(
        t_s=series.t_s[::step],
        thigh_deg=series.thigh_deg[::step],
        pelvic_tilt_deg=series.pelvic_tilt_deg[::step],
        hip_flexion_deg=series.hip_flexion_deg[::step],
        in_gap=series.in_gap[::step],
        findings=series.findings,
    )
