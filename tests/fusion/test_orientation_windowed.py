"""Windowed fusion of long stretches (bounded memory) against the simulator's true tilt."""

from __future__ import annotations

import numpy as np
import pytest

from fusion.orientation import estimate_orientation, up_in_sensor_frame, windowed
from fusion.resample import resample_uniform
from fusion.simulator import SensorSpec, SquatSetSpec, simulate_set


def _angle_deg(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.degrees(np.arccos(np.clip(np.sum(a * b, axis=1), -1.0, 1.0)))


@pytest.fixture(scope="module")
def sacrum_set():
    spec = SquatSetSpec(reps=12, sacrum=SensorSpec(rate_hz=100.0, loss_probability=0.0))
    return simulate_set(spec, seed=5)


def test_windowed_offline_up_tracks_the_true_tilt(sacrum_set, monkeypatch) -> None:
    monkeypatch.setattr(windowed, "WINDOW_S", 8.0)  # many windows on a ~45 s recording
    monkeypatch.setattr(windowed, "MARGIN_S", 4.0)
    samples = resample_uniform(sacrum_set.sacrum, 100.0)
    up = windowed.estimate_up(samples.gyr_radps, samples.acc_mps2, 100.0, "vqf-offline")
    one_call = up_in_sensor_frame(
        estimate_orientation(samples.gyr_radps, samples.acc_mps2, 100.0, "vqf-offline")
    )
    truth = sacrum_set.truth
    true_quat = np.column_stack(
        [np.interp(samples.t_s, truth.t_s, truth.sacrum_quat_wxyz[:, k]) for k in range(4)]
    )
    true_up = up_in_sensor_frame(true_quat)
    windowed_rmse = float(np.sqrt(np.mean(_angle_deg(up, true_up) ** 2)))
    one_call_rmse = float(np.sqrt(np.mean(_angle_deg(one_call, true_up) ** 2)))
    assert windowed_rmse < 1.0
    assert windowed_rmse < one_call_rmse + 0.2
    assert _angle_deg(up, one_call).max() < 1.0  # 8-s windows; 200-s windows stay within ~0.1


def test_windowed_causal_engine_equals_one_call(sacrum_set, monkeypatch) -> None:
    monkeypatch.setattr(windowed, "WINDOW_S", 7.0)
    samples = resample_uniform(sacrum_set.sacrum, 100.0)
    up = windowed.estimate_up(samples.gyr_radps, samples.acc_mps2, 100.0, "vqf")
    one_call = up_in_sensor_frame(
        estimate_orientation(samples.gyr_radps, samples.acc_mps2, 100.0, "vqf")
    )
    np.testing.assert_allclose(up, one_call, atol=1e-12)


def test_windowed_up_written_into_a_float32_array(sacrum_set, monkeypatch) -> None:
    monkeypatch.setattr(windowed, "WINDOW_S", 7.0)
    samples = resample_uniform(sacrum_set.sacrum, 100.0)
    out = np.full((samples.t_s.size, 3), np.nan, dtype=np.float32)
    up = windowed.estimate_up(samples.gyr_radps, samples.acc_mps2, 100.0, "vqf-offline", out=out)
    assert up is out
    float64 = windowed.estimate_up(samples.gyr_radps, samples.acc_mps2, 100.0, "vqf-offline")
    np.testing.assert_allclose(out, float64, atol=1e-6)
    with pytest.raises(ValueError, match="shape"):
        windowed.estimate_up(samples.gyr_radps, samples.acc_mps2, 100.0, "vqf", out=out[1:])
