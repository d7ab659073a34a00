"""The live analyser's plain-float paths for a packet's few rows against the array forms."""

import numpy as np
import pytest

from fusion.calibration import (
    SegmentCalibration,
    StillWindow,
    sagittal_angle_deg,
    sagittal_angle_deg_rows,
)
from fusion.live.history import SensorBuffer
from fusion.orientation.quaternions import up_in_sensor_frame, up_rows_in_sensor_frame


def _buffer(t_s: np.ndarray, values: np.ndarray) -> SensorBuffer:
    buffer = SensorBuffer()
    buffer.append(t_s, values[:, :3], values[:, 3:])
    return buffer


@pytest.mark.parametrize("seed", range(20))
def test_interpolate_rows_is_interpolate_on_plain_floats(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n = int(rng.integers(2, 12))
    t_s = np.cumsum(rng.uniform(0.001, 0.02, n)) + 100.0
    if seed % 3 == 0:  # a long interval: its instants are flagged
        t_s[n // 2 :] += 1.5
    values = rng.normal(size=(n, 6))
    grid = np.sort(rng.uniform(t_s[0] - 1e-6, t_s[-1] + 1e-6, int(rng.integers(1, 8))))
    a, b = _buffer(t_s, values), _buffer(t_s, values)
    acc, gyr, lost = a.interpolate(grid, 1.0)
    acc_rows, gyr_rows, lost_rows = b.interpolate_rows(grid.tolist(), 1.0)
    rows = np.column_stack([acc_rows, gyr_rows])
    np.testing.assert_array_equal(rows, np.column_stack([acc, gyr]))
    assert lost_rows == lost.tolist()
    np.testing.assert_array_equal(a.t_s, b.t_s)  # the same samples kept for the next step
    # and against np.interp (the reference the gather replaced)
    for k in range(6):
        np.testing.assert_allclose(rows[:, k], np.interp(grid, t_s, values[:, k]))


def test_up_rows_equal_the_column_form() -> None:
    rng = np.random.default_rng(3)
    quat = rng.normal(size=(200, 4))  # not normalised: the forms divide by |q|^2
    columns = up_in_sensor_frame(np.vstack([quat, quat]))[:200]  # > FEW_ROWS: column form
    np.testing.assert_array_equal(np.array(up_rows_in_sensor_frame(quat.tolist())), columns)
    np.testing.assert_array_equal(up_in_sensor_frame(quat[:4]), columns[:4])
    np.testing.assert_allclose(np.linalg.norm(columns, axis=1), 1.0, atol=1e-12)


def test_sagittal_angle_rows_match_the_array_form() -> None:
    rng = np.random.default_rng(5)
    z = np.array([0.0, 0.6, 0.8])
    x = np.array([1.0, 0.0, 0.0])
    cal = SegmentCalibration(x, np.cross(z, x), z, StillWindow(0, 10, 0.1, True), 1.0)
    up = rng.normal(size=(6, 3))
    up /= np.linalg.norm(up, axis=1, keepdims=True)
    np.testing.assert_allclose(
        sagittal_angle_deg_rows(up.tolist(), cal), sagittal_angle_deg(up, cal), atol=1e-12
    )
    # standing (up along z) is 0 deg, leaning forward 90 deg onto x is +90
    assert sagittal_angle_deg_rows([z.tolist(), x.tolist()], cal) == pytest.approx([0.0, 90.0])


@pytest.mark.parametrize("engine", ["vqf", "madgwick"])
def test_causal_update_rows_gives_the_batch_quaternions(engine: str) -> None:
    from fusion.orientation import CausalOrientation

    rng = np.random.default_rng(8)
    gyr = rng.normal(scale=0.5, size=(40, 3))
    acc = rng.normal(scale=0.5, size=(40, 3)) + [0.0, 0.0, 9.81]
    batch = CausalOrientation(100.0, engine).update(gyr, acc)
    rows_filter = CausalOrientation(100.0, engine)
    rows = []
    for start in range(0, 40, 3):
        rows += rows_filter.update_rows(
            gyr[start : start + 3].tolist(), acc[start : start + 3].tolist()
        )
    np.testing.assert_array_equal(np.array(rows), batch)
    checked_filter = CausalOrientation(100.0, engine)
    checked = checked_filter.update_rows(gyr.tolist(), acc.tolist(), checked=True)
    np.testing.assert_array_equal(np.array(checked), batch)


def test_causal_update_rows_rejects_what_update_rejects() -> None:
    from fusion.orientation import CausalOrientation
    from fusion.orientation.engines import OrientationInputError

    fuser = CausalOrientation(100.0)
    with pytest.raises(OrientationInputError, match="non-finite"):
        fuser.update_rows([[0.0, 0.0, float("nan")]], [[0.0, 0.0, 9.8]])
    with pytest.raises(OrientationInputError, match="shape"):
        fuser.update_rows([[0.0, 0.0]], [[0.0, 0.0, 9.8]])
    assert fuser.update_rows([], []) == []
