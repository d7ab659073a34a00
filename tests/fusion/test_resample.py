"""Resampling onto uniform grids: exact on linear signals, gaps flagged where they are."""

import numpy as np
import pytest

from fusion.resample import gap_mask, resample_to_grid, resample_uniform, uniform_grid
from fusion.types import ImuRecording


def _linear_recording(t_s: np.ndarray) -> ImuRecording:
    signal = np.column_stack([t_s, 2 * t_s, -t_s + 1])
    return ImuRecording(t_s, signal, 0.5 * signal)


def test_linear_signal_is_reproduced_on_an_irregular_clock() -> None:
    rng = np.random.default_rng(3)
    t_s = np.cumsum(rng.uniform(0.004, 0.006, size=400))
    out = resample_uniform(_linear_recording(t_s), rate_hz=100.0)
    np.testing.assert_allclose(np.diff(out.t_s), 0.01, atol=1e-12)
    np.testing.assert_allclose(out.acc_mps2[:, 1], 2 * out.t_s, atol=1e-12)
    np.testing.assert_allclose(out.gyr_radps[:, 2], 0.5 * (1 - out.t_s), atol=1e-12)
    assert not out.in_gap.any()


def test_gap_mask_flags_only_instants_inside_long_gaps() -> None:
    t_s = np.array([0.0, 0.01, 0.02, 0.2, 0.21, 0.22])
    grid = uniform_grid(0.0, 0.22, 100.0)
    mask = gap_mask(t_s, grid, max_gap_s=0.05)
    inside = (grid > 0.02 + 1e-9) & (grid < 0.2 - 1e-9)
    np.testing.assert_array_equal(mask, inside)


def test_grid_outside_the_recording_is_refused() -> None:
    rec = _linear_recording(np.linspace(0, 1, 11))
    with pytest.raises(ValueError, match="exceeds the recording"):
        resample_to_grid(rec, np.array([0.5, 1.5]))


def test_long_interval_starts_across_blocks(monkeypatch) -> None:
    from fusion import gaps

    monkeypatch.setattr(gaps, "INTERVAL_BLOCK_SAMPLES", 7)  # gaps on and between block edges
    t_s = np.arange(100) * 0.01
    for start in (6, 7, 13, 50, 98):
        t_s[start + 1 :] += 0.2
    expected = np.flatnonzero(np.diff(t_s) > 0.1)
    np.testing.assert_array_equal(gaps.long_interval_starts(t_s, 0.1), expected)
    assert gaps.long_interval_starts(t_s[:1], 0.1).size == 0


@pytest.mark.parametrize("order", [(0.05, 0.25), (0.25, 0.05)])
def test_a_recordings_long_intervals_at_each_threshold_whatever_the_order(order) -> None:
    t_s = np.arange(200) * 0.005
    t_s[20:] += 0.1  # a 0.105-s gap after sample 19
    t_s[90:] += 0.5  # a 0.505-s gap after sample 89
    t_s[150:] += 0.3  # a 0.305-s gap after sample 149
    rec = _linear_recording(t_s)
    expected = {0.05: [19, 89, 149], 0.25: [89, 149]}
    for longer_than_s in order:
        np.testing.assert_array_equal(
            rec.long_interval_starts(longer_than_s), expected[longer_than_s]
        )
    assert rec.long_interval_starts(0.6).size == 0
