"""Rep segmentation from the thigh angle, with hysteresis.

A rep is a stretch where the thigh angle rises more than `enter_deg` above the set's
standing level and later falls back below `exit_deg` above it; partial squats are reps as
long as they pass `enter_deg`. Start = when the thigh leaves standing, bottom = deepest
thigh angle, end = when it is back at standing.

Reps at the edges of a recording: an excursion already under way at the first sample, or
not back at standing by the last one, misses its descent or its ascent. With
`keep_edges`, once the standing level is known from at least one complete rep, such an
excursion is still a rep when it reaches `EDGE_MIN_DEPTH_SHARE` of the complete reps'
median excursion; its window is marked `edge` ("start" or "end") and runs to the
recording's first or last sample. Without a complete rep (or too shallow) it is counted
in `incomplete`.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from fusion.errors import require_finite
from fusion.percentile import median, percentile

ENTER_DEG = 20.0  # rise above standing that starts a rep (a shallow partial squat is ~40)
EXIT_DEG = 10.0  # fall back below this above standing to end it (hysteresis: 10 deg)
LEAVE_FRACTION = 0.05  # start/end: within 5 % of the rep's excursion from the standing level
LEAVE_MIN_DEG = 2.0
EDGE_MIN_DEPTH_SHARE = 0.5  # an edge excursion this deep (vs complete reps) is a rep


# Reps measured or checked together at most: bounded temporaries on a long recording (a
# 60-minute set has ~960 reps, 720k samples).
REP_BATCH_SAMPLES = 1 << 16


@dataclass(frozen=True)
class RepThresholds:
    enter_deg: float = ENTER_DEG
    exit_deg: float = EXIT_DEG


@dataclass(frozen=True)
class RepWindow:
    """Sample indices on the analysis grid: start (leaves standing), bottom, end (inclusive).

    `edge`: None for a complete rep; "start" / "end" for a rep cut by the recording's start
    (descent missing: `start` is the first sample) or end (ascent missing: `end` is the last).
    """

    start: int
    bottom: int
    end: int
    edge: str | None = None


@dataclass(frozen=True)
class Segmentation:
    """Complete reps, and how many excursions were cut off by the recording's start or end."""

    reps: list[RepWindow]
    incomplete: int


def leave_margin_deg(excursion_deg: float) -> float:
    """How close to standing (deg) counts as "left" or "back": `LEAVE_FRACTION` of the rep's
    excursion, at least `LEAVE_MIN_DEG` (offline and live alike)."""
    return max(LEAVE_FRACTION * excursion_deg, LEAVE_MIN_DEG)


def hidden_boundary(
    t_s: np.ndarray,
    level_deg: np.ndarray,
    window: RepWindow,
    gaps: Iterable[tuple[str, float, float]],
    standing_deg: float,
    thresholds: RepThresholds,
) -> tuple[str, float, float] | None:
    """The first of `gaps` (sensor, its last sample before, its first after; each longer
    than `fusion.quality.HIDDEN_REP_GAP_S`, of a sensor the reps are found on) that hides
    where rep `window` (indices into `t_s`, `level_deg`) ended and the next began: it began
    on the way up (the level fallen from the rep's deepest so far by more than the margin a
    rep ends within) and ended with the level above the exit level again. The lifter may
    have stood up and gone down again within it: two reps the angles held or interpolated
    across the gap make one, which is not to be counted. A gap over the bottom alone (down
    before it, up after) hides nothing (the rep is kept, flagged 'gap'). The live analyser
    and the offline pipeline alike."""
    exit_level = standing_deg + thresholds.exit_deg
    for gap in gaps:
        _, gap_start_s, gap_end_s = gap
        before = int(np.searchsorted(t_s, gap_start_s, side="right")) - 1
        after = int(np.searchsorted(t_s, gap_end_s, side="left"))
        if not (window.start <= before and after <= window.end):
            continue
        deepest = float(level_deg[window.start : before + 1].max())
        on_way_up = deepest - level_deg[before] > leave_margin_deg(deepest - standing_deg)
        if on_way_up and level_deg[after] > exit_level:
            return gap
    return None


def descent_start(before_deg: np.ndarray, margin_deg: float) -> int:
    """Index in `before_deg` (the thigh since the last rep, up to its rise past the entry
    level) where the rep starts: the last sample within `margin_deg` of the lowest."""
    return int(np.flatnonzero(before_deg <= before_deg.min() + margin_deg)[-1])


def ascent_end(after_deg: np.ndarray, margin_deg: float) -> int:
    """Index in `after_deg` (the thigh from its fall below the exit level) where the rep
    ends: the first sample within `margin_deg` of the lowest."""
    return int(np.flatnonzero(after_deg <= after_deg.min() + margin_deg)[0])


STANDING_PERCENTILE = 5


def standing_level_deg(thigh_deg: np.ndarray) -> float:
    """The set's standing thigh angle: a low percentile, robust to a few odd samples."""
    return percentile(thigh_deg, STANDING_PERCENTILE)


def _hysteresis_runs(values: np.ndarray, high: float, low: float) -> list[tuple[int, int]]:
    """[first, last] index pairs of stretches that rise above `high` and last until below `low`.

    A stretch starts at a sample above `high` when no stretch is under way (before the first
    sample below `low` none is) and lasts until the sample before the next one below `low`
    (the end of the trace if none): found from the starts of the runs above `high` and
    below `low` (a few dozen), not by forward-filling a per-sample state."""
    above = values > high if high >= low else (values > high) & (values >= low)
    rises = _run_starts(above)  # (below `low` wins when the thresholds cross, as it did)
    if not rises:
        return []
    falls = _run_starts(values < low)
    runs = []
    k = 0
    while k < len(rises):
        first = rises[k]
        below = bisect.bisect_right(falls, first)  # the first sample below `low` after it
        if below == len(falls):
            runs.append((first, values.size - 1))
            break
        runs.append((first, falls[below] - 1))
        k = bisect.bisect_right(rises, falls[below])
    return runs


def _run_starts(mask: np.ndarray) -> list[int]:
    """Indices where runs of True in `mask` (1-D bool) begin, ascending."""
    starts = np.flatnonzero(mask[1:] > mask[:-1]) + 1
    return ([0] if mask.size and mask[0] else []) + starts.tolist()


def segment_reps(
    thigh_deg: np.ndarray,
    thresholds: RepThresholds = RepThresholds(),
    *,
    keep_edges: bool = False,
    standing_deg: float | None = None,
) -> Segmentation:
    """Reps in a thigh-angle trace (deg, uniform grid), in time order.

    An excursion that is already under way at the first sample, or not back at standing by
    the last one, misses its descent or ascent: without `keep_edges` it is counted in
    `incomplete` (as the live gateway never reports it either); with it, see the module
    docstring. `standing_deg`: `standing_level_deg(thigh_deg)` when the caller has it.
    """
    if thigh_deg.size == 0:
        return Segmentation([], 0)
    require_finite(thigh_deg, "thigh_deg")
    base = standing_level_deg(thigh_deg) if standing_deg is None else standing_deg
    exit_level = base + thresholds.exit_deg
    runs = _hysteresis_runs(thigh_deg, base + thresholds.enter_deg, exit_level)
    reps: list[RepWindow] = []
    edges: list[tuple[int, str]] = []  # (run index, which edge)
    for k, (_, last) in enumerate(runs):
        if thigh_deg[0] >= exit_level and k == 0:
            edges.append((k, "start"))
            continue
        if last == thigh_deg.size - 1:
            edges.append((k, "end"))
            continue
        reps.append(_complete_window(thigh_deg, runs, k, base))
    incomplete = len(edges)
    if keep_edges and reps and edges:
        typical = median(np.array([thigh_deg[w.bottom] for w in reps])) - base
        for k, edge in edges:
            window = _edge_window(thigh_deg, runs, k, base, edge)
            if thigh_deg[window.bottom] - base < EDGE_MIN_DEPTH_SHARE * typical:
                continue
            if edge == "start":
                reps.insert(0, window)
            else:
                reps.append(window)
            incomplete -= 1
    return Segmentation(reps, incomplete)


def _edge_window(
    thigh_deg: np.ndarray, runs: list[tuple[int, int]], k: int, base: float, edge: str
) -> RepWindow:
    first, last = runs[k]
    bottom = first + int(np.argmax(thigh_deg[first : last + 1]))
    margin = leave_margin_deg(thigh_deg[bottom] - base)
    if edge == "start":
        after_to = runs[k + 1][0] if k + 1 < len(runs) else thigh_deg.size
        end = last + ascent_end(thigh_deg[last:after_to], margin)
        return RepWindow(0, bottom, end, edge="start")
    before_from = runs[k - 1][1] + 1 if k else 0
    start = before_from + descent_start(thigh_deg[before_from : first + 1], margin)
    return RepWindow(start, bottom, thigh_deg.size - 1, edge="end")


def _complete_window(
    thigh_deg: np.ndarray, runs: list[tuple[int, int]], k: int, base: float
) -> RepWindow:
    first, last = runs[k]
    bottom = first + int(np.argmax(thigh_deg[first : last + 1]))
    before_from = runs[k - 1][1] + 1 if k else 0
    after_to = runs[k + 1][0] if k + 1 < len(runs) else thigh_deg.size
    margin = leave_margin_deg(thigh_deg[bottom] - base)
    start = before_from + descent_start(thigh_deg[before_from : first + 1], margin)
    end = last + ascent_end(thigh_deg[last:after_to], margin)
    return RepWindow(start, bottom, end)


def rep_batches(
    starts: np.ndarray, ends: np.ndarray, max_samples: int = REP_BATCH_SAMPLES
) -> list[slice]:
    """Consecutive runs of reps [starts, ends] (inclusive) with at most ~`max_samples`
    samples in all (one rep longer than that makes a batch of its own)."""
    batches = []
    first, total = 0, 0
    for k, count in enumerate((ends - starts + 1).tolist()):
        if k > first and total + count > max_samples:
            batches.append(slice(first, k))
            first, total = k, 0
        total += count
    if starts.size:
        batches.append(slice(first, starts.size))
    return batches
