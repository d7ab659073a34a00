"""The WinkWatch stream decoder's fast path against the profile's formulas."""

import numpy as np
import pytest

from fusion.types import STANDARD_GRAVITY_MPS2 as G
from sensor_gateway.clock import SensorClockMapper
from sensor_gateway.protocols import winkwatch


def test_stream_decoder_matches_the_profile_formulas_at_every_range() -> None:
    rng = np.random.default_rng(1)
    decoder = winkwatch.WinkWatchDecoder("AA")
    t0_us = (1 << 32) - 30_000  # wraps inside the run
    for k, (acc_g, gyr_dps) in enumerate(
        (a, g) for a in winkwatch.ACC_RANGES_G for g in winkwatch.GYR_RANGES_DPS
    ):
        count = 1 + k % winkwatch.MAX_SAMPLES_PER_PACKET
        acc = rng.integers(-32768, 32768, (count, 3), dtype=np.int16)
        gyr = rng.integers(-32768, 32768, (count, 3), dtype=np.int16)
        acc[0] = -32768  # the extremes are within the sensor's range: never dropped
        gyr[0] = 32767
        sent_us = t0_us + k * 5000 * 19
        payload = winkwatch.encode_packet(k, sent_us % (1 << 32), 5000, acc, gyr, acc_g, gyr_dps)
        batch = decoder.feed(payload, 0.0)
        assert batch is not None
        np.testing.assert_allclose(batch.acc_mps2, acc / 32768 * acc_g * G, rtol=1e-15)
        np.testing.assert_allclose(batch.gyr_radps, np.deg2rad(gyr / 32768 * gyr_dps), rtol=1e-15)
        expected_s = (sent_us + 5000 * np.arange(count)) * 1e-6
        np.testing.assert_array_equal(batch.sensor_time_s, expected_s)
        assert batch.seq == k and batch.nominal_rate_hz == 200.0
    assert decoder.stats.packets_dropped == 0


def _stream(order: list[int], first_seq: int = 0) -> tuple[list, SensorClockMapper, object]:
    """Packets `first_seq + k` (4 samples at 200 Hz, on a clock that wraps after packet 2)
    received in `order` through one connection's decoder and the clock mapper."""
    decoder = winkwatch.WinkWatchDecoder("AA")
    mapper = SensorClockMapper(200.0)
    one = (np.zeros((4, 3), np.int16), np.zeros((4, 3), np.int16))
    out = []
    for k in order:
        t0_us = (1 << 32) - 50_000 + k * 20_000
        payload = winkwatch.encode_packet(first_seq + k, t0_us, 5_000, *one)
        batch = decoder.feed(payload, 10.0 + k * 0.02 + 0.004)
        if batch is not None:
            out.append((k, mapper.map(batch)))
    return out, mapper, decoder


@pytest.mark.parametrize("first_seq", [0, 65534])  # 65534: seq wraps too
def test_a_duplicated_notification_is_dropped_not_stored_twice(first_seq: int) -> None:
    delivered, mapper, decoder = _stream([0, 1, 2, 2, 3, 4], first_seq)
    assert [k for k, _ in delivered] == [0, 1, 2, 3, 4]
    assert decoder.stats.drop_reasons["stale"] == 1
    t_s = np.concatenate([m.t_s for _, m in delivered])
    np.testing.assert_allclose(np.diff(t_s), 0.005, atol=1e-9)
    assert (mapper.gaps, mapper.clock_resets) == (0, 0)


@pytest.mark.parametrize("first_seq", [0, 65533])  # 65533: late across the seq wrap
def test_a_notification_arriving_after_a_later_one_is_one_gap_not_a_clock_reset(
    first_seq: int,
) -> None:
    delivered, mapper, decoder = _stream([0, 1, 3, 2, 4, 5], first_seq)
    assert [k for k, _ in delivered] == [0, 1, 3, 4, 5]
    assert decoder.stats.drop_reasons["stale"] == 1
    gaps = [m.gap for _, m in delivered if m.gap is not None]
    assert [g.missing_samples for g in gaps] == [4]  # packet 2, once
    t_s = np.concatenate([m.t_s for _, m in delivered])
    assert np.all(np.diff(t_s) > 0) and mapper.clock_resets == 0
    np.testing.assert_allclose(t_s[-1] - t_s[0], 5 * 0.02 + 3 * 0.005, atol=1e-9)


def test_a_counter_restarted_within_the_connection_is_not_taken_for_stale() -> None:
    decoder = winkwatch.WinkWatchDecoder("AA")
    one = (np.zeros((4, 3), np.int16), np.zeros((4, 3), np.int16))
    # seq restarts at 0 with the clock going on; then the clock restarts with seq going on
    packets = [(50, 1_000_000), (51, 1_020_000), (0, 1_040_000), (1, 20_000), (2, 40_000)]
    batches = [decoder.feed(winkwatch.encode_packet(s, t, 5_000, *one), 1.0) for s, t in packets]
    assert all(b is not None for b in batches) and decoder.stats.packets_dropped == 0
