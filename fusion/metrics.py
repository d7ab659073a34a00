"""Per-rep metrics from the angle traces: the same function serves offline and live analysis."""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from fusion.angles import SagittalAngles
from fusion.baseline import WinkThreshold, grade_wink
from fusion.reps import RepWindow
from fusion.types import RepMetrics
from fusion.wink import measure_wink, rhythm_lag_deg, smoothed_tilt_deg


def rep_metrics(
    number: int,
    window: RepWindow,
    t_s: np.ndarray,
    angles: SagittalAngles,
    bad_samples: dict[str, np.ndarray],
    load_kg: float | None,
    threshold: WinkThreshold,
    extra_quality: tuple[str, ...] = (),
) -> RepMetrics:
    """Metrics of rep `number` (1-based) in `window` of grid `t_s`.

    `bad_samples` maps a quality code to a per-sample mask; a rep touching a flagged sample
    carries that code in its `quality`, followed by `extra_quality` (codes found per rep by
    other checks). `butt_wink` = wink amplitude >= `threshold.threshold_deg`.
    """
    rate_hz = (t_s.size - 1) / float(t_s[-1] - t_s[0]) if t_s.size > 1 else 1.0
    # The wink is measured on the rep's own samples (indices from its start), the tilt
    # smoothed over the rep only: the traces are a whole set or the live path's history,
    # and copying them for each rep cost more than the rep's measurement.
    span = slice(window.start, window.end + 1)
    local = replace(
        window, start=0, bottom=window.bottom - window.start, end=window.end - window.start
    )
    thigh = angles.thigh_deg[span]
    tilt = smoothed_tilt_deg(angles.pelvic_tilt_deg[span], rate_hz)
    local_wink = measure_wink(thigh, tilt, local)
    wink = replace(
        local_wink,
        peak_index=local_wink.peak_index + window.start,
        trough_index=local_wink.trough_index + window.start,
    )
    butt_wink = wink.wink_deg >= threshold.threshold_deg
    quality = tuple(code for code, mask in bad_samples.items() if mask[span].any())
    quality += tuple(code for code in extra_quality if code not in quality)
    return RepMetrics(
        rep=number,
        start_s=float(t_s[window.start]),
        bottom_s=float(t_s[window.bottom]),
        end_s=float(t_s[window.end]),
        depth_deg=float(angles.thigh_deg[window.bottom]),
        hip_flexion_max_deg=float(angles.hip_flexion_deg[span].max()),
        pelvic_tilt_peak_deg=float(angles.pelvic_tilt_deg[window.start : window.bottom + 1].max()),
        pelvic_tilt_bottom_deg=float(angles.pelvic_tilt_deg[window.bottom]),
        wink_deg=wink.wink_deg,
        wink_onset_depth_deg=float(angles.thigh_deg[wink.peak_index]) if butt_wink else None,
        butt_wink=butt_wink,
        load_kg=load_kg,
        loaded_wink=bool(butt_wink and load_kg is not None and load_kg > 0),
        wink_onset_s=float(t_s[wink.peak_index]) if butt_wink else None,
        descent_s=float(t_s[window.bottom] - t_s[window.start]),
        ascent_s=float(t_s[window.end] - t_s[window.bottom]),
        quality=quality,
        wink_threshold_deg=threshold.threshold_deg,
        threshold_source=threshold.source,
        baseline_reps=threshold.baseline_reps,
        wink_grade=grade_wink(wink.wink_deg, threshold),
        rhythm_lag_deg=rhythm_lag_deg(thigh, tilt, local, local_wink),
    )
