"""Which gap is reported, once: the reconnect gap, not the same samples again from the mapper;
and a reconnect the source did not size is sized at the rate the sensor was measured at."""

from __future__ import annotations

import numpy as np
import pytest

from sensor_gateway.ble.connection import ConnectionManager
from sensor_gateway.ble.link import SensorLink
from sensor_gateway.config import Assignments
from sensor_gateway.gaps import Gap, GapReason, GapTracker, SampleInterval, reconnect_gap
from sensor_gateway.protocols import get_protocol
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


class _NoSightings:
    def last_sighting(self, _address: str) -> None:
        return None


class _Passthrough:
    """A decoder whose 'bytes' are already the batch."""

    def feed(self, batch: SampleBatch, _received_s: float) -> SampleBatch:
        return batch


def test_the_ble_links_own_reconnect_gap_is_sized_at_the_measured_rate() -> None:
    # Asked for 100 Hz, the sensor streams 52 Hz in one-sample packets; the link dropped and
    # 104 samples were taken before it streamed again (sensor clock step 105 / 52 s). The
    # link sized this at the rate asked for (201 samples); now at the measured one, the same
    # measurement the clock mapper makes (`SampleInterval`).
    statuses: list[SensorStatus] = []
    link = SensorLink(
        "AA",
        get_protocol(SensorKind.WINKWATCH),
        100,
        tracker=_NoSightings(),  # type: ignore[arg-type]
        connections=ConnectionManager(),
        on_batch=lambda _batch: None,
        on_status=statuses.append,
    )
    decoder = _Passthrough()

    def sample(k: int) -> SampleBatch:
        return SampleBatch(
            address="AA",
            kind=SensorKind.WINKWATCH,
            received_s=100.0 + k / 52.0 + 0.005,
            acc_mps2=np.zeros((1, 3)),
            gyr_radps=np.zeros((1, 3)),
            sensor_time_s=np.array([7.0 + k / 52.0]),
            nominal_rate_hz=100.0,
        )

    link._link_up = True
    for k in range(520):  # 10 s
        link._on_notification(decoder, sample(k))  # type: ignore[arg-type]
    link._on_disconnected(None)
    link._link_up, link._awaiting_first_batch = True, True  # reconnected, streaming again
    link._on_notification(decoder, sample(520 + 104))  # type: ignore[arg-type]
    gap = statuses[-1].gap
    assert statuses[-1].state is LinkState.STREAMING and gap is not None
    assert gap.reason is GapReason.RECONNECT and gap.missing_samples == 104
    assert link.interval.rate_hz == pytest.approx(52.0)


def test_the_sample_interval_is_the_median_of_recent_steps() -> None:
    interval = SampleInterval(100.0)
    assert interval.rate_hz == pytest.approx(100.0) and interval.step(0.03) == 0  # first step
    for _ in range(20):
        assert interval.step(1 / 52.0) == 0
    assert interval.rate_hz == pytest.approx(52.0)
    assert interval.step(1.9 / 52.0) == 1  # clearly over one interval: one lost
    assert interval.step(1.3 / 52.0) == 0  # a late sample is not a lost one
    assert interval.step(6 / 52.0) == 5


def test_a_run_of_equal_gap_steps_is_a_new_interval_and_a_real_loss_is_not() -> None:
    interval = SampleInterval(100.0)
    for _ in range(100):
        assert interval.step(0.01) == 0
    assert interval.step(0.06) == 5  # 5 lost, then the old interval again
    assert interval.step(0.01) == 0 and interval.rate_hz == pytest.approx(100.0)
    # the rate falls to 50 Hz: the first step is reported (nothing tells it from a loss
    # yet), the ones like it after it are not, and they are the new interval
    assert [interval.step(0.02 * (1 + 0.01 * (k % 2))) for k in range(200)] == [1] + [0] * 199
    assert interval.rate_hz == pytest.approx(50.0, rel=0.01)
    assert interval.step(0.06) == 2  # a loss at the new rate is sized at it


def test_a_long_step_the_packets_call_a_loss_is_a_gap_every_time() -> None:
    # every other packet lost: the same longer step each time, never a new interval when the
    # sequence numbers jumped or the packet's own samples still step at the old interval
    numbered, sampled = SampleInterval(100.0), SampleInterval(200.0)
    for _ in range(100):
        assert numbered.step(0.01, packets_lost=0) == 0
        sampled.add_batch(0.0, 0.015, 4)
        assert sampled.step(0.005) == 0
    for _ in range(50):
        assert numbered.step(0.02, packets_lost=1) == 1
        sampled.add_batch(0.0, 0.015, 4)
        assert sampled.step(0.025) == 4
    assert numbered.rate_hz == pytest.approx(100.0) and sampled.rate_hz == pytest.approx(200.0)


def test_a_long_step_the_packets_own_samples_share_is_a_fall_of_the_rate() -> None:
    interval = SampleInterval(200.0)
    for _ in range(100):
        interval.add_batch(0.0, 0.015, 4)
        assert interval.step(0.005) == 0
    for _ in range(10):  # 100 Hz now: the packet says so, from the first step
        interval.add_batch(0.0, 0.03, 4)
        assert interval.step(0.01) == 0
    assert interval.rate_hz == pytest.approx(100.0)
    interval.add_batch(0.0, 0.03, 4)
    assert interval.step(0.05) == 4  # a packet lost at the new rate is sized at it


@pytest.mark.parametrize("packets_lost", [0, None], ids=["numbered", "unnumbered"])
def test_one_sample_packets_that_say_nothing_was_lost_follow_the_run_rule(packets_lost) -> None:
    interval = SampleInterval(100.0)
    for _ in range(100):
        interval.add_batch(0.0, 0.0, 1)
        assert interval.step(0.01, packets_lost) == 0
    steps = []
    for _ in range(10):
        interval.add_batch(0.0, 0.0, 1)
        steps.append(interval.step(0.02, packets_lost))
    assert steps == [1] + [0] * 9 and interval.rate_hz == pytest.approx(50.0)


def test_the_ble_link_keeps_the_rate_when_every_other_packet_is_lost() -> None:
    # The link sizes its reconnect gaps with its own SampleInterval: after 3 s of alternate
    # packets lost (one sample a packet, 100 Hz, numbered), it took the sensor for a 50 Hz one
    # and sized a 2 s drop as 100 samples instead of 200.
    statuses: list[SensorStatus] = []
    link = SensorLink(
        "AA",
        get_protocol(SensorKind.WINKWATCH),
        100,
        tracker=_NoSightings(),  # type: ignore[arg-type]
        connections=ConnectionManager(),
        on_batch=lambda _batch: None,
        on_status=statuses.append,
    )
    decoder = _Passthrough()

    def sample(k: int, seq: int) -> SampleBatch:
        return SampleBatch(
            address="AA",
            kind=SensorKind.WINKWATCH,
            received_s=100.0 + k / 100.0 + 0.005,
            acc_mps2=np.zeros((1, 3)),
            gyr_radps=np.zeros((1, 3)),
            sensor_time_s=np.array([7.0 + k / 100.0]),
            seq=seq,
            nominal_rate_hz=100.0,
        )

    link._link_up = True
    for k in range(1000):  # 10 s, every odd packet lost in the last 3
        if k < 700 or k % 2 == 0:
            link._on_notification(decoder, sample(k, seq=k))  # type: ignore[arg-type]
    assert link.interval.rate_hz == pytest.approx(100.0)
    link._on_disconnected(None)
    link._link_up, link._awaiting_first_batch = True, True
    link._on_notification(decoder, sample(998 + 201, seq=0))  # type: ignore[arg-type]
    gap = statuses[-1].gap
    assert gap is not None and gap.reason is GapReason.RECONNECT and gap.missing_samples == 200


def test_packets_lost_before_a_short_packet_are_sized_by_the_clock_not_one_each() -> None:
    # 4 samples a packet at 200 Hz, 2 packets lost, then a short packet of one sample (a
    # stream's last): the lost packets held 4 samples each, not one as a one-sample stream's
    interval = SampleInterval(200.0)
    for _ in range(50):
        interval.add_batch(0.0, 0.015, 4)
        assert interval.step(0.005, packets_lost=0) == 0
    interval.add_batch(0.0, 0.0, 1)
    assert interval.step(0.045, packets_lost=2) == 8
