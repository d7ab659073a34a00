"""Orientation across long gaps in a sensor's samples.

Interpolated angular rate across a long gap (a dropped BLE link) integrates to a wrong
rotation that a filter carries on for seconds. So the grid is split at long gaps, each
stretch is fused on its own (its filter starts again from the accelerometer), and the
earth-up vector inside a gap is interpolated between the stretches' edges.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from numpy.typing import DTypeLike

LONG_GAP_S = 0.25  # shorter gaps: rate interpolation is harmless (<= ~0.5 deg)
MIN_STRETCH_SAMPLES = 10  # a stretch shorter than this is treated as part of the gap


def stretches_between_gaps(
    t_s: np.ndarray, grid_t_s: np.ndarray, long_gap_s: float = LONG_GAP_S
) -> list[slice]:
    """Slices of the grid that lie between gaps of `t_s` longer than `long_gap_s`."""
    intervals = np.diff(t_s)
    gap_idx = np.flatnonzero(intervals > long_gap_s)
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
    up_of: Callable[[slice], np.ndarray],
    dtype: DTypeLike = np.float64,
) -> np.ndarray:
    """Earth-up (size, 3) of `dtype` from `up_of(stretch)` per stretch, interpolated in
    between and at the ends."""
    if len(stretches) == 1 and stretches[0].indices(size) == (0, size, 1):
        return np.asarray(up_of(stretches[0]), dtype=dtype)  # no gap: nothing to fill
    up = np.full((size, 3), np.nan, dtype=dtype)
    for stretch in stretches:
        up[stretch] = up_of(stretch)
    known = np.flatnonzero(~np.isnan(up[:, 0]))
    if known.size < size:
        index = np.arange(size)
        for axis in range(3):
            up[:, axis] = np.interp(index, known, up[known, axis])
        up /= np.linalg.norm(up, axis=1, keepdims=True)
    return up
