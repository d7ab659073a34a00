"""Orientation across long gaps in a sensor's samples.

Interpolated angular rate across a long gap (a dropped BLE link) integrates to a wrong
rotation that a filter carries on for seconds. So the grid is split at long gaps, each
stretch is fused on its own (its filter starts again from the accelerometer), and the
earth-up vector inside a gap is interpolated between the stretches' edges.

`long_interval_starts` is the one place gaps in a sample clock are found (the resampler's gap
mask and the gap findings use it too).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:  # numpy.typing costs ~1 ms of `winkwatch analyze`'s start
    from numpy.typing import DTypeLike

LONG_GAP_S = 0.25  # shorter gaps: rate interpolation is harmless (<= ~0.5 deg)
MIN_STRETCH_SAMPLES = 10  # a stretch shorter than this is treated as part of the gap
INTERVAL_BLOCK_SAMPLES = 1 << 16  # intervals differenced at a time


def long_interval_starts(t_s: np.ndarray, longer_than_s: float) -> np.ndarray:
    """Indices i (int64, ascending) where t_s[i + 1] - t_s[i] > `longer_than_s` (s).

    Differenced in blocks: a 60-minute recording's intervals would be a 5.5 MiB float64
    temporary for a handful of gaps."""
    found = [
        first
        + np.flatnonzero(np.diff(t_s[first : first + INTERVAL_BLOCK_SAMPLES + 1]) > longer_than_s)
        for first in range(0, max(t_s.size - 1, 0), INTERVAL_BLOCK_SAMPLES)
    ]
    return np.concatenate(found) if found else np.empty(0, dtype=np.intp)


def stretches_between_gaps(
    t_s: np.ndarray,
    grid_t_s: np.ndarray,
    long_gap_s: float = LONG_GAP_S,
    gap_idx: np.ndarray | None = None,
) -> list[slice]:
    """Slices of the grid that lie between gaps of `t_s` longer than `long_gap_s` (`gap_idx`:
    their `long_interval_starts`, when known)."""
    if gap_idx is None:
        gap_idx = long_interval_starts(t_s, long_gap_s)
    bounds = (
        [(grid_t_s[0] - 1.0, t_s[0])]
        + [(t_s[i], t_s[i + 1]) for i in gap_idx]
        + [(t_s[-1], grid_t_s[-1] + 1.0)]
    )
    stretches = []
    for (_, start_s), (end_s, _) in zip(bounds[:-1], bounds[1:]):
        first = int(np.searchsorted(grid_t_s, start_s, side="left"))
        stop = int(np.searchsorted(grid_t_s, end_s, side="right"))
        if stop - first >= MIN_STRETCH_SAMPLES:
            stretches.append(slice(first, stop))
    return stretches


def up_across_gaps(
    stretches: list[slice],
    size: int,
    fill_up: Callable[[slice, np.ndarray], None],
    dtype: DTypeLike = np.float64,
) -> np.ndarray:
    """Earth-up (size, 3) of `dtype`: `fill_up(stretch, rows)` writes each stretch's up
    vectors into `rows` (that stretch of the result); in between and at the ends they are
    interpolated."""
    up = np.empty((size, 3), dtype=dtype)
    unknown = np.ones(size, dtype=bool)
    for stretch in stretches:
        fill_up(stretch, up[stretch])
        unknown[stretch] = False
    if unknown.any():
        known, index = np.flatnonzero(~unknown), np.flatnonzero(unknown)
        for axis in range(3):
            up[index, axis] = np.interp(index, known, up[known, axis])
        up[index] /= np.linalg.norm(up[index], axis=1, keepdims=True)
    return up
