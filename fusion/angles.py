"""Thigh angle, pelvic tilt and hip flexion from two calibrated segments.

Signs follow docs/domain.md. The calibration only knows each segment's flexion axis up to its
direction, so the sign is fixed from the squat itself:
- thigh angle: squatting takes the thigh towards horizontal, so its large excursion from
  standing is positive;
- pelvic tilt: in the lumbopelvic rhythm the pelvis tilts anteriorly as the thigh flexes on
  the way down, so tilt is signed to rise with the thigh angle over the descent.
Hip flexion (pelvis relative to femur in the sagittal plane) = thigh angle + pelvic tilt.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from fusion.calibration import SegmentCalibration, sagittal_angle_deg
from fusion.percentile import percentile, percentiles, percentiles_both_signs
from fusion.reps import STANDING_PERCENTILE


@dataclass(frozen=True)
class SagittalAngles:
    """Per-sample angles on one time grid, deg: `thigh_deg`, `pelvic_tilt_deg`, `hip_flexion_deg`
    (N,); `standing_thigh_deg`: `fusion.reps.standing_level_deg(thigh_deg)` when known."""

    thigh_deg: np.ndarray
    pelvic_tilt_deg: np.ndarray
    hip_flexion_deg: np.ndarray
    standing_thigh_deg: float | None = None


# Percentiles of the thigh trace: its sign's two (`thigh_sign`), the depth the pelvis' sign
# is taken below (`pelvis_sign`) and the standing level (fusion.reps.STANDING_PERCENTILE).
THIGH_SIGN_PERCENTILES = (1, 99)
DEEP_PERCENTILE = 98


def thigh_sign(thigh_raw_deg: np.ndarray) -> float:
    """+1 or -1 so that the thigh's larger excursion from standing is positive."""
    lower, upper = percentiles(thigh_raw_deg, THIGH_SIGN_PERCENTILES)
    return _sign(lower, upper)


def _sign(lower: float, upper: float) -> float:
    return 1.0 if upper >= -lower else -1.0


def pelvis_sign(
    pelvis_raw_deg: np.ndarray, thigh_deg: np.ndarray, deep_deg: float | None = None
) -> float:
    """+1 or -1 so that pelvic tilt rises with the thigh angle during descents (anterior positive).

    Only the first part of each descent (thigh below 60 % of the set's depth, `deep_deg` =
    the `DEEP_PERCENTILE`-th percentile of `thigh_deg`, computed when not given) is used,
    since near the bottom a butt wink turns the pelvis the other way on purpose.
    """
    deep = percentile(thigh_deg, DEEP_PERCENTILE) if deep_deg is None else deep_deg
    dthigh = _gradient(thigh_deg)
    early_descent = (dthigh > 0) & (thigh_deg > 0.1 * deep) & (thigh_deg < 0.6 * deep)
    if np.count_nonzero(early_descent) < 5:
        early_descent = dthigh > 0
    dpelvis = _gradient(pelvis_raw_deg)
    agreement = float(np.sum(dpelvis[early_descent] * dthigh[early_descent]))
    return 1.0 if agreement >= 0 else -1.0


def _gradient(values: np.ndarray) -> np.ndarray:
    """`np.gradient(values)` of a 1-D trace of >= 2 samples (central differences inside,
    one-sided at the ends), without its generic-axis set-up (~half its cost here)."""
    if values.size < 2:
        raise ValueError("a gradient needs at least 2 samples")
    out = np.empty(values.shape, dtype=np.result_type(values, np.float64))
    np.subtract(values[2:], values[:-2], out=out[1:-1])
    out[1:-1] /= 2.0
    out[0] = values[1] - values[0]
    out[-1] = values[-1] - values[-2]
    return out


def segment_angles(
    sacrum_up: np.ndarray,
    thigh_up: np.ndarray,
    sacrum_cal: SegmentCalibration,
    thigh_cal: SegmentCalibration,
) -> SagittalAngles:
    """Angles from each sensor's earth-up vector (N,3, sensor frame) and its calibration."""
    thigh_deg = sagittal_angle_deg(thigh_up, thigh_cal)
    # Every percentile of the thigh these stages take, for either sign, from one partition
    # (three of the trace cost ~2x one with all their ranks); the same numbers bit for bit.
    qs = (*THIGH_SIGN_PERCENTILES, DEEP_PERCENTILE, STANDING_PERCENTILE)
    raw, negated = percentiles_both_signs(thigh_deg, qs)
    sign = _sign(*raw[:2])
    deep_deg, standing_deg = (raw if sign > 0 else negated)[2:]
    thigh_deg *= sign  # in place: a long recording's traces are large
    tilt_deg = sagittal_angle_deg(sacrum_up, sacrum_cal)
    tilt_deg *= pelvis_sign(tilt_deg, thigh_deg, deep_deg)
    return SagittalAngles(thigh_deg, tilt_deg, thigh_deg + tilt_deg, standing_deg)
