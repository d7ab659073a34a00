"""Which gap is reported, once: the reconnect gap, not the same samples again from the mapper;
and a reconnect the source did not size is sized at the rate the sensor was measured at."""

from __future__ import annotations

import numpy as np
import pytest

from sensor_gateway.config import Assignments
from sensor_gateway.gaps import Gap, GapReason, GapTracker, reconnect_gap
from sensor_gateway.samples import LinkState, SampleBatch, SensorKind, SensorStatus
from sensor_gateway.sensors import SensorRegistry


def _batch(received_s: float, n: int, sensor_t0_s: float | None) -> SampleBatch:
    return SampleBatch(
        address="AA",
        kind=SensorKind.WINKWATCH,
        received_s=received_s,
        acc_mps2=np.zeros((n, 3)),
        gyr_radps=np.zeros((n, 3)),
        sensor_time_s=None if sensor_t0_s is None else sensor_t0_s + np.arange(n) / 100.0,
    )


def test_a_reconnect_is_reported_once_and_the_mappers_view_of_it_is_not() -> None:
    tracker = GapTracker()
    assert tracker.streaming(None, 1.0, 100.0) is None  # first connection: nothing lost
    tracker.disconnected(5.0)
    tracker.disconnected(6.0)  # a failed retry: the samples were lost since the first drop
    gap = tracker.streaming(None, 7.5, 100.0)
    assert gap == Gap(5.0, 7.5, 250, GapReason.RECONNECT)
    seen_again = Gap(5.0, 7.5, 249, GapReason.SEQUENCE)
    assert tracker.batch(seen_again) is None  # the first batch after it: the same gap
    later = Gap(9.0, 9.1, 9, GapReason.SEQUENCE)
    assert tracker.batch(later) is later  # a new gap inside the stream is reported
    assert tracker.streaming(None, 10.0, 100.0) is None  # a status without a drop


def test_the_sources_own_account_of_a_reconnect_wins() -> None:
    tracker = GapTracker()
    tracker.disconnected(5.0)
    exact = reconnect_gap(_batch(4.9, 2, 100.0), _batch(7.4, 2, 102.5), 100.0)
    assert exact.missing_samples == 248  # 2.49 s of sensor time between the two, at 100 Hz
    assert tracker.streaming(exact, 7.5, 100.0) == exact
    unsized = reconnect_gap(_batch(4.9, 2, None), _batch(7.4, 2, None), None)
    assert unsized.missing_samples is None
    tracker.disconnected(8.0)
    sized = tracker.streaming(unsized, 8.5, 100.0)
    assert sized == Gap(4.9, 7.4, 250, GapReason.RECONNECT)  # sized at the nominal rate


def test_messages_count_samples_in_plain_words() -> None:
    assert Gap(1.0, 1.01, 1, GapReason.SEQUENCE).missing_text == "1 sample"
    assert Gap(1.0, 2.0, 300, GapReason.RECONNECT).missing_text == "300 samples"
    assert Gap(1.0, 2.0, None, GapReason.RECONNECT).missing_text == "samples"


@pytest.mark.parametrize(("timestamped", "true_rate_hz"), [(True, 52.0), (False, 104.0)])
def test_a_reconnect_the_source_did_not_size_is_sized_at_the_measured_rate(
    timestamped, true_rate_hz
) -> None:
    # A sensor assigned no rate is mapped at the gateway's default (100 Hz) until it says
    # otherwise; it streams at its own rate, which the mapper measures (a timestamped sensor
    # from its clock's sample steps, a count-timed one from the drift of its count against
    # the arrivals): a 2 s drop at 52 Hz is 104 samples, not the 200 of the nominal rate.
    registry = SensorRegistry(Assignments(), default_rate_hz=100.0, max_latency_s=0.25)
    period_s, per_packet, end_s = 1.0 / true_rate_hz, 4, 0.0
    for k in range(0, int(20 * true_rate_hz), per_packet):  # 20 s in packets of 4
        t_s = (k + np.arange(per_packet)) * period_s
        end_s = float(t_s[-1])
        registry.batch(
            SampleBatch(
                address="AA",
                kind=SensorKind.SIMULATED,
                received_s=end_s + 0.004,
                acc_mps2=np.zeros((per_packet, 3)),
                gyr_radps=np.zeros((per_packet, 3)),
                sensor_time_s=7.0 + t_s if timestamped else None,
            ),
            per_packet,
        )
    registry.status(SensorStatus("AA", LinkState.DISCONNECTED, end_s + 0.004))
    _, gap = registry.status(SensorStatus("AA", LinkState.STREAMING, end_s + 2.004))
    assert gap is not None and gap.missing_samples == pytest.approx(2.0 * true_rate_hz, abs=1)
