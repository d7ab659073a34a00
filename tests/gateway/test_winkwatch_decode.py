"""The WinkWatch stream decoder's fast path against the profile's formulas."""

import numpy as np

from fusion.types import STANDARD_GRAVITY_MPS2 as G
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
