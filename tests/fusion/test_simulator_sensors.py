"""The sensor model: sampling instants, clocks, loss, mounting and measurement errors."""

import dataclasses

import numpy as np
import pytest

from fusion.orientation.quaternions import up_in_sensor_frame
from fusion.simulator import OutOfPlaneSpec, SensorSpec, SquatSetSpec, simulate_set
from fusion.types import STANDARD_GRAVITY_MPS2


def _spec(
    sacrum: SensorSpec | None = None, thigh: SensorSpec | None = None, **changes
) -> SquatSetSpec:
    return SquatSetSpec(
        sacrum=sacrum or SensorSpec.ideal(100.0), thigh=thigh or SensorSpec.ideal(100.0), **changes
    )


def _standing(sim, recording):
    return recording.t_s < sim.reps[0].start_s - 0.05


def test_same_seed_same_output_and_other_seed_differs() -> None:
    spec = SquatSetSpec(reps=3, wink_deg=10.0, wink_jitter_deg=2.0)
    first, again, other = simulate_set(spec, 7), simulate_set(spec, 7), simulate_set(spec, 8)
    for name in ("sacrum", "thigh"):
        a, b, c = getattr(first, name), getattr(again, name), getattr(other, name)
        np.testing.assert_array_equal(a.t_s, b.t_s)
        np.testing.assert_array_equal(a.acc_mps2, b.acc_mps2)
        np.testing.assert_array_equal(a.gyr_radps, b.gyr_radps)
        assert len(a) != len(c) or not np.array_equal(a.acc_mps2, c.acc_mps2)
    assert first.reps == again.reps and first.reps != other.reps


def test_changing_one_sensor_leaves_the_movement_and_the_other_sensor_alone() -> None:
    base = _spec(reps=2)
    changed = dataclasses.replace(base, thigh=SensorSpec(rate_hz=52.0))
    a, b = simulate_set(base, 4), simulate_set(changed, 4)
    assert a.reps == b.reps
    np.testing.assert_array_equal(a.sacrum.acc_mps2, b.sacrum.acc_mps2)


def test_packet_loss_removes_whole_packets() -> None:
    lossy = SensorSpec(
        rate_hz=100.0,
        loss_probability=0.2,
        loss_burst_packets=2.0,
        samples_per_packet=5,
        drift_ppm=0.0,
        timestamp_jitter_s=0.0,
        sampling_jitter_s=0.0,
        first_sample_delay_s=0.0,
    )
    sim = simulate_set(_spec(thigh=lossy, reps=6), seed=12)
    kept, taken = len(sim.thigh), len(sim.sacrum)
    assert 0.7 * taken < kept < 0.9 * taken
    index = np.round(sim.thigh.t_s * 100.0).astype(int)  # sample numbers on an exact 100-Hz clock
    lost = np.setdiff1d(np.arange(index[-1] + 1), index)
    assert lost.size > 0 and np.all(np.bincount(lost // 5)[np.unique(lost // 5)] == 5)
    np.testing.assert_array_equal(sim.thigh_truth.sample_index, index)
    steps = np.diff(sim.thigh.t_s)
    assert steps.max() >= 0.06 - 1e-9  # a burst of >= 2 packets


def test_the_two_sensors_sample_at_different_instants() -> None:
    sim = simulate_set(SquatSetSpec(reps=2), seed=1)
    distance_s = np.abs(sim.thigh.t_s[:, None] - sim.sacrum.t_s[None, :]).min(axis=1)
    assert distance_s.min() > 0 and np.median(distance_s) > 1e-4
    assert np.all(np.diff(sim.sacrum.t_s) > 0) and np.all(np.diff(sim.thigh.t_s) > 0)


def test_recorded_time_drifts_from_true_time_at_the_clock_drift() -> None:
    drifting = dataclasses.replace(
        SensorSpec.ideal(100.0), drift_ppm=300.0, clock_offset_error_s=0.004
    )
    sim = simulate_set(_spec(sacrum=drifting, reps=5), seed=2)
    lag_s = sim.sacrum.t_s - sim.sacrum_truth.true_t_s
    slope, intercept = np.polyfit(sim.sacrum_truth.true_t_s, lag_s, 1)
    assert slope == pytest.approx(300e-6, rel=1e-3)
    assert intercept == pytest.approx(0.004, abs=1e-4)
    np.testing.assert_allclose(sim.thigh.t_s, sim.thigh_truth.true_t_s, atol=1e-12)  # ideal clock


def test_jitter_makes_intervals_irregular_but_increasing() -> None:
    jittery = dataclasses.replace(
        SensorSpec.ideal(200.0), timestamp_jitter_s=5e-4, sampling_jitter_s=1e-4
    )
    sim = simulate_set(_spec(sacrum=jittery, reps=2), seed=3)
    steps = np.diff(sim.sacrum.t_s)
    assert steps.min() > 0 and 4e-4 < steps.std() < 1e-3


def test_quantisation_and_clipping_follow_the_range() -> None:
    coarse = dataclasses.replace(
        SensorSpec.ideal(100.0),
        adc_bits=12,
        gyr_range_radps=1.5,
        acc_range_mps2=2 * STANDARD_GRAVITY_MPS2,
    )
    sim = simulate_set(_spec(thigh=coarse, reps=2), seed=5)
    gyr_lsb, acc_lsb = 1.5 / 2048, 2 * STANDARD_GRAVITY_MPS2 / 2048
    np.testing.assert_allclose(
        sim.thigh.gyr_radps / gyr_lsb, np.round(sim.thigh.gyr_radps / gyr_lsb), atol=1e-9
    )
    np.testing.assert_allclose(
        sim.thigh.acc_mps2 / acc_lsb, np.round(sim.thigh.acc_mps2 / acc_lsb), atol=1e-9
    )
    assert sim.thigh.gyr_radps.max() <= 1.5 and sim.thigh.gyr_radps.min() >= -1.5
    assert (
        np.isclose(np.abs(sim.thigh.gyr_radps), 1.5, atol=gyr_lsb).sum() > 5
    )  # thigh exceeds 86 deg/s


def test_gain_error_reproduces_an_uncalibrated_accelerometer_at_rest() -> None:
    uncalibrated = dataclasses.replace(
        SensorSpec.ideal(100.0), acc_scale=12.7 / STANDARD_GRAVITY_MPS2
    )
    sim = simulate_set(_spec(thigh=uncalibrated, reps=1), seed=6)
    still = _standing(sim, sim.thigh)
    np.testing.assert_allclose(np.linalg.norm(sim.thigh.acc_mps2[still], axis=1), 12.7, rtol=1e-9)


def test_bias_and_noise_at_rest_match_the_spec() -> None:
    noisy = dataclasses.replace(
        SensorSpec.ideal(200.0),
        gyr_bias_radps=(0.01, -0.02, 0.005),
        acc_bias_mps2=(0.1, 0.0, -0.15),
        gyr_noise_radps=0.008,
        acc_noise_mps2=0.04,
    )
    sim = simulate_set(
        _spec(sacrum=noisy, reps=1, standing_s=5.0, out_of_plane=OutOfPlaneSpec.none()), seed=7
    )
    still = _standing(sim, sim.sacrum)
    gravity_in_sensor = STANDARD_GRAVITY_MPS2 * up_in_sensor_frame(
        sim.sacrum_truth.quat_wxyz[still]
    )
    acc_error = sim.sacrum.acc_mps2[still] - gravity_in_sensor
    gyr = sim.sacrum.gyr_radps[still]
    count = still.sum()
    np.testing.assert_allclose(
        gyr.mean(axis=0), [0.01, -0.02, 0.005], atol=4 * 0.008 / np.sqrt(count)
    )
    np.testing.assert_allclose(
        acc_error.mean(axis=0), [0.1, 0.0, -0.15], atol=4 * 0.04 / np.sqrt(count)
    )
    np.testing.assert_allclose(gyr.std(axis=0), 0.008, rtol=0.15)
    np.testing.assert_allclose(acc_error.std(axis=0), 0.04, rtol=0.15)


def test_mounting_is_random_aligned_or_given() -> None:
    given = (0.0, 1.0, 0.0, 0.0)  # upside down about x: sensor z = segment -z
    spec = _spec(
        sacrum=SensorSpec.ideal(100.0, mount="aligned"),
        thigh=SensorSpec.ideal(100.0, mount=given),
        out_of_plane=OutOfPlaneSpec.none(),
    )
    sim = simulate_set(spec, seed=8)
    np.testing.assert_allclose(sim.sacrum.acc_mps2[0], [0, 0, STANDARD_GRAVITY_MPS2], atol=1e-9)
    np.testing.assert_allclose(sim.thigh.acc_mps2[0], [0, 0, -STANDARD_GRAVITY_MPS2], atol=1e-9)
    mounts = [
        simulate_set(_spec(reps=1), seed=s).sacrum_truth.errors.mount_quat_wxyz for s in range(20)
    ]
    gravity_dirs = np.array(
        [simulate_set(_spec(reps=1), seed=s).sacrum.acc_mps2[0] for s in range(20)]
    )
    assert len({tuple(np.round(m, 6)) for m in mounts}) == 20
    assert np.all(np.abs(gravity_dirs.mean(axis=0)) < 6.0) and np.all(
        gravity_dirs.min(axis=0) < -3.0
    )
