"""WinkWatch open GATT profile for DIY sensors (specification: firmware_notes/winkwatch_gatt_profile.md).

Data notification (little-endian), 12-byte header then N samples of 12 bytes:

    off size field
    0   u8   format version (FORMAT_VERSION)
    1   u8   N, samples in this packet (1..MAX_SAMPLES_PER_PACKET)
    2   u16  seq: packet counter since START, wraps at 65536
    4   u32  t0_us: sensor clock of sample 0, microseconds, free-running, wraps at 2^32
    8   u16  interval_us: time between samples of this packet, microseconds
    10  u8   accelerometer full scale, g (2, 4, 8 or 16)
    11  u8   gyroscope full scale / 125 dps (1, 2, 4, 8 or 16 -> 125..2000 dps)
    12  6 x i16 per sample: ax ay az gx gy gz, raw counts, sensor frame

Physical value = raw / 32768 * full scale. Sample i was taken at t0_us + i * interval_us.
"""

from __future__ import annotations

import struct

import numpy as np

from fusion.types import STANDARD_GRAVITY_MPS2
from sensor_gateway.protocols.base import (
    DecodedSamples,
    StreamDecoder,
    WrapUnwrapper,
    acc_limit_mps2,
    gyr_limit_radps,
)
from sensor_gateway.protocols.errors import ProtocolError, UnsupportedRateError
from sensor_gateway.samples import SensorKind

SERVICE_UUID = "7a1f0001-5b8e-4c2d-9f3a-57494e4b5741"
DATA_CHAR_UUID = "7a1f0002-5b8e-4c2d-9f3a-57494e4b5741"  # notify
CONTROL_CHAR_UUID = "7a1f0003-5b8e-4c2d-9f3a-57494e4b5741"  # write with response
NAME_PREFIX = "WinkWatch"

FORMAT_VERSION = 1
HEADER = struct.Struct("<BBHIHBB")
HEADER_SIZE = HEADER.size  # 12 bytes
SAMPLE_SIZE = 12  # 6 x int16
MAX_SAMPLES_PER_PACKET = 19  # (244-byte notification at ATT MTU 247 - header) // sample size
ACC_RANGES_G: tuple[int, ...] = (2, 4, 8, 16)
GYR_RANGES_DPS: tuple[int, ...] = (125, 250, 500, 1000, 2000)
GYR_RANGE_UNIT_DPS = 125
SUPPORTED_RATES_HZ: tuple[int, ...] = (50, 100, 200)
DEFAULT_SAMPLES_PER_PACKET = 4
# A packet at most this many behind the last one delivered, on both seq and clock, was
# delivered already (a duplicate) or comes after a later one (late): it is dropped.
STALE_PACKETS = 8

CMD_START = 0x01
CMD_STOP = 0x02
CMD_SET_RANGE = 0x03

_FULL_SCALE = 32768.0
_TIMESTAMP_MODULUS = 1 << 32
_SEQ_MODULUS = 1 << 16


def acc_scale_mps2_per_count(acc_range_g: int) -> float:
    return acc_range_g / _FULL_SCALE * STANDARD_GRAVITY_MPS2


def gyr_scale_radps_per_count(gyr_range_dps: int) -> float:
    return float(np.deg2rad(gyr_range_dps / _FULL_SCALE))


# Scales per full-scale setting, computed once (a packet is decoded every few milliseconds).
_ACC_SCALES = {r: acc_scale_mps2_per_count(r) for r in ACC_RANGES_G}
_GYR_SCALES = {r: gyr_scale_radps_per_count(r) for r in GYR_RANGES_DPS}


def decode_packet(payload: bytes) -> DecodedSamples:
    """Decode one data notification; `seq` and times as sent (not unwrapped).

    Raises ProtocolError for any defect (short, wrong version, bad count or range).
    """
    t0_us, acc, gyr, count, seq, interval_us = _parse(payload)
    ticks_us = t0_us + interval_us * np.arange(count, dtype=np.int64)
    return DecodedSamples(
        acc_mps2=acc,
        gyr_radps=gyr,
        sensor_time_s=ticks_us * 1e-6,
        seq=seq,
        rate_hz=1e6 / interval_us,
    )


def _parse(payload: bytes) -> tuple[int, np.ndarray, np.ndarray, int, int, int]:
    """t0_us, acc (m/s^2), gyr (rad/s), sample count, seq and interval_us, as sent;
    raises ProtocolError (`decode_packet`)."""
    if len(payload) < HEADER_SIZE:
        raise ProtocolError(
            "truncated",
            f"packet of {len(payload)} bytes is shorter than the {HEADER_SIZE}-byte header",
        )
    version, count, seq, t0_us, interval_us, acc_range_g, gyr_code = HEADER.unpack_from(payload)
    if version != FORMAT_VERSION:
        raise ProtocolError(
            "bad_version",
            f"format version {version}, expected {FORMAT_VERSION}; "
            "update the sensor firmware or the gateway",
        )
    if not 1 <= count <= MAX_SAMPLES_PER_PACKET:
        raise ProtocolError(
            "bad_count", f"sample count {count} outside 1..{MAX_SAMPLES_PER_PACKET}"
        )
    expected = HEADER_SIZE + count * SAMPLE_SIZE
    if len(payload) != expected:
        reason = "truncated" if len(payload) < expected else "length_mismatch"
        raise ProtocolError(
            reason,
            f"packet of {len(payload)} bytes, header announces {count} samples = {expected} bytes",
        )
    if acc_range_g not in ACC_RANGES_G:
        raise ProtocolError(
            "bad_range", f"accelerometer range {acc_range_g} g not in {ACC_RANGES_G}"
        )
    gyr_range_dps = gyr_code * GYR_RANGE_UNIT_DPS
    if gyr_range_dps not in GYR_RANGES_DPS:
        raise ProtocolError(
            "bad_range",
            f"gyroscope range code {gyr_code} not in "
            f"{[r // GYR_RANGE_UNIT_DPS for r in GYR_RANGES_DPS]}",
        )
    if interval_us == 0:
        raise ProtocolError("bad_interval", "sample interval of 0 us")
    raw = np.frombuffer(payload, dtype="<i2", count=count * 6, offset=HEADER_SIZE).reshape(count, 6)
    # One product for both sensors (the same per-column factors as two), then column views.
    values = raw * _scales(acc_range_g, gyr_range_dps)
    return t0_us, values[:, 0:3], values[:, 3:6], count, seq, interval_us


_SCALE_ROWS: dict[tuple[int, int], np.ndarray] = {}


def _scales(acc_range_g: int, gyr_range_dps: int) -> np.ndarray:
    """Per-column factors (6,) from counts to m/s^2 and rad/s for a pair of ranges."""
    row = _SCALE_ROWS.get((acc_range_g, gyr_range_dps))
    if row is None:
        row = np.array([_ACC_SCALES[acc_range_g]] * 3 + [_GYR_SCALES[gyr_range_dps]] * 3)
        row.flags.writeable = False
        _SCALE_ROWS[(acc_range_g, gyr_range_dps)] = row
    return row


def encode_packet(
    seq: int,
    t0_us: int,
    interval_us: int,
    acc_counts: np.ndarray,
    gyr_counts: np.ndarray,
    acc_range_g: int = 16,
    gyr_range_dps: int = 2000,
) -> bytes:
    """Build one data notification from raw int16 counts (N, 3) each; the firmware's job."""
    acc_counts = np.asarray(acc_counts)
    gyr_counts = np.asarray(gyr_counts)
    count = acc_counts.shape[0]
    if acc_counts.shape != (count, 3) or gyr_counts.shape != (count, 3):
        raise ValueError(f"counts must be (N, 3); got {acc_counts.shape} and {gyr_counts.shape}")
    if not 1 <= count <= MAX_SAMPLES_PER_PACKET:
        raise ValueError(f"{count} samples per packet; allowed 1..{MAX_SAMPLES_PER_PACKET}")
    header = HEADER.pack(
        FORMAT_VERSION,
        count,
        seq % _SEQ_MODULUS,
        t0_us % _TIMESTAMP_MODULUS,
        interval_us,
        acc_range_g,
        gyr_range_dps // GYR_RANGE_UNIT_DPS,
    )
    body = np.hstack([acc_counts, gyr_counts]).astype("<i2").tobytes()
    return header + body


def quantize(
    acc_mps2: np.ndarray, gyr_radps: np.ndarray, acc_range_g: int = 16, gyr_range_dps: int = 2000
) -> tuple[np.ndarray, np.ndarray]:
    """SI values -> int16 counts (rounded, clipped to the full scale), as a sensor would read."""
    acc = np.rint(np.asarray(acc_mps2) / acc_scale_mps2_per_count(acc_range_g))
    gyr = np.rint(np.asarray(gyr_radps) / gyr_scale_radps_per_count(gyr_range_dps))
    return (
        np.clip(acc, -32768, 32767).astype(np.int16),
        np.clip(gyr, -32768, 32767).astype(np.int16),
    )


def start_command(rate_hz: int, samples_per_packet: int = DEFAULT_SAMPLES_PER_PACKET) -> bytes:
    """START: `01 rate_hz(u16) samples_per_packet(u8)`."""
    if rate_hz not in SUPPORTED_RATES_HZ:
        raise UnsupportedRateError(
            f"WinkWatch sensors stream at {SUPPORTED_RATES_HZ} Hz, not {rate_hz} Hz"
        )
    if not 1 <= samples_per_packet <= MAX_SAMPLES_PER_PACKET:
        raise ValueError(
            f"samples_per_packet {samples_per_packet} outside 1..{MAX_SAMPLES_PER_PACKET}"
        )
    return struct.pack("<BHB", CMD_START, rate_hz, samples_per_packet)


def stop_command() -> bytes:
    """STOP: `02`."""
    return bytes([CMD_STOP])


def set_range_command(acc_range_g: int, gyr_range_dps: int) -> bytes:
    """SET_RANGE: `03 acc_range_g(u8) gyr_range_dps/125(u8)`."""
    if acc_range_g not in ACC_RANGES_G or gyr_range_dps not in GYR_RANGES_DPS:
        raise ValueError(f"ranges must be in {ACC_RANGES_G} g and {GYR_RANGES_DPS} dps")
    return bytes([CMD_SET_RANGE, acc_range_g, gyr_range_dps // GYR_RANGE_UNIT_DPS])


class WinkWatchDecoder(StreamDecoder):
    """Per-connection decoder: unwraps seq and the sensor clock into growing values."""

    kind = SensorKind.WINKWATCH
    max_acc_mps2 = acc_limit_mps2(max(ACC_RANGES_G))
    max_gyr_radps = gyr_limit_radps(max(GYR_RANGES_DPS))

    def __init__(self, address: str, nominal_rate_hz: float | None = None) -> None:
        super().__init__(address, nominal_rate_hz)
        self._seq = WrapUnwrapper(_SEQ_MODULUS)
        self._clock = WrapUnwrapper(_TIMESTAMP_MODULUS)
        self._last: tuple[int, int] | None = None  # unwrapped seq and t0_us last delivered

    def _decode(self, payload: bytes) -> DecodedSamples:
        t0_us, acc, gyr, count, raw_seq, interval_us = _parse(payload)
        first_us = self._clock.unwrap(t0_us)
        seq = self._seq.unwrap(raw_seq)
        if self._last is not None:
            # Behind on seq and, consistently, on the clock: samples already passed. A
            # counter or clock restart moves one of them only, or the clock by far more.
            behind = self._last[0] - seq
            if (
                0 <= behind <= STALE_PACKETS
                and 0 <= self._last[1] - first_us <= (behind * count + 1) * interval_us
            ):
                raise ProtocolError(
                    "stale",
                    f"packet seq {raw_seq} comes after seq {self._last[0] % _SEQ_MODULUS}: "
                    "a duplicate or late notification",
                )
        self._last = (seq, first_us)
        return DecodedSamples(
            acc_mps2=acc,
            gyr_radps=gyr,
            # Integer microseconds to seconds, as (ticks_us + offset) * 1e-6 in numpy: exact
            # integers, one rounding; plain ints for a packet's few samples.
            sensor_time_s=np.array([(first_us + i * interval_us) * 1e-6 for i in range(count)]),
            seq=seq,
            rate_hz=1e6 / interval_us,
        )

    def _physically_possible(self, decoded: DecodedSamples) -> bool:
        """Always: int16 counts times the scale of an accepted range (checked by `_parse`)
        are within that full scale, at most the largest range's, below the limits
        (`max_acc_mps2`, `max_gyr_radps`: the largest range + 10 %), and finite."""
        return True
