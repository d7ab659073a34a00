"""Property tests: arbitrary bytes never crash a decoder; valid data survives any chunking."""

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from fusion.types import STANDARD_GRAVITY_MPS2 as G
from sensor_gateway.protocols import BLE_KINDS, get_protocol, winkwatch, witmotion

int16 = st.integers(-32768, 32767)
triples = st.lists(st.tuples(int16, int16, int16), min_size=1, max_size=19)


@settings(max_examples=300, deadline=None)
@given(kind=st.sampled_from(BLE_KINDS), payloads=st.lists(st.binary(max_size=300), max_size=8))
def test_arbitrary_bytes_never_raise(kind, payloads) -> None:
    decoder = get_protocol(kind).new_decoder("AA")
    for payload in payloads:
        batch = decoder.feed(payload, 0.0)
        if batch is not None:
            assert batch.acc_mps2.shape == batch.gyr_radps.shape == (len(batch.acc_mps2), 3)
            assert np.all(np.isfinite(batch.acc_mps2)) and np.all(np.isfinite(batch.gyr_radps))
    stats = decoder.stats
    assert stats.packets_decoded <= len(payloads)


@settings(max_examples=200, deadline=None)
@given(
    samples=st.data(),
    acc_range=st.sampled_from(winkwatch.ACC_RANGES_G),
    gyr_range=st.sampled_from(winkwatch.GYR_RANGES_DPS),
    seq=st.integers(0, 65535),
    t0_us=st.integers(0, 2**32 - 1),
    interval_us=st.integers(1, 65535),
)
def test_winkwatch_roundtrip_and_every_truncation_is_dropped(
    samples, acc_range, gyr_range, seq, t0_us, interval_us
) -> None:
    acc = np.array(samples.draw(triples))
    gyr = np.array(
        samples.draw(st.lists(st.tuples(int16, int16, int16), min_size=len(acc), max_size=len(acc)))
    )
    payload = winkwatch.encode_packet(seq, t0_us, interval_us, acc, gyr, acc_range, gyr_range)
    packet = winkwatch.decode_packet(payload)
    np.testing.assert_allclose(packet.acc_mps2, acc * (acc_range / 32768 * G), rtol=1e-12)
    np.testing.assert_allclose(packet.gyr_radps, np.deg2rad(gyr * gyr_range / 32768), rtol=1e-12)
    assert packet.seq == seq
    decoder = get_protocol("winkwatch").new_decoder("AA")
    cut = samples.draw(st.integers(0, len(payload) - 1))
    assert decoder.feed(payload[:cut], 0.0) is None
    assert decoder.stats.packets_dropped == 1


@settings(max_examples=200, deadline=None)
@given(data=st.data(), frames=st.lists(st.tuples(triples, triples), min_size=1, max_size=4))
def test_witmotion_recovers_every_frame_through_garbage_and_any_split(data, frames) -> None:
    accs, encoded = [], b""
    garbage = st.binary(max_size=7).map(lambda b: b.replace(b"\x55", b"\x54"))
    for acc_rows, gyr_rows in frames:
        for a, g in zip(acc_rows, gyr_rows):
            encoded += data.draw(garbage) + witmotion.encode_frame(np.array(a), np.array(g))
            accs.append(a)
    cuts = sorted(data.draw(st.lists(st.integers(0, len(encoded)), max_size=10)))
    bounds = [0, *cuts, len(encoded)]
    decoder = get_protocol("witmotion").new_decoder("AA")
    got = [decoder.feed(encoded[a:b], 0.0) for a, b in zip(bounds, bounds[1:])]
    decoded = np.vstack([b.acc_mps2 for b in got if b is not None])
    np.testing.assert_allclose(decoded, np.array(accs) * (16 / 32768 * G), rtol=1e-12)


def _dot_packet(acc, gyr_dps=(0.0, 0.0, 0.0), *, t_s: float = 0.0) -> bytes:
    """One sample at sensor time 1 ms + `t_s` (each sample its own: a repeated timestamp is
    a duplicated notification, dropped as stale)."""
    from sensor_gateway.protocols import movella_dot

    timestamp_us = 1000 + round(t_s * 1e6)
    return movella_dot.encode_payload(timestamp_us, np.array(acc), np.array(gyr_dps), padded_to=40)


def test_values_beyond_the_sensors_range_are_dropped_as_malformed() -> None:
    """A Movella DOT packet of 3e38 m/s^2 (a corrupted float) never reaches the analysis."""
    decoder = get_protocol("movella_dot").new_decoder("AA")
    assert decoder.feed(_dot_packet([0.0, 0.0, 9.81]), 0.0) is not None
    assert decoder.feed(_dot_packet([3e38, 0.0, 9.81], t_s=0.01), 0.01) is None
    # past +-16 g (+10%)
    assert decoder.feed(_dot_packet([0.0, -18 * G, 0.0], t_s=0.02), 0.02) is None
    assert decoder.feed(_dot_packet([0.0, 0.0, 9.81], [0.0, 2300.0, 0.0], t_s=0.03), 0.03) is None
    good = _dot_packet([15.9 * G, 0.0, 0.0], [1999.0, 0, 0], t_s=0.04)
    assert decoder.feed(good, 0.04) is not None
    assert decoder.stats.drop_reasons["out_of_range"] == 3
    assert decoder.stats.packets_decoded == 2


@settings(max_examples=300, deadline=None)
@given(kind=st.sampled_from(BLE_KINDS), payloads=st.lists(st.binary(max_size=300), max_size=8))
def test_no_decoder_passes_a_value_beyond_its_sensors_range(kind, payloads) -> None:
    decoder = get_protocol(kind).new_decoder("AA")
    for payload in payloads:
        batch = decoder.feed(payload, 0.0)
        if batch is not None:
            assert np.all(np.abs(batch.acc_mps2) <= 16 * G * 1.1)
            assert np.all(np.abs(batch.gyr_radps) <= np.deg2rad(2000) * 1.1)
