"""Per-step statistics with their uncertainty from the lifter's own rep-to-rep spread.

Percentile bootstrap (Efron): resample the reps with replacement, recompute the statistic,
take the 2.5 and 97.5 percentiles. The generator is seeded with a fixed value, so the same
reps always give the same interval (reports are reproducible). Shifts between two steps
resample each step's reps independently and take the difference of the medians.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

BOOTSTRAP_RESAMPLES = 4000
BOOTSTRAP_SEED = 20261201


@dataclass(frozen=True)
class Estimate:
    """A median and its confidence interval (deg); `low == high` for a single value."""

    median: float
    low: float
    high: float
    count: int


def _rng() -> np.random.Generator:
    return np.random.default_rng(BOOTSTRAP_SEED)


def _bootstrap_medians(values: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    picks = rng.integers(0, values.size, size=(BOOTSTRAP_RESAMPLES, values.size))
    return np.median(values[picks], axis=1)


def median_ci(values: np.ndarray, level: float = 0.95) -> Estimate:
    """Median of `values` (deg, (n,), n >= 1) and its bootstrap CI at `level`."""
    values = np.asarray(values, dtype=float)
    if values.ndim != 1 or values.size == 0:
        raise ValueError(f"need a non-empty 1-D array of values, got shape {values.shape}")
    medians = _bootstrap_medians(values, _rng())
    tail = 50.0 * (1.0 - level)
    low, high = np.percentile(medians, [tail, 100.0 - tail])
    return Estimate(float(np.median(values)), float(low), float(high), int(values.size))


def shift_ci(later: np.ndarray, reference: np.ndarray, level: float) -> Estimate:
    """Difference of medians `later - reference` (deg) and its bootstrap CI at `level`."""
    later = np.asarray(later, dtype=float)
    reference = np.asarray(reference, dtype=float)
    if later.size == 0 or reference.size == 0:
        raise ValueError("both steps need at least one value to compare")
    rng = _rng()
    differences = _bootstrap_medians(later, rng) - _bootstrap_medians(reference, rng)
    tail = 50.0 * (1.0 - level)
    low, high = np.percentile(differences, [tail, 100.0 - tail])
    return Estimate(
        float(np.median(later) - np.median(reference)),
        float(low),
        float(high),
        int(min(later.size, reference.size)),
    )


def robust_sd(values: np.ndarray) -> float:
    """Standard deviation from the median absolute deviation (1.4826 x MAD; 0 for one value)."""
    values = np.asarray(values, dtype=float)
    return float(1.4826 * np.median(np.abs(values - np.median(values))))
