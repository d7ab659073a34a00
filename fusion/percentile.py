"""Percentile and median of finite 1-D data, as numpy's default (linear) definition.

numpy 2.x imports `numpy.ma` on the first call of `np.median` or `np.percentile` (about
20 ms of every `winkwatch analyze` start-up, more than the analysis of a short set); one
`np.partition` gives the same number.
"""

from __future__ import annotations

import math

import numpy as np


def percentile(values: np.ndarray, q: float) -> float:
    """The `q`-th percentile (0..100) of finite `values`, interpolated linearly between ranks;
    NaN for no values (as numpy, without its warning)."""
    return percentiles(values, (q,))[0]


def percentiles(values: np.ndarray, qs: tuple[float, ...]) -> tuple[float, ...]:
    """`percentile(values, q)` for each q in `qs`, from one `np.partition` of the ranks
    they fall between."""
    data = np.asarray(values, dtype=float).ravel()
    if data.size == 0:
        return tuple(math.nan for _ in qs)
    positions = [q / 100.0 * (data.size - 1) for q in qs]
    ranks = sorted(
        {r for p in positions for r in (math.floor(p), min(math.floor(p) + 1, data.size - 1))}
    )
    ranked = np.partition(data, ranks)
    out = []
    for position in positions:
        low = math.floor(position)
        high = min(low + 1, data.size - 1)
        out.append(float(ranked[low] + (ranked[high] - ranked[low]) * (position - low)))
    return tuple(out)


def median(values: np.ndarray) -> float:
    """The median of finite `values` (the mean of the middle two for an even count)."""
    return percentile(values, 50.0)
