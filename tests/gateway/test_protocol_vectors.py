"""Decoders and command encoders against hand-assembled byte vectors (the specs' examples)."""

import struct

import numpy as np
import pytest

from fusion.types import STANDARD_GRAVITY_MPS2 as G
from sensor_gateway.protocols import (
    ProtocolError,
    UnsupportedRateError,
    get_protocol,
    movella_dot,
    winkwatch,
    witmotion,
)
from sensor_gateway.samples import SensorKind

DEG = np.pi / 180

# seq 7, t0 10000 us, interval 5000 us, +-16 g, +-2000 dps, one sample:
# ax +2048 (1 g), ay -2048 (-1 g), az +4096 (2 g), gx +16384 (1000 dps), gy -16384, gz 0.
WINKWATCH_PACKET = bytes.fromhex("01 01 0700 10270000 8813 10 100008 00f8 0010 0040 00c0 0000")


def test_winkwatch_packet_decodes_to_si_units() -> None:
    packet = winkwatch.decode_packet(WINKWATCH_PACKET)
    assert packet.seq == 7
    np.testing.assert_allclose(packet.acc_mps2, [[G, -G, 2 * G]], rtol=1e-12)
    np.testing.assert_allclose(packet.gyr_radps, [[1000 * DEG, -1000 * DEG, 0.0]], rtol=1e-12)
    np.testing.assert_allclose(packet.sensor_time_s, [0.010], rtol=1e-12)
    assert packet.rate_hz == pytest.approx(200.0)


def test_winkwatch_encoder_produces_the_spec_bytes() -> None:
    encoded = winkwatch.encode_packet(
        7, 10_000, 5_000, np.array([[2048, -2048, 4096]]), np.array([[16384, -16384, 0]]), 16, 2000
    )
    assert encoded == WINKWATCH_PACKET


def test_winkwatch_several_samples_get_their_own_times_and_ranges_scale() -> None:
    acc = np.array([[1, 2, 3], [-4, 5, -6], [32767, -32768, 0]])
    gyr = np.array([[7, -8, 9], [10, 11, -12], [0, 32767, -32768]])
    payload = winkwatch.encode_packet(65535, 2**32 - 1, 9_615, acc, gyr, 4, 500)
    assert len(payload) == 12 + 3 * 12
    packet = winkwatch.decode_packet(payload)
    np.testing.assert_allclose(packet.acc_mps2, acc * 4 / 32768 * G, rtol=1e-12)
    np.testing.assert_allclose(packet.gyr_radps, gyr * 500 / 32768 * DEG, rtol=1e-12)
    np.testing.assert_allclose(packet.sensor_time_s, (2**32 - 1 + 9_615 * np.arange(3)) * 1e-6)


def test_winkwatch_stream_decoder_unwraps_seq_and_clock() -> None:
    decoder = get_protocol(SensorKind.WINKWATCH).new_decoder("AA:BB")
    one = (np.zeros((2, 3), int), np.zeros((2, 3), int))
    first = decoder.feed(winkwatch.encode_packet(65535, 2**32 - 5_000, 5_000, *one), 1.0)
    second = decoder.feed(winkwatch.encode_packet(0, 5_000, 5_000, *one), 1.01)
    assert (first.seq, second.seq) == (65535, 65536)
    times = np.concatenate([first.sensor_time_s, second.sensor_time_s])
    np.testing.assert_allclose(np.diff(times), 0.005, atol=1e-9)
    assert second.received_s == 1.01 and second.nominal_rate_hz == pytest.approx(200.0)


@pytest.mark.parametrize(
    ("payload", "reason"),
    [
        (WINKWATCH_PACKET[:11], "truncated"),
        (WINKWATCH_PACKET[:-1], "truncated"),
        (WINKWATCH_PACKET + b"\x00", "length_mismatch"),
        (b"\x02" + WINKWATCH_PACKET[1:], "bad_version"),
        (WINKWATCH_PACKET[:1] + b"\x00" + WINKWATCH_PACKET[2:], "bad_count"),
        (WINKWATCH_PACKET[:10] + b"\x03" + WINKWATCH_PACKET[11:], "bad_range"),
        (WINKWATCH_PACKET[:11] + b"\x03" + WINKWATCH_PACKET[12:], "bad_range"),
        (WINKWATCH_PACKET[:8] + b"\x00\x00" + WINKWATCH_PACKET[10:], "bad_interval"),
    ],
)
def test_winkwatch_malformed_packets_are_counted_and_dropped(payload: bytes, reason: str) -> None:
    with pytest.raises(ProtocolError) as info:
        winkwatch.decode_packet(payload)
    assert info.value.reason == reason
    decoder = get_protocol("winkwatch").new_decoder("AA")
    assert decoder.feed(payload, 0.0) is None
    assert decoder.stats.packets_dropped == 1 and decoder.stats.drop_reasons[reason] == 1
    assert decoder.feed(WINKWATCH_PACKET, 0.0) is not None  # the stream carries on


def test_winkwatch_commands_are_byte_exact() -> None:
    assert winkwatch.start_command(200, 4) == bytes.fromhex("01 c800 04")
    assert winkwatch.start_command(50, 1) == bytes.fromhex("01 3200 01")
    assert winkwatch.stop_command() == b"\x02"
    assert winkwatch.set_range_command(16, 2000) == bytes.fromhex("03 10 10")
    assert winkwatch.set_range_command(8, 500) == bytes.fromhex("03 08 04")
    with pytest.raises(UnsupportedRateError, match="50, 100, 200"):
        winkwatch.start_command(120)


# acc (2048, -2048, 4096) -> (1, -1, 2) g; gyro (16384, -16384, 0) -> (1000, -1000, 0) dps;
# angles (16384, 0, -16384) -> (90, 0, -90) deg.
WITMOTION_FRAME = bytes.fromhex("55610008 00f8 00100040 00c0 00000040 0000 00c0")


def test_witmotion_frame_decodes_to_si_units() -> None:
    frame = witmotion.decode_frames(WITMOTION_FRAME)
    np.testing.assert_allclose(frame.acc_mps2, [[G, -G, 2 * G]], rtol=1e-12)
    np.testing.assert_allclose(frame.gyr_radps, [[1000 * DEG, -1000 * DEG, 0]], rtol=1e-12)
    assert frame.sensor_time_s is None and frame.seq is None
    assert (
        witmotion.encode_frame(
            np.array([2048, -2048, 4096]),
            np.array([16384, -16384, 0]),
            np.array([16384, 0, -16384]),
        )
        == WITMOTION_FRAME
    )


def test_witmotion_frames_split_and_merged_across_notifications_are_reassembled() -> None:
    frames = [
        witmotion.encode_frame(np.array([i, -i, 2 * i]), np.array([3 * i, 0, -i]))
        for i in range(1, 6)
    ]
    stream = b"".join(frames)
    # 7 + 20 + 33 + 40: split mid-header, mid-frame, and two frames merged in one notification
    cuts = [0, 7, 27, 60, 100]
    decoder = get_protocol("witmotion").new_decoder("AA", rate_hz=100)
    batches = [decoder.feed(stream[a:b], float(k)) for k, (a, b) in enumerate(zip(cuts, cuts[1:]))]
    assert batches[0] is None
    decoded = np.vstack([b.acc_mps2 for b in batches if b is not None])
    expected = np.array([[i, -i, 2 * i] for i in range(1, 6)]) * 16 / 32768 * G
    np.testing.assert_allclose(decoded, expected, rtol=1e-12)
    assert all(b.nominal_rate_hz == 100 for b in batches if b is not None)
    assert decoder.stats.samples_decoded == 5 and decoder.stats.bytes_discarded == 0


def test_witmotion_resyncs_after_garbage_and_skips_other_frame_types() -> None:
    other = bytes([0x55, 0x71]) + bytes(18)  # register read reply
    payload = b"\x01\x02\x03" + WITMOTION_FRAME + other + b"\x55\x00" + WITMOTION_FRAME
    decoder = get_protocol("witmotion").new_decoder("AA")
    batch = decoder.feed(payload, 0.0)
    assert batch is not None and len(batch.acc_mps2) == 2
    assert decoder.stats.bytes_discarded == 5  # 3 leading bytes + the false start 55 00
    assert decoder.stats.drop_reasons["other_frame"] == 1


def test_witmotion_commands_are_byte_exact() -> None:
    assert bytes.fromhex("ff aa 69 88 b5") == witmotion.UNLOCK_COMMAND
    assert bytes.fromhex("ff aa 00 00 00") == witmotion.SAVE_COMMAND
    assert witmotion.rate_command(50) == bytes.fromhex("ff aa 03 08 00")
    assert witmotion.rate_command(100) == bytes.fromhex("ff aa 03 09 00")
    assert witmotion.rate_command(200) == bytes.fromhex("ff aa 03 0a 00")
    assert witmotion.start_commands(100) == [witmotion.UNLOCK_COMMAND, witmotion.rate_command(100)]
    with pytest.raises(UnsupportedRateError):
        witmotion.rate_command(150)


# timestamp 1 000 000 us; acc (1, -1, 2) m/s^2; gyro (90, 180, -90) deg/s; padded to 40 bytes.
DOT_PAYLOAD = bytes.fromhex("40420f000000803f 000080bf 000000400000b442 00003443 0000b4c2") + bytes(
    12
)


def test_movella_dot_payload_decodes_to_si_units() -> None:
    sample = movella_dot.decode_payload(DOT_PAYLOAD)
    np.testing.assert_array_equal(sample.acc_mps2, [[1.0, -1.0, 2.0]])
    np.testing.assert_allclose(sample.gyr_radps, [[np.pi / 2, np.pi, -np.pi / 2]], rtol=1e-7)
    np.testing.assert_array_equal(sample.sensor_time_s, [1.0])
    assert (
        movella_dot.encode_payload(1_000_000, [1, -1, 2], [90, 180, -90], padded_to=40)
        == DOT_PAYLOAD
    )


def test_movella_dot_rejects_short_and_non_finite_payloads() -> None:
    decoder = get_protocol("movella_dot").new_decoder("AA")
    assert decoder.feed(DOT_PAYLOAD[:27], 0.0) is None
    nan = DOT_PAYLOAD[:4] + struct.pack("<f", float("nan")) + DOT_PAYLOAD[8:]
    assert decoder.feed(nan, 0.0) is None
    assert dict(decoder.stats.drop_reasons) == {"truncated": 1, "non_finite": 1}
    assert decoder.feed(DOT_PAYLOAD[:28], 0.0) is not None  # unpadded is fine


def test_movella_dot_clock_wrap_is_unwrapped() -> None:
    decoder = get_protocol("movella_dot").new_decoder("AA")
    a = decoder.feed(movella_dot.encode_payload(2**32 - 8_333, [0, 0, 9.8], [0, 0, 0]), 0.0)
    b = decoder.feed(movella_dot.encode_payload(0, [0, 0, 9.8], [0, 0, 0]), 0.0)
    assert b.sensor_time_s[0] - a.sensor_time_s[0] == pytest.approx(0.008333, abs=1e-9)


def test_movella_dot_commands_are_byte_exact() -> None:
    assert movella_dot.start_command() == bytes.fromhex("01 01 15")
    assert movella_dot.stop_command() == bytes.fromhex("01 00 15")
