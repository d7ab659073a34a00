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
    bounds = [_rank_bounds(q, data.size) for q in qs]
    ranked = np.partition(data, sorted({k for low, high, _ in bounds for k in (low, high)}))
    return tuple(
        float(ranked[low] + (ranked[high] - ranked[low]) * fraction)
        for low, high, fraction in bounds
    )


def percentiles_both_signs(
    values: np.ndarray, qs: tuple[float, ...]
) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """(`percentiles(values, qs)`, `percentiles(-values, qs)`) from one `np.partition`, bit
    for bit: the k-th smallest of -values is minus the (n - 1 - k)-th smallest of values, and
    negation is exact."""
    data = np.asarray(values, dtype=float).ravel()
    if data.size == 0:
        return tuple(math.nan for _ in qs), tuple(math.nan for _ in qs)
    last = data.size - 1
    bounds = [_rank_bounds(q, data.size) for q in qs]
    ranks = sorted({r for low, high, _ in bounds for k in (low, high) for r in (k, last - k)})
    ranked = np.partition(data, ranks)
    kth = dict(zip(ranks, ranked[ranks].tolist()))
    plus, minus = [], []
    for low, high, fraction in bounds:
        plus.append(kth[low] + (kth[high] - kth[low]) * fraction)
        below, above = -kth[last - low], -kth[last - high]
        minus.append(below + (above - below) * fraction)
    return tuple(plus), tuple(minus)


def _rank_bounds(q: float, size: int) -> tuple[int, int, float]:
    """The ranks the `q`-th percentile of `size` values lies between, and how far along."""
    position = q / 100.0 * (size - 1)
    low = math.floor(position)
    return low, min(low + 1, size - 1), position - low


def median(values: np.ndarray) -> float:
    """The median of finite `values` (the mean of the middle two for an even count)."""
    return percentile(values, 50.0)
