"""Rep segmentation from the thigh angle, with hysteresis.

A rep is a stretch where the thigh angle rises more than `enter_deg` above the set's
standing level and later falls back below `exit_deg` above it; partial squats are reps as
long as they pass `enter_deg`. Start = when the thigh leaves standing, bottom = deepest
thigh angle, end = when it is back at standing.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

ENTER_DEG = 20.0  # rise above standing that starts a rep (a shallow partial squat is ~40)
EXIT_DEG = 10.0  # fall back below this above standing to end it (hysteresis: 10 deg)
LEAVE_FRACTION = 0.05  # start/end: within 5 % of the rep's excursion from the standing level
LEAVE_MIN_DEG = 2.0


@dataclass(frozen=True)
class RepThresholds:
    enter_deg: float = ENTER_DEG
    exit_deg: float = EXIT_DEG


@dataclass(frozen=True)
class RepWindow:
    """Sample indices on the analysis grid: start (leaves standing), bottom, end (inclusive)."""

    start: int
    bottom: int
    end: int


@dataclass(frozen=True)
class Segmentation:
    """Complete reps, and how many excursions were cut off by the recording's start or end."""

    reps: list[RepWindow]
    incomplete: int


def standing_level_deg(thigh_deg: np.ndarray) -> float:
    """The set's standing thigh angle: a low percentile, robust to a few odd samples."""
    return float(np.percentile(thigh_deg, 5))


def _hysteresis_runs(values: np.ndarray, high: float, low: float) -> list[tuple[int, int]]:
    """[first, last] index pairs of stretches that rise above `high` and last until below `low`."""
    state = np.full(values.shape, -1, dtype=np.int8)
    state[values > high] = 1
    state[values < low] = 0
    known = np.flatnonzero(state >= 0)
    if known.size == 0:
        return []
    # Forward-fill the undecided samples (between the thresholds) with the last decided state.
    fill_from = np.maximum.accumulate(np.where(state >= 0, np.arange(values.size), 0))
    filled = state[fill_from]
    filled[: known[0]] = state[known[0]] if state[known[0]] == 0 else 0
    edges = np.flatnonzero(np.diff(np.concatenate(([0], (filled == 1).astype(np.int8), [0]))))
    return [(int(a), int(b) - 1) for a, b in zip(edges[::2], edges[1::2])]


def segment_reps(
    thigh_deg: np.ndarray, thresholds: RepThresholds = RepThresholds()
) -> Segmentation:
    """Complete reps in a thigh-angle trace (deg, uniform grid).

    An excursion that is already under way at the first sample, or not back at standing by
    the last one, is not a complete rep (its descent or ascent is missing): it is counted in
    `incomplete` instead, as the live gateway would never report it either.
    """
    if thigh_deg.size == 0:
        return Segmentation([], 0)
    base = standing_level_deg(thigh_deg)
    exit_level = base + thresholds.exit_deg
    runs = _hysteresis_runs(thigh_deg, base + thresholds.enter_deg, exit_level)
    reps: list[RepWindow] = []
    incomplete = 0
    for k, (first, last) in enumerate(runs):
        if (thigh_deg[0] >= exit_level and k == 0) or last == thigh_deg.size - 1:
            incomplete += 1
            continue
        bottom = first + int(np.argmax(thigh_deg[first : last + 1]))
        before_from = runs[k - 1][1] + 1 if k else 0
        after_to = runs[k + 1][0] if k + 1 < len(runs) else thigh_deg.size
        before = thigh_deg[before_from : first + 1]
        after = thigh_deg[last:after_to]
        excursion = thigh_deg[bottom] - base
        margin = max(LEAVE_FRACTION * excursion, LEAVE_MIN_DEG)
        start_hits = np.flatnonzero(before <= before.min() + margin)
        end_hits = np.flatnonzero(after <= after.min() + margin)
        start = before_from + int(start_hits[-1])
        end = last + int(end_hits[0])
        reps.append(RepWindow(start, bottom, end))
    return Segmentation(reps, incomplete)
