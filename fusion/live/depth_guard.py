"""Depth guard: cue the lifter as the thigh nears the prescribed depth ceiling, before the wink.

The ceiling comes from an assessment (`fusion.assessment.prescription`: the thigh angle
`margin` below the lifter's earliest median wink onset). A cue that fires only once the thigh
is at the ceiling is too late to act on: the lifter needs a reaction time to brake, and the
cue reaches the phone late by the age of the data it was decided on. So the cue fires when
the thigh, carried forward at its current descent speed for `lookahead_s` (reaction plus
data age), would pass the ceiling minus `margin_deg`:

    thigh_deg + max(speed_degps, 0) x lookahead_s >= ceiling_thigh_deg - margin_deg

The squat decelerates towards the bottom, so the straight-line forecast overshoots and the
cue comes, if anything, early. The price: a rep that bottoms out up to ~20 deg above the cue
level is cued too (at the moment of the cue the thigh is still speeding up and cannot be told
from a deep rep; a braking term in the forecast was tried and changed nothing, for the same
reason). Speed is the slope of the thigh angle over the last `SPEED_WINDOW_S` (a
least-squares line, robust to a sample of noise). One cue per descent: the guard re-arms once
the thigh is back up `REARM_DEG` shallower than where it cued (half way to standing for a cue
close to it).

Measured in benchmarks/depth_guard.py against the simulator's true wink onsets.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from fusion.live.events import DepthCeilingNear
from fusion.live.rep_tracker import Trace

DEFAULT_MARGIN_DEG = 3.0  # cue this far above the ceiling (thigh angle), adjustable per athlete
MAX_MARGIN_DEG = 30.0
REACTION_S = 0.25  # a lifter's time to react to a beep and brake the descent (~0.2-0.3 s)
# The newest angle is already old when it is computed: a notification carries several samples
# (up to ~0.2 s at 50 Hz), the grid waits for the later sensor, then the radio and the phone.
DATA_AGE_S = 0.1
SPEED_WINDOW_S = 0.05  # the descent speed is the slope over this much of the thigh angle
REARM_DEG = 15.0  # the thigh must rise this far above where it cued before the next cue
MAX_CEILING_DEG = 150.0  # a ceiling is a thigh angle in (0, MAX_CEILING_DEG] deg


def is_usable_ceiling(ceiling_thigh_deg: float) -> bool:
    """Whether a prescribed ceiling can be guarded: a thigh angle past standing, in (0, 150]
    deg (a prescription's ceiling can come out at or above standing for a lifter who winked
    within its margin of the top)."""
    return math.isfinite(ceiling_thigh_deg) and 0.0 < ceiling_thigh_deg <= MAX_CEILING_DEG


@dataclass(frozen=True)
class DepthGuard:
    """A prescribed ceiling (thigh angle, deg: 0 standing, 90 parallel) and the cue's margin."""

    ceiling_thigh_deg: float
    margin_deg: float = DEFAULT_MARGIN_DEG
    lookahead_s: float = REACTION_S + DATA_AGE_S

    def __post_init__(self) -> None:
        if not is_usable_ceiling(self.ceiling_thigh_deg):
            raise ValueError(
                f"ceiling_thigh_deg = {self.ceiling_thigh_deg!r}: a depth ceiling is a thigh "
                "angle in (0, 150] deg (from an assessment's prescription)"
            )
        if not (math.isfinite(self.margin_deg) and 0.0 <= self.margin_deg <= MAX_MARGIN_DEG):
            raise ValueError(f"margin_deg = {self.margin_deg!r}: use 0 to {MAX_MARGIN_DEG:.0f} deg")
        if not (math.isfinite(self.lookahead_s) and 0.0 <= self.lookahead_s <= 2.0):
            raise ValueError(f"lookahead_s = {self.lookahead_s!r}: use 0 to 2 s")

    @property
    def cue_level_deg(self) -> float:
        """The thigh angle the forecast is compared with: ceiling minus margin."""
        return self.ceiling_thigh_deg - self.margin_deg

    def forecast_passes(self, thigh_deg: float, speed_degps: float) -> bool:
        """Whether the thigh, at this speed, reaches the cue level within the look-ahead."""
        return thigh_deg + max(speed_degps, 0.0) * self.lookahead_s >= self.cue_level_deg


def descent_speed_degps(thigh_deg: np.ndarray, rate_hz: float) -> float:
    """Slope (deg/s) of a least-squares line through `thigh_deg`, samples at `rate_hz`."""
    n = thigh_deg.size
    if n < 2:
        return 0.0
    t_s = (np.arange(n) - (n - 1) / 2.0) / rate_hz
    return float(np.dot(t_s, thigh_deg - thigh_deg.mean()) / np.dot(t_s, t_s))


class DepthGuardTracker:
    """The guard during one set: armed, or waiting for the thigh to come back up after a cue.

    Scans each new grid sample once (absolute indices, like `fusion.live.rep_tracker`).
    """

    def __init__(self, guard: DepthGuard, rate_hz: float) -> None:
        self.guard = guard
        self.rate_hz = rate_hz
        self._armed = True
        self._cued_deg = 0.0  # thigh angle at the last cue
        self._scan_from = 0

    def skip_to(self, absolute: int) -> None:
        """Do not look at samples before `absolute` (unloaded stretches, before the angles)."""
        self._scan_from = max(self._scan_from, absolute)

    def advance(self, trace: Trace, standing_deg: float, rep_number: int) -> list[DepthCeilingNear]:
        """Cues among the new samples of `trace`; `rep_number` the rep they belong to."""
        cues: list[DepthCeilingNear] = []
        window = max(int(round(SPEED_WINDOW_S * self.rate_hz)), 2)
        thigh = trace.thigh_deg
        for absolute in range(max(self._scan_from, trace.offset), trace.end):
            i = absolute - trace.offset
            angle = float(thigh[i])
            if not self._armed:
                drop_deg = min(REARM_DEG, 0.5 * max(self._cued_deg - standing_deg, 0.0))
                self._armed = angle < self._cued_deg - drop_deg
                continue
            speed = descent_speed_degps(thigh[max(i - window + 1, 0) : i + 1], self.rate_hz)
            if not self.guard.forecast_passes(angle, speed):
                continue
            self._armed, self._cued_deg = False, angle
            cues.append(
                DepthCeilingNear(
                    rep_number,
                    float(trace.t_s[i]),
                    angle,
                    speed,
                    self.guard.ceiling_thigh_deg,
                    self.guard.margin_deg,
                )
            )
        self._scan_from = trace.end
        return cues
