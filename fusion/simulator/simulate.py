"""Simulate one squat set recorded by a sacrum and a thigh IMU, with its exact ground truth.

Random streams: the seed is split into independent streams for the movement, the sacrum
sensor and the thigh sensor, so changing one sensor's spec leaves the movement and the
other sensor unchanged.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from fusion.orientation.quaternions import quat_multiply
from fusion.simulator.imu import (
    SensorErrors,
    SensorFrameTruth,
    draw_sensor_errors,
    measure,
    sensor_frame_truth,
)
from fusion.simulator.kinematics import SetMotion, evaluate_motion
from fusion.simulator.profiles import minimum_jerk
from fusion.simulator.sampling import sample_times
from fusion.simulator.scenario import RepPlan, SetPlan, plan_set
from fusion.simulator.spec import SensorSpec, SquatSetSpec
from fusion.types import ImuRecording

# Columns of `winkwatch simulate`'s truth_reps.csv, in order.
TRUTH_REP_COLUMNS: tuple[str, ...] = (
    "rep",
    "start_s",
    "bottom_s",
    "end_s",
    "depth_deg",
    "hip_flexion_max_deg",
    "pelvic_tilt_peak_deg",
    "wink_deg",
    "wink_onset_depth_deg",
)
TRUTH_SAMPLE_COLUMNS: tuple[str, ...] = ("t_s", "thigh_deg", "pelvic_tilt_deg", "hip_flexion_deg")


@dataclass(frozen=True)
class RepTruth:
    """The known answer for one rep. Times in s on the true time base, angles in deg.

    A rep starts when the thigh leaves standing (thigh angle 0) and ends when it returns.
    `bottom_s` is the middle of the bottom pause (when the thigh reaches depth if none).
    `pelvic_tilt_peak_deg`: the anterior tilt peak of the descent (rhythm_k * onset, or
    rhythm_k * depth without a wink); `pelvic_tilt_bottom_deg` = peak - `wink_deg`.
    `wink_onset_depth_deg`, `wink_onset_s`: thigh angle and time at which the posterior
    rotation begins, None when the rep does not wink (`wink_deg` is then 0).
    Angles are absolute: in a quadruped set the start posture is included.
    """

    rep: int
    start_s: float
    bottom_s: float
    end_s: float
    depth_deg: float
    hip_flexion_max_deg: float
    pelvic_tilt_peak_deg: float
    pelvic_tilt_bottom_deg: float
    wink_deg: float
    wink_onset_depth_deg: float | None
    wink_onset_s: float | None
    rhythm_k: float
    descent_s: float
    bottom_pause_s: float
    ascent_s: float

    def as_row(self) -> dict[str, object]:
        """The truth_reps.csv row: column name -> value, in TRUTH_REP_COLUMNS order."""
        return {name: getattr(self, name) for name in TRUTH_REP_COLUMNS}


@dataclass(frozen=True)
class SetTruth:
    """Ground truth on a uniform grid of the true time base (`SquatSetSpec.truth_rate_hz`).

    `t_s` (M,) true time, s; `thigh_deg`, `pelvic_tilt_deg`, `hip_flexion_deg` (M,);
    `sacrum_quat_wxyz`, `thigh_quat_wxyz` (M, 4): each sensor's true orientation,
    sensor-to-earth, earth z up. Interpolate linearly to compare at other instants.
    """

    t_s: np.ndarray
    thigh_deg: np.ndarray
    pelvic_tilt_deg: np.ndarray
    hip_flexion_deg: np.ndarray
    sacrum_quat_wxyz: np.ndarray
    thigh_quat_wxyz: np.ndarray


@dataclass(frozen=True)
class SensorTruth:
    """Per recorded sample of one sensor: `true_t_s` (N,) when it was taken, `quat_wxyz` (N, 4)
    sensor-to-earth then, `sample_index` (N,) its number among all samples the sensor took
    (gaps = lost packets; a sequence counter); plus the sensor's drawn constants (`errors`:
    mount sensor-to-segment, biases and gains in the sensor frame)."""

    true_t_s: np.ndarray
    quat_wxyz: np.ndarray
    sample_index: np.ndarray
    errors: SensorErrors


@dataclass(frozen=True)
class SimulatedSet:
    """A simulated recording (`sacrum`, `thigh`: t_s on the shared recorded clock) and its truth."""

    spec: SquatSetSpec
    seed: int | None
    sacrum: ImuRecording
    thigh: ImuRecording
    truth: SetTruth
    reps: tuple[RepTruth, ...]
    sacrum_truth: SensorTruth
    thigh_truth: SensorTruth
    heading_start_deg: float


def _sensor_truth(
    motion: SetMotion, placement: str, errors: SensorErrors
) -> tuple[SensorFrameTruth, np.ndarray]:
    """Error-free sensor-frame readings and sensor-to-earth quaternions (w, x, y, z) at the motion's instants."""
    segment = getattr(motion, placement)
    truth = sensor_frame_truth(
        errors, motion.t_s, motion.thigh_angle, segment.gyr_radps, segment.specific_force_mps2
    )
    return truth, quat_multiply(segment.quat_wxyz, truth.mount_quat_wxyz)


def _simulate_sensor(
    spec: SensorSpec,
    plan: SetPlan,
    set_spec: SquatSetSpec,
    placement: str,
    rng: np.random.Generator,
) -> tuple[ImuRecording, SensorTruth]:
    errors = draw_sensor_errors(spec, rng)
    times = sample_times(spec, plan.duration_s, rng)
    frame_truth, quat_wxyz = _sensor_truth(
        evaluate_motion(plan, set_spec.body, times.true_t_s), placement, errors
    )
    acc_mps2, gyr_radps = measure(spec, errors, frame_truth, rng)
    recording = ImuRecording(t_s=times.t_s, acc_mps2=acc_mps2, gyr_radps=gyr_radps)
    return recording, SensorTruth(times.true_t_s, quat_wxyz, np.flatnonzero(times.kept), errors)


def _wink_onset_s(rep: RepPlan) -> float | None:
    """Invert the minimum-jerk descent: when the thigh passes the onset angle (bisection)."""
    if rep.wink_onset_deg is None:
        return None
    target = rep.wink_onset_deg / rep.depth_deg
    low, high = 0.0, 1.0
    for _ in range(60):
        mid = 0.5 * (low + high)
        if minimum_jerk(mid).value < target:
            low = mid
        else:
            high = mid
    return rep.start_s + 0.5 * (low + high) * rep.descent_s


def _rep_truth(number: int, rep: RepPlan, plan: SetPlan) -> RepTruth:
    """Absolute angles: in the quadruped the start posture is added to the rep's curves."""
    thigh_start = plan.quadruped.thigh_start_deg if plan.quadruped else 0.0
    tilt_start = plan.quadruped.pelvic_tilt_start_deg if plan.quadruped else 0.0
    return RepTruth(
        rep=number,
        start_s=rep.start_s,
        bottom_s=rep.bottom_s,
        end_s=rep.end_s,
        depth_deg=rep.depth_deg + thigh_start,
        hip_flexion_max_deg=rep.hip_flexion_max_deg + thigh_start + tilt_start,
        pelvic_tilt_peak_deg=rep.pelvic_tilt_peak_deg + tilt_start,
        pelvic_tilt_bottom_deg=rep.pelvic_tilt_bottom_deg + tilt_start,
        wink_deg=rep.wink_deg,
        wink_onset_depth_deg=None
        if rep.wink_onset_deg is None
        else rep.wink_onset_deg + thigh_start,
        wink_onset_s=_wink_onset_s(rep),
        rhythm_k=rep.rhythm_k,
        descent_s=rep.descent_s,
        bottom_pause_s=rep.bottom_pause_s,
        ascent_s=rep.ascent_s,
    )


def simulate_set(spec: SquatSetSpec | None = None, seed: int | None = None) -> SimulatedSet:
    """Simulate `spec` (default `SquatSetSpec()`); the same seed gives the same output."""
    spec = SquatSetSpec() if spec is None else spec
    movement_rng, sacrum_rng, thigh_rng = (
        np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(3)
    )
    plan = plan_set(spec, movement_rng)
    sacrum, sacrum_truth = _simulate_sensor(spec.sacrum, plan, spec, "pelvis", sacrum_rng)
    thigh, thigh_truth = _simulate_sensor(spec.thigh, plan, spec, "thigh", thigh_rng)
    grid_t_s = (
        np.arange(int(np.floor(plan.duration_s * spec.truth_rate_hz + 1e-9)) + 1)
        / spec.truth_rate_hz
    )
    motion = evaluate_motion(plan, spec.body, grid_t_s)
    truth = SetTruth(
        t_s=grid_t_s,
        thigh_deg=motion.thigh_deg,
        pelvic_tilt_deg=motion.pelvic_tilt_deg,
        hip_flexion_deg=motion.hip_flexion_deg,
        sacrum_quat_wxyz=_sensor_truth(motion, "pelvis", sacrum_truth.errors)[1],
        thigh_quat_wxyz=_sensor_truth(motion, "thigh", thigh_truth.errors)[1],
    )
    return SimulatedSet(
        spec=spec,
        seed=seed,
        sacrum=sacrum,
        thigh=thigh,
        truth=truth,
        reps=tuple(_rep_truth(i + 1, rep, plan) for i, rep in enumerate(plan.reps)),
        sacrum_truth=sacrum_truth,
        thigh_truth=thigh_truth,
        heading_start_deg=plan.heading_start_deg,
    )
