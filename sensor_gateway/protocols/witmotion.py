"""WitMotion BLE 5.0 IMUs (WT901BLECL, BWT901BLE5.0, WT9011DCL).

Notifications carry 20-byte frames `55 61` + nine little-endian int16: acceleration
(raw / 32768 * 16 g), angular rate (raw / 32768 * 2000 deg/s), Euler angles (raw / 32768 *
180 deg). Frames have no sequence number, timestamp or checksum, and may be split across or
merged into notifications, so the decoder keeps a reassembly buffer and resynchronises on
`55 61`. Other frame types (`55 71`, register replies) are skipped whole.
"""

from __future__ import annotations

import numpy as np

from fusion.types import STANDARD_GRAVITY_MPS2
from sensor_gateway.protocols.base import (
    DecodedSamples,
    StreamDecoder,
    acc_limit_mps2,
    gyr_limit_radps,
)
from sensor_gateway.protocols.errors import ProtocolError, UnsupportedRateError
from sensor_gateway.samples import SensorKind

SERVICE_UUID = "0000ffe5-0000-1000-8000-00805f9a34fb"
NOTIFY_CHAR_UUID = "0000ffe4-0000-1000-8000-00805f9a34fb"
WRITE_CHAR_UUID = "0000ffe9-0000-1000-8000-00805f9a34fb"
NAME_PREFIXES: tuple[str, ...] = ("WT901", "WT9011", "BWT901")

FRAME_SIZE = 20
FRAME_START = 0x55
DATA_FLAG = 0x61
DATA_HEADER = bytes([FRAME_START, DATA_FLAG])
ACC_RANGE_G = 16
GYR_RANGE_DPS = 2000
ANGLE_RANGE_DEG = 180
_FULL_SCALE = 32768.0
ACC_SCALE_MPS2 = ACC_RANGE_G / _FULL_SCALE * STANDARD_GRAVITY_MPS2
GYR_SCALE_RADPS = float(np.deg2rad(GYR_RANGE_DPS / _FULL_SCALE))

# The vendor's SDK waits ~100 ms after each configuration write (unlock, rate, save) before
# the next: the sensor applies register writes one at a time.
COMMAND_SPACING_S = 0.1
UNLOCK_COMMAND = bytes.fromhex("FFAA6988B5")
SAVE_COMMAND = bytes.fromhex("FFAA000000")
RATE_REGISTER = 0x03
# 0x0A for 200 Hz follows the BLE 5.0 protocol document; a vendor sample uses 0x0B. Which
# one a given firmware honours is not confirmed (firmware_notes/supported_sensors.md): the
# gateway checks the rate it actually receives and reports a mismatch.
RATE_CODES: dict[int, int] = {50: 0x08, 100: 0x09, 200: 0x0A}
SUPPORTED_RATES_HZ: tuple[int, ...] = tuple(RATE_CODES)


def rate_command(rate_hz: int) -> bytes:
    """`FF AA 03 RR 00`: set the output rate (send UNLOCK_COMMAND first)."""
    try:
        code = RATE_CODES[rate_hz]
    except KeyError:
        raise UnsupportedRateError(
            f"WitMotion sensors stream at {SUPPORTED_RATES_HZ} Hz, not {rate_hz} Hz"
        ) from None
    return bytes([0xFF, 0xAA, RATE_REGISTER, code, 0x00])


def start_commands(rate_hz: int) -> list[bytes]:
    """Unlock, then set the rate. Not saved to flash: the gateway sets it on every connect."""
    return [UNLOCK_COMMAND, rate_command(rate_hz)]


def encode_frame(
    acc_counts: np.ndarray, gyr_counts: np.ndarray, angle_counts: np.ndarray | None = None
) -> bytes:
    """One `55 61` frame from int16 counts (3,) each; what the sensor sends."""
    angles = np.zeros(3, dtype=np.int16) if angle_counts is None else angle_counts
    values = np.concatenate([np.asarray(acc_counts), np.asarray(gyr_counts), np.asarray(angles)])
    if values.shape != (9,):
        raise ValueError(f"need 3 + 3 + 3 counts, got shape {values.shape}")
    return DATA_HEADER + values.astype("<i2").tobytes()


def quantize(acc_mps2: np.ndarray, gyr_radps: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """SI values -> int16 counts at the fixed 16 g / 2000 dps ranges (rounded, clipped)."""
    acc = np.clip(np.rint(np.asarray(acc_mps2) / ACC_SCALE_MPS2), -32768, 32767)
    gyr = np.clip(np.rint(np.asarray(gyr_radps) / GYR_SCALE_RADPS), -32768, 32767)
    return acc.astype(np.int16), gyr.astype(np.int16)


def decode_frames(frames: bytes) -> DecodedSamples:
    """Decode whole `55 61` frames laid end to end (length a multiple of FRAME_SIZE)."""
    if len(frames) == 0 or len(frames) % FRAME_SIZE:
        raise ProtocolError(
            "truncated", f"{len(frames)} bytes is not a whole number of {FRAME_SIZE}-byte frames"
        )
    rows = np.frombuffer(frames, dtype=np.uint8).reshape(-1, FRAME_SIZE)
    if np.any(rows[:, 0] != FRAME_START) or np.any(rows[:, 1] != DATA_FLAG):
        raise ProtocolError("bad_header", "frame does not start with 55 61")
    raw = rows[:, 2:20].copy().view("<i2")  # (N, 9)
    return DecodedSamples(
        acc_mps2=raw[:, 0:3] * ACC_SCALE_MPS2, gyr_radps=raw[:, 3:6] * GYR_SCALE_RADPS
    )


class WitMotionDecoder(StreamDecoder):
    """Reassembles frames across notifications; bytes before a frame start are discarded."""

    kind = SensorKind.WITMOTION
    max_acc_mps2 = acc_limit_mps2(ACC_RANGE_G)
    max_gyr_radps = gyr_limit_radps(GYR_RANGE_DPS)

    def __init__(self, address: str, nominal_rate_hz: float | None = None) -> None:
        super().__init__(address, nominal_rate_hz)
        self._buffer = bytearray()

    def _decode(self, payload: bytes) -> DecodedSamples | None:
        self._buffer += payload
        data_frames = bytearray()
        buffer = self._buffer
        pos = 0
        while True:
            start = buffer.find(FRAME_START, pos)
            if start < 0:
                self._discard(len(buffer) - pos)
                pos = len(buffer)
                break
            self._discard(start - pos)
            pos = start
            if len(buffer) - pos < 2:
                break  # frame start seen, flag byte not yet
            if len(buffer) - pos < FRAME_SIZE:
                break  # wait for the rest of the frame
            if buffer[pos + 1] == DATA_FLAG:
                data_frames += buffer[pos : pos + FRAME_SIZE]
                pos += FRAME_SIZE
            elif 0x50 <= buffer[pos + 1] <= 0x7F:
                pos += FRAME_SIZE  # another WitMotion frame type: skip it whole
                self.stats.count_drop("other_frame")
            else:
                self._discard(1)
                pos += 1
        del buffer[:pos]  # what stays is the start of one incomplete frame (< FRAME_SIZE bytes)
        if not data_frames:
            return None
        return decode_frames(bytes(data_frames))

    def _discard(self, n_bytes: int) -> None:
        if n_bytes > 0:
            self.stats.bytes_discarded += n_bytes
            self.stats.drop_reasons["garbage_bytes"] += n_bytes
