"""Reconnect delays and gap accounting: pure functions against hand-computed answers."""

import numpy as np
import pytest

from sensor_gateway.ble.backoff import (
    FIRST_RECONNECT_DELAY_S,
    RETRY_BASE_DELAY_S,
    RETRY_MAX_DELAY_S,
    reconnect_delay_s,
)
from sensor_gateway.gaps import SENSOR_CLOCK_WRAP_S, missing_samples
from sensor_gateway.samples import SampleBatch, SensorKind


def test_first_reconnect_is_immediate_then_doubles_up_to_the_cap() -> None:
    assert reconnect_delay_s(0) == FIRST_RECONNECT_DELAY_S == 0.0
    delays = [reconnect_delay_s(n) for n in range(1, 12)]
    assert delays[:4] == [RETRY_BASE_DELAY_S * f for f in (1, 2, 4, 8)]
    assert max(delays) == RETRY_MAX_DELAY_S and delays[-1] == RETRY_MAX_DELAY_S
    assert all(b >= a for a, b in zip(delays, delays[1:]))
    assert reconnect_delay_s(10_000) == RETRY_MAX_DELAY_S  # no overflow however long it refuses
    assert reconnect_delay_s(3, base_s=0.1, max_s=0.3) == pytest.approx(0.3)
    with pytest.raises(ValueError):
        reconnect_delay_s(-1)


def _batch(
    received_s: float, n: int, sensor_t0_s: float | None = None, rate_hz: float = 200.0
) -> SampleBatch:
    times = None if sensor_t0_s is None else sensor_t0_s + np.arange(n) / rate_hz
    return SampleBatch(
        "AA",
        SensorKind.WINKWATCH,
        received_s,
        np.zeros((n, 3)),
        np.zeros((n, 3)),
        sensor_time_s=times,
    )


def test_missing_samples_from_sensor_timestamps_is_exact() -> None:
    # last delivered sample k=99 (t=0.495 s), next delivered k=340 (t=1.700 s): 240 missing
    last = _batch(10.0, 4, sensor_t0_s=96 / 200)
    first = _batch(11.3, 4, sensor_t0_s=340 / 200)
    assert missing_samples(last, first, 200.0) == 240


def test_missing_samples_across_a_sensor_clock_wrap() -> None:
    last = _batch(10.0, 1, sensor_t0_s=SENSOR_CLOCK_WRAP_S - 0.005)
    first = _batch(10.6, 1, sensor_t0_s=0.5)  # new connection, clock wrapped meanwhile
    assert missing_samples(last, first, 200.0) == 100


def test_missing_samples_falls_back_to_receive_times() -> None:
    # no timestamps: 1.0 s at 100 Hz, the 3 samples of the first batch were taken before it
    assert missing_samples(_batch(5.0, 1), _batch(6.0, 3), 100.0) == 97
    # a sensor clock that restarted disagrees with the wall clock: receive times are used
    assert (
        missing_samples(
            _batch(5.0, 1, sensor_t0_s=100.0), _batch(6.0, 3, sensor_t0_s=1000.0), 100.0
        )
        == 97
    )
    assert missing_samples(_batch(5.0, 1), _batch(6.0, 3), None) is None
