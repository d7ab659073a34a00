"""Live pipeline of one athlete: time-mapped samples in, gateway events out.

The science is in `fusion.live.LiveSquatAnalyzer` (causal fusion, calibration, angles,
incremental reps, wink onset). This module owns what is around it during a set:
- the set itself (start, load, stop by request or after `idle_stop_s` without a rep),
- turning the analyser's outputs into gateway events with athlete, set and wall-clock time,
- decimating the live angles to ~`live_angles_rate_hz` for clients,
- sensor gaps (told to the analyser and reported as quality warnings),
- quality codes found after reps were published (`mark_reps_since`: a dead or mirrored sensor axis): the
  set's reps measured since then are published again with the code, the later ones carry it,
- containment: an analyser failure becomes a QualityWarning and the set keeps recording raw
  samples (the set can be re-analysed from storage later).

Pure and synchronous (no asyncio, no I/O): the gateway calls it from its event loop.
"""

from __future__ import annotations

import dataclasses
import logging
import math
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

import numpy as np

from fusion.live import events as analysis
from sensor_gateway.events import (
    Calibrated,
    DepthCeilingNear,
    GatewayClock,
    GatewayEvent,
    LiveAngles,
    Placement,
    QualityWarning,
    RepCompleted,
    RepStarted,
    SetInfo,
    SetStarted,
    SetStopped,
    SetVariant,
    StopReason,
    WinkOnset,
)

if TYPE_CHECKING:
    from fusion.assessment import AssessmentCalibration
    from fusion.baseline import PersonalBaseline
    from fusion.live.depth_guard import DepthGuard
    from fusion.types import RepMetrics
    from sensor_gateway.gaps import Gap

log = logging.getLogger(__name__)


class LiveAnalyzer(Protocol):
    """What the pipeline needs from a live analyser (`fusion.live.LiveSquatAnalyzer`).

    Placements are "sacrum" / "thigh"; times on the gateway clock (s); acc m/s^2, gyr rad/s,
    each (n, 3) in the sensor frame. Outputs are `fusion.live.events.LiveEvent`s.
    """

    def push(
        self, placement: str, t_s: np.ndarray, acc_mps2: np.ndarray, gyr_radps: np.ndarray
    ) -> list[analysis.LiveEvent]: ...

    def mark_gap(self, placement: str, start_s: float, end_s: float) -> None: ...

    def finish(self) -> list[analysis.LiveEvent]: ...

    def set_load(self, load_kg: float | None) -> None: ...

    def set_baseline(self, baseline: PersonalBaseline | None) -> None: ...


@dataclass(frozen=True)
class LiveSetup:
    """What a set's analyser starts with: the load (kg), a stored sensor-to-segment
    calibration (an assessment's, from its baseline; None: calibrate on the fly from the
    set's own standing and first descent) and the movement ("squat" or "rock_back", the
    quadruped step, which needs the stored calibration); `depth_guard` the athlete's
    prescribed depth ceiling and cue margin (`fusion.live.depth_guard`; None: no guard)."""

    load_kg: float | None = None
    calibration: AssessmentCalibration | None = None
    movement: str = "squat"
    depth_guard: DepthGuard | None = None


AnalyzerFactory = Callable[[LiveSetup], LiveAnalyzer]


def movement_of(variant: SetVariant) -> str:
    """The analyser's movement for a set variant: reps on hip flexion on all fours."""
    return "rock_back" if variant is SetVariant.QUADRUPED_ROCK_BACK else "squat"


def _sensor_messages(codes: tuple[str, ...]) -> list[tuple[str, str]]:
    """(code, message) of a rep's sensor-check codes (fusion.sensor_checks)."""
    from fusion.sensor_checks import LIVE_FAULT_MESSAGES, rep_sensor_message

    found = []
    for code in codes:
        message = LIVE_FAULT_MESSAGES.get(code) or rep_sensor_message(code)
        if message is not None:
            found.append((code, message))
    return found


def _with_codes_since(
    metrics: RepMetrics, marked_since_s: dict[str, float], started_s: float
) -> RepMetrics:
    """`metrics` (set-relative, s) with each code of `marked_since_s` (code -> gateway clock,
    s) it does not carry yet whose time the rep ends at or after."""
    end_s = metrics.end_s + started_s
    codes = [c for c, since_s in marked_since_s.items() if end_s >= since_s]
    new = tuple(c for c in codes if c not in metrics.quality)
    return dataclasses.replace(metrics, quality=metrics.quality + new) if new else metrics


def load_default_analyzer() -> None:
    """Import the default analyser (the whole analysis core and its filter, ~0.1 s) now:
    done at the first set start, it holds up the event loop, and every other sensor's
    packets, that long."""
    import vqf  # noqa: F401  (the live engine's compiled filter, imported by its first use)

    import fusion.live.analyzer  # noqa: F401


def default_analyzer_factory(setup: LiveSetup) -> LiveAnalyzer:
    """A fresh `fusion.live.LiveSquatAnalyzer` (imported here: it pulls in the whole core)."""
    from fusion.live import LiveSquatAnalyzer

    if setup.movement == "rock_back":
        return LiveSquatAnalyzer(
            load_kg=setup.load_kg, calibration=setup.calibration, movement="rock_back"
        )
    return LiveSquatAnalyzer(
        load_kg=setup.load_kg, calibration=setup.calibration, depth_guard=setup.depth_guard
    )


@dataclass
class _ActiveSet:
    info: SetInfo
    analyzer: LiveAnalyzer | None  # None: recorded without live analysis
    analysis_failed: bool = False
    rep_count: int = 0
    last_activity_s: float = -math.inf  # data time of the last rep event (or the start)
    last_sample_s: float = -math.inf  # latest mapped sample time seen in this set
    next_angles_bin: int | None = None
    # The reps completed, as published (set-relative), by number: a later finding marks them.
    reps: dict[int, RepCompleted] = dataclasses.field(default_factory=dict)
    # Quality code -> since when (gateway clock, s) every rep carries it (a dead axis).
    marked_since_s: dict[str, float] = dataclasses.field(default_factory=dict)


class AthletePipeline:
    """Set lifecycle and live analysis of one athlete."""

    def __init__(
        self,
        athlete_id: str,
        clock: GatewayClock,
        *,
        live_angles_rate_hz: float = 20.0,
        idle_stop_s: float = 120.0,
        analyzer_factory: AnalyzerFactory = default_analyzer_factory,
    ) -> None:
        self.athlete_id = athlete_id
        self.clock = clock
        self.live_angles_rate_hz = live_angles_rate_hz
        self.idle_stop_s = idle_stop_s
        self.analyzer_factory = analyzer_factory
        self._set: _ActiveSet | None = None

    # -- set lifecycle ---------------------------------------------------------------------
    @property
    def current_set(self) -> SetInfo | None:
        return self._set.info if self._set else None

    @property
    def rep_count(self) -> int:
        return self._set.rep_count if self._set else 0

    def start_set(
        self,
        variant: SetVariant,
        load_kg: float | None,
        now_s: float,
        notes: str = "",
        *,
        baseline: PersonalBaseline | None = None,
        calibration: AssessmentCalibration | None = None,
        depth_guard: DepthGuard | None = None,
        info: SetInfo | None = None,
    ) -> list[GatewayEvent]:
        """Start a set (stopping a running one first, reason REPLACED); `baseline` is the
        athlete's personal noise floor the analyser flags against (fusion.baseline);
        `calibration` a stored one (an assessment's) the analyser uses instead of calibrating
        on the fly. A quadruped rock-back without one is recorded but not analysed live.
        `depth_guard`: the prescribed ceiling the analyser cues at in loaded squats.
        `info`: the new set's key and start as planned (Gateway.plan_set); a new one if None."""
        events: list[GatewayEvent] = []
        if self._set is not None:
            events += self.stop_set(StopReason.REPLACED, now_s)
        if info is None:
            info = SetInfo(
                set_key=uuid.uuid4().hex,
                athlete_id=self.athlete_id,
                variant=SetVariant(variant),
                load_kg=load_kg,
                started_s=now_s,
                started_utc=self.clock.to_utc(now_s),
                notes=notes,
            )
        movement = movement_of(info.variant)
        analyzer: LiveAnalyzer | None = None
        if movement == "squat" or calibration is not None:
            analyzer = self.analyzer_factory(LiveSetup(load_kg, calibration, movement, depth_guard))
            if baseline is not None:
                analyzer.set_baseline(baseline)
        self._set = _ActiveSet(info=info, analyzer=analyzer, last_activity_s=now_s)
        events.append(
            SetStarted(athlete_id=self.athlete_id, t_s=now_s, wall_utc=info.started_utc, set=info)
        )
        if analyzer is None:
            events.append(
                QualityWarning(
                    athlete_id=self.athlete_id,
                    t_s=now_s,
                    wall_utc=info.started_utc,
                    code="no_live_analysis",
                    set_key=info.set_key,
                    message="a quadruped rock-back is analysed with an assessment's calibration "
                    "(on all fours there is no standing posture to calibrate from): start it as "
                    "a step of an assessment whose baseline is recorded; the raw samples are "
                    "recorded and can be analysed later",
                )
            )
        return events

    def set_load(self, load_kg: float | None) -> None:
        """Change the load of the running set (reps completed from now on carry it, and a rep
        completed before that comes again, `mark_reps_since`, carries it as its stored row)."""
        if self._set is None:
            return
        self._set.info = dataclasses.replace(self._set.info, load_kg=load_kg)
        for number, rep in self._set.reps.items():
            self._set.reps[number] = dataclasses.replace(
                rep, metrics=rep.metrics.with_load(load_kg)
            )
        if self._set.analyzer is not None:
            self._set.analyzer.set_load(load_kg)

    def stop_set(self, reason: StopReason, now_s: float) -> list[GatewayEvent]:
        """Stop the running set: its last rep when the lifter is about standing again (the
        analyser's `finish`: the samples of the last tenth of a second are still on their
        way, and the rep would be lost with them), then SetStopped; a rep still deeper is
        incomplete. [] when none."""
        active = self._set
        if active is None:
            return []
        events: list[GatewayEvent] = []
        if not active.analysis_failed and active.analyzer is not None:
            try:
                events += self._convert(active, active.analyzer.finish())
            except Exception as exc:
                events.append(self._analysis_failed(active, exc))
        self._set = None
        return events + [
            SetStopped(
                athlete_id=self.athlete_id,
                t_s=now_s,
                wall_utc=self.clock.to_utc(now_s),
                set=active.info,
                reason=reason,
                rep_count=active.rep_count,
            )
        ]

    def idle_for_s(self, now_s: float | None = None) -> float:
        """How long the running set has gone without a rep, on the data clock (0 if none).

        With `now_s`, measured to that instant instead (no samples at all arrive).
        """
        if self._set is None:
            return 0.0
        latest = self._set.last_sample_s if now_s is None else max(now_s, self._set.last_sample_s)
        return max(0.0, latest - self._set.last_activity_s)

    def should_auto_stop(self, now_s: float | None = None) -> bool:
        return self._set is not None and self.idle_for_s(now_s) > self.idle_stop_s

    # -- samples ---------------------------------------------------------------------------
    def push(
        self, placement: Placement, t_s: np.ndarray, acc_mps2: np.ndarray, gyr_radps: np.ndarray
    ) -> list[GatewayEvent]:
        """Feed time-mapped samples of one placement; events of the running set (or [])."""
        active = self._set
        if active is None:
            return []
        if t_s.size:
            active.last_sample_s = max(active.last_sample_s, float(t_s[-1]))
        if active.analysis_failed or active.analyzer is None:
            return []
        try:
            outputs = active.analyzer.push(placement.value, t_s, acc_mps2, gyr_radps)
        except Exception as exc:
            return [self._analysis_failed(active, exc)]
        return self._convert(active, outputs)

    def mark_gap(self, placement: Placement, gap: Gap) -> list[GatewayEvent]:
        """A sensor lost samples: tell the analyser and warn (during a set only)."""
        active = self._set
        if active is None:
            return []
        events: list[GatewayEvent] = []
        if not active.analysis_failed and active.analyzer is not None:
            try:
                active.analyzer.mark_gap(placement.value, gap.start_s, gap.end_s)
            except Exception as exc:
                events.append(self._analysis_failed(active, exc))
        return events + [
            QualityWarning(
                athlete_id=self.athlete_id,
                t_s=gap.end_s,
                wall_utc=self.clock.to_utc(gap.end_s),
                code="sensor_gap",
                set_key=active.info.set_key,
                placement=placement,
                message=f"{placement.value} sensor lost {gap.missing_text} "
                f"({gap.duration_s:.2f} s); angles across the gap are interpolated",
            )
        ]

    def mark_reps_since(self, code: str, since_s: float) -> list[GatewayEvent]:
        """Every rep of the running set measured since `since_s` (gateway clock, s; its end
        at or after it) carries quality code `code` from now on (a dead axis found late: the
        reps fused from it are wrong). The reps completed already come again with the code,
        `correction=True` (clients replace a rep by its number; the sink updates the stored
        one); the reps completed later carry it as they come. [] when none."""
        active = self._set
        if active is None:
            return []
        known = active.marked_since_s.get(code, math.inf)
        active.marked_since_s[code] = min(known, since_s)
        corrected: list[GatewayEvent] = []
        for number, rep in active.reps.items():
            metrics = _with_codes_since(rep.metrics, active.marked_since_s, active.info.started_s)
            if metrics != rep.metrics:
                active.reps[number] = dataclasses.replace(rep, metrics=metrics)
                corrected.append(dataclasses.replace(rep, metrics=metrics, correction=True))
        return corrected

    # -- internals -------------------------------------------------------------------------
    def _analysis_failed(self, active: _ActiveSet, exc: Exception) -> QualityWarning:
        """An analyser failure is logged once and disables analysis for the set."""
        log.error(
            "live analysis of athlete %s failed; raw samples keep being recorded",
            self.athlete_id,
            exc_info=exc,
        )
        active.analysis_failed = True
        at_s = (
            active.last_sample_s if math.isfinite(active.last_sample_s) else active.info.started_s
        )
        return QualityWarning(
            athlete_id=self.athlete_id,
            t_s=at_s,
            wall_utc=self.clock.to_utc(at_s),
            code="analysis_failed",
            set_key=active.info.set_key,
            message=f"live analysis stopped for this set ({exc}); raw "
            "samples are still recorded: re-analyse the set later",
        )

    def _convert(self, active: _ActiveSet, outputs: list[analysis.LiveEvent]) -> list[GatewayEvent]:
        """The analyser's events as gateway events: with athlete, set and wall-clock time."""
        events: list[GatewayEvent] = []
        key = active.info.set_key
        athlete = self.athlete_id
        utc = self.clock.to_utc
        for out in outputs:
            match out:
                case analysis.LiveAngles():
                    events += self._decimate(active, out)
                case analysis.RepStarted(rep=rep, t_s=t_s):
                    active.last_activity_s = max(active.last_activity_s, t_s)
                    events.append(
                        RepStarted(
                            athlete_id=athlete, t_s=t_s, wall_utc=utc(t_s), set_key=key, rep=rep
                        )
                    )
                case analysis.WinkOnset():
                    events.append(
                        WinkOnset(
                            athlete_id=athlete,
                            t_s=out.t_s,
                            wall_utc=utc(out.t_s),
                            set_key=key,
                            rep=out.rep,
                            onset_depth_deg=out.onset_depth_deg,
                            onset_hip_flexion_deg=out.onset_hip_flexion_deg,
                            wink_deg=out.wink_deg,
                        )
                    )
                case analysis.DepthCeilingNear():
                    events.append(
                        DepthCeilingNear(
                            athlete_id=athlete,
                            t_s=out.t_s,
                            wall_utc=utc(out.t_s),
                            set_key=key,
                            rep=out.rep,
                            thigh_deg=out.thigh_deg,
                            speed_degps=out.speed_degps,
                            ceiling_thigh_deg=out.ceiling_thigh_deg,
                            margin_deg=out.margin_deg,
                        )
                    )
                case analysis.RepCompleted(metrics=metrics):
                    end_s = metrics.end_s
                    active.rep_count += 1
                    active.last_activity_s = max(active.last_activity_s, end_s)
                    completed = RepCompleted(
                        athlete_id=athlete,
                        t_s=end_s,
                        wall_utc=utc(end_s),
                        set_key=key,
                        metrics=_with_codes_since(
                            metrics.shifted(-active.info.started_s),
                            active.marked_since_s,
                            active.info.started_s,
                        ),
                    )
                    active.reps[metrics.rep] = completed
                    events.append(completed)
                    events += [
                        QualityWarning(
                            athlete_id=athlete,
                            t_s=end_s,
                            wall_utc=utc(end_s),
                            code=code,
                            set_key=key,
                            message=f"rep {metrics.rep}: {message}",
                            rep=metrics.rep,
                        )
                        for code, message in _sensor_messages(metrics.quality)
                    ]
                case analysis.RepNotCounted():
                    active.last_activity_s = max(active.last_activity_s, out.end_s)
                    events.append(self._not_counted(active, out))
                case analysis.Calibrated(ok=ok, message=message):
                    at_s = active.last_sample_s
                    events.append(
                        Calibrated(
                            athlete_id=athlete,
                            t_s=at_s,
                            wall_utc=utc(at_s),
                            set_key=key,
                            ok=ok,
                            message=message,
                        )
                    )
                    if not ok:
                        events.append(
                            QualityWarning(
                                athlete_id=athlete,
                                t_s=at_s,
                                wall_utc=utc(at_s),
                                code="calibration",
                                set_key=key,
                                message=message,
                            )
                        )
                case _:
                    log.warning("ignoring unknown analyser output %r", out)
        return events

    def _not_counted(self, active: _ActiveSet, out: analysis.RepNotCounted) -> QualityWarning:
        """A rep a sensor gap hid the end or start of, in words (set-relative times)."""
        from fusion.quality import rep_not_counted_message

        started_s = active.info.started_s
        gap_s = (out.gap_start_s - started_s, out.gap_end_s - started_s)
        span_s = (out.start_s - started_s, out.end_s - started_s)
        sensor = out.placement
        return QualityWarning(
            athlete_id=self.athlete_id,
            t_s=out.end_s,
            wall_utc=self.clock.to_utc(out.end_s),
            code=f"{sensor}_gap_hides_reps",
            set_key=active.info.set_key,
            placement=Placement(sensor),
            message=rep_not_counted_message(out.rep, sensor, gap_s, span_s),
        )

    def _decimate(self, active: _ActiveSet, angles: analysis.LiveAngles) -> list[GatewayEvent]:
        """One LiveAngles event per 1/live_angles_rate_hz of data time: of each bin not sent
        yet, its newest sample in this batch (the first one would be up to a bin older)."""
        # A few samples per packet: plain floats cost less than array operations here.
        times = np.asarray(angles.t_s, dtype=float).tolist()
        rate_hz = self.live_angles_rate_hz
        picks: list[int] = []
        next_bin = active.next_angles_bin
        for i, t_s in enumerate(times):
            bin_index = math.floor(t_s * rate_hz)
            if next_bin is None or bin_index >= next_bin:  # a bin not sent yet
                last_of_bin = i + 1 == len(times) or math.floor(times[i + 1] * rate_hz) != bin_index
                if last_of_bin:
                    picks.append(i)
                    next_bin = bin_index + 1
        if not picks:
            return []
        active.next_angles_bin = next_bin
        key = active.info.set_key
        return [
            LiveAngles(
                athlete_id=self.athlete_id,
                t_s=times[i],
                wall_utc=self.clock.to_utc(times[i]),
                set_key=key,
                set_t_s=times[i] - active.info.started_s,
                thigh_deg=float(angles.thigh_deg[i]),
                pelvic_tilt_deg=float(angles.pelvic_tilt_deg[i]),
                hip_flexion_deg=float(angles.hip_flexion_deg[i]),
            )
            for i in picks
        ]
