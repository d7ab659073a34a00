"""Up vector and heading-free inclination error on constructed quaternions."""

from __future__ import annotations

import numpy as np
import pytest

from fusion.orientation import (
    inclination_error_deg,
    inclination_rmse_deg,
    quat_multiply,
    up_in_sensor_frame,
)


def _quat(axis: list[float], angle_deg: float) -> np.ndarray:
    axis_arr = np.asarray(axis, dtype=float) / np.linalg.norm(axis)
    half = np.radians(angle_deg) / 2
    return np.array([[np.cos(half), *(np.sin(half) * axis_arr)]])


def test_pure_heading_difference_gives_zero() -> None:
    q_true = _quat([0.3, 1.0, 0.2], 35.0)
    q_est = quat_multiply(_quat([0, 0, 1], 123.0), q_true)  # rotated about earth vertical
    np.testing.assert_allclose(inclination_error_deg(q_est, q_true), 0.0, atol=1e-6)


@pytest.mark.parametrize("tilt_deg", [0.5, 7.0, 30.0, 90.0, 170.0])
def test_known_tilt_gives_that_tilt(tilt_deg: float) -> None:
    q_true = _quat([0.3, 1.0, 0.2], 35.0)
    tilt = _quat([np.cos(0.7), np.sin(0.7), 0.0], tilt_deg)  # horizontal earth axis
    q_est = quat_multiply(quat_multiply(_quat([0, 0, 1], -50.0), tilt), q_true)
    np.testing.assert_allclose(inclination_error_deg(q_est, q_true), tilt_deg, atol=1e-6)


def test_sign_of_quaternion_does_not_matter_and_nan_truth_gives_nan() -> None:
    q_true = np.vstack([_quat([1, 0, 0], 10.0), np.full((1, 4), np.nan)])
    q_est = -np.vstack([_quat([1, 0, 0], 14.0), _quat([1, 0, 0], 14.0)])
    error = inclination_error_deg(q_est, q_true)
    assert error[0] == pytest.approx(4.0, abs=1e-6)
    assert np.isnan(error[1])
    assert inclination_rmse_deg(q_est, q_true) == pytest.approx(4.0, abs=1e-6)
    assert np.isnan(inclination_rmse_deg(q_est, q_true, mask=np.array([False, True])))


def test_up_in_sensor_frame_is_earth_up_rotated_into_the_sensor() -> None:
    # Pitched 90 deg about sensor y, sensor-to-earth R maps sensor x to earth -z: up is sensor -x.
    q = _quat([0, 1, 0], 90.0)
    np.testing.assert_allclose(up_in_sensor_frame(q)[0], [-1.0, 0.0, 0.0], atol=1e-12)
    np.testing.assert_allclose(up_in_sensor_frame(np.array([[1.0, 0, 0, 0]]))[0], [0, 0, 1])
    assert up_in_sensor_frame(np.empty((0, 4))).shape == (0, 3)  # empty live chunks pass through
    with pytest.raises(ValueError, match=r"shape \(N, 4\)"):
        up_in_sensor_frame(np.zeros((3, 3)))


def test_up_in_sensor_frame_same_for_few_and_many_rows() -> None:
    from fusion.orientation import quaternions

    quat = np.random.default_rng(3).normal(size=(quaternions.FEW_ROWS + 5, 4))
    many = up_in_sensor_frame(quat)
    few = np.concatenate([up_in_sensor_frame(quat[i : i + 4]) for i in range(0, len(quat), 4)])
    np.testing.assert_allclose(few, many, atol=1e-15)
    np.testing.assert_allclose(np.linalg.norm(few, axis=1), 1.0, atol=1e-15)
