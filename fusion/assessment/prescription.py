"""The prescription: how deep to squat under load, and the box height that enforces it.

Depth ceiling: the reference onset is the earliest median onset of the lifter's normal
squats (baseline, and loaded when recorded). The ceiling sits `margin` below it, with
margin = max(`MIN_MARGIN_DEG`, 2 x the onset's robust rep-to-rep sd): staying above it
keeps about 97 % of reps short of the wink if the onsets are roughly normal. Given in
thigh angle (what a coach sees) and in hip flexion (what the sensors compare).

Box height (cm), from the femur and shank lengths, planar model of the squat at the
ceiling thigh angle theta (from vertical):
- the knee is at `shank_cm x cos(alpha)` above the floor, with the shank leaning forward by
  alpha = `SHANK_LEAN_RATIO` x theta (about 35 deg at parallel); `shank_cm` is measured from
  the floor to the knee joint line, standing;
- the hip joint is `femur_cm x cos(theta)` above the knee (below it past parallel), with
  `femur_cm` from the greater trochanter to the knee joint line;
- the buttocks touch the box `SEAT_BELOW_HIP_CM` below the hip joint centre.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from fusion.assessment.stats import robust_sd

MIN_MARGIN_DEG = 3.0
SPREAD_MARGIN_FACTOR = 2.0
SHANK_LEAN_RATIO = 0.4  # shank forward lean per deg of thigh angle (as in the simulator)
SEAT_BELOW_HIP_CM = 8.0  # soft tissue between the hip joint centre and the box


@dataclass(frozen=True)
class Prescription:
    depth_ceiling_thigh_deg: float | None
    depth_ceiling_hip_flexion_deg: float | None
    box_height_cm: float | None
    reference_step: str | None
    margin_thigh_deg: float | None
    margin_hip_flexion_deg: float | None

    def as_dict(self) -> dict[str, float | None]:
        return {
            "depth_ceiling_thigh_deg": self.depth_ceiling_thigh_deg,
            "depth_ceiling_hip_flexion_deg": self.depth_ceiling_hip_flexion_deg,
            "box_height_cm": self.box_height_cm,
        }


NO_PRESCRIPTION = Prescription(None, None, None, None, None, None)


def _ceiling(onsets_deg: np.ndarray) -> tuple[float, float]:
    margin = max(MIN_MARGIN_DEG, SPREAD_MARGIN_FACTOR * robust_sd(onsets_deg))
    return float(np.median(onsets_deg) - margin), margin


def box_height_cm(thigh_deg: float, femur_cm: float, shank_cm: float) -> float:
    """Box height (cm) that stops a squat at thigh angle `thigh_deg` (geometry above)."""
    theta = np.radians(thigh_deg)
    knee_cm = shank_cm * np.cos(SHANK_LEAN_RATIO * theta)
    return float(max(knee_cm + femur_cm * np.cos(theta) - SEAT_BELOW_HIP_CM, 0.0))


def prescribe(
    onsets: dict[str, tuple[np.ndarray, np.ndarray]],
    femur_cm: float | None,
    shank_cm: float | None,
) -> Prescription:
    """`onsets`: step kind -> (hip flexion, thigh angle) at onset of its winking reps (deg).

    Only steps that wink in most reps should be passed. The reference is the step with the
    earliest median hip-flexion onset among baseline and loaded.
    """
    candidates = {k: v for k, v in onsets.items() if k in ("baseline", "loaded") and v[0].size}
    if not candidates:
        return NO_PRESCRIPTION
    reference = min(candidates, key=lambda kind: float(np.median(candidates[kind][0])))
    hip, thigh = candidates[reference]
    hip_ceiling, hip_margin = _ceiling(hip)
    thigh_ceiling, thigh_margin = _ceiling(thigh)
    box = (
        box_height_cm(thigh_ceiling, femur_cm, shank_cm)
        if femur_cm is not None and shank_cm is not None
        else None
    )
    return Prescription(
        round(thigh_ceiling, 1),
        round(hip_ceiling, 1),
        None if box is None else round(box, 1),
        reference,
        thigh_margin,
        hip_margin,
    )
