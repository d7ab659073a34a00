"""Per-row products of (N, 3) sample arrays (rates, up vectors) in float64.

`np.einsum("ij,j->i")` and `np.einsum("ij,ij->i")` loop in C once per 3-element row and
cost ~6x and ~3x a matrix-vector product here (7,814 rows: 62 vs 9 us, 71 vs 25 us), so
both are matrix products (BLAS). A float32 array (a file's samples) is widened in blocks of
`ROW_BLOCK_SAMPLES` rows: a 60-minute recording's float64 copy would be 17 MB at once.
"""

from __future__ import annotations

import numpy as np

ROW_BLOCK_SAMPLES = 1 << 16
_ONES = np.ones(3)


def row_dot(values: np.ndarray, vector: np.ndarray) -> np.ndarray:
    """values (N, 3) @ vector (3,) -> (N,) float64."""
    if values.dtype == np.float64:
        product: np.ndarray = values @ vector
        return product
    out = np.empty(values.shape[0])
    for start in range(0, values.shape[0], ROW_BLOCK_SAMPLES):
        block = values[start : start + ROW_BLOCK_SAMPLES]
        np.matmul(block.astype(np.float64), vector, out=out[start : start + block.shape[0]])
    return out


def row_dots(values: np.ndarray, vectors: np.ndarray) -> np.ndarray:
    """The dot products of each row of `values` (N, 3) with each of `vectors` (k, 3) ->
    (k, N) float64, one contiguous row per vector: one matrix product for all of them (two
    matrix-vector products cost ~1.3x one (k, 3) @ (3, N) product here)."""
    out = np.empty((vectors.shape[0], values.shape[0]))
    for start in range(0, values.shape[0], ROW_BLOCK_SAMPLES):
        block = np.asarray(values[start : start + ROW_BLOCK_SAMPLES], dtype=np.float64)
        np.matmul(vectors, block.T, out=out[:, start : start + block.shape[0]])
    return out


def row_energy(values: np.ndarray) -> np.ndarray:
    """Squared Euclidean norm of each row of (N, 3) `values` -> (N,) float64."""
    out = np.empty(values.shape[0])
    for start in range(0, values.shape[0], ROW_BLOCK_SAMPLES):
        block = np.asarray(values[start : start + ROW_BLOCK_SAMPLES], dtype=np.float64)
        np.matmul(block * block, _ONES, out=out[start : start + block.shape[0]])
    return out


def row_norms(values: np.ndarray) -> np.ndarray:
    """Euclidean norm of each row of (N, 3) `values` -> (N,) float64."""
    energy = row_energy(values)
    norms: np.ndarray = np.sqrt(energy, out=energy)
    return norms
