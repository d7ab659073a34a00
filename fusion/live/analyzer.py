"""The live analyser: samples of one athlete's two sensors in, events out (see package doc)."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Literal

import numpy as np

from fusion.angles import SagittalAngles
from fusion.assessment.calibration import AssessmentCalibration
from fusion.baseline import (
    DEFAULT_WINK_THRESHOLD_DEG,
    K_SPREAD,
    PersonalBaseline,
    WinkThreshold,
    wink_threshold,
)
from fusion.live.calibrator import LiveCalibrator, Phase
from fusion.live.depth_guard import DepthGuard, DepthGuardTracker
from fusion.live.events import LiveAngles, LiveEvent, RepCompleted, RepNotCounted
from fusion.live.history import PLACEMENTS, GridHistory, RowBuffer, SensorBuffer
from fusion.live.rep_tracker import RepTracker, Trace
from fusion.metrics import rep_metrics
from fusion.orientation import DEFAULT_LIVE_ENGINE, CausalOrientation, up_in_sensor_frame
from fusion.orientation.quaternions import FEW_ROWS, up_rows_in_sensor_frame
from fusion.quality import HIDDEN_REP_GAP_S
from fusion.reps import RepThresholds, RepWindow, hidden_boundary
from fusion.sensor_checks import SensorTrace, placement_check, rep_sensor_codes

# A causal filter restarted mid-rep needs a moment to settle, which costs more than short
# interpolated stretches do (measured on 60 simulated sets); restart only after long drops.
RESTART_GAP_S = 1.0
HISTORY_S = 30.0  # grid history kept (longest rep plus the standing before it)

# What the set is: squats (reps on the thigh angle) or the quadruped rock-back (reps on hip
# flexion: the thigh starts near vertical under the hip; the deepest point is the deepest thigh).
Movement = Literal["squat", "rock_back"]
MOVEMENTS: tuple[Movement, ...] = ("squat", "rock_back")


@dataclass(frozen=True)
class LiveConfig:
    """The analyser's parameters (fixed for a set)."""

    grid_rate_hz: float = 100.0
    engine: str = DEFAULT_LIVE_ENGINE
    wink_threshold_deg: float = DEFAULT_WINK_THRESHOLD_DEG  # the one default (fusion.baseline)
    rep_thresholds: RepThresholds = field(default_factory=RepThresholds)
    baseline_k_spread: float = K_SPREAD


class LiveSquatAnalyzer:
    """Live analysis of one athlete. Not thread-safe: one caller feeds it.

    Parameters: `config` (`LiveConfig`), `movement`, the stored calibration. State, each part
    its own object: raw samples waiting for the grid (`SensorBuffer` per sensor), the causal
    filters, the grid history (`GridHistory`), the calibration in explicit phases
    (`fusion.live.calibrator`), the rep state machine (`fusion.live.rep_tracker`). Derived:
    the angles on the grid history, and the wink threshold in use (`fusion.baseline`).

    Without `calibration` the sensors are calibrated on the fly (package docstring). With a
    stored one (`fusion.assessment.AssessmentCalibration`, an assessment's, taken from its
    baseline) the axes and signs are used as they are and angles start with the first sample;
    the set's first still moment (standing, or on all fours for `movement="rock_back"`, which
    needs a stored calibration) gives its rest level and is checked against the calibration:
    a sensor that moved, or the wrong starting posture, is said in a `Calibrated(ok=False)`.

    With `depth_guard` (the athlete's prescribed ceiling, `fusion.live.depth_guard`) a loaded
    squat set (`load_kg` > 0) emits `DepthCeilingNear` once per descent, before the thigh gets
    to the ceiling.
    """

    def __init__(
        self,
        *,
        load_kg: float | None = None,
        config: LiveConfig | None = None,
        baseline: PersonalBaseline | None = None,
        calibration: AssessmentCalibration | None = None,
        movement: Movement = "squat",
        depth_guard: DepthGuard | None = None,
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
        rate_hz = self.config.grid_rate_hz
        self._buffers = {p: SensorBuffer() for p in PLACEMENTS}
        self._fusers = {p: CausalOrientation(rate_hz, self.config.engine) for p in PLACEMENTS}
        self._restart = dict.fromkeys(PLACEMENTS, False)  # restart the filter after a gap
        self._history = GridHistory()
        self._next_grid_s: float | None = None
        self._gaps: list[tuple[str, float, float]] = []
        # Sensors the reps are found on, and their sample gaps longer than HIDDEN_REP_GAP_S
        # (placement, last sample before, first after) still within the history.
        self._level_sensors = PLACEMENTS if movement == "rock_back" else ("thigh",)
        self._long_gaps: list[tuple[str, float, float]] = []
        self._calibrator = LiveCalibrator(rate_hz, calibration, standing=movement == "squat")
        self._reps = RepTracker(self.config.rep_thresholds)
        self._guard = (
            DepthGuardTracker(depth_guard, rate_hz)
            if depth_guard is not None and movement == "squat"
            else None
        )
        # Derived: angles aligned with the history (from where the axes are known): thigh,
        # pelvic tilt and the segmented level (thigh, or hip flexion in a rock-back), deg.
        self._angles = RowBuffer(3, capacity=1024)
        self._step_s = 1.0 / rate_hz
        self._history_rows = int(HISTORY_S * rate_hz)  # grid rows kept (and a rep's own)
        self._new_rows: _NewRows | None = None  # what the last grid step added, few rows

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
        """Add samples of one sensor (gateway clock, sensor frame); return the events they cause.

        Samples with a non-finite value are dropped; values must be within an IMU's range (m/s^2,
        rad/s; the gateway drops the others before they get here)."""
        self._check_placement(placement)
        t_s = _rows_of(t_s, None)
        acc = _rows_of(acc_mps2, 3)
        gyr = _rows_of(gyr_radps, 3)
        if not (t_s.size == acc.shape[0] == gyr.shape[0]):
            raise ValueError("t_s, acc_mps2 and gyr_radps must have the same number of samples")
        # A packet's few samples: plain floats cost less than numpy calls on them.
        times, acc_rows, gyr_rows = t_s.tolist(), acc.tolist(), gyr.tolist()
        total = sum(times) + sum(map(sum, acc_rows)) + sum(map(sum, gyr_rows))
        if not math.isfinite(total):  # a sum overflowing to inf re-checks too
            keep = [
                i
                for i, (t, a, g) in enumerate(zip(times, acc_rows, gyr_rows))
                if math.isfinite(t) and all(map(math.isfinite, a)) and all(map(math.isfinite, g))
            ]
            times = [times[i] for i in keep]
            acc_rows = [acc_rows[i] for i in keep]
            gyr_rows = [gyr_rows[i] for i in keep]
        if placement in self._level_sensors:
            self._note_long_gaps(placement, times)
        self._buffers[placement].append_values(times, acc_rows, gyr_rows)
        return self._advance()

    def _note_long_gaps(self, placement: str, times: list[float]) -> None:
        """Remember where `placement` sent nothing for longer than HIDDEN_REP_GAP_S."""
        buffer = self._buffers[placement]
        if not buffer.size or not times or times[-1] - buffer.last_t_s() <= HIDDEN_REP_GAP_S:
            return
        previous = buffer.last_t_s()
        for t_s in times:
            if t_s > previous:
                if t_s - previous > HIDDEN_REP_GAP_S:
                    self._long_gaps.append((placement, previous, t_s))
                previous = t_s

    def finish(self) -> list[LiveEvent]:
        """The set stops: its last rep, when on its last stretch up (the level back below the
        exit level, the lifter about standing), is completed now rather than lost with the
        samples still on their way (`RepTracker.finish`; the same rep as offline). Call once,
        after the last `push`."""
        calibrator = self._calibrator
        if not (calibrator.has_axes and calibrator.phase == Phase.READY):
            return []
        return self._reps.finish(self._trace(), self._complete_rep)

    # Grid ---------------------------------------------------------------------------------

    def _check_placement(self, placement: str) -> None:
        if placement not in PLACEMENTS:
            raise ValueError(f"placement must be one of {PLACEMENTS}, got {placement!r}")

    def _advance(self) -> list[LiveEvent]:
        sacrum, thigh = self._buffers["sacrum"], self._buffers["thigh"]
        if sacrum.size < 2 or thigh.size < 2:
            return []
        step_s = self._step_s
        if self._next_grid_s is None:
            self._next_grid_s = max(sacrum.first_t_s(), thigh.first_t_s())
        until_s = min(sacrum.last_t_s(), thigh.last_t_s())
        count = math.floor((until_s - self._next_grid_s) / step_s + 1e-9) + 1
        if count <= 0:
            return []
        if count <= FEW_ROWS:  # a packet's few instants: plain floats (numpy calls ~1 us each)
            self._new_rows = self._grid_step_rows(count)
        else:
            self._new_rows = None
            self._grid_step(count)
        events: list[LiveEvent] = []
        calibrator = self._calibrator
        if not calibrator.has_axes:
            events += calibrator.calibrate(self._history)
            if calibrator.has_axes:  # just locked: angles (and reps) from the history's start
                self._angles.clear()
                self._reps.restart_at(self._history.offset)
        if calibrator.has_axes:
            events += self._update_angles()
            if calibrator.phase == Phase.REST:
                events += self._find_rest()
            if calibrator.phase == Phase.READY:
                trace = self._trace()
                events += self._reps.advance(
                    trace, self.threshold.threshold_deg, self._complete_rep
                )
                events += self._guard_cues(trace)
        self._trim()
        return events

    def _grid_step(self, count: int) -> None:
        """The next `count` grid instants into the history: interpolated, fused (arrays)."""
        step_s = self._step_s
        assert self._next_grid_s is not None
        grid = self._next_grid_s + np.arange(count) * step_s
        self._next_grid_s = float(grid[-1] + step_s)
        up, gyr = {}, {}
        in_gap = self._gap_flags(grid)
        for p in PLACEMENTS:
            acc_g, gyr_g, lost = self._buffers[p].interpolate(grid, RESTART_GAP_S)
            up[p] = self._fuse(p, gyr_g, acc_g, lost)
            gyr[p] = np.where(lost[:, None], 0.0, gyr_g) if lost.any() else gyr_g
            in_gap |= lost
        self._history.extend(grid, up, gyr, in_gap)

    def _grid_step_rows(self, count: int) -> _NewRows:
        """`_grid_step` for a packet's few instants on plain floats (the same arithmetic; the
        filters get one batch per sensor as before). Returns the new rows' times and up
        vectors, for the angles."""
        step_s = self._step_s
        start_s = self._next_grid_s
        assert start_s is not None
        grid = [start_s + k * step_s for k in range(count)]
        self._next_grid_s = grid[-1] + step_s
        in_gap = self._gap_flags_rows(grid)
        up: dict[str, list[list[float]]] = {}
        gyr: dict[str, list[list[float]]] = {}
        for p in PLACEMENTS:
            acc_p, gyr_p, lost = self._buffers[p].interpolate_rows(grid, RESTART_GAP_S)
            if self._restart[p] or any(lost):
                up_p = self._fuse(p, np.array(gyr_p), np.array(acc_p), np.array(lost))
                up[p] = up_p.tolist()
                gyr[p] = [[0.0, 0.0, 0.0] if gone else g for g, gone in zip(gyr_p, lost)]
                in_gap = [a or b for a, b in zip(in_gap, lost)]
            else:
                # Rows of 3 floats interpolated between finite samples (`push` drops the
                # others). Their range is the caller's: a 1e30 would pass here and wreck the
                # filter's state, so the gateway drops samples beyond any IMU's range
                # (fusion.pipeline's limits) at its input edge (sensor_gateway.gateway).
                quat = self._fusers[p].update_rows(gyr_p, acc_p, checked=True)
                up[p] = up_rows_in_sensor_frame(quat)
                gyr[p] = gyr_p
        up_s, up_t, gyr_s, gyr_t = up["sacrum"], up["thigh"], gyr["sacrum"], gyr["thigh"]
        self._history.extend_rows(
            [
                [grid[i], *up_s[i], *up_t[i], *gyr_s[i], *gyr_t[i], 1.0 if in_gap[i] else 0.0]
                for i in range(count)
            ]
        )
        return _NewRows(grid, up_s, up_t)

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
            self._history.last_up(placement) if self._history.size else np.array([0.0, 0.0, 1.0])
        )
        for start, stop in _runs(lost):
            up[start:stop] = up[start - 1] if start > 0 else last_up
        self._restart[placement] = bool(lost[-1])
        return up

    def _gap_flags(self, grid: np.ndarray) -> np.ndarray:
        flags = np.zeros(grid.size, dtype=bool)
        first_s, last_s = float(grid[0]), float(grid[-1])
        ended = False
        for _, start_s, end_s in self._gaps:
            if end_s < first_s:
                ended = True
            elif start_s <= last_s:
                flags |= (grid >= start_s) & (grid <= end_s)
        if ended:
            self._drop_gaps_before(first_s)
        return flags

    def _gap_flags_rows(self, grid: list[float]) -> list[bool]:
        """`_gap_flags` of a few grid instants, plain floats."""
        flags = [False] * len(grid)
        if not self._gaps:
            return flags
        first_s, last_s = grid[0], grid[-1]
        ended = False
        for _, start_s, end_s in self._gaps:
            if end_s < first_s:
                ended = True
            elif start_s <= last_s:
                flags = [f or start_s <= t <= end_s for f, t in zip(flags, grid)]
        if ended:
            self._drop_gaps_before(first_s)
        return flags

    def _drop_gaps_before(self, grid_s: float) -> None:
        """Forget the gaps that ended before grid instant `grid_s`: the grid only moves on, so
        they flag no instant any more (kept, every step would look at each of them again)."""
        self._gaps = [g for g in self._gaps if g[2] >= grid_s]

    def _trim(self) -> None:
        if self._calibrator.keeps_history():
            return  # the axes are locked on the samples since the vertical
        oldest_needed = self._history.end - self._history_rows
        rep_start = self._reps.rep_start
        if rep_start is not None and rep_start < oldest_needed:
            oldest_needed = rep_start
        if not self._calibrator.has_axes:
            self._history.trim_before(oldest_needed)
            return
        cut = oldest_needed - self._history.offset
        if cut > 0:
            self._angles.drop_front(cut)
            self._history.trim_before(oldest_needed)

    # Angles and reps ----------------------------------------------------------------------

    @property
    def _thigh(self) -> np.ndarray:
        return self._angles.rows[:, 0]

    @property
    def _tilt(self) -> np.ndarray:
        return self._angles.rows[:, 1]

    def _segment_deg(self) -> np.ndarray:
        """What reps are segmented on: the thigh angle, or hip flexion in the rock-back."""
        return self._angles.rows[:, 2]

    def _trace(self) -> Trace:
        h, angles = self._history, self._angles.rows  # thigh, tilt, segmented level
        return Trace(h.t_s, angles[:, 0], angles[:, 1], angles[:, 2], h.offset)

    def _update_angles(self) -> list[LiveEvent]:
        h = self._history
        done = len(self._angles)
        if h.size == done:
            return []
        new = self._new_rows
        if new is not None and h.size - done == len(new.t_s):
            return self._update_angles_rows(new)
        thigh, tilt = self._calibrator.angles_deg(h, done)
        hip = thigh + tilt
        block = np.empty((thigh.size, 3))
        block[:, 0] = thigh
        block[:, 1] = tilt
        block[:, 2] = hip if self.movement == "rock_back" else thigh
        self._angles.append(block)
        return [LiveAngles(h.t_s[done:].copy(), thigh, tilt, hip)]

    def _update_angles_rows(self, new: _NewRows) -> list[LiveEvent]:
        """`_update_angles` of a packet's few new rows, on plain floats: one array for all."""
        thigh, tilt = self._calibrator.angles_deg_rows(new.up_sacrum, new.up_thigh)
        hip = [a + b for a, b in zip(thigh, tilt)]
        level = hip if self.movement == "rock_back" else thigh
        self._angles.append(list(zip(thigh, tilt, level)))
        t_s, thigh_deg, tilt_deg, hip_deg = np.array([new.t_s, thigh, tilt, hip])
        return [LiveAngles(t_s, thigh_deg, tilt_deg, hip_deg)]

    def _find_rest(self) -> list[LiveEvent]:
        kind = "rock_back" if self.movement == "rock_back" else "baseline"
        events: list[LiveEvent] = []
        events += self._calibrator.find_rest(
            self._history, self._thigh, self._tilt, self._segment_deg(), kind
        )
        rest = self._calibrator.rest
        if rest is not None:
            self._reps.restart_at(rest.stop, last_end=rest.start, standing_deg=rest.level_deg)
        return events

    def _guard_cues(self, trace: Trace) -> list[LiveEvent]:
        """The depth guard's cues in loaded sets (the rep under way, or the next one)."""
        guard = self._guard
        if guard is None:
            return []
        if not (self.load_kg or 0.0) > 0.0:
            guard.skip_to(trace.end)
            return []
        reps = self._reps
        number = reps.reps_done if reps.rep_start is not None else reps.reps_done + 1
        return list(guard.advance(trace, reps.standing_deg, number))

    def _complete_rep(self, number: int, window: RepWindow) -> RepCompleted | RepNotCounted:
        h = self._history
        hidden = self._hidden_boundary(number, window)
        if hidden is not None:
            return hidden
        angles = SagittalAngles(self._thigh, self._tilt, self._thigh + self._tilt)
        metrics = rep_metrics(
            number,
            window,
            h.t_s,
            angles,
            {"gap": h.in_gap},
            self.load_kg,
            self.threshold,
            self._sensor_codes(window),
        )
        return RepCompleted(metrics)

    def _hidden_boundary(self, number: int, window: RepWindow) -> RepNotCounted | None:
        """The rep as not counted when a long gap of a sensor it is found on began on the way
        up (the level fallen from the rep's deepest by more than the margin a rep ends within)
        and ended with the level above the exit level again: the lifter may have stood up
        and gone down again within it, two reps the held angles across the gap make one. A
        gap over the bottom alone (down before it, up after) keeps the rep (flagged 'gap')."""
        t_s = self._history.t_s
        first_s = float(t_s[0])
        self._long_gaps = [g for g in self._long_gaps if g[2] >= first_s]
        level, standing = self._segment_deg(), self._reps.standing_deg
        thresholds = self.config.rep_thresholds
        gap = hidden_boundary(t_s, level, window, self._long_gaps, standing, thresholds)
        if gap is None:
            return None
        start_s, end_s = float(t_s[window.start]), float(t_s[window.end])
        return RepNotCounted(number, start_s, end_s, *gap)

    def _sensor_codes(self, window: RepWindow) -> tuple[str, ...]:
        """The per-rep sensor checks (fusion.sensor_checks) on this rep's samples."""
        segments, rest = self._calibrator.segments, self._calibrator.rest
        assert segments is not None and rest is not None, "reps start once the rest is known"
        h = self._history
        traces = (
            SensorTrace("sacrum", self._tilt, h.gyr["sacrum"], segments["sacrum"]),
            SensorTrace("thigh", self._thigh, h.gyr["thigh"], segments["thigh"]),
        )
        standing = {"sacrum": rest.sacrum_deg, "thigh": rest.thigh_deg}
        if self.movement == "squat":
            standing["thigh"] = self._reps.standing_deg
        codes = rep_sensor_codes(window, traces, standing, self.config.grid_rate_hz)
        span = slice(window.start, window.end + 1)
        fault = placement_check(
            h.gyr["sacrum"][span], h.gyr["thigh"][span], self.config.grid_rate_hz
        )
        return codes + ((fault.code,) if fault else ())


def _rows_of(values: np.ndarray, width: int | None) -> np.ndarray:
    """`values` as float (n,) (`width` None) or (n, width), reshaped only when not already."""
    array = np.asarray(values, dtype=float)
    if width is None:
        return array if array.ndim == 1 else array.reshape(-1)
    return array if array.ndim == 2 and array.shape[1] == width else array.reshape(-1, width)


@dataclass(frozen=True)
class _NewRows:
    """What a few-row grid step added: the grid times and both up vectors, plain floats."""

    t_s: list[float]
    up_sacrum: list[list[float]]
    up_thigh: list[list[float]]


def _runs(mask: np.ndarray) -> list[tuple[int, int]]:
    """[start, stop) of each run of True in `mask`."""
    edges = np.flatnonzero(np.diff(np.concatenate(([0], mask.astype(np.int8), [0]))))
    return list(zip(edges[::2].tolist(), edges[1::2].tolist()))
