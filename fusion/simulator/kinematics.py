"""Rigid-body kinematics of the leg chain and the two sensor sites, exact in closed form.

Chain (earth frame, z up, ankle fixed at the origin): knee = R_shank @ (0, 0, shank);
hip = knee + R_thigh @ (0, 0, thigh); thigh sensor = knee + R_thigh @ (0, lateral,
fraction * thigh); sacrum sensor = hip + R_pelvis @ sacrum_offset. Angular rates come from
the angle jets (`rotations.body_rates`); accelerations from a = R (alpha x r + omega x (omega x r))
summed along the chain, so no numerical differentiation is involved.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from fusion.simulator.movement import SegmentAngles, segment_angles
from fusion.simulator.profiles import Jet
from fusion.simulator.rotations import body_rates, point_acceleration, segment_matrix, segment_quat
from fusion.simulator.scenario import SetPlan
from fusion.simulator.spec import BodySpec
from fusion.types import STANDARD_GRAVITY_MPS2

GRAVITY_MPS2 = np.array([0.0, 0.0, -STANDARD_GRAVITY_MPS2])  # earth frame, z up


@dataclass(frozen=True)
class SegmentMotion:
    """One segment at N instants: orientation, rates (segment frame) and its sensor site (earth frame).

    `matrix` (N, 3, 3) and `quat_wxyz` (N, 4): segment-to-earth. `gyr_radps` (N, 3) and
    `specific_force_mps2` (N, 3) = R^T (a - g): what an ideal IMU aligned with the segment
    frame would read. `sensor_position_m` / `sensor_acc_mps2` (N, 3): earth frame.
    """

    matrix: np.ndarray
    quat_wxyz: np.ndarray
    gyr_radps: np.ndarray
    sensor_position_m: np.ndarray
    sensor_acc_mps2: np.ndarray

    @property
    def specific_force_mps2(self) -> np.ndarray:
        force: np.ndarray = np.einsum(
            "nji,nj->ni", self.matrix, self.sensor_acc_mps2 - GRAVITY_MPS2
        )
        return force


@dataclass(frozen=True)
class SetMotion:
    """Truth angles (deg, (N,)) and the pelvis and thigh segment motion at N instants.

    `thigh_angle` is the thigh angle with its first two time derivatives (deg jet).
    """

    t_s: np.ndarray
    thigh_angle: Jet
    pelvic_tilt_deg: np.ndarray
    pelvis: SegmentMotion
    thigh: SegmentMotion

    @property
    def thigh_deg(self) -> np.ndarray:
        return self.thigh_angle.value

    @property
    def hip_flexion_deg(self) -> np.ndarray:
        hip_deg: np.ndarray = self.thigh_deg + self.pelvic_tilt_deg
        return hip_deg


@dataclass(frozen=True)
class _Rigid:
    matrix: np.ndarray
    omega: np.ndarray
    alpha: np.ndarray

    def position(self, lever_m: np.ndarray) -> np.ndarray:
        position_m: np.ndarray = self.matrix @ np.asarray(lever_m, dtype=float)
        return position_m

    def acceleration(self, lever_m: np.ndarray) -> np.ndarray:
        return point_acceleration(self.matrix, self.omega, self.alpha, lever_m)


def _radians(angles: SegmentAngles) -> SegmentAngles:
    scale = np.pi / 180.0
    return SegmentAngles(
        angles.heading.scaled(scale),
        angles.out_of_plane.scaled(scale),
        angles.sagittal.scaled(scale),
    )


def _rigid(angles: SegmentAngles) -> _Rigid:
    omega, alpha = body_rates(angles.heading, angles.out_of_plane, angles.sagittal)
    return _Rigid(
        segment_matrix(angles.heading, angles.out_of_plane, angles.sagittal), omega, alpha
    )


def evaluate_motion(plan: SetPlan, body: BodySpec, t_s: np.ndarray) -> SetMotion:
    """Exact motion of the set at instants `t_s` (N,), true time in s."""
    t_s = np.asarray(t_s, dtype=float)
    angles = segment_angles(plan, t_s, body.shank_to_thigh_ratio)
    pelvis_angles, thigh_angles = _radians(angles.pelvis), _radians(angles.thigh)
    shank, thigh, pelvis = (
        _rigid(_radians(angles.shank)),
        _rigid(thigh_angles),
        _rigid(pelvis_angles),
    )

    knee_lever = np.array([0.0, 0.0, body.shank_m])
    hip_lever = np.array([0.0, 0.0, body.thigh_m])
    thigh_sensor_lever = np.array(
        [0.0, body.thigh_sensor_lateral_m, body.thigh_sensor_fraction * body.thigh_m]
    )
    sacrum_lever = np.asarray(body.sacrum_offset_m, dtype=float)

    knee_m, knee_acc = shank.position(knee_lever), shank.acceleration(knee_lever)
    hip_m = knee_m + thigh.position(hip_lever)
    hip_acc = knee_acc + thigh.acceleration(hip_lever)
    return SetMotion(
        t_s=t_s,
        thigh_angle=angles.thigh_deg,
        pelvic_tilt_deg=angles.pelvic_tilt_deg.value,
        pelvis=SegmentMotion(
            matrix=pelvis.matrix,
            quat_wxyz=segment_quat(
                pelvis_angles.heading, pelvis_angles.out_of_plane, pelvis_angles.sagittal
            ),
            gyr_radps=pelvis.omega,
            sensor_position_m=hip_m + pelvis.position(sacrum_lever),
            sensor_acc_mps2=hip_acc + pelvis.acceleration(sacrum_lever),
        ),
        thigh=SegmentMotion(
            matrix=thigh.matrix,
            quat_wxyz=segment_quat(
                thigh_angles.heading, thigh_angles.out_of_plane, thigh_angles.sagittal
            ),
            gyr_radps=thigh.omega,
            sensor_position_m=knee_m + thigh.position(thigh_sensor_lever),
            sensor_acc_mps2=knee_acc + thigh.acceleration(thigh_sensor_lever),
        ),
    )
