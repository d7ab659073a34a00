"""Compact encoding of a block of one sensor's raw samples (a `RawChunk` payload).

Codec "f64t-f32-shuffle-zlib": time as float64 seconds (set-relative), specific force and
angular rate as float32 (16-bit sensors lose nothing), each array byte-shuffled (all first
bytes, then all second bytes...) before zlib, which lets zlib find the slowly-varying
high-order bytes. About 3-4x smaller than float64 rows.
"""

from __future__ import annotations

import zlib

import numpy as np

CODEC = "f64t-f32-shuffle-zlib"
ZLIB_LEVEL = 6


class RawCodecError(ValueError):
    """A stored chunk cannot be decoded (unknown codec or damaged payload)."""


def _shuffle(array: np.ndarray) -> bytes:
    item = array.dtype.itemsize
    return np.ascontiguousarray(array).view(np.uint8).reshape(-1, item).T.tobytes()


def _unshuffle(raw: bytes, dtype: np.dtype, count: int) -> np.ndarray:
    item = np.dtype(dtype).itemsize
    planes = np.frombuffer(raw, dtype=np.uint8).reshape(item, count)
    return planes.T.copy().view(dtype).reshape(count)


def encode_samples(t_s: np.ndarray, acc_mps2: np.ndarray, gyr_radps: np.ndarray) -> bytes:
    """`t_s` (N,) s, `acc_mps2` (N, 3) m/s^2, `gyr_radps` (N, 3) rad/s -> compressed bytes."""
    t_s = np.asarray(t_s, dtype="<f8")
    n = t_s.shape[0]
    acc = np.asarray(acc_mps2, dtype="<f4").reshape(n, 3)
    gyr = np.asarray(gyr_radps, dtype="<f4").reshape(n, 3)
    body = _shuffle(t_s) + _shuffle(acc.reshape(-1)) + _shuffle(gyr.reshape(-1))
    return zlib.compress(body, ZLIB_LEVEL)


def decode_samples(
    payload: bytes, n_samples: int, codec: str = CODEC
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Inverse of `encode_samples`: (t_s (N,), acc_mps2 (N, 3), gyr_radps (N, 3)) float64."""
    if codec != CODEC:
        raise RawCodecError(
            f"raw chunk codec {codec!r} is unknown to this WinkWatch version; upgrade"
        )
    try:
        body = zlib.decompress(payload)
    except zlib.error as exc:
        raise RawCodecError(f"raw chunk payload is damaged: {exc}") from exc
    expected = n_samples * (8 + 12 + 12)
    if len(body) != expected:
        raise RawCodecError(
            f"raw chunk holds {len(body)} bytes, expected {expected} for {n_samples} samples"
        )
    t_end = n_samples * 8
    acc_end = t_end + n_samples * 12
    t_s = _unshuffle(body[:t_end], np.dtype("<f8"), n_samples)
    acc = _unshuffle(body[t_end:acc_end], np.dtype("<f4"), n_samples * 3).reshape(n_samples, 3)
    gyr = _unshuffle(body[acc_end:], np.dtype("<f4"), n_samples * 3).reshape(n_samples, 3)
    return t_s.astype(float), acc.astype(float), gyr.astype(float)
