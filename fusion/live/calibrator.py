"""Sensor-to-segment calibration of a live set, in explicit phases.

On the fly (no stored calibration):
- `Phase.VERTICAL`: waiting for both sensors still for `STILL_MIN_S` (or, after
  `STILL_SEARCH_S`, the quietest moment): each segment's vertical;
- `Phase.AXES`: waiting for the first descent (thigh inclined past `AXIS_LOCK_DEG`) with
  enough rotation: each flexion axis from the angular rate, and the signs (thigh positive,
  pelvis rising with the thigh);
- `Phase.READY`: angles and reps.

With a stored calibration (an assessment's, `fusion.assessment.AssessmentCalibration`) the
axes and signs are known from the first sample:
- `Phase.REST`: angles run; waiting for the set's first still moment, which gives the rest
  posture reps start from and is checked against the calibration (a sensor that moved, the
  wrong starting posture);
- `Phase.READY`.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

import numpy as np

from fusion.assessment.calibration import (
    VERTICAL_TOLERANCE_DEG,
    AssessmentCalibration,
    still_posture_change_deg,
)
from fusion.assessment.steps import posture_problem
from fusion.calibration import (
    MOVING_GYR_RADPS,
    STILL_GYR_RADPS,
    STILL_MIN_S,
    STILL_SEARCH_S,
    SegmentCalibration,
    StillWindow,
    calibrate_from_vertical,
    find_still_window,
    sagittal_angle_deg,
    sagittal_angle_deg_rows,
)
from fusion.live.events import Calibrated
from fusion.live.history import PLACEMENTS, GridHistory

AXIS_LOCK_DEG = 15.0  # thigh inclination that shows the squat has begun: fix the axes
MIN_AXIS_SAMPLES = 10  # moving samples needed before the flexion axis is trusted


class Phase(enum.Enum):
    VERTICAL = "vertical"
    AXES = "axes"
    REST = "rest"
    READY = "ready"


@dataclass(frozen=True)
class Rest:
    """The set's rest posture (stored calibration): tilt and thigh (deg) over a still window
    (absolute grid indices [start, stop)), and the segmented level there."""

    sacrum_deg: float
    thigh_deg: float
    level_deg: float
    start: int
    stop: int


@dataclass(frozen=True)
class _Vertical:
    up: dict[str, np.ndarray]  # earth-up in each sensor frame while still
    still: StillWindow
    found_at: int  # absolute grid index where it was found


class LiveCalibrator:
    """The calibration of one live set. `segments` and `signs` are valid from `Phase.AXES` on
    (stored) or once `Phase.READY` is reached (on the fly); `rest` is the rest posture, thigh
    and tilt 0 deg (standing) after an on-the-fly calibration."""

    def __init__(
        self,
        rate_hz: float,
        stored: AssessmentCalibration | None = None,
        *,
        standing: bool = True,
    ) -> None:
        self.rate_hz = rate_hz
        self.standing = standing  # the still posture is standing (squat), not on all fours
        self.segments: dict[str, SegmentCalibration] | None = None
        self.signs = dict.fromkeys(PLACEMENTS, 1.0)
        self.rest: Rest | None = None
        self._vertical: _Vertical | None = None
        # The run of still samples at the end of the history, kept up to date incrementally.
        self._still_run = 0
        self._still_seen = 0  # absolute grid index up to which samples were looked at
        if stored is None:
            self.phase = Phase.VERTICAL
        else:
            self.phase = Phase.REST
            self.segments = {"sacrum": stored.sacrum, "thigh": stored.thigh}
            self.signs = {"sacrum": stored.sacrum_sign, "thigh": stored.thigh_sign}

    @property
    def has_axes(self) -> bool:
        return self.segments is not None

    def keeps_history(self) -> bool:
        """Whether the samples since the vertical must be kept (to lock the axes on)."""
        return self.phase == Phase.AXES

    def angles_deg(self, history: GridHistory, start: int) -> tuple[np.ndarray, np.ndarray]:
        """Thigh angle and pelvic tilt (deg) of history samples from (relative) `start` on."""
        assert self.segments is not None, "angles are computed once the axes are known"
        thigh = self.signs["thigh"] * sagittal_angle_deg(
            history.up["thigh"][start:], self.segments["thigh"]
        )
        tilt = self.signs["sacrum"] * sagittal_angle_deg(
            history.up["sacrum"][start:], self.segments["sacrum"]
        )
        return thigh, tilt

    def angles_deg_rows(
        self, up_sacrum: list[list[float]], up_thigh: list[list[float]]
    ) -> tuple[list[float], list[float]]:
        """`angles_deg` of a few new up-vector rows given as plain floats (a live packet's)."""
        assert self.segments is not None, "angles are computed once the axes are known"
        thigh = sagittal_angle_deg_rows(up_thigh, self.segments["thigh"], self.signs["thigh"])
        tilt = sagittal_angle_deg_rows(up_sacrum, self.segments["sacrum"], self.signs["sacrum"])
        return thigh, tilt

    # On the fly -------------------------------------------------------------------------

    def calibrate(self, history: GridHistory) -> list[Calibrated]:
        """`Phase.VERTICAL` / `Phase.AXES`: try to move on with the history so far."""
        events: list[Calibrated] = []
        if self.phase == Phase.VERTICAL:
            events += self._find_vertical(history)
        if self.phase == Phase.AXES:
            events += self._lock_axes(history)
        return events

    def _trailing_still(self, h: GridHistory) -> int:
        """How many samples at the end of the history both sensors are still (only the
        samples added since the last call are looked at)."""
        start = max(self._still_seen - h.offset, 0)
        quiet = _quiet(h, start)
        moving_at = np.flatnonzero(~quiet)
        if moving_at.size:
            self._still_run = int(quiet.size - (moving_at[-1] + 1))
        else:
            self._still_run += int(quiet.size)
        self._still_run = min(self._still_run, h.size)
        self._still_seen = h.end
        return self._still_run

    def _find_vertical(self, h: GridHistory) -> list[Calibrated]:
        run = self._trailing_still(h)
        if run >= int(STILL_MIN_S * self.rate_hz):
            stop = h.t_s.size
            up = {p: _mean_unit(h.up[p][stop - run : stop]) for p in PLACEMENTS}
            still = StillWindow(h.offset + stop - run, h.end, run / self.rate_hz, True)
            events = []
        elif h.t_s.size >= int(STILL_SEARCH_S * self.rate_hz):
            still = find_still_window(h.gyr["thigh"] + h.gyr["sacrum"], self.rate_hz)
            up = {p: _mean_unit(h.up[p][still.start : still.stop]) for p in PLACEMENTS}
            events = [
                Calibrated(
                    False,
                    "no still standing period: vertical from the "
                    "quietest moment; stand still 1-2 s before the set",
                )
            ]
        else:
            return []
        self._vertical = _Vertical(up, still, h.end)
        self.phase = Phase.AXES
        return events

    def _lock_axes(self, h: GridHistory) -> list[Calibrated]:
        vertical = self._vertical
        assert vertical is not None, "the vertical is found first"
        thigh_up = h.up["thigh"][-1]
        inclination_deg = np.degrees(np.arccos(np.clip(thigh_up @ vertical.up["thigh"], -1, 1)))
        if inclination_deg < AXIS_LOCK_DEG:
            return []
        since = max(vertical.found_at - h.offset - int(STILL_MIN_S * self.rate_hz), 0)
        segments: dict[str, SegmentCalibration] = {}
        for p in PLACEMENTS:
            gyr = h.gyr[p][since:]
            moving = np.linalg.norm(gyr, axis=1) > MOVING_GYR_RADPS
            if np.count_nonzero(moving) < MIN_AXIS_SAMPLES:
                return []  # not enough rotation yet: try again with the next samples
            segments[p] = calibrate_from_vertical(vertical.up[p], gyr, vertical.still)
        thigh_raw = sagittal_angle_deg(h.up["thigh"][since:], segments["thigh"])
        self.signs["thigh"] = 1.0 if thigh_raw[-1] >= 0 else -1.0
        pelvis_raw = sagittal_angle_deg(h.up["sacrum"][since:], segments["sacrum"])
        agreement = float(np.sum(np.diff(pelvis_raw) * np.diff(self.signs["thigh"] * thigh_raw)))
        self.signs["sacrum"] = 1.0 if agreement >= 0 else -1.0
        self.segments = segments
        self.rest = Rest(0.0, 0.0, 0.0, h.offset, h.offset)
        self.phase = Phase.READY
        trusted = vertical.still.trustworthy and all(
            c.planar_share >= 0.6 for c in segments.values()
        )
        return [
            Calibrated(
                trusted,
                "calibrated from standing and the first descent"
                if trusted
                else "calibrated, but without a clean still period or "
                "with a lot of out-of-plane motion: angles may be offset",
            )
        ]

    # Stored calibration -------------------------------------------------------------------

    def find_rest(
        self,
        h: GridHistory,
        thigh_deg: np.ndarray,
        tilt_deg: np.ndarray,
        level_deg: np.ndarray,
        kind: str,
    ) -> list[Calibrated]:
        """`Phase.REST`: the set's rest level from its first still moment (or, after
        `STILL_SEARCH_S`, its quietest one), checked against the calibration. `kind` is the
        assessment step kind whose starting posture is expected (fusion.assessment.steps)."""
        run = self._trailing_still(h)
        problems = []
        if run >= int(STILL_MIN_S * self.rate_hz):
            window = slice(h.t_s.size - run, h.t_s.size)
        elif h.t_s.size >= int(STILL_SEARCH_S * self.rate_hz):
            still = find_still_window(h.gyr["thigh"] + h.gyr["sacrum"], self.rate_hz)
            window = slice(still.start, still.stop)
            problems.append("no still period at the start: rest taken from the quietest moment")
        else:
            return []
        self.rest = Rest(
            sacrum_deg=float(np.median(tilt_deg[window])),
            thigh_deg=float(np.median(thigh_deg[window])),
            level_deg=float(np.median(level_deg[window])),
            start=h.offset + window.start,
            stop=h.offset + window.stop,
        )
        self.phase = Phase.READY
        posture = posture_problem(kind, self.rest.thigh_deg, self.rest.sacrum_deg)
        if posture is not None:
            problems.append(posture)
        assert self.segments is not None
        for p in PLACEMENTS:
            change = still_posture_change_deg(
                self.segments[p], _mean_unit(h.up[p][window]), standing=self.standing
            )
            if change > VERTICAL_TOLERANCE_DEG:
                problems.append(
                    f"sensor moved: the {p} sensor sits {change:.0f} deg differently than in the "
                    "baseline; re-strap it and record a new baseline"
                )
        if problems:
            return [Calibrated(False, "; ".join(problems))]
        return [Calibrated(True, "calibrated from the assessment's baseline")]


def _quiet(h: GridHistory, start: int = 0) -> np.ndarray:
    """Grid samples (from relative index `start` on) where both sensors are still."""
    gyr = h.gyr
    quiet: np.ndarray = np.linalg.norm(gyr["sacrum"][start:], axis=1) < STILL_GYR_RADPS
    quiet &= np.linalg.norm(gyr["thigh"][start:], axis=1) < STILL_GYR_RADPS
    return quiet


def _mean_unit(vectors: np.ndarray) -> np.ndarray:
    mean = vectors.mean(axis=0)
    unit: np.ndarray = mean / np.linalg.norm(mean)
    return unit
