"""The live dead-axis watch (`sensor_gateway.dead_axes`): since when an axis found dead had
read its one value, on samples with known answers."""

from __future__ import annotations

import numpy as np
import pytest

from sensor_gateway.dead_axes import DeadAxisWatch

RATE_HZ = 100.0


def _sensor(seconds: float, turning: bool, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """`seconds` of a working sensor at RATE_HZ from t = 0: noise on every axis, and a
    squat's rotation (several rad/s) about x when `turning`."""
    rng = np.random.default_rng(seed)
    t_s = np.arange(int(seconds * RATE_HZ)) / RATE_HZ
    acc = rng.normal(0.0, 0.02, (t_s.size, 3)) + [0.0, 0.0, 9.81]
    gyr = rng.normal(0.0, 0.01, (t_s.size, 3))
    if turning:
        gyr[:, 0] += 2.0 * np.sin(2 * np.pi * t_s / 2.5)
    return t_s, acc, gyr


def _feed(watch: DeadAxisWatch, t_s: np.ndarray, acc: np.ndarray, gyr: np.ndarray) -> list:
    """Batches of 5 samples, as BLE notifications bring them; what the watch found."""
    found = []
    for start in range(0, t_s.size, 5):
        part = slice(start, start + 5)
        result = watch.add("AA:01", "set-1", t_s[part], acc[part], gyr[part])
        if result is not None:
            found.append(result)
    return found


@pytest.mark.parametrize("turning_before", [True, False])
@pytest.mark.parametrize("stuck_value", [0.0, None])  # None: stuck at its last reading
def test_the_start_of_a_dead_axis_is_its_first_stuck_sample_before_the_window_that_shows_it(
    turning_before: bool, stuck_value: float | None
) -> None:
    """The gyroscope's y axis sticks 1.37 s into the first window (3 s): that window is judged
    alive (turning) or not judged (at rest), the second shows it dead; the axis has read its
    value since the sample at 1.37 s (or, stuck at its last reading, since that reading)."""
    t_s, acc, gyr = _sensor(9.0, True, seed=3)
    if not turning_before:
        gyr[: int(3.0 * RATE_HZ), 0] = np.random.default_rng(4).normal(0.0, 0.01, 300)
    first_stuck = int(1.37 * RATE_HZ)
    value = gyr[first_stuck - 1, 1] if stuck_value is None else stuck_value
    gyr[first_stuck:, 1] = value
    (found,) = _feed(DeadAxisWatch(), t_s, acc, gyr)
    assert found.dead.column == "gy_radps" and found.dead.value == value
    since = first_stuck - 1 if stuck_value is None else first_stuck
    assert found.since_s == t_s[since]


def test_an_axis_dead_from_the_first_sample_is_dead_since_then() -> None:
    t_s, acc, gyr = _sensor(4.0, True, seed=5)
    acc[:, 2] = 9.81
    (found,) = _feed(DeadAxisWatch(), t_s + 50.0, acc, gyr)
    assert found.dead.column == "az_mps2" and found.since_s == 50.0


def test_a_working_sensor_is_never_found_dead() -> None:
    t_s, acc, gyr = _sensor(30.0, True, seed=6)
    assert _feed(DeadAxisWatch(), t_s, acc, gyr) == []
