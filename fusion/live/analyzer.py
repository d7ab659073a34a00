"""The live analyser: samples of one athlete's two sensors in, events out (see package doc)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import numpy as np

from fusion.angles import SagittalAngles
from fusion.assessment.calibration import (
    VERTICAL_TOLERANCE_DEG,
    AssessmentCalibration,
    still_posture_change_deg,
)
from fusion.assessment.steps import posture_problem
from fusion.baseline import (
    DEFAULT_WINK_THRESHOLD_DEG,
    K_SPREAD,
    PersonalBaseline,
    WinkThreshold,
    wink_threshold,
)
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
)
from fusion.live.events import (
    Calibrated,
    LiveAngles,
    LiveEvent,
    RepCompleted,
    RepStarted,
    WinkOnset,
)
from fusion.live.history import PLACEMENTS, GridHistory, SensorBuffer
from fusion.metrics import rep_metrics
from fusion.orientation import DEFAULT_LIVE_ENGINE, CausalOrientation, up_in_sensor_frame
from fusion.reps import LEAVE_FRACTION, LEAVE_MIN_DEG, RepThresholds, RepWindow
from fusion.resample import gap_mask
from fusion.sensor_checks import SensorTrace, placement_check, rep_sensor_codes
from fusion.wink import BOTTOM_EXIT_DEG

AXIS_LOCK_DEG = 15.0  # thigh inclination that shows the squat has begun: fix the axes
# A causal filter restarted mid-rep needs a moment to settle, which costs more than short
# interpolated stretches do (measured on 60 simulated sets); restart only after long drops.
RESTART_GAP_S = 1.0
HISTORY_S = 30.0  # grid history kept (longest rep plus the standing before it)
MIN_AXIS_SAMPLES = 10  # moving samples needed before the flexion axis is trusted

# What the set is: squats (reps on the thigh angle) or the quadruped rock-back (reps on hip
# flexion: the thigh starts near vertical under the hip; the deepest point is the deepest thigh).
Movement = Literal["squat", "rock_back"]
MOVEMENTS: tuple[Movement, ...] = ("squat", "rock_back")


@dataclass(frozen=True)
class LiveConfig:
    grid_rate_hz: float = 100.0
    engine: str = DEFAULT_LIVE_ENGINE
    wink_threshold_deg: float = DEFAULT_WINK_THRESHOLD_DEG  # the one default (fusion.baseline)
    rep_thresholds: RepThresholds = field(default_factory=RepThresholds)
    baseline_k_spread: float = K_SPREAD


@dataclass
class _RepState:
    number: int
    start: int  # absolute grid indices
    bottom: int
    peak_tilt: int
    wink_announced: bool = False
    leaving: bool = False  # the thigh has fallen below the exit level
    lowest_after: int = 0  # shallowest sample since then (absolute grid index)


class LiveSquatAnalyzer:
    """Live analysis of one athlete. Not thread-safe: one caller feeds it.

    Without `calibration` the sensors are calibrated on the fly (package docstring). With a
    stored one (`fusion.assessment.AssessmentCalibration`, an assessment's, taken from its
    baseline) the axes and signs are used as they are and angles start with the first sample;
    the set's first still moment (standing, or on all fours for `movement="rock_back"`, which
    needs a stored calibration) gives its rest level and is checked against the calibration:
    a sensor that moved, or the wrong starting posture, is said in a `Calibrated(ok=False)`.
    """

    def __init__(
        self,
        *,
        load_kg: float | None = None,
        config: LiveConfig | None = None,
        baseline: PersonalBaseline | None = None,
        calibration: AssessmentCalibration | None = None,
        movement: Movement = "squat",
    ) -> None:
        if movement not in MOVEMENTS:
            raise ValueError(f"movement must be one of {MOVEMENTS}, got {movement!r}")
        if movement == "rock_back" and calibration is None:
            raise ValueError(
                "a rock-back is analysed with the assessment's calibration (from its standing "
                "baseline): on all fours there is no standing posture to calibrate from"
            )
        self.movement: Movement = movement
        self.config = config or LiveConfig()
        self.load_kg = load_kg
        self.threshold: WinkThreshold = wink_threshold(
            self.config.wink_threshold_deg, baseline, self.config.baseline_k_spread
        )
        self._buffers = {p: SensorBuffer() for p in PLACEMENTS}
        self._fusers = {
            p: CausalOrientation(self.config.grid_rate_hz, self.config.engine) for p in PLACEMENTS
        }
        self._history = GridHistory()
        self._restart = dict.fromkeys(
            PLACEMENTS, False
        )  # restart the filter: data resumes after a gap
        self._next_grid_s: float | None = None
        self._gaps: list[tuple[str, float, float]] = []
        self._vertical: dict[str, np.ndarray] | None = None
        self._still: StillWindow | None = None
        self._vertical_since = 0  # absolute grid index where the vertical was found
        self._calibration: dict[str, SegmentCalibration] | None = None
        self._signs = dict.fromkeys(PLACEMENTS, 1.0)
        self._thigh = np.empty(0)  # angles aligned with history
        self._tilt = np.empty(0)
        self._standing_deg = 0.0
        self._rep: _RepState | None = None
        self._reps_done = 0
        self._last_end = 0  # absolute grid index where the last rep ended
        self._scan_from = 0  # absolute grid index the rep state machine continues from
        # Rest posture the reps start from (deg): standing 0 after an on-the-fly calibration;
        # with a stored one, taken from the set's first still moment (None until then).
        self._rest: dict[str, float] | None = {"sacrum": 0.0, "thigh": 0.0}
        if calibration is not None:
            self._calibration = {"sacrum": calibration.sacrum, "thigh": calibration.thigh}
            self._signs = {"sacrum": calibration.sacrum_sign, "thigh": calibration.thigh_sign}
            self._rest = None

    # Public API -------------------------------------------------------------------------

    def set_load(self, load_kg: float | None) -> None:
        self.load_kg = load_kg

    def set_baseline(self, baseline: PersonalBaseline | None) -> None:
        """The athlete's personal baseline (fusion.baseline): the threshold for reps from now on."""
        self.threshold = wink_threshold(
            self.config.wink_threshold_deg, baseline, self.config.baseline_k_spread
        )

    def mark_gap(self, placement: str, start_s: float, end_s: float) -> None:
        """Tell the analyser that `placement` lost samples between `start_s` and `end_s`."""
        self._check_placement(placement)
        self._gaps.append((placement, start_s, end_s))

    def push(
        self, placement: str, t_s: np.ndarray, acc_mps2: np.ndarray, gyr_radps: np.ndarray
    ) -> list[LiveEvent]:
        """Add samples of one sensor (gateway clock, sensor frame); return the events they cause."""
        self._check_placement(placement)
        t_s = np.asarray(t_s, dtype=float).reshape(-1)
        acc = np.asarray(acc_mps2, dtype=float).reshape(-1, 3)
        gyr = np.asarray(gyr_radps, dtype=float).reshape(-1, 3)
        if not (t_s.size == acc.shape[0] == gyr.shape[0]):
            raise ValueError("t_s, acc_mps2 and gyr_radps must have the same number of samples")
        finite = np.isfinite(t_s) & np.isfinite(acc).all(axis=1) & np.isfinite(gyr).all(axis=1)
        self._buffers[placement].append(t_s[finite], acc[finite], gyr[finite])
        return self._advance()

    # Grid ---------------------------------------------------------------------------------

    def _check_placement(self, placement: str) -> None:
        if placement not in PLACEMENTS:
            raise ValueError(f"placement must be one of {PLACEMENTS}, got {placement!r}")

    def _advance(self) -> list[LiveEvent]:
        buffers = self._buffers
        if any(b.t_s.size < 2 for b in buffers.values()):
            return []
        step_s = 1.0 / self.config.grid_rate_hz
        if self._next_grid_s is None:
            self._next_grid_s = max(b.t_s[0] for b in buffers.values())
        until_s = min(b.t_s[-1] for b in buffers.values())
        count = int(np.floor((until_s - self._next_grid_s) / step_s + 1e-9)) + 1
        if count <= 0:
            return []
        grid = self._next_grid_s + np.arange(count) * step_s
        self._next_grid_s = float(grid[-1] + step_s)
        up, gyr = {}, {}
        in_gap = self._gap_flags(grid)
        for p in PLACEMENTS:
            acc_g, gyr_g = buffers[p].interpolate(grid)
            lost = gap_mask(buffers[p].t_s, grid, RESTART_GAP_S)
            up[p] = self._fuse(p, gyr_g, acc_g, lost)
            gyr[p] = np.where(lost[:, None], 0.0, gyr_g)
            in_gap |= lost
            buffers[p].drop_before(float(grid[-1]))
        self._history.extend(grid, up, gyr, in_gap)
        events: list[LiveEvent] = []
        if self._calibration is None:
            events += self._try_calibrate()
        if self._calibration is not None:
            events += self._update_angles()
            if self._rest is None:
                events += self._find_rest()
            if self._rest is not None:
                events += self._run_reps()
        self._trim()
        return events

    def _fuse(
        self, placement: str, gyr: np.ndarray, acc: np.ndarray, lost: np.ndarray
    ) -> np.ndarray:
        """Earth-up per grid sample. Inside a long gap the last known up is held and the filter
        restarts from the accelerometer after it (interpolated rates would integrate wrongly)."""
        fuser = self._fusers[placement]
        if not lost.any() and not self._restart[placement]:
            return up_in_sensor_frame(fuser.update(gyr, acc))
        up = np.empty((lost.size, 3))
        for start, stop in _runs(~lost):
            if start > 0 or self._restart[placement]:
                fuser.reset()
            up[start:stop] = up_in_sensor_frame(fuser.update(gyr[start:stop], acc[start:stop]))
        last_up = (
            self._history.up[placement][-1] if self._history.t_s.size else np.array([0.0, 0.0, 1.0])
        )
        for start, stop in _runs(lost):
            up[start:stop] = up[start - 1] if start > 0 else last_up
        self._restart[placement] = bool(lost[-1])
        return up

    def _gap_flags(self, grid: np.ndarray) -> np.ndarray:
        flags = np.zeros(grid.size, dtype=bool)
        for _, start_s, end_s in self._gaps:
            flags |= (grid >= start_s) & (grid <= end_s)
        return flags

    def _trim(self) -> None:
        keep = int(HISTORY_S * self.config.grid_rate_hz)
        oldest_needed = self._history.end - keep
        if self._rep is not None:
            oldest_needed = min(oldest_needed, self._rep.start)
        if self._calibration is None:
            if self._vertical is None:
                self._history.trim_before(oldest_needed)
            return
        cut = oldest_needed - self._history.offset
        if cut > 0:
            self._thigh = self._thigh[cut:]
            self._tilt = self._tilt[cut:]
            self._history.trim_before(oldest_needed)
        horizon_s = float(self._history.t_s[0]) if self._history.t_s.size else -np.inf
        self._gaps = [g for g in self._gaps if g[2] >= horizon_s]

    # Calibration --------------------------------------------------------------------------

    def _try_calibrate(self) -> list[LiveEvent]:
        h = self._history
        rate = self.config.grid_rate_hz
        events: list[LiveEvent] = []
        if self._vertical is None:
            still_needed = int(STILL_MIN_S * rate)
            quiet = np.ones(h.t_s.size, dtype=bool)
            for p in PLACEMENTS:
                quiet &= np.linalg.norm(h.gyr[p], axis=1) < STILL_GYR_RADPS
            run = _trailing_run(quiet)
            if run >= still_needed:
                stop = h.t_s.size
                self._vertical = {p: _mean_unit(h.up[p][stop - run : stop]) for p in PLACEMENTS}
                self._still = StillWindow(h.offset + stop - run, h.end, run / rate, True)
            elif h.t_s.size >= int(STILL_SEARCH_S * rate):
                still = find_still_window(h.gyr["thigh"] + h.gyr["sacrum"], rate)
                self._vertical = {
                    p: _mean_unit(h.up[p][still.start : still.stop]) for p in PLACEMENTS
                }
                self._still = still
                events.append(
                    Calibrated(
                        False,
                        "no still standing period: vertical from the "
                        "quietest moment; stand still 1-2 s before the set",
                    )
                )
            else:
                return events
            self._vertical_since = h.end  # absolute index
        thigh_incl = np.degrees(
            np.arccos(np.clip(h.up["thigh"][-1] @ self._vertical["thigh"], -1, 1))
        )
        if thigh_incl < AXIS_LOCK_DEG:
            return events
        events += self._lock_axes()
        return events

    def _lock_axes(self) -> list[LiveEvent]:
        h = self._history
        since = max(
            self._vertical_since - h.offset - int(STILL_MIN_S * self.config.grid_rate_hz), 0
        )
        calibration: dict[str, SegmentCalibration] = {}
        vertical, still = self._vertical, self._still
        assert vertical is not None and still is not None, "the vertical is found first"
        for p in PLACEMENTS:
            gyr = h.gyr[p][since:]
            moving = np.linalg.norm(gyr, axis=1) > MOVING_GYR_RADPS
            if np.count_nonzero(moving) < MIN_AXIS_SAMPLES:
                return []  # not enough rotation yet: try again with the next samples
            calibration[p] = calibrate_from_vertical(vertical[p], gyr, still)
        thigh_raw = sagittal_angle_deg(h.up["thigh"][since:], calibration["thigh"])
        self._signs["thigh"] = 1.0 if thigh_raw[-1] >= 0 else -1.0
        pelvis_raw = sagittal_angle_deg(h.up["sacrum"][since:], calibration["sacrum"])
        agreement = float(np.sum(np.diff(pelvis_raw) * np.diff(self._signs["thigh"] * thigh_raw)))
        self._signs["sacrum"] = 1.0 if agreement >= 0 else -1.0
        self._calibration = calibration
        self._thigh = np.empty(0)
        self._tilt = np.empty(0)
        self._scan_from = h.offset
        trusted = still.trustworthy and all(c.planar_share >= 0.6 for c in calibration.values())
        return [
            Calibrated(
                trusted,
                "calibrated from standing and the first descent"
                if trusted
                else "calibrated, but without a clean still period or "
                "with a lot of out-of-plane motion: angles may be offset",
            )
        ]

    def _find_rest(self) -> list[LiveEvent]:
        """With a stored calibration: the set's rest level from its first still moment (or,
        after `STILL_SEARCH_S`, its quietest one), checked against the calibration."""
        h = self._history
        rate = self.config.grid_rate_hz
        quiet = np.ones(h.t_s.size, dtype=bool)
        for p in PLACEMENTS:
            quiet &= np.linalg.norm(h.gyr[p], axis=1) < STILL_GYR_RADPS
        run = _trailing_run(quiet)
        problems = []
        if run >= int(STILL_MIN_S * rate):
            window = slice(h.t_s.size - run, h.t_s.size)
        elif h.t_s.size >= int(STILL_SEARCH_S * rate):
            still = find_still_window(h.gyr["thigh"] + h.gyr["sacrum"], rate)
            window = slice(still.start, still.stop)
            problems.append("no still period at the start: rest taken from the quietest moment")
        else:
            return []
        self._rest = {
            "sacrum": float(np.median(self._tilt[window])),
            "thigh": float(np.median(self._thigh[window])),
        }
        self._standing_deg = float(np.median(self._segment_deg()[window]))
        self._scan_from = h.offset + window.stop
        self._last_end = h.offset + window.start
        kind = "rock_back" if self.movement == "rock_back" else "baseline"
        posture = posture_problem(kind, self._rest["thigh"], self._rest["sacrum"])
        if posture is not None:
            problems.append(posture)
        assert self._calibration is not None
        for p in PLACEMENTS:
            still_up = _mean_unit(h.up[p][window])
            change = still_posture_change_deg(
                self._calibration[p], still_up, standing=self.movement == "squat"
            )
            if change > VERTICAL_TOLERANCE_DEG:
                problems.append(
                    f"sensor moved: the {p} sensor sits {change:.0f} deg differently than in the "
                    "baseline; re-strap it and record a new baseline"
                )
        if problems:
            return [Calibrated(False, "; ".join(problems))]
        return [Calibrated(True, "calibrated from the assessment's baseline")]

    # Angles and reps ----------------------------------------------------------------------

    def _segment_deg(self) -> np.ndarray:
        """What reps are segmented on: the thigh angle, or hip flexion in the rock-back."""
        if self.movement == "rock_back":
            segment: np.ndarray = self._thigh + self._tilt
            return segment
        return self._thigh

    def _update_angles(self) -> list[LiveEvent]:
        h = self._history
        done = self._thigh.size
        new_up = {p: h.up[p][done:] for p in PLACEMENTS}
        if new_up["thigh"].shape[0] == 0:
            return []
        calibration = self._calibration
        assert calibration is not None, "angles are computed once the axes are locked"
        thigh = self._signs["thigh"] * sagittal_angle_deg(new_up["thigh"], calibration["thigh"])
        tilt = self._signs["sacrum"] * sagittal_angle_deg(new_up["sacrum"], calibration["sacrum"])
        self._thigh = np.concatenate([self._thigh, thigh])
        self._tilt = np.concatenate([self._tilt, tilt])
        return [LiveAngles(h.t_s[done:].copy(), thigh, tilt, thigh + tilt)]

    def _run_reps(self) -> list[LiveEvent]:
        events: list[LiveEvent] = []
        h = self._history
        level = self._segment_deg()
        enter = self._standing_deg + self.config.rep_thresholds.enter_deg
        exit_level = self._standing_deg + self.config.rep_thresholds.exit_deg
        for absolute in range(max(self._scan_from, h.offset), h.end):
            i = absolute - h.offset
            thigh = self._thigh[i]
            rep = self._rep
            if rep is None:
                if level[i] > enter:
                    rep = self._start_rep(absolute, level)
                    events.append(RepStarted(rep.number, float(h.t_s[rep.start - h.offset])))
                continue
            if not rep.leaving:
                if thigh > self._thigh[rep.bottom - h.offset]:
                    rep.bottom = absolute
                    if self._tilt[i] >= self._tilt[rep.peak_tilt - h.offset]:
                        rep.peak_tilt = absolute
                events += self._check_wink(rep, i)
                if level[i] < exit_level:
                    rep.leaving = True
                    rep.lowest_after = absolute
                continue
            if level[i] <= level[rep.lowest_after - h.offset]:
                rep.lowest_after = absolute
            excursion = level[rep.bottom - h.offset] - self._standing_deg
            back_at_standing = level[i] <= self._standing_deg + max(
                LEAVE_FRACTION * excursion, LEAVE_MIN_DEG
            )
            rising_again = level[i] > level[rep.lowest_after - h.offset] + LEAVE_MIN_DEG
            if back_at_standing or rising_again:
                end = absolute if back_at_standing else rep.lowest_after
                events.append(self._complete_rep(rep, end, level))
        self._scan_from = h.end
        return events

    def _start_rep(self, absolute: int, level: np.ndarray) -> _RepState:
        h = self._history
        i = absolute - h.offset
        since = max(self._last_end - h.offset, 0)
        before = level[since : i + 1]
        lowest = float(before.min())
        margin = max(LEAVE_FRACTION * self.config.rep_thresholds.enter_deg, LEAVE_MIN_DEG)
        start = since + int(np.flatnonzero(before <= lowest + margin)[-1])
        peak = start + int(np.argmax(self._tilt[start : i + 1]))
        self._reps_done += 1
        self._rep = _RepState(self._reps_done, h.offset + start, absolute, h.offset + peak)
        return self._rep

    def _check_wink(self, rep: _RepState, i: int) -> list[LiveEvent]:
        if rep.wink_announced:
            return []
        h = self._history
        peak = rep.peak_tilt - h.offset
        drop_deg = float(self._tilt[peak] - self._tilt[i])
        in_bottom = self._thigh[i] >= self._thigh[rep.bottom - h.offset] - BOTTOM_EXIT_DEG
        if drop_deg < self.threshold.threshold_deg or not in_bottom:
            return []
        rep.wink_announced = True
        return [
            WinkOnset(
                rep.number,
                float(h.t_s[peak]),
                float(self._thigh[peak]),
                drop_deg,
                float(h.t_s[i]),
                float(self._thigh[peak] + self._tilt[peak]),
            )
        ]

    def _complete_rep(self, rep: _RepState, end: int, level: np.ndarray) -> RepCompleted:
        h = self._history
        o = h.offset
        window = RepWindow(rep.start - o, rep.bottom - o, end - o)
        angles = SagittalAngles(self._thigh, self._tilt, self._thigh + self._tilt)
        metrics = rep_metrics(
            rep.number,
            window,
            h.t_s,
            angles,
            {"gap": h.in_gap},
            self.load_kg,
            self.threshold,
            self._sensor_codes(window),
        )
        self._standing_deg = float(level[rep.lowest_after - o])
        self._last_end = end
        self._rep = None
        return RepCompleted(metrics)

    def _sensor_codes(self, window: RepWindow) -> tuple[str, ...]:
        """The per-rep sensor checks (fusion.sensor_checks) on this rep's samples."""
        assert self._calibration is not None
        h = self._history
        traces = (
            SensorTrace("sacrum", self._tilt, h.gyr["sacrum"], self._calibration["sacrum"]),
            SensorTrace("thigh", self._thigh, h.gyr["thigh"], self._calibration["thigh"]),
        )
        assert self._rest is not None, "reps start once the rest posture is known"
        standing = {"sacrum": self._rest["sacrum"], "thigh": self._rest["thigh"]}
        if self.movement == "squat":
            standing["thigh"] = self._standing_deg
        codes = rep_sensor_codes(window, traces, standing, self.config.grid_rate_hz)
        span = slice(window.start, window.end + 1)
        fault = placement_check(
            h.gyr["sacrum"][span], h.gyr["thigh"][span], self.config.grid_rate_hz
        )
        return codes + ((fault.code,) if fault else ())


def _runs(mask: np.ndarray) -> list[tuple[int, int]]:
    """[start, stop) of each run of True in `mask`."""
    edges = np.flatnonzero(np.diff(np.concatenate(([0], mask.astype(np.int8), [0]))))
    return list(zip(edges[::2].tolist(), edges[1::2].tolist()))


def _trailing_run(mask: np.ndarray) -> int:
    """Length of the run of True at the end of `mask`."""
    false_at = np.flatnonzero(~mask)
    return int(mask.size - (false_at[-1] + 1)) if false_at.size else int(mask.size)


def _mean_unit(vectors: np.ndarray) -> np.ndarray:
    mean = vectors.mean(axis=0)
    unit: np.ndarray = mean / np.linalg.norm(mean)
    return unit
