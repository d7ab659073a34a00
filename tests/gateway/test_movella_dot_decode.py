"""The Movella DOT stream decoder: a notification delivered twice is dropped (DOT packets
carry no sequence number; the sensor timestamp of its one sample says it)."""

import numpy as np

from sensor_gateway.clock import SensorClockMapper
from sensor_gateway.protocols import movella_dot

RATE_HZ = 60.0
PERIOD_US = 16_667


def _stream(order: list[int], first_us: int = 5_000_000):
    """Samples k (one per notification at 60 Hz) received in `order` through one
    connection's decoder and the clock mapper."""
    decoder = movella_dot.MovellaDotDecoder("AA", RATE_HZ)
    mapper = SensorClockMapper(RATE_HZ)
    out = []
    for k in order:
        payload = movella_dot.encode_payload(
            (first_us + k * PERIOD_US) % (1 << 32), [0.0, 0.0, 9.81], [1.0 * k, 0.0, 0.0]
        )
        batch = decoder.feed(payload, 10.0 + k / RATE_HZ + 0.004)
        if batch is not None:
            out.append((k, mapper.map(batch)))
    return out, mapper, decoder


def test_a_duplicated_notification_is_dropped_not_stored_twice() -> None:
    # Found by review: the duplicate went on to the clock mapper, which kept the times
    # strictly increasing: the same sample stored twice, 1 us apart.
    delivered, mapper, decoder = _stream([0, 1, 2, 2, 3, 4])
    assert [k for k, _ in delivered] == [0, 1, 2, 3, 4]
    assert decoder.stats.drop_reasons["stale"] == 1
    assert decoder.stats.samples_decoded == 5
    t_s = np.concatenate([m.t_s for _, m in delivered])
    np.testing.assert_allclose(np.diff(t_s), PERIOD_US * 1e-6, atol=1e-6)
    assert (mapper.gaps, mapper.clock_resets) == (0, 0)


def test_a_duplicate_across_the_clock_wrap_is_dropped_and_the_next_sample_kept() -> None:
    delivered, _, decoder = _stream([0, 1, 1, 2], first_us=(1 << 32) - PERIOD_US)
    assert [k for k, _ in delivered] == [0, 1, 2]
    assert decoder.stats.drop_reasons["stale"] == 1


def test_samples_with_other_timestamps_are_all_kept() -> None:
    # A clock that restarts (the same connection) or goes on is not a duplicate.
    decoder = movella_dot.MovellaDotDecoder("AA", RATE_HZ)
    for timestamp_us in (1_000_000, 1_016_667, 0, 16_667, 1_000_000):
        payload = movella_dot.encode_payload(timestamp_us, [0.0, 0.0, 9.81], [0.0, 0.0, 0.0])
        assert decoder.feed(payload, 1.0) is not None
    assert decoder.stats.packets_dropped == 0
