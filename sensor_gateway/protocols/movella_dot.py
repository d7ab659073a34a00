"""Movella DOT (formerly Xsens DOT), "rate quantities" payload (payload mode 21).

Streamed on the medium-payload characteristic; each notification holds one sample,
little-endian: timestamp u32 (microseconds, sensor clock), acceleration 3 x float32
(m/s^2, sensor frame), angular rate 3 x float32 (deg/s); notifications may be padded past
these 28 bytes. Measurement is started and stopped on the measurement control
characteristic with `[type=1, action, payload mode]`.

The output rate is set over BLE before streaming: a 32-byte write to the Device Control
characteristic (configuration service) whose first byte, the "visit index", says which
field to apply, with the rate as u16 at byte 24. Live streaming supports up to 60 Hz
(120 Hz is for recording only). See firmware_notes/supported_sensors.md for what of this
is confirmed and what is assumed.
"""

from __future__ import annotations

import re
import struct

import numpy as np

from sensor_gateway.protocols.base import (
    DecodedSamples,
    StreamDecoder,
    WrapUnwrapper,
    acc_limit_mps2,
    gyr_limit_radps,
)
from sensor_gateway.protocols.errors import ProtocolError, UnsupportedRateError
from sensor_gateway.samples import SensorKind

MEASUREMENT_SERVICE_UUID = "15172000-4947-11e9-8646-d663bd873d93"
CONTROL_CHAR_UUID = "15172001-4947-11e9-8646-d663bd873d93"
MEDIUM_PAYLOAD_CHAR_UUID = "15172003-4947-11e9-8646-d663bd873d93"
# Every Movella/Xsens DOT service UUID shares this base: 1517xxxx-4947-11e9-8646-d663bd873d93.
UUID_PATTERN = re.compile(r"^1517[0-9a-f]{4}-4947-11e9-8646-d663bd873d93$")
NAME_PREFIXES: tuple[str, ...] = ("Movella DOT", "Xsens DOT")
# Bluetooth SIG company identifier of Movella Technologies B.V. (formerly Xsens Technologies
# B.V.), the key of the manufacturer-specific data a DOT advertises (firmware_notes/
# supported_sensors.md gives the sources). It names the company, not the product.
COMPANY_ID = 0x0886

# Measuring ranges of the DOT's IMU (Movella DOT user manual, sensor specifications).
ACC_RANGE_G = 16
GYR_RANGE_DPS = 2000

DEVICE_CONTROL_CHAR_UUID = "15171002-4947-11e9-8646-d663bd873d93"
DEVICE_CONTROL_SIZE = 32
VISIT_INDEX_OUTPUT_RATE = 0x10  # assumed bit of the visit index for the output-rate field
OUTPUT_RATE_OFFSET = 24  # u16 little-endian, Hz
LIVE_RATES_HZ: tuple[int, ...] = (1, 4, 10, 12, 15, 20, 30, 60)
RECORDING_ONLY_RATES_HZ: tuple[int, ...] = (120,)

MEASUREMENT_TYPE = 0x01
ACTION_STOP = 0x00
ACTION_START = 0x01
PAYLOAD_MODE_RATE_QUANTITIES = 21

PAYLOAD = struct.Struct("<I6f")
PAYLOAD_SIZE = PAYLOAD.size  # 28 bytes
MAX_NOTIFICATION_BYTES = 63  # medium payload is 40 bytes; tolerate a little more padding
_TIMESTAMP_MODULUS = 1 << 32


def start_command() -> bytes:
    return bytes([MEASUREMENT_TYPE, ACTION_START, PAYLOAD_MODE_RATE_QUANTITIES])


def output_rate_command(rate_hz: int) -> bytes:
    """The Device Control write that sets the output rate (only that field: visit index)."""
    if rate_hz in RECORDING_ONLY_RATES_HZ:
        raise UnsupportedRateError(
            f"Movella DOT records at {rate_hz} Hz but streams live at most at 60 Hz; "
            f"choose one of {LIVE_RATES_HZ} Hz"
        )
    if rate_hz not in LIVE_RATES_HZ:
        raise UnsupportedRateError(
            f"Movella DOT streams live at {LIVE_RATES_HZ} Hz, not {rate_hz} Hz"
        )
    body = bytearray(DEVICE_CONTROL_SIZE)
    body[0] = VISIT_INDEX_OUTPUT_RATE
    body[OUTPUT_RATE_OFFSET : OUTPUT_RATE_OFFSET + 2] = rate_hz.to_bytes(2, "little")
    return bytes(body)


def stop_command() -> bytes:
    return bytes([MEASUREMENT_TYPE, ACTION_STOP, PAYLOAD_MODE_RATE_QUANTITIES])


def encode_payload(
    timestamp_us: int, acc_mps2: np.ndarray, gyr_dps: np.ndarray, padded_to: int = 0
) -> bytes:
    """One notification as the sensor sends it, zero-padded to `padded_to` bytes."""
    body = PAYLOAD.pack(
        timestamp_us % _TIMESTAMP_MODULUS,
        *np.asarray(acc_mps2, dtype=float),
        *np.asarray(gyr_dps, dtype=float),
    )
    return body + bytes(max(0, padded_to - len(body)))


def decode_payload(payload: bytes) -> DecodedSamples:
    """Decode one notification (sensor_time_s as sent, not unwrapped)."""
    if len(payload) < PAYLOAD_SIZE:
        raise ProtocolError("truncated", f"payload of {len(payload)} bytes, need {PAYLOAD_SIZE}")
    if len(payload) > MAX_NOTIFICATION_BYTES:
        raise ProtocolError(
            "length_mismatch",
            f"payload of {len(payload)} bytes is too long "
            "for the medium payload; is the sensor in payload mode 21?",
        )
    timestamp_us = PAYLOAD.unpack_from(payload)[0]
    values = np.frombuffer(payload, dtype="<f4", count=6, offset=4).astype(np.float64)
    if not np.all(np.isfinite(values)):
        raise ProtocolError("non_finite", "acceleration or angular rate is NaN or infinite")
    return DecodedSamples(
        acc_mps2=values[0:3].reshape(1, 3),
        gyr_radps=np.deg2rad(values[3:6]).reshape(1, 3),
        sensor_time_s=np.array([timestamp_us * 1e-6]),
    )


class MovellaDotDecoder(StreamDecoder):
    """Per-connection decoder: unwraps the 32-bit microsecond clock into growing seconds.

    A notification whose timestamp is the one last delivered is that sample again (a
    duplicated notification: two samples of one sensor never share a timestamp, and a DOT
    packet has no sequence number to tell): it is dropped, drop reason `stale` as in the
    WinkWatch profile, where the clock mapper stored it a second time 1 us later."""

    kind = SensorKind.MOVELLA_DOT
    max_acc_mps2 = acc_limit_mps2(ACC_RANGE_G)
    max_gyr_radps = gyr_limit_radps(GYR_RANGE_DPS)

    def __init__(self, address: str, nominal_rate_hz: float | None = None) -> None:
        super().__init__(address, nominal_rate_hz)
        self._clock = WrapUnwrapper(_TIMESTAMP_MODULUS)
        self._last_timestamp_us: int | None = None  # as sent, of the sample last delivered

    def _decode(self, payload: bytes) -> DecodedSamples:
        sample = decode_payload(payload)
        timestamp_us = PAYLOAD.unpack_from(payload)[0]
        if timestamp_us == self._last_timestamp_us:
            raise ProtocolError(
                "stale",
                f"sample at sensor time {timestamp_us} us delivered again: a duplicate notification",
            )
        self._last_timestamp_us = timestamp_us
        unwrapped_s = self._clock.unwrap(timestamp_us) * 1e-6
        return DecodedSamples(
            acc_mps2=sample.acc_mps2,
            gyr_radps=sample.gyr_radps,
            sensor_time_s=np.array([unwrapped_s]),
        )
