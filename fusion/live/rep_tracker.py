"""Reps found as the samples arrive: the streaming twin of `fusion.reps` and `fusion.wink`.

Same rules as offline, applied sample by sample so a rep is announced as it happens: a rep
starts when the segmented angle (thigh, or hip flexion in a rock-back) rises `enter_deg`
above the standing level, reaching back to where it left standing (`fusion.reps.
descent_start`); its bottom is the deepest thigh angle; it ends back at standing (within
`fusion.reps.leave_margin_deg` of the excursion) or where it starts to rise again for the
next rep. A wink onset is announced once the pelvis has rotated back by the threshold in use
from its peak tilt while the thigh is still around the bottom (`fusion.wink.in_bottom`).

Indices are absolute grid indices (the analyser's history is trimmed: `offset` is the
absolute index of the arrays' element 0).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from fusion.live.events import LiveEvent, RepCompleted, RepNotCounted, RepStarted, WinkOnset
from fusion.reps import (
    LEAVE_MIN_DEG,
    RepThresholds,
    RepWindow,
    ascent_end,
    descent_start,
    leave_margin_deg,
)
from fusion.wink import in_bottom


@dataclass(frozen=True)
class Trace:
    """The grid arrays a step works on (deg; aligned, element 0 = absolute index `offset`)."""

    t_s: np.ndarray
    thigh_deg: np.ndarray
    tilt_deg: np.ndarray
    level_deg: np.ndarray  # what reps are segmented on (thigh, or hip flexion)
    offset: int

    @property
    def end(self) -> int:
        return self.offset + self.t_s.size


@dataclass
class _Rep:
    """The rep under way (absolute grid indices)."""

    number: int
    start: int
    bottom: int
    peak_tilt: int
    wink_announced: bool = False
    leaving: bool = False  # the level has fallen below the exit level
    lowest_after: int = 0  # shallowest sample since then
    left_at: int = 0  # the first sample below the exit level


# Measures a finished rep: (number, window in the trace's own indices) -> its event (or
# RepNotCounted: its number is not given again, a phone may have shown it under way).
CompleteRep = Callable[[int, RepWindow], RepCompleted | RepNotCounted]


class RepTracker:
    """The rep state machine of one set. `standing_deg` is the level reps start from."""

    def __init__(self, thresholds: RepThresholds) -> None:
        self.thresholds = thresholds
        self.standing_deg = 0.0
        self.reps_done = 0
        self._rep: _Rep | None = None
        self._last_end = 0  # where the last rep ended (or the rest period began)
        self._scan_from = 0  # the next sample to look at

    def restart_at(
        self, scan_from: int, *, last_end: int | None = None, standing_deg: float | None = None
    ) -> None:
        """Look for reps from `scan_from` on (angles start there, or the rest period ends)."""
        self._scan_from = scan_from
        if last_end is not None:
            self._last_end = last_end
        if standing_deg is not None:
            self.standing_deg = standing_deg

    @property
    def rep_start(self) -> int | None:
        """Where the rep under way began (its samples must be kept), or None."""
        return self._rep.start if self._rep else None

    def advance(
        self, trace: Trace, wink_threshold_deg: float, complete: CompleteRep
    ) -> list[LiveEvent]:
        """Run the new samples of `trace` through the state machine."""
        events: list[LiveEvent] = []
        o = trace.offset
        level, thigh, tilt = trace.level_deg, trace.thigh_deg, trace.tilt_deg
        enter = self.standing_deg + self.thresholds.enter_deg
        exit_level = self.standing_deg + self.thresholds.exit_deg
        for absolute in range(max(self._scan_from, o), trace.end):
            i = absolute - o
            rep = self._rep
            if rep is None:
                if level[i] > enter:
                    rep = self._start(trace, absolute)
                    events.append(RepStarted(rep.number, float(trace.t_s[rep.start - o])))
                continue
            if not rep.leaving:
                if thigh[i] > thigh[rep.bottom - o]:
                    rep.bottom = absolute
                    if tilt[i] >= tilt[rep.peak_tilt - o]:
                        rep.peak_tilt = absolute
                events += self._check_wink(trace, rep, i, wink_threshold_deg)
                if level[i] < exit_level:
                    rep.leaving = True
                    rep.lowest_after = absolute
                    rep.left_at = absolute
                continue
            if level[i] <= level[rep.lowest_after - o]:
                rep.lowest_after = absolute
            excursion = level[rep.bottom - o] - self.standing_deg
            back_at_standing = level[i] <= self.standing_deg + leave_margin_deg(excursion)
            rising_again = level[i] > level[rep.lowest_after - o] + LEAVE_MIN_DEG
            if back_at_standing or rising_again:
                end = absolute if back_at_standing else rep.lowest_after
                events.append(
                    complete(rep.number, RepWindow(rep.start - o, rep.bottom - o, end - o))
                )
                self.standing_deg = float(level[rep.lowest_after - o])
                self._last_end = end
                self._rep = None
        self._scan_from = trace.end
        return events

    def finish(self, trace: Trace, complete: CompleteRep) -> list[LiveEvent]:
        """The set ends here: a rep whose level is back below the exit level (on its last
        stretch up, not yet within the margin of standing) is complete, its end the first
        sample within the margin of the lowest since, as `fusion.reps` ends a rep at a
        recording's end; a rep still deeper is incomplete and not counted (offline alike).
        `trace` has been through `advance` to its end."""
        rep = self._rep
        if rep is None or not rep.leaving:
            return []
        o = trace.offset
        level = trace.level_deg
        margin = leave_margin_deg(level[rep.bottom - o] - self.standing_deg)
        after = max(rep.left_at - 1, rep.bottom) - o  # the last sample above, as offline
        end = after + ascent_end(level[after:], margin)
        self._rep = None
        return [complete(rep.number, RepWindow(rep.start - o, rep.bottom - o, end))]

    def _start(self, trace: Trace, absolute: int) -> _Rep:
        i = absolute - trace.offset
        since = max(self._last_end - trace.offset, 0)
        # The excursion is not known yet: the margin of the smallest rep (entry level).
        margin = leave_margin_deg(self.thresholds.enter_deg)
        start = since + descent_start(trace.level_deg[since : i + 1], margin)
        peak = start + int(np.argmax(trace.tilt_deg[start : i + 1]))
        self.reps_done += 1
        self._rep = _Rep(self.reps_done, trace.offset + start, absolute, trace.offset + peak)
        return self._rep

    def _check_wink(self, trace: Trace, rep: _Rep, i: int, threshold_deg: float) -> list[LiveEvent]:
        if rep.wink_announced:
            return []
        o = trace.offset
        thigh, tilt = trace.thigh_deg, trace.tilt_deg
        peak = rep.peak_tilt - o
        drop_deg = float(tilt[peak] - tilt[i])
        if drop_deg < threshold_deg or not in_bottom(float(thigh[i]), float(thigh[rep.bottom - o])):
            return []
        rep.wink_announced = True
        return [
            WinkOnset(
                rep.number,
                float(trace.t_s[peak]),
                float(thigh[peak]),
                drop_deg,
                float(trace.t_s[i]),
                float(thigh[peak] + tilt[peak]),
            )
        ]
