"""All reps of a set measured in one pass give what each rep measured on its own gives.

The reference below is the per-rep code the batch replaced (one smoothing, argmax, argmin
and least-squares fit per rep), on random noisy traces whose reps sit back to back, touch,
are shorter than the tilt smoothing, or never rise (no rhythm fit): the batch must not let
one rep's samples reach its neighbour's measurement.
"""

from __future__ import annotations

import numpy as np
import pytest

from fusion.angles import SagittalAngles
from fusion.baseline import wink_threshold
from fusion.metrics import rep_metrics, reps_metrics
from fusion.reps import RepWindow
from fusion.wink import (
    BOTTOM_EXIT_DEG,
    MIN_RHYTHM_FIT_SAMPLES,
    RHYTHM_FIT_FRACTIONS,
    RHYTHM_NEAR_BOTTOM_FRACTION,
    WINK_SMOOTHING_S,
)

RATE_HZ = 200.0


def _smoothed(tilt: np.ndarray) -> np.ndarray:
    width = int(round(WINK_SMOOTHING_S * RATE_HZ))
    if tilt.size < width:
        return tilt
    padded = np.pad(tilt, (width // 2, width - 1 - width // 2), mode="edge")
    return np.convolve(padded, np.ones(width) / width, mode="valid")


def _reference(thigh_all, tilt_all, hip_all, w: RepWindow):
    span = slice(w.start, w.end + 1)
    thigh, tilt = thigh_all[span], _smoothed(tilt_all[span])
    b, e = w.bottom - w.start, w.end - w.start
    peak = int(np.argmax(tilt[: b + 1]))
    after = thigh[b : e + 1]
    risen = np.flatnonzero(after < thigh[b] - BOTTOM_EXIT_DEG)
    stop = b + (int(risen[0]) if risen.size else after.size)
    trough = peak + int(np.argmin(tilt[peak:stop]))
    wink = float(tilt[peak] - tilt[trough])
    lag = None
    excursion = float(thigh[b] - thigh[0])
    if excursion > 0:
        share = (thigh[: b + 1] - thigh[0]) / excursion
        fit = (share >= RHYTHM_FIT_FRACTIONS[0]) & (share <= RHYTHM_FIT_FRACTIONS[1])
        x, y = thigh[: b + 1][fit], tilt[: b + 1][fit]
        if fit.sum() >= MIN_RHYTHM_FIT_SAMPLES and np.ptp(x) > 0:
            slope, intercept = np.polyfit(x, y, 1)
            near = np.flatnonzero(share >= RHYTHM_NEAR_BOTTOM_FRACTION)
            first = int(near[0]) if near.size else b
            end = max(trough, b) + 1
            lag = float(np.max(intercept + slope * thigh[first:end] - tilt[first:end]))
    return {
        "wink_deg": wink,
        "peak": w.start + peak,
        "rhythm_lag_deg": lag,
        "hip_flexion_max_deg": float(hip_all[span].max()),
        "pelvic_tilt_peak_deg": float(tilt_all[w.start : w.bottom + 1].max()),
    }


def _random_set(rng: np.random.Generator, reps: int):
    windows, position = [], int(rng.integers(0, 5))
    for k in range(reps):
        length = int(rng.choice([3, 8, 19, 20, 21, 150, 400, 700]))
        bottom = position + int(rng.integers(0, length))
        windows.append(RepWindow(position, bottom, position + length - 1))
        position += length - (1 if k % 3 == 0 else -int(rng.integers(0, 4)))  # touching reps
    size = position + 10
    phase = np.cumsum(rng.normal(0.0, 1.0, size))
    thigh = 60.0 * np.sin(np.linspace(0, 20 * np.pi, size)) ** 2 + phase
    if reps > 2:  # a rep whose thigh never rises: no rhythm fit
        w = windows[2]
        thigh[w.start : w.end + 1] = thigh[w.start] - np.arange(w.end - w.start + 1)
    tilt = 0.3 * thigh + rng.normal(0.0, 2.0, size)
    return windows, SagittalAngles(thigh, tilt, thigh + tilt), size


@pytest.mark.parametrize("seed", range(12))
def test_batched_rep_metrics_match_each_rep_measured_alone(seed: int) -> None:
    rng = np.random.default_rng(seed)
    windows, angles, size = _random_set(rng, reps=int(rng.integers(1, 14)))
    t_s = 100.0 + np.arange(size) / RATE_HZ
    gap = np.zeros(size, dtype=bool)
    gap[rng.integers(0, size, 3)] = True
    threshold = wink_threshold(3.0, None, 1.0)
    extra = [("drift",) if k % 4 == 1 else () for k in range(len(windows))]
    batch = reps_metrics(windows, t_s, angles, {"gap": gap}, 20.0, threshold, extra)
    assert [m.rep for m in batch] == list(range(1, len(windows) + 1))
    for k, (w, metrics) in enumerate(zip(windows, batch)):
        ref = _reference(angles.thigh_deg, angles.pelvic_tilt_deg, angles.hip_flexion_deg, w)
        assert metrics.wink_deg == pytest.approx(ref["wink_deg"], abs=1e-9)
        assert metrics.hip_flexion_max_deg == ref["hip_flexion_max_deg"]
        assert metrics.pelvic_tilt_peak_deg == ref["pelvic_tilt_peak_deg"]
        if ref["rhythm_lag_deg"] is None:
            assert metrics.rhythm_lag_deg is None
        else:
            assert metrics.rhythm_lag_deg == pytest.approx(ref["rhythm_lag_deg"], abs=1e-9)
        if metrics.butt_wink:
            assert metrics.wink_onset_s == t_s[ref["peak"]]
        touched = bool(gap[w.start : w.end + 1].any())
        assert metrics.quality == (("gap",) if touched else ()) + extra[k]
        assert metrics.depth_deg == angles.thigh_deg[w.bottom]
        assert (metrics.start_s, metrics.end_s) == (t_s[w.start], t_s[w.end])
        alone = rep_metrics(k + 1, w, t_s, angles, {"gap": gap}, 20.0, threshold, extra[k])
        assert alone == metrics
