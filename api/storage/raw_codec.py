"""Compact encoding of a block of one sensor's raw samples (a `RawChunk` payload).

Codec "f64t-f32-shuffle-zlib" (v1): time as float64 seconds (set-relative), specific force
and angular rate as float32 (16-bit sensors lose nothing), each array byte-shuffled (all
first bytes, then all second bytes...) before zlib, which lets zlib find the slowly-varying
high-order bytes. About 3-4x smaller than float64 rows.

Codec "raw-v2-shuffle-zlib" (written now) adds what the sensor really sent, so a set's clock
can be mapped again later from scratch: per sample the packet's receive time (float64,
set-relative, gateway clock), the sensor's own timestamp (float64 s, NaN for sensors
without a clock) and the packet sequence number (int64, -1 when the protocol has none). The
three are stored as differences from the previous sample (receive times and sequence
numbers repeat within a packet, so they cost almost nothing), and the floats are
reconstructed bit-exactly (XOR of the IEEE bit patterns, not float subtraction).
v1 chunks stay readable.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass

import numpy as np

from api.errors import WinkWatchError

CODEC_V1 = "f64t-f32-shuffle-zlib"
CODEC = "raw-v2-shuffle-zlib"
ZLIB_LEVEL = 6
NO_SEQ = -1  # sequence number of a sample whose protocol has none
_V2_BYTES_PER_SAMPLE = 8 + 12 + 12 + 8 + 8 + 8


@dataclass(frozen=True)
class SensorClock:
    """What the sensor sent for each sample: `received_s` (N,) gateway clock when its packet
    arrived (set-relative s), `sensor_time_s` (N,) its own clock (NaN if it has none),
    `seq` (N,) int64 packet sequence number (NO_SEQ if none)."""

    received_s: np.ndarray
    sensor_time_s: np.ndarray
    seq: np.ndarray


class RawCodecError(WinkWatchError, ValueError):
    """A stored chunk cannot be decoded (unknown codec or damaged payload)."""


def _shuffle(array: np.ndarray) -> bytes:
    item = array.dtype.itemsize
    return np.ascontiguousarray(array).view(np.uint8).reshape(-1, item).T.tobytes()


def _unshuffle(raw: bytes, dtype: np.dtype, count: int) -> np.ndarray:
    item = np.dtype(dtype).itemsize
    planes = np.frombuffer(raw, dtype=np.uint8).reshape(item, count)
    return planes.T.copy().view(dtype).reshape(count)


def _xor_delta(values: np.ndarray) -> np.ndarray:
    bits = np.ascontiguousarray(values, dtype="<f8").view("<u8")
    out = bits.copy()
    out[1:] ^= bits[:-1]
    return out


def _undo_xor_delta(bits: np.ndarray) -> np.ndarray:
    return np.bitwise_xor.accumulate(bits).view("<f8")


def encode_samples(
    t_s: np.ndarray,
    acc_mps2: np.ndarray,
    gyr_radps: np.ndarray,
    clock: SensorClock | None = None,
) -> bytes:
    """`t_s` (N,) s, `acc_mps2` (N, 3) m/s^2, `gyr_radps` (N, 3) rad/s and what the sensor
    sent (`clock`; unknown when None) -> compressed bytes of codec `CODEC`."""
    t_s = np.asarray(t_s, dtype="<f8")
    n = t_s.shape[0]
    acc = np.asarray(acc_mps2, dtype="<f4").reshape(n, 3)
    gyr = np.asarray(gyr_radps, dtype="<f4").reshape(n, 3)
    if clock is None:
        clock = SensorClock(np.full(n, np.nan), np.full(n, np.nan), np.full(n, NO_SEQ))
    received = np.asarray(clock.received_s, dtype="<f8").reshape(n)
    sensor_time = np.asarray(clock.sensor_time_s, dtype="<f8").reshape(n)
    seq = np.asarray(clock.seq, dtype="<i8").reshape(n)
    seq_delta = seq.copy()
    seq_delta[1:] -= seq[:-1]
    body = b"".join(
        (
            _shuffle(t_s),
            _shuffle(acc.reshape(-1)),
            _shuffle(gyr.reshape(-1)),
            _shuffle(_xor_delta(received)),
            _shuffle(_xor_delta(sensor_time)),
            _shuffle(seq_delta),
        )
    )
    return zlib.compress(body, ZLIB_LEVEL)


def decode_clock(payload: bytes, n_samples: int, codec: str = CODEC) -> SensorClock | None:
    """What the sensor sent for each sample of a chunk; None for v1 chunks (not stored)."""
    if codec == CODEC_V1:
        decode_samples(payload, n_samples, codec)  # still report a damaged payload
        return None
    body = _body(payload, n_samples, codec)
    n = n_samples
    start = n * 32
    received = _undo_xor_delta(_unshuffle(body[start : start + 8 * n], np.dtype("<u8"), n))
    sensor = _undo_xor_delta(_unshuffle(body[start + 8 * n : start + 16 * n], np.dtype("<u8"), n))
    seq = np.cumsum(_unshuffle(body[start + 16 * n :], np.dtype("<i8"), n))
    return SensorClock(received.astype(float), sensor.astype(float), seq.astype(np.int64))


def decode_samples(
    payload: bytes, n_samples: int, codec: str = CODEC
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Inverse of `encode_samples`: (t_s (N,), acc_mps2 (N, 3), gyr_radps (N, 3)) float64."""
    body = _body(payload, n_samples, codec)
    t_end = n_samples * 8
    acc_end = t_end + n_samples * 12
    t_s = _unshuffle(body[:t_end], np.dtype("<f8"), n_samples)
    acc = _unshuffle(body[t_end:acc_end], np.dtype("<f4"), n_samples * 3).reshape(n_samples, 3)
    gyr_end = acc_end + n_samples * 12
    gyr = _unshuffle(body[acc_end:gyr_end], np.dtype("<f4"), n_samples * 3)
    gyr = gyr.reshape(n_samples, 3)
    return t_s.astype(float), acc.astype(float), gyr.astype(float)


def _body(payload: bytes, n_samples: int, codec: str) -> bytes:
    per_sample = {CODEC_V1: 8 + 12 + 12, CODEC: _V2_BYTES_PER_SAMPLE}.get(codec)
    if per_sample is None:
        raise RawCodecError(
            f"raw chunk codec {codec!r} is unknown to this WinkWatch version; upgrade"
        )
    try:
        body = zlib.decompress(payload)
    except zlib.error as exc:
        raise RawCodecError(f"raw chunk payload is damaged: {exc}") from exc
    expected = n_samples * per_sample
    if len(body) != expected:
        raise RawCodecError(
            f"raw chunk holds {len(body)} bytes, expected {expected} for {n_samples} samples"
        )
    return body
