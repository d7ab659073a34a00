"""Events the live analyser emits (frozen dataclasses; times on the gateway clock, angles in deg)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from fusion.types import RepMetrics


@dataclass(frozen=True)
class LiveAngles:
    """New per-sample angles on the analyser's grid: all arrays (m,), deg; `t_s` gateway clock."""

    t_s: np.ndarray
    thigh_deg: np.ndarray
    pelvic_tilt_deg: np.ndarray
    hip_flexion_deg: np.ndarray


@dataclass(frozen=True)
class RepStarted:
    rep: int
    t_s: float


@dataclass(frozen=True)
class WinkOnset:
    """The pelvis has turned back by the wink threshold: `t_s` is where that rotation began,
    `onset_depth_deg` the thigh angle and `onset_hip_flexion_deg` the hip flexion there (the
    rock-back's compared quantity)."""

    rep: int
    t_s: float
    onset_depth_deg: float
    wink_deg: float
    detected_s: float  # grid time at which the threshold was crossed
    onset_hip_flexion_deg: float | None = None


@dataclass(frozen=True)
class DepthCeilingNear:
    """The thigh will reach the prescribed ceiling minus the margin within the reaction time
    (`fusion.live.depth_guard`): cue the lifter to stop. `t_s` grid time of the decision,
    `thigh_deg` the angle then and `speed_degps` its descent speed; the guard's ceiling and
    margin (deg) are repeated so a client can say what was crossed."""

    rep: int
    t_s: float
    thigh_deg: float
    speed_degps: float
    ceiling_thigh_deg: float
    margin_deg: float


@dataclass(frozen=True)
class RepCompleted:
    metrics: RepMetrics


@dataclass(frozen=True)
class RepNotCounted:
    """Rep `rep` is not counted: `placement`, a sensor the reps are found on, sent nothing
    over `gap_start_s`-`gap_end_s` (longer than `fusion.quality.HIDDEN_REP_GAP_S`), from
    the way up to back in a squat, so the lifter may have stood and gone down again unseen:
    where one rep ended and the next began cannot be told, and `start_s`-`end_s` may hold
    two reps (measured as one, it would be one rep of twice the length)."""

    rep: int
    start_s: float
    end_s: float
    placement: str
    gap_start_s: float
    gap_end_s: float


@dataclass(frozen=True)
class Calibrated:
    ok: bool
    message: str


LiveEvent = (
    LiveAngles
    | RepStarted
    | WinkOnset
    | DepthCeilingNear
    | RepCompleted
    | RepNotCounted
    | Calibrated
)
