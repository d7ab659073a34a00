"""One sensor-to-segment calibration per assessment, and checks that the sensors stayed put.

The baseline's standing still period gives each segment's vertical and its squats the
flexion axis (`fusion.calibration`); the baseline also fixes the signs (thigh angle positive
at depth, pelvic tilt anterior positive, `fusion.angles`). Every later step reuses all of it:
the sensors are not re-strapped, and on all fours a standing calibration is impossible.

A sensor that moved or slipped on its segment between steps shows up as
- a different vertical while standing still (standing steps): the up direction seen by the
  sensor at rest is more than `VERTICAL_TOLERANCE_DEG` from the baseline's;
- a different flexion axis: the principal axis of the step's own rotation (made horizontal)
  is more than `AXIS_TOLERANCE_DEG` from the calibrated one. On all fours the flexion axis is
  still horizontal, so the still up vector must also stay perpendicular to it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from fusion.angles import SagittalAngles, pelvis_sign, thigh_sign
from fusion.calibration import (
    SegmentCalibration,
    StillWindow,
    calibrate_from_vertical,
    calibrate_segment,
    sagittal_angle_deg,
)
from fusion.errors import AnalysisError

VERTICAL_TOLERANCE_DEG = 10.0  # standing posture varies a few deg between steps; a slip more
AXIS_TOLERANCE_DEG = 12.0  # per-set flexion-axis estimates scatter ~1-4 deg with knees-out


@dataclass(frozen=True)
class AssessmentCalibration:
    """Both segments' axes (sensor frame) and the signs that make the angles follow docs/domain.md."""

    sacrum: SegmentCalibration
    thigh: SegmentCalibration
    sacrum_sign: float
    thigh_sign: float
    # Accelerometer magnitude at rest while standing (m/s^2; 0 = unknown), to tell whether a
    # sensor's per-axis gains differ: then the tilt read in another posture is biased.
    sacrum_rest_acc_mps2: float = 0.0
    thigh_rest_acc_mps2: float = 0.0

    def angles(self, sacrum_up: np.ndarray, thigh_up: np.ndarray) -> SagittalAngles:
        """Thigh angle, pelvic tilt and hip flexion (deg, (N,)) from earth-up vectors (N, 3)."""
        thigh_deg = self.thigh_sign * sagittal_angle_deg(thigh_up, self.thigh)
        tilt_deg = self.sacrum_sign * sagittal_angle_deg(sacrum_up, self.sacrum)
        return SagittalAngles(thigh_deg, tilt_deg, thigh_deg + tilt_deg)

    def as_dict(self) -> dict[str, object]:
        """Plain numbers for storage: each segment's axes (sensor frame) and sign."""
        return {
            name: {
                "x_axis": cal.x_axis.tolist(),
                "y_axis": cal.y_axis.tolist(),
                "z_axis": cal.z_axis.tolist(),
                "planar_share": cal.planar_share,
                "sign": sign,
                "rest_acc_mps2": rest,
            }
            for name, cal, sign, rest in (
                ("sacrum", self.sacrum, self.sacrum_sign, self.sacrum_rest_acc_mps2),
                ("thigh", self.thigh, self.thigh_sign, self.thigh_rest_acc_mps2),
            )
        }

    @classmethod
    def from_dict(cls, data: dict[str, object]) -> AssessmentCalibration:
        """Inverse of `as_dict`; raises ValueError when a field is missing or malformed."""
        segments = {}
        signs = {}
        rests = {}
        for name in ("sacrum", "thigh"):
            entry = data.get(name)
            if not isinstance(entry, dict):
                raise ValueError(f"calibration has no {name!r} entry")
            try:
                axes = [
                    np.asarray(entry[key], dtype=float) for key in ("x_axis", "y_axis", "z_axis")
                ]
                sign = float(entry["sign"])
                share = float(entry.get("planar_share", 1.0))
                rests[name] = float(entry.get("rest_acc_mps2", 0.0))
            except (KeyError, TypeError, ValueError) as exc:
                raise ValueError(f"calibration {name!r} is malformed: {exc}") from exc
            if any(axis.shape != (3,) or not np.all(np.isfinite(axis)) for axis in axes):
                raise ValueError(f"calibration {name!r} axes must be three finite numbers each")
            still = StillWindow(0, 0, 0.0, trustworthy=True)
            segments[name] = SegmentCalibration(axes[0], axes[1], axes[2], still, share)
            signs[name] = 1.0 if sign >= 0 else -1.0
        return cls(
            segments["sacrum"],
            segments["thigh"],
            signs["sacrum"],
            signs["thigh"],
            rests["sacrum"],
            rests["thigh"],
        )


def calibrate_baseline(
    sacrum_up: np.ndarray,
    sacrum_gyr_radps: np.ndarray,
    sacrum_still: StillWindow,
    thigh_up: np.ndarray,
    thigh_gyr_radps: np.ndarray,
    thigh_still: StillWindow,
) -> AssessmentCalibration:
    """The assessment's calibration from the baseline step (up (N,3), rates (N,3) rad/s)."""
    sacrum = calibrate_segment(sacrum_up, sacrum_gyr_radps, sacrum_still)
    thigh = calibrate_segment(thigh_up, thigh_gyr_radps, thigh_still)
    thigh_raw = sagittal_angle_deg(thigh_up, thigh)
    t_sign = thigh_sign(thigh_raw)
    p_sign = pelvis_sign(sagittal_angle_deg(sacrum_up, sacrum), t_sign * thigh_raw)
    return AssessmentCalibration(sacrum, thigh, p_sign, t_sign)


def _angle_deg(a: np.ndarray, b: np.ndarray, sign_agnostic: bool = False) -> float:
    cosine = float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b)))
    if sign_agnostic:
        cosine = abs(cosine)
    return float(np.degrees(np.arccos(np.clip(cosine, -1.0, 1.0))))


@dataclass(frozen=True)
class PlacementCheck:
    """How far one sensor's placement looks changed since the baseline (deg)."""

    vertical_change_deg: float | None  # standing steps only
    axis_change_deg: float | None  # None when the step rotates too little to tell
    moved: bool


def still_posture_change_deg(
    calibration: SegmentCalibration, still_up: np.ndarray, standing: bool
) -> float:
    """How far a sensor's still up vector (sensor frame, (3,)) sits from where the
    assessment's calibration expects it (deg): standing, from the calibrated vertical; on all
    fours the up direction lies in the sagittal plane, so its angle out of that plane."""
    if standing:
        return _angle_deg(still_up, calibration.z_axis)
    return abs(90.0 - _angle_deg(still_up, calibration.y_axis))


def check_placement(
    calibration: SegmentCalibration,
    up: np.ndarray,
    gyr_radps: np.ndarray,
    still: StillWindow,
    standing: bool,
) -> PlacementCheck:
    """Compare one step's still up vector and rotation axis with the assessment's calibration."""
    still_up = up[still.start : still.stop].mean(axis=0)
    still_up = still_up / np.linalg.norm(still_up)
    try:
        axis = calibrate_from_vertical(still_up, gyr_radps, still).y_axis
        axis_change: float | None = _angle_deg(axis, calibration.y_axis, sign_agnostic=True)
    except AnalysisError:  # too little rotation to tell; the rep count will say so
        axis_change = None
    off_plane = still_posture_change_deg(calibration, still_up, standing)
    vertical = off_plane if standing else None
    moved = (
        axis_change is not None and axis_change > AXIS_TOLERANCE_DEG
    ) or off_plane > VERTICAL_TOLERANCE_DEG
    return PlacementCheck(vertical, axis_change, moved)
