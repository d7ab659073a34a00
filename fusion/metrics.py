"""Per-rep metrics from the angle traces: the same function serves offline and live analysis."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from fusion.angles import SagittalAngles
from fusion.baseline import WinkThreshold, grade_wink
from fusion.reps import RepWindow, rep_batches
from fusion.types import RepMetrics
from fusion.wink import rep_winks


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
    """Metrics of rep `number` (1-based) in `window` of grid `t_s` (`reps_metrics` of one rep)."""
    return reps_metrics(
        [window], t_s, angles, bad_samples, load_kg, threshold, [extra_quality], number
    )[0]


def reps_metrics(
    windows: Sequence[RepWindow],
    t_s: np.ndarray,
    angles: SagittalAngles,
    bad_samples: Mapping[str, np.ndarray],
    load_kg: float | None,
    threshold: WinkThreshold,
    extra_quality: Sequence[tuple[str, ...]] | None = None,
    first_number: int = 1,
) -> list[RepMetrics]:
    """Metrics of the reps in `windows` of grid `t_s`, numbered from `first_number`.

    `bad_samples` maps a quality code to a per-sample mask; a rep touching a flagged sample
    carries that code in its `quality`, followed by its `extra_quality` (codes found per rep
    by other checks). `butt_wink` = wink amplitude >= `threshold.threshold_deg`.

    The reps are measured on one gather of their own samples (the traces are a whole set or
    the live path's history, and copying them per rep cost more than the measurement), with
    the maxima and masks of every rep in one reduction each; a long recording's reps in
    batches of at most ~`fusion.reps.REP_BATCH_SAMPLES` samples.
    """
    starts = np.fromiter((w.start for w in windows), dtype=np.intp, count=len(windows))
    ends = np.fromiter((w.end for w in windows), dtype=np.intp, count=len(windows))
    reps: list[RepMetrics] = []
    for batch in rep_batches(starts, ends):
        reps += _batch_metrics(
            windows[batch],
            t_s,
            angles,
            bad_samples,
            load_kg,
            threshold,
            None if extra_quality is None else extra_quality[batch],
            first_number + batch.start,
        )
    return reps


def _batch_metrics(
    windows: Sequence[RepWindow],
    t_s: np.ndarray,
    angles: SagittalAngles,
    bad_samples: Mapping[str, np.ndarray],
    load_kg: float | None,
    threshold: WinkThreshold,
    extra_quality: Sequence[tuple[str, ...]] | None,
    first_number: int,
) -> list[RepMetrics]:
    """`reps_metrics` of one batch of reps."""
    if not windows:
        return []
    rate_hz = (t_s.size - 1) / float(t_s[-1] - t_s[0]) if t_s.size > 1 else 1.0
    starts = np.fromiter((w.start for w in windows), dtype=np.intp, count=len(windows))
    bottoms = np.fromiter((w.bottom for w in windows), dtype=np.intp, count=len(windows))
    ends = np.fromiter((w.end for w in windows), dtype=np.intp, count=len(windows))
    lengths = ends - starts + 1
    offsets = np.zeros(len(windows), dtype=np.intp)
    np.cumsum(lengths[:-1], out=offsets[1:])
    # index of every rep's samples, rep after rep: start + position within the rep
    samples = np.arange(int(lengths.sum()), dtype=np.intp) + np.repeat(starts - offsets, lengths)
    hip_max = np.maximum.reduceat(angles.hip_flexion_deg[samples], offsets)
    raw_tilt = angles.pelvic_tilt_deg[samples]
    descent = samples <= np.repeat(bottoms, lengths)
    tilt_peak = np.maximum.reduceat(np.where(descent, raw_tilt, -np.inf), offsets)
    # A mask with no flagged sample (no clipping, most often) touches no rep: no gather.
    touched = {
        code: np.logical_or.reduceat(mask[samples], offsets)
        if mask.any()
        else np.zeros(len(windows), dtype=bool)
        for code, mask in bad_samples.items()
    }
    winks = rep_winks(
        angles.thigh_deg[samples], raw_tilt, offsets, lengths, bottoms - starts, rate_hz
    )
    times = t_s[np.concatenate([starts, bottoms, ends])].tolist()
    count = len(windows)
    thigh_bottom = angles.thigh_deg[bottoms].tolist()
    tilt_bottom = angles.pelvic_tilt_deg[bottoms].tolist()
    reps = []
    for k, window in enumerate(windows):
        wink = winks[k]
        butt_wink = wink.wink_deg >= threshold.threshold_deg
        quality = tuple(code for code, any_bad in touched.items() if any_bad[k])
        if extra_quality is not None:
            quality += tuple(code for code in extra_quality[k] if code not in quality)
        peak = window.start + wink.peak_index
        start_s, bottom_s, end_s = times[k], times[count + k], times[2 * count + k]
        reps.append(
            RepMetrics(
                rep=first_number + k,
                start_s=start_s,
                bottom_s=bottom_s,
                end_s=end_s,
                depth_deg=thigh_bottom[k],
                hip_flexion_max_deg=float(hip_max[k]),
                pelvic_tilt_peak_deg=float(tilt_peak[k]),
                pelvic_tilt_bottom_deg=tilt_bottom[k],
                wink_deg=wink.wink_deg,
                wink_onset_depth_deg=float(angles.thigh_deg[peak]) if butt_wink else None,
                butt_wink=butt_wink,
                load_kg=load_kg,
                loaded_wink=bool(butt_wink and load_kg is not None and load_kg > 0),
                wink_onset_s=float(t_s[peak]) if butt_wink else None,
                descent_s=float(t_s[window.bottom] - t_s[window.start]),
                ascent_s=float(t_s[window.end] - t_s[window.bottom]),
                quality=quality,
                wink_threshold_deg=threshold.threshold_deg,
                threshold_source=threshold.source,
                baseline_reps=threshold.baseline_reps,
                wink_grade=grade_wink(wink.wink_deg, threshold),
                wink_uncertainty_deg=threshold.borderline_deg,  # the u the grade is taken with
                rhythm_lag_deg=wink.rhythm_lag_deg,
            )
        )
    return reps
