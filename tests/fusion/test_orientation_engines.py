"""Orientation engines against known answers: synthetic motions with exact truth."""

from __future__ import annotations

import numpy as np
import pytest

from fusion.orientation import (
    CAUSAL_ENGINE_NAMES,
    DEFAULT_LIVE_ENGINE,
    DEFAULT_OFFLINE_ENGINE,
    ENGINE_NAMES,
    CausalOrientation,
    OrientationInputError,
    estimate_orientation,
    inclination_error_deg,
    up_in_sensor_frame,
)
from fusion.types import STANDARD_GRAVITY_MPS2

RATE_HZ = 100.0


def _axis_angle_quat(axis: np.ndarray, angle_rad: np.ndarray) -> np.ndarray:
    axis = np.asarray(axis, dtype=float) / np.linalg.norm(axis)
    half = np.asarray(angle_rad, dtype=float)[:, None] / 2.0
    return np.hstack([np.cos(half), np.sin(half) * axis])


def _tilt_from_up_deg(quat_wxyz: np.ndarray) -> np.ndarray:
    """Angle between the sensor z axis and the earth vertical."""
    return np.degrees(np.arccos(np.clip(up_in_sensor_frame(quat_wxyz)[:, 2], -1.0, 1.0)))


def _static_tilted(
    tilt_deg: float, seconds: float, noise: float = 0.0
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Sensor at rest, tilted about an oblique horizontal axis: gyr, acc, true quat."""
    n = int(seconds * RATE_HZ)
    axis = np.array([0.6, -0.8, 0.0])
    q_true = _axis_angle_quat(axis, np.full(n, np.radians(tilt_deg)))
    acc = STANDARD_GRAVITY_MPS2 * up_in_sensor_frame(q_true)
    rng = np.random.default_rng(7)
    gyr = noise * 0.01 * rng.standard_normal((n, 3))
    acc = acc + noise * 0.05 * rng.standard_normal((n, 3))
    return gyr, acc, q_true


@pytest.mark.parametrize("engine", ENGINE_NAMES)
def test_static_tilt_gives_that_inclination(engine: str) -> None:
    gyr, acc, q_true = _static_tilted(25.0, seconds=8.0, noise=1.0)
    quat = estimate_orientation(gyr, acc, RATE_HZ, engine)
    settled = slice(len(quat) // 2, None)
    np.testing.assert_allclose(_tilt_from_up_deg(quat[settled]), 25.0, atol=1.0)
    assert np.max(inclination_error_deg(quat[settled], q_true[settled])) < 1.0


@pytest.mark.parametrize("engine", ENGINE_NAMES)
def test_all_engines_agree_on_convention_up_equals_normalised_accelerometer(engine: str) -> None:
    gyr, acc, _ = _static_tilted(40.0, seconds=8.0)
    quat = estimate_orientation(gyr, acc, RATE_HZ, engine)
    up_acc = acc[-1] / np.linalg.norm(acc[-1])
    np.testing.assert_allclose(up_in_sensor_frame(quat[-1:])[0], up_acc, atol=0.01)


@pytest.mark.parametrize("engine", ENGINE_NAMES)
def test_rotation_about_vertical_keeps_inclination(engine: str) -> None:
    tilt_rad = np.radians(20.0)
    yaw_rate_radps = np.radians(90.0)
    n = int(8 * RATE_HZ)
    t_s = np.arange(n) / RATE_HZ
    q_tilt = _axis_angle_quat([1.0, 0.0, 0.0], np.full(n, tilt_rad))
    from fusion.orientation import quat_multiply

    q_true = quat_multiply(_axis_angle_quat([0.0, 0.0, 1.0], yaw_rate_radps * t_s), q_tilt)
    up_sensor = up_in_sensor_frame(q_true)  # constant: the yaw axis seen from the sensor
    gyr = yaw_rate_radps * up_sensor
    acc = STANDARD_GRAVITY_MPS2 * up_sensor
    quat = estimate_orientation(gyr, acc, RATE_HZ, engine)
    settled = slice(n // 4, None)
    assert np.max(inclination_error_deg(quat[settled], q_true[settled])) < 1.0
    np.testing.assert_allclose(_tilt_from_up_deg(quat[settled]), 20.0, atol=1.0)


@pytest.mark.parametrize("engine", ENGINE_NAMES)
def test_tilting_motion_is_tracked_with_the_right_gyroscope_sign(engine: str) -> None:
    # Level for 3 s, then a 1-s smooth tilt of 60 deg about sensor y, then hold 2 s.
    n = int(6 * RATE_HZ)
    t_s = np.arange(n) / RATE_HZ
    phase = np.clip(t_s - 3.0, 0.0, 1.0)
    angle_rad = np.radians(60.0) * (phase - np.sin(2 * np.pi * phase) / (2 * np.pi))
    rate_radps = np.radians(60.0) * (1 - np.cos(2 * np.pi * phase)) * ((t_s > 3.0) & (t_s < 4.0))
    q_true = _axis_angle_quat([0.0, 1.0, 0.0], angle_rad)
    gyr = np.column_stack([np.zeros(n), rate_radps, np.zeros(n)])
    acc = STANDARD_GRAVITY_MPS2 * up_in_sensor_frame(q_true)
    quat = estimate_orientation(gyr, acc, RATE_HZ, engine)
    moving_and_after = t_s >= 3.0
    # A wrong sign would leave the estimate lagging by up to 120 deg during the tilt.
    assert np.max(inclination_error_deg(quat[moving_and_after], q_true[moving_and_after])) < 6.0


@pytest.mark.parametrize("engine", CAUSAL_ENGINE_NAMES)
def test_causal_chunks_equal_one_batch(engine: str) -> None:
    gyr, acc, _ = _static_tilted(10.0, seconds=3.0, noise=1.0)
    gyr = gyr + np.array([0.3, -0.2, 0.5]) * np.sin(np.arange(len(gyr)) / 20.0)[:, None]
    batch = estimate_orientation(gyr, acc, RATE_HZ, engine)
    live = CausalOrientation(RATE_HZ, engine)
    bounds = [0, 1, 1, 37, 100, 101, 250, len(gyr)]
    chunks = [live.update(gyr[a:b], acc[a:b]) for a, b in zip(bounds[:-1], bounds[1:])]
    assert chunks[1].shape == (0, 4)
    np.testing.assert_array_equal(np.vstack(chunks), batch)
    live.reset()
    np.testing.assert_array_equal(live.update(gyr, acc), batch)


def test_defaults_are_registered_and_live_default_is_causal() -> None:
    assert DEFAULT_OFFLINE_ENGINE in ENGINE_NAMES
    assert DEFAULT_LIVE_ENGINE in CAUSAL_ENGINE_NAMES


def test_outputs_are_unit_quaternions_with_one_row_per_sample() -> None:
    gyr, acc, _ = _static_tilted(5.0, seconds=2.0, noise=1.0)
    for engine in (DEFAULT_OFFLINE_ENGINE, DEFAULT_LIVE_ENGINE):
        quat = estimate_orientation(gyr, acc, RATE_HZ, engine)
        assert quat.shape == (len(gyr), 4)
        np.testing.assert_allclose(np.linalg.norm(quat, axis=1), 1.0, atol=1e-9)


@pytest.mark.parametrize(
    ("gyr", "acc", "rate_hz", "engine", "words"),
    [
        (np.zeros((5, 2)), np.ones((5, 3)), 100.0, "vqf", "gyr_radps must have shape (N, 3)"),
        (np.zeros((5, 3)), np.ones(3), 100.0, "vqf", "acc_mps2 must have shape (N, 3)"),
        (np.zeros((5, 3)), np.ones((4, 3)), 100.0, "vqf", "same number of samples"),
        (np.zeros((5, 3)), np.full((5, 3), np.nan), 100.0, "vqf", "non-finite value at sample 0"),
        (np.zeros((5, 3)), np.ones((5, 3)), 0.0, "vqf", "rate_hz must be finite and positive"),
        (np.zeros((5, 3)), np.ones((5, 3)), -5.0, "vqf", "rate_hz must be finite and positive"),
        (np.zeros((5, 3)), np.ones((5, 3)), float("nan"), "vqf", "rate_hz"),
        (np.zeros((5, 3)), np.ones((5, 3)), 100.0, "kalman", "vqf-offline, vqf, madgwick"),
    ],
)
def test_bad_input_raises_a_clear_value_error(gyr, acc, rate_hz, engine, words) -> None:
    with pytest.raises(ValueError) as info:
        estimate_orientation(gyr, acc, rate_hz, engine)
    assert isinstance(info.value, OrientationInputError)
    assert words in str(info.value)


def test_non_finite_samples_are_found_whatever_their_sum() -> None:
    gyr = np.zeros((6, 3))
    acc = np.array([[0.0, 0.0, 9.8]] * 6)
    opposite = acc.copy()
    opposite[3, 0], opposite[4, 1] = np.inf, -np.inf  # the infinities' sum is NaN
    with pytest.raises(OrientationInputError, match="non-finite value at sample 3"):
        estimate_orientation(gyr, opposite, RATE_HZ, "vqf")
    huge = acc.copy()
    huge[:, 0] = 1e308  # every value finite, their sum not: still accepted
    assert np.isfinite(estimate_orientation(gyr, huge, RATE_HZ, "vqf")).all()


def test_causal_rejects_offline_engine_and_bad_chunks() -> None:
    with pytest.raises(
        OrientationInputError, match="unknown causal engine 'vqf-offline'.*vqf, madgwick"
    ):
        CausalOrientation(RATE_HZ, "vqf-offline")
    live = CausalOrientation(RATE_HZ)
    with pytest.raises(OrientationInputError, match="non-finite value at sample 2"):
        live.update(np.zeros((4, 3)), np.array([[0, 0, 9.8]] * 2 + [[0, np.inf, 9.8]] * 2))
