"""Simulator physics against first principles: rotations, gyroscope, accelerometer."""

import numpy as np
import pytest

from fusion.orientation.quaternions import quat_conjugate, quat_multiply, up_in_sensor_frame
from fusion.simulator import OutOfPlaneSpec, SensorSpec, SquatSetSpec, simulate_set
from fusion.simulator.kinematics import evaluate_motion
from fusion.simulator.profiles import Jet
from fusion.simulator.rotations import segment_matrix
from fusion.simulator.scenario import plan_set
from fusion.types import STANDARD_GRAVITY_MPS2

GRAVITY = np.array([0.0, 0.0, -STANDARD_GRAVITY_MPS2])


def _ideal_spec(**changes) -> SquatSetSpec:
    base = dict(
        reps=3,
        wink_deg=12.0,
        out_of_plane=OutOfPlaneSpec(
            knees_out_deg=8.0,
            thigh_rotation_deg=6.0,
            pelvic_obliquity_deg=3.0,
            pelvic_rotation_deg=3.0,
            heading_drift_degps=0.5,
        ),
        sacrum=SensorSpec.ideal(rate_hz=200.0),
        thigh=SensorSpec.ideal(rate_hz=200.0),
    )
    base.update(changes)
    return SquatSetSpec(**base)


def _matrices(quat_wxyz: np.ndarray) -> np.ndarray:
    """Rotation matrices from quaternions by rotating the basis vectors (independent of the simulator)."""
    columns = []
    for axis in np.eye(3):
        vector = np.column_stack([np.zeros(len(quat_wxyz)), np.tile(axis, (len(quat_wxyz), 1))])
        columns.append(
            quat_multiply(quat_multiply(quat_wxyz, vector), quat_conjugate(quat_wxyz))[:, 1:]
        )
    return np.stack(columns, axis=-1)


def test_sagittal_angle_is_recovered_from_inclination_alone() -> None:
    rng = np.random.default_rng(5)
    count = 2000
    heading, out_of_plane, sagittal = (
        rng.uniform(-np.pi, np.pi, count),
        rng.uniform(-0.5, 0.5, count),
        rng.uniform(-2.5, 2.5, count),
    )
    zeros = np.zeros(count)
    matrix = segment_matrix(
        Jet(heading, zeros, zeros), Jet(out_of_plane, zeros, zeros), Jet(sagittal, zeros, zeros)
    )
    up_in_segment = matrix[:, 2, :]  # R^T e_z
    np.testing.assert_allclose(
        np.arctan2(-up_in_segment[:, 0], up_in_segment[:, 2]), sagittal, atol=1e-12
    )


def test_truth_angles_follow_from_the_true_sensor_orientations() -> None:
    sim = simulate_set(_ideal_spec(), seed=11)
    for quat, errors, angle_deg, sign in (
        (sim.truth.thigh_quat_wxyz, sim.thigh_truth.errors, sim.truth.thigh_deg, 1.0),
        (sim.truth.sacrum_quat_wxyz, sim.sacrum_truth.errors, sim.truth.pelvic_tilt_deg, -1.0),
    ):
        up_in_sensor = up_in_sensor_frame(quat)
        up_in_segment = up_in_sensor @ errors.mount_matrix.T  # R_mount u
        recovered = np.degrees(np.arctan2(sign * up_in_segment[:, 0], up_in_segment[:, 2]))
        np.testing.assert_allclose(recovered, angle_deg, atol=1e-9)
    assert sim.truth.thigh_deg.max() > 90  # the set really squats, with out-of-plane motion present


def _integrate_gyro(quat0: np.ndarray, gyr_radps: np.ndarray, t_s: np.ndarray) -> np.ndarray:
    quats = [quat0]
    for k in range(len(t_s) - 1):
        rate = 0.5 * (gyr_radps[k] + gyr_radps[k + 1])
        angle = np.linalg.norm(rate) * (t_s[k + 1] - t_s[k])
        axis = rate / np.linalg.norm(rate) if angle > 0 else np.zeros(3)
        step = np.concatenate([[np.cos(angle / 2)], np.sin(angle / 2) * axis])
        quats.append(quat_multiply(quats[-1][None], step[None])[0])
    return np.array(quats)


@pytest.mark.parametrize("soft_tissue_deg", [0.0, 2.0])
@pytest.mark.parametrize("placement", ["sacrum", "thigh"])
def test_integrating_the_gyroscope_reproduces_the_true_orientation(
    placement: str, soft_tissue_deg: float
) -> None:
    sensor = SensorSpec.ideal(rate_hz=200.0)
    sensor = SensorSpec(**{**sensor.__dict__, "soft_tissue_deg": soft_tissue_deg})
    sim = simulate_set(_ideal_spec(sacrum=sensor, thigh=sensor), seed=3)
    recording, truth = getattr(sim, placement), getattr(sim, f"{placement}_truth")
    integrated = _integrate_gyro(truth.quat_wxyz[0], recording.gyr_radps, recording.t_s)
    error = quat_multiply(integrated, quat_conjugate(truth.quat_wxyz))
    error_deg = np.degrees(2 * np.arccos(np.clip(np.abs(error[:, 0]), 0, 1)))
    assert error_deg.max() < 0.1
    assert np.degrees(np.abs(recording.gyr_radps).max()) > 60  # the sensor did rotate


@pytest.mark.parametrize("soft_tissue_deg", [0.0, 2.0])
@pytest.mark.parametrize("placement", ["pelvis", "thigh"])
def test_accelerometer_is_specific_force_of_the_sensor_trajectory(
    placement: str, soft_tissue_deg: float
) -> None:
    sensor = SensorSpec(
        **{**SensorSpec.ideal(rate_hz=100.0).__dict__, "soft_tissue_deg": soft_tissue_deg}
    )
    spec = _ideal_spec(sacrum=sensor, thigh=sensor)
    sim = simulate_set(spec, seed=8)
    recording = sim.sacrum if placement == "pelvis" else sim.thigh
    truth = sim.sacrum_truth if placement == "pelvis" else sim.thigh_truth
    plan = plan_set(spec, np.random.default_rng(np.random.SeedSequence(8).spawn(3)[0]))
    step_s = 2e-4
    positions = [
        getattr(
            evaluate_motion(plan, spec.body, truth.true_t_s + offset), placement
        ).sensor_position_m
        for offset in (-step_s, 0.0, step_s)
    ]
    acc_earth = (positions[0] - 2 * positions[1] + positions[2]) / step_s**2
    expected = np.einsum("nji,nj->ni", _matrices(truth.quat_wxyz), acc_earth - GRAVITY)
    np.testing.assert_allclose(recording.acc_mps2, expected, atol=2e-3)
    assert np.abs(np.linalg.norm(recording.acc_mps2, axis=1) - STANDARD_GRAVITY_MPS2).max() > 1.0


def test_standing_still_reads_gravity_and_no_rotation() -> None:
    spec = _ideal_spec(out_of_plane=OutOfPlaneSpec.none(), standing_s=1.5)
    sim = simulate_set(spec, seed=2)
    for recording in (sim.sacrum, sim.thigh):
        still = recording.t_s < sim.reps[0].start_s
        assert still.sum() > 250
        np.testing.assert_allclose(
            np.linalg.norm(recording.acc_mps2[still], axis=1), STANDARD_GRAVITY_MPS2, atol=1e-9
        )
        np.testing.assert_allclose(recording.gyr_radps[still], 0.0, atol=1e-12)
    between = (sim.truth.t_s > sim.reps[0].end_s) & (sim.truth.t_s < sim.reps[1].start_s)
    np.testing.assert_allclose(sim.truth.thigh_deg[between], 0.0, atol=1e-12)
    np.testing.assert_allclose(sim.truth.pelvic_tilt_deg[between], 0.0, atol=1e-12)


def test_slow_heading_drift_keeps_rest_readings_close_to_gravity() -> None:
    sim = simulate_set(_ideal_spec(standing_s=2.0), seed=4)  # heading drifts 0.5 deg/s
    still = sim.sacrum.t_s < sim.reps[0].start_s
    np.testing.assert_allclose(
        np.linalg.norm(sim.sacrum.acc_mps2[still], axis=1), STANDARD_GRAVITY_MPS2, atol=1e-4
    )
    np.testing.assert_allclose(
        np.linalg.norm(sim.sacrum.gyr_radps[still], axis=1), np.radians(0.5), rtol=1e-9
    )


def test_soft_tissue_wobble_moves_the_sensor_not_the_segment_truth() -> None:
    wobbly = SensorSpec(**{**SensorSpec.ideal(rate_hz=100.0).__dict__, "soft_tissue_deg": 2.0})
    firm = simulate_set(_ideal_spec(thigh=SensorSpec.ideal(rate_hz=100.0)), seed=9)
    soft = simulate_set(_ideal_spec(thigh=wobbly), seed=9)
    np.testing.assert_array_equal(firm.truth.thigh_deg, soft.truth.thigh_deg)
    error = quat_multiply(soft.truth.thigh_quat_wxyz, quat_conjugate(firm.truth.thigh_quat_wxyz))
    error_deg = np.degrees(2 * np.arccos(np.clip(np.abs(error[:, 0]), 0, 1)))
    standing = firm.truth.thigh_deg == 0
    assert error_deg[standing].max() < 1e-4
    assert 0.5 < error_deg.max() < 4.0
    wobble_power = np.abs(np.fft.rfft(soft.thigh.gyr_radps[:, 0] - firm.thigh.gyr_radps[:, 0]))
    freqs = np.fft.rfftfreq(len(firm.thigh), 1 / 100.0)
    assert freqs[np.argmax(wobble_power)] >= 2.5
