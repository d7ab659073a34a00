"""Mapping a stored set's clock again from what the sensor sent, against the true times."""

from __future__ import annotations

import numpy as np
import pytest

from sensor_gateway.clock import SensorClockMapper, map_clock_offline
from sensor_gateway.samples import SampleBatch, SensorKind

RATE_HZ = 200.0
PER_PACKET = 4


def _sensor_stream(drift_ppm: float, seconds: float, seed: int):
    """True gateway times, sensor timestamps and receive times (latency >= 4 ms, spikes)."""
    rng = np.random.default_rng(seed)
    t_true = 3.0 + np.arange(int(seconds * RATE_HZ)) / RATE_HZ
    sensor_s = 71_234.5 + (t_true - 3.0) * (1 + drift_ppm * 1e-6)
    packets = t_true.size // PER_PACKET
    latency = 0.004 + rng.exponential(0.004, packets)
    spikes = rng.random(packets) < 0.005
    latency[spikes] += rng.uniform(0.02, 0.1, spikes.sum())
    last_of_packet = t_true.reshape(packets, PER_PACKET)[:, -1]
    received_s = np.repeat(last_of_packet + latency, PER_PACKET)
    return t_true, sensor_s, received_s


@pytest.mark.parametrize("drift_ppm", [-300.0, 0.0, 120.0, 250.0])
def test_offline_mapping_is_within_a_millisecond_of_truth_from_the_first_second(
    drift_ppm: float,
) -> None:
    t_true, sensor_s, received_s = _sensor_stream(drift_ppm, 60.0, seed=int(abs(drift_ppm)) + 7)
    mapped = map_clock_offline(sensor_s, received_s)
    assert mapped is not None
    # Unobservable: the constant minimum latency (4 ms + the packet's own spread).
    error_s = mapped - t_true
    error_s -= np.median(error_s)
    assert np.max(np.abs(error_s)) < 1e-3
    assert np.all(np.diff(mapped) > 0)
    live = SensorClockMapper(RATE_HZ)
    live_t = np.concatenate(
        [
            live.map(
                SampleBatch(
                    address="AA",
                    kind=SensorKind.WINKWATCH,
                    received_s=float(received_s[k]),
                    acc_mps2=np.zeros((PER_PACKET, 3)),
                    gyr_radps=np.zeros((PER_PACKET, 3)),
                    sensor_time_s=sensor_s[k : k + PER_PACKET],
                    seq=k // PER_PACKET,
                )
            ).t_s
            for k in range(0, t_true.size, PER_PACKET)
        ]
    )
    live_error_s = live_t - t_true - np.median(mapped - t_true)
    first_5_s = t_true < 8.0
    # Over the first seconds the live mapper knows no drift yet; the whole-set fit does.
    assert np.max(np.abs(error_s[first_5_s])) <= np.max(np.abs(live_error_s[first_5_s])) + 1e-4


def test_unusable_sensor_times_are_refused() -> None:
    t = np.arange(10) / 100.0
    assert map_clock_offline(np.full(10, np.nan), t) is None
    assert map_clock_offline(np.r_[t[:5], t[:5]], t) is None  # clock reset
    assert map_clock_offline(t[:1], t[:1]) is None


def test_a_sensor_clock_that_jumped_forward_is_left_to_the_live_mapping() -> None:
    # One line cannot map both sides of a jump: fitted across a 1 s jump at 30 s (the
    # samples arriving all along) it mapped the set up to 0.95 s off its true times.
    t_true, sensor_s, received_s = _sensor_stream(120.0, 60.0, seed=3)
    sensor_s = sensor_s + np.where(t_true >= 33.0, 1.0, 0.0)
    assert map_clock_offline(sensor_s, received_s) is None
    # a latency spike of the same size is no jump: the bucket's lowest delay stays put
    received_s = received_s + np.where((t_true >= 33.0) & (t_true < 33.3), 1.0, 0.0)
    assert map_clock_offline(sensor_s - np.where(t_true >= 33.0, 1.0, 0.0), received_s) is not None
