"""The live gateway: sources in, events out, raw samples to the sink.

    gateway = Gateway(settings, Assignments(from_the_database), sink=storage_sink)
    gateway.add_source(BleSource(...))        # or SimulatedSource / ReplaySource
    sub = gateway.bus.subscribe(athlete_id="alice")
    await gateway.run()                        # until gateway.request_stop() or cancelled

Per batch (in the event loop thread, no awaits): the sensor registry (`sensor_gateway.sensors`)
maps the sensor clock to the gateway clock, decides the gap to report and knows who wears the
sensor; while that athlete has a set running, the gateway hands
the raw samples to the sink and the mapped samples to the athlete's `AthletePipeline`;
its events go to the sink (all but LiveAngles) and to the pub/sub bus.

A rep a client has seen must survive a crash: a RepCompleted is published only once the sink
says it is stored (`on_stored`), and the set/rep events dispatched after it wait behind it,
so clients see them in order. Angles, wink onsets, depth-guard cues and sensor status never
wait (a phone beeps on them; a database outage must not freeze the live view).

While the sink says it cannot store (`storage_problem()`, checked every TICK_S), reps are
not held: the ones waiting and every new one are published at once with `stored=False`, and
again with `stored=True` once the sink has stored them (clients replace a rep by its
number), so the set's events (its stop included) reach clients. Each running set (and one
started meanwhile) gets a `storage_failing` QualityWarning saying what fails and what to do,
and a `storage_resumed` one once storing works again.

`start_set` / `stop_set_after_grace` / `assign_sensor` are what the HTTP API calls (from the
same loop); a stop with a grace keeps the samples timed before it that are still in transit
(at most `STOP_GRACE_S`), then finishes the set.
A failing sink, analyser or malformed batch is logged and counted, never raised into a
source: one bad sensor or set never stops the others.

Samples beyond any IMU's physical range (`fusion.pipeline.MAX_ABS_ACC_MPS2`,
`MAX_ABS_GYR_RADPS`: corrupt data or the wrong units, never motion) or not finite are dropped
at this edge, before the sink and the live analysis, which takes rows as they come (its
filters would turn one 1e30 into wrong angles for the rest of the set); the first of a sensor
in each set is said in a `sensor_out_of_range` warning and a log line, the rest are counted
(`GatewayStats.rejected_samples`). A protocol decoder already drops packets beyond its
sensor's narrower range (`SampleBatch.range_checked`, the BLE path); a replayed CSV, a
simulation or another source is checked here.
"""

from __future__ import annotations

import asyncio
import collections
import logging
import math
import threading
import time
import uuid
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

import numpy as np

from sensor_gateway.athlete_pipeline import (
    AnalyzerFactory,
    AthletePipeline,
    default_analyzer_factory,
    load_default_analyzer,
)
from sensor_gateway.config import Assignments, GatewaySettings, SensorAssignment
from sensor_gateway.dead_axes import DeadAxisFound, DeadAxisWatch
from sensor_gateway.discovery import DiscoveredSensor, DiscoveringSource
from sensor_gateway.errors import SetError
from sensor_gateway.events import (
    DepthCeilingNear,
    GatewayClock,
    GatewayEvent,
    LiveAngles,
    Placement,
    QualityWarning,
    RepCompleted,
    SensorStatusChanged,
    SetInfo,
    SetVariant,
    StopReason,
    WinkOnset,
)
from sensor_gateway.gaps import Gap
from sensor_gateway.health import SensorHealth, sensor_health
from sensor_gateway.mirrored_axes import MirroredAxisWatch
from sensor_gateway.motion import RecentMotion
from sensor_gateway.pubsub import EventBus
from sensor_gateway.readiness import Readiness, assess_readiness
from sensor_gateway.samples import (
    LinkState,
    SampleBatch,
    SampleSource,
    SensorKind,
    SensorStatus,
)
from sensor_gateway.sensors import SensorRegistry, SensorSnapshot, SensorState
from sensor_gateway.sink import GatewaySink, OnStored, RawSamples

if TYPE_CHECKING:
    from fusion.assessment import AssessmentCalibration
    from fusion.baseline import PersonalBaseline
    from fusion.live.depth_guard import DepthGuard
    from fusion.sensor_checks import DeadAxis, MirroredAxis

log = logging.getLogger(__name__)

TICK_S = 1.0  # how often idle sets and silent sensors are checked
# An assigned sensor that sends nothing for this long while its athlete records is said
# (`sensor_silent`): a BLE reconnect takes a second or two, a sensor off or out of range never.
SILENT_SENSOR_S = 3.0
# A requested stop waits this long at most (gateway clock) for the samples the sensors took
# before it and still in BLE transit (a packet or two: the clock mapping allows
# `max_latency_s`, 0.25 s), or less: until every sensor of the athlete has sent a sample
# timed after the stop. Then the live analysis finishes and SetStopped goes out.
STOP_GRACE_S = 0.3

# Published only once the sink has stored them (see the module docstring).
STORED_BEFORE_PUBLISHED: tuple[type[GatewayEvent], ...] = (RepCompleted,)
# Published at once even while a stored-first event waits: live, and not ordered with reps.
NEVER_WAIT: tuple[type[GatewayEvent], ...] = (
    LiveAngles,
    WinkOnset,
    DepthCeilingNear,
    SensorStatusChanged,
)


@dataclass
class _Unpublished:
    """An event waiting for the sink (`stored` False) or for one ahead of it to be stored.
    `shown`: published already, marked not stored (storage was failing)."""

    event: GatewayEvent
    stored: bool
    shown: bool = False


@dataclass
class _Stopping:
    """A set stopped by request, still taking the samples timed before its stop (`stop_s`)
    that are on their way, until every placement in `waiting` has sent one timed after it,
    a packet received after `stop_s + grace_s` or the grace's timer."""

    set_key: str
    reason: StopReason
    stop_s: float
    grace_s: float
    waiting: set[Placement]
    done: asyncio.Future[None] | None = None
    timer: asyncio.TimerHandle | None = None


@dataclass
class GatewayStats:
    batches: int = 0
    samples: int = 0
    bad_batches: int = 0
    rejected_samples: int = 0  # beyond any IMU's range or not finite: dropped at the edge
    unassigned_samples: int = 0
    sink_errors: int = 0
    processing_s: float = 0.0  # time spent inside on_batch
    events: dict[str, int] = field(default_factory=dict)


class Gateway:
    """Orchestrates sources, clock mapping, per-athlete pipelines, the bus and the sink."""

    def __init__(
        self,
        settings: GatewaySettings,
        assignments: Assignments | None = None,
        *,
        sink: GatewaySink | None = None,
        bus: EventBus | None = None,
        clock: GatewayClock | None = None,
        analyzer_factory: AnalyzerFactory = default_analyzer_factory,
    ) -> None:
        self.settings = settings
        self.registry = SensorRegistry(
            assignments if assignments is not None else Assignments(),
            default_rate_hz=settings.sample_rate_hz,
            max_latency_s=settings.max_latency_s,
        )
        self.sink = sink
        self.bus = bus or EventBus(default_max_queued=settings.max_queued_events)
        self.clock = clock or GatewayClock()
        self.analyzer_factory = analyzer_factory
        if analyzer_factory is default_analyzer_factory:
            load_default_analyzer()  # not at the first set start, in the middle of streaming
        from fusion.pipeline import MAX_ABS_ACC_MPS2, MAX_ABS_GYR_RADPS  # loaded with the core

        self._max_sq = (MAX_ABS_ACC_MPS2 * MAX_ABS_ACC_MPS2, MAX_ABS_GYR_RADPS * MAX_ABS_GYR_RADPS)
        # address -> the set (key, or None outside sets) its out-of-range samples were said in
        self._range_said: dict[str, str | None] = {}
        # address -> the set its silence was said in (until it sends again)
        self._silent_said: dict[str, str] = {}
        self.dead_axes = DeadAxisWatch()  # each sensor's last seconds of its set: a dead axis?
        self.mirrored_axes = MirroredAxisWatch()  # ... and a mirrored one?
        self.stats = GatewayStats()
        self.motion = RecentMotion()  # assigned sensors' last seconds, for the ready check
        self._sources: list[SampleSource] = []
        self._pipelines: dict[str, AthletePipeline] = {}
        self._stopping: dict[str, _Stopping] = {}  # athlete -> her set stopped, in its grace
        self._stop = asyncio.Event()
        self._running = False
        # Events held back until stored, in dispatch order; touched from the loop thread, or
        # under the lock when a sink reports from its own thread without a running loop.
        self._unpublished: collections.deque[_Unpublished] = collections.deque()
        self._unpublished_lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._loop_thread: int | None = None
        self._storage_problem: str | None = None  # the sink's, as last checked

    # -- running ---------------------------------------------------------------------------
    def add_source(self, source: SampleSource) -> None:
        if self._running:
            raise RuntimeError("add sources before run()")
        self._sources.append(source)

    def request_stop(self) -> None:
        self._stop.set()

    async def run(self, *, stop_when_sources_end: bool = False) -> None:
        """Stream every source until `request_stop()`, cancellation, or (optionally) their end.

        On the way out every running set is stopped (reason SHUTDOWN), the sink closed and
        every subscription ended.
        """
        self._running = True
        self._loop = asyncio.get_running_loop()
        self._loop_thread = threading.get_ident()
        source_tasks = [
            asyncio.create_task(self._run_source(src), name=f"source-{i}")
            for i, src in enumerate(self._sources)
        ]
        ticker = asyncio.create_task(self._tick(), name="gateway-ticker")
        stopper = asyncio.create_task(self._stop.wait(), name="gateway-stop")
        # Collected on the way out with the rest: a stop before the sources' end leaves it
        # holding their CancelledError, which asyncio would log as never retrieved.
        sources_end: list[asyncio.Future[Any]] = []
        try:
            if stop_when_sources_end and source_tasks:
                sources_end.append(asyncio.gather(*source_tasks))
                await asyncio.wait([stopper, *sources_end], return_when=asyncio.FIRST_COMPLETED)
            else:
                await stopper
        finally:
            for task in (*source_tasks, ticker, stopper):
                task.cancel()
            await asyncio.gather(
                *source_tasks, ticker, stopper, *sources_end, return_exceptions=True
            )
            self.shutdown()

    def shutdown(self) -> None:
        """Stop every set, close the sink and the bus (idempotent)."""
        now_s = self.clock.now_s()
        for athlete_id in list(self._stopping):
            self._end_grace(athlete_id)
        for athlete_id in list(self._pipelines):
            self._dispatch(self._pipelines[athlete_id].stop_set(StopReason.SHUTDOWN, now_s))
        if self.sink is not None and self._running:
            try:
                self.sink.close()
            except Exception:
                log.exception("closing the sink failed")
        self._running = False
        self._loop = None
        self._publish_held(everything=True)  # the sink has done all it can
        self.bus.close()

    async def _run_source(self, source: SampleSource) -> None:
        try:
            await source.run(self.on_batch, self.on_status)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("sample source %r stopped with an error", source)

    async def _tick(self) -> None:
        while True:
            await asyncio.sleep(TICK_S)
            now_s = self.clock.now_s()
            self.check_storage(now_s)
            for athlete_id, pipeline in list(self._pipelines.items()):
                if athlete_id not in self._stopping and pipeline.should_auto_stop(now_s):
                    self._dispatch(pipeline.stop_set(StopReason.IDLE, now_s))
            self.warn_silent_sensors(now_s)

    def warn_silent_sensors(self, now_s: float | None = None) -> None:
        """Say each assigned sensor that has sent nothing for SILENT_SENSOR_S while its
        athlete records a set (off, flat, out of range, never connected): a `sensor_silent`
        warning naming it and what to do, once per set until it sends again. Measured on the
        gateway clock, or the newest of the athlete's samples when a source runs ahead of it
        (a simulation as fast as possible)."""
        now_s = self.clock.now_s() if now_s is None else now_s
        for athlete_id, info in self.active_sets().items():
            assigned = self.assignments.for_athlete(athlete_id)
            sensors = {p: self.registry.seen(a.address) for p, a in assigned.items()}
            heard = {p: st.last_received_s if st else -math.inf for p, st in sensors.items()}
            at_s = max(now_s, *heard.values())
            for placement, st in sensors.items():
                address = assigned[placement].address
                silent_s = at_s - max(heard[placement], info.started_s)
                if silent_s <= SILENT_SENSOR_S:
                    if self._silent_said.pop(address, None) == info.set_key:
                        # on the same channel, so a phone drops that sensor's
                        # sensor_silent (and the set's findings say where it ended)
                        message = (
                            f"{placement.value} sensor ({address}) sends again: angles and "
                            "reps go on"
                        )
                        self._dispatch(
                            [
                                self._warning(
                                    athlete_id,
                                    info.set_key,
                                    at_s,
                                    "sensor_sending_again",
                                    message,
                                    placement,
                                )
                            ]
                        )
                    continue
                if self._silent_said.get(address) == info.set_key:
                    continue
                self._silent_said[address] = info.set_key
                others = [p for p in heard if p is not placement]
                streaming = [p for p in others if at_s - heard[p] <= SILENT_SENSOR_S]
                message = _silent_message(placement, address, st, silent_s, streaming, others)
                self._dispatch(
                    [
                        self._warning(
                            athlete_id, info.set_key, at_s, "sensor_silent", message, placement
                        )
                    ]
                )

    def check_storage(self, now_s: float | None = None) -> None:
        """Ask the sink whether it stores; when that changes, tell the running sets' clients
        (and stop or resume holding reps back). Called every TICK_S while running."""
        if self.sink is None:
            return
        try:
            problem = self.sink.storage_problem()
        except Exception:
            log.exception("could not ask the sink whether it stores")
            return
        if problem == self._storage_problem:
            return
        was, self._storage_problem = self._storage_problem, problem
        if problem is not None:
            self._release_unstored()
        now_s = self.clock.now_s() if now_s is None else now_s
        for athlete_id, info in self.active_sets().items():
            if problem is not None:
                self._dispatch([self._storage_warning(athlete_id, info, problem, now_s)])
            elif was is not None:
                self._dispatch([self._storage_resumed(athlete_id, info, now_s)])

    def _warning(
        self,
        athlete_id: str,
        set_key: str,
        at_s: float,
        code: str,
        message: str,
        placement: Placement | None = None,
    ) -> QualityWarning:
        """A QualityWarning of set `set_key` at `at_s` (gateway clock)."""
        return QualityWarning(
            athlete_id=athlete_id,
            t_s=at_s,
            wall_utc=self.clock.to_utc(at_s),
            code=code,
            set_key=set_key,
            placement=placement,
            message=message,
        )

    def _storage_warning(
        self, athlete_id: str, info: SetInfo, problem: str, now_s: float
    ) -> QualityWarning:
        message = f"Not stored: {problem}. Reps are still shown, marked not stored until they are"
        return self._warning(athlete_id, info.set_key, now_s, "storage_failing", message)

    def _storage_resumed(self, athlete_id: str, info: SetInfo, now_s: float) -> QualityWarning:
        message = (
            "Storing again: the reps and samples kept meanwhile are being stored (GET "
            "/health counts any raw samples lost while storing failed)"
        )
        return self._warning(athlete_id, info.set_key, now_s, "storage_resumed", message)

    def _release_unstored(self) -> None:
        """Storage fails: publish every held event now, the reps marked not stored."""
        with self._unpublished_lock:
            held = list(self._unpublished)
            self._unpublished.clear()
        for entry in held:
            if entry.stored:
                self.bus.publish(entry.event)
            else:
                entry.shown = True
                self.bus.publish(_marked(entry.event, stored=False))

    # -- sets (called by the HTTP API / CLI) -----------------------------------------------
    def start_set(
        self,
        athlete_id: str,
        variant: SetVariant | str = SetVariant.BACK_SQUAT,
        load_kg: float | None = None,
        notes: str = "",
        *,
        now_s: float | None = None,
        baseline: PersonalBaseline | None = None,
        calibration: AssessmentCalibration | None = None,
        depth_guard: DepthGuard | None = None,
        planned: SetInfo | None = None,
    ) -> SetInfo:
        """Start a set for `athlete_id` (a running one is stopped first). Raises SetError.

        `planned`: the set as `plan_set` made it (its key and start time), which the caller
        has stored already: it is started as it is, the checks `plan_set` made not repeated,
        so that nothing can refuse it once the set it replaces is stopped.

        `baseline`: the athlete's personal noise floor (fusion.baseline), for the flag threshold.
        `calibration`: a stored sensor-to-segment calibration (an assessment's, from its
        baseline) for the live analyser, instead of calibrating on the fly; a quadruped
        rock-back is analysed live only with one.
        `depth_guard`: the athlete's prescribed depth ceiling and cue margin; loaded squat sets
        then emit `DepthCeilingNear` before the thigh reaches it.
        """
        if planned is None:
            planned = self.plan_set(athlete_id, variant, load_kg, notes, now_s=now_s)
        elif planned.athlete_id != athlete_id:
            raise SetError(f"set {planned.set_key} was planned for athlete {planned.athlete_id!r}")
        placements = self.assignments.for_athlete(athlete_id)
        now_s = planned.started_s
        self._end_grace(athlete_id)  # the set before ends as it was stopped, then this starts
        pipeline = self._pipeline(athlete_id)
        events = pipeline.start_set(
            planned.variant,
            planned.load_kg,
            now_s,
            planned.notes,
            baseline=baseline,
            calibration=calibration,
            depth_guard=depth_guard,
            info=planned,
        )
        info = pipeline.current_set
        assert info is not None
        missing = [p.value for p in Placement if p not in placements]
        if missing:
            message = (
                f"no {' or '.join(missing)} sensor assigned to this athlete: "
                "angles and reps need both; raw samples are still recorded"
            )
            events.append(
                self._warning(athlete_id, info.set_key, now_s, "sensor_unassigned", message)
            )
        if self._storage_problem is not None:
            events.append(self._storage_warning(athlete_id, info, self._storage_problem, now_s))
        self._dispatch(events)
        return info

    def plan_set(
        self,
        athlete_id: str,
        variant: SetVariant | str = SetVariant.BACK_SQUAT,
        load_kg: float | None = None,
        notes: str = "",
        *,
        now_s: float | None = None,
    ) -> SetInfo:
        """The set `start_set` would start now (a new key, this instant as its start), checked
        as `start_set` checks it, but nothing started or stopped: the API stores it first and
        then starts it (`start_set(..., planned=...)`), so that a set that cannot be stored
        leaves the running one recording. Raises SetError."""
        if not self.assignments.for_athlete(athlete_id):
            raise SetError(
                f"athlete {athlete_id!r} has no sensors assigned: assign a sacrum and "
                "a thigh sensor first"
            )
        try:
            variant = SetVariant(variant)
        except ValueError:
            names = ", ".join(v.value for v in SetVariant)
            raise SetError(f"unknown set variant {variant!r}; use one of: {names}") from None
        if load_kg is not None and not (math.isfinite(load_kg) and load_kg >= 0):
            raise SetError(f"load_kg must be a non-negative number, got {load_kg!r}")
        now_s = self.clock.now_s() if now_s is None else now_s
        return SetInfo(
            set_key=uuid.uuid4().hex,
            athlete_id=athlete_id,
            variant=variant,
            load_kg=load_kg,
            started_s=now_s,
            started_utc=self.clock.to_utc(now_s),
            notes=notes,
        )

    def stop_set(
        self,
        athlete_id: str,
        reason: StopReason = StopReason.REQUESTED,
        *,
        now_s: float | None = None,
        grace_s: float = 0.0,
    ) -> SetInfo | None:
        """Stop `athlete_id`'s running set; returns it, or None when none was running.

        `grace_s` > 0 (the API's stop, `stop_set_after_grace`): the samples the sensors took
        before the stop instant (`now_s`) and still on their way are stored and analysed
        for at most `grace_s` on the gateway clock, or until every sensor of the athlete
        has sent one timed after the stop; samples timed after it are not the set's. Only
        then the live analysis finishes (its last rep) and SetStopped goes out. Without a
        running event loop (nothing could end the grace) the set stops at once."""
        pipeline = self._pipelines.get(athlete_id)
        if pipeline is None or pipeline.current_set is None:
            return None
        info = pipeline.current_set
        if athlete_id in self._stopping:
            return info  # stopped already, in its grace: it ends as first asked
        now_s = self.clock.now_s() if now_s is None else now_s
        loop = _running_loop()
        if grace_s <= 0 or loop is None:
            self._dispatch(pipeline.stop_set(reason, now_s))
            return info
        waiting = set(self.assignments.for_athlete(athlete_id))
        stopping = _Stopping(info.set_key, reason, now_s, grace_s, waiting, loop.create_future())
        stopping.timer = loop.call_later(grace_s, self._end_grace, athlete_id, stopping)
        self._stopping[athlete_id] = stopping
        return info

    async def stop_set_after_grace(
        self,
        athlete_id: str,
        reason: StopReason = StopReason.REQUESTED,
        *,
        now_s: float | None = None,
        grace_s: float = STOP_GRACE_S,
    ) -> SetInfo | None:
        """`stop_set` with a grace for the samples in transit, returning once the set has
        stopped (at most ~`grace_s` later): its last rep and SetStopped dispatched."""
        info = self.stop_set(athlete_id, reason, now_s=now_s, grace_s=grace_s)
        stopping = self._stopping.get(athlete_id)
        if stopping is not None and stopping.done is not None:
            await asyncio.shield(stopping.done)
        return info

    def _end_grace(self, athlete_id: str, stopping: _Stopping | None = None) -> None:
        """End the grace of `athlete_id`'s stopped set (`stopping`: only if it is that one):
        its live analysis finishes and SetStopped goes out, at the stop's instant."""
        current = self._stopping.get(athlete_id)
        if current is None or (stopping is not None and current is not stopping):
            return
        del self._stopping[athlete_id]
        if current.timer is not None:
            current.timer.cancel()
        pipeline = self._pipelines.get(athlete_id)
        try:
            if pipeline is not None and pipeline.current_set is not None:
                if pipeline.current_set.set_key == current.set_key:
                    self._dispatch(pipeline.stop_set(current.reason, current.stop_s))
        finally:
            if current.done is not None and not current.done.done():
                current.done.set_result(None)

    def set_load(self, set_key: str, load_kg: float | None) -> bool:
        """Give set `set_key` the load `load_kg` for the reps it completes from now on (and
        its SetStopped), while it records or is stopped and in its grace: the reps finished
        in the grace are still to come. False when it is neither (not here, or finished)."""
        for pipeline in self._pipelines.values():
            if pipeline.current_set is not None and pipeline.current_set.set_key == set_key:
                pipeline.set_load(load_kg)
                return True
        return False

    def active_sets(self) -> dict[str, SetInfo]:
        """The sets recording (not those stopped and in their grace)."""
        return {
            a: p.current_set
            for a, p in self._pipelines.items()
            if p.current_set is not None and a not in self._stopping
        }

    def rep_count(self, athlete_id: str) -> int:
        pipeline = self._pipelines.get(athlete_id)
        return pipeline.rep_count if pipeline else 0

    # -- sensors (called by the HTTP API / CLI) --------------------------------------------
    @property
    def assignments(self) -> Assignments:
        """Who wears which sensor, as the owner of the assignments (the API) last said."""
        return self.registry.assignments

    def assign_sensor(
        self,
        address: str,
        kind: SensorKind | str,
        athlete_id: str,
        placement: Placement | str,
        *,
        rate_hz: int | None = None,
    ) -> SensorAssignment:
        """Assign a sensor; takes effect at once (its next batch; a BLE source connects a
        newly assigned sensor without a restart). Raises ConfigError."""
        return self.registry.assign(address, kind, athlete_id, placement, rate_hz=rate_hz)

    def unassign_sensor(self, address: str) -> bool:
        self.motion.forget(address)
        self.dead_axes.forget(address)
        self.mirrored_axes.forget(address)
        return self.registry.unassign(address)

    def replace_assignments(self, assignments: list[SensorAssignment]) -> None:
        """Replace every assignment at once (the database's, at start)."""
        self.registry.replace(assignments)

    def sensor_health(self, snapshot: SensorSnapshot) -> SensorHealth:
        """The sensor's health now in words: good / check / bad (`sensor_gateway.health`)."""
        return sensor_health(snapshot, self.clock.now_s())

    def readiness(self, athlete_id: str, *, now_s: float | None = None) -> Readiness:
        """Is `athlete_id` ready for a set: both sensors streaming and healthy, still now, and
        in place on the last squat (`sensor_gateway.readiness`)."""
        return assess_readiness(
            athlete_id,
            self.assignments.for_athlete(athlete_id),
            self.registry.snapshots(),
            self.motion,
            self.clock.now_s() if now_s is None else now_s,
        )

    def sensors(self) -> list[SensorSnapshot]:
        """Every sensor seen or assigned, with its link state and counters."""
        return self.registry.snapshots()

    async def discover(self, timeout_s: float) -> list[DiscoveredSensor]:
        """Sensors the sources hear within `timeout_s` (for pairing), strongest first. Raises
        SetError when no source can look for sensors, the source's GatewayError if it fails."""
        finders = [s for s in self._sources if isinstance(s, DiscoveringSource)]
        if not finders:
            raise SetError(
                "no sensor source of this gateway can look for sensors (a replay cannot)"
            )
        found: dict[str, DiscoveredSensor] = {}
        for batch in await asyncio.gather(*(f.discover(timeout_s) for f in finders)):
            for sensor in batch:
                found[sensor.address] = sensor
        return sorted(
            found.values(),
            key=lambda s: (-(s.rssi_dbm if s.rssi_dbm is not None else -999), s.address),
        )

    # -- source callbacks ------------------------------------------------------------------
    def on_batch(self, batch: SampleBatch) -> None:
        """Handle one batch from a source. Never raises."""
        started = time.perf_counter()
        try:
            self._handle_batch(batch)
        except Exception:
            self.stats.bad_batches += 1
            log.exception("dropped a batch from %s", getattr(batch, "address", "?"))
        finally:
            self.stats.processing_s += time.perf_counter() - started

    def on_status(self, status: SensorStatus) -> None:
        """Handle a link change from a source. Never raises."""
        try:
            self._handle_status(status)
        except Exception:
            log.exception("could not handle status %r", status)

    # -- internals -------------------------------------------------------------------------
    def _handle_batch(self, batch: SampleBatch) -> None:
        acc = np.asarray(batch.acc_mps2, dtype=float)
        gyr = np.asarray(batch.gyr_radps, dtype=float)
        n = acc.shape[0] if acc.ndim == 2 else -1
        sensor_s = None if batch.sensor_time_s is None else np.asarray(batch.sensor_time_s, float)
        if (
            n < 1
            or acc.shape != (n, 3)
            or gyr.shape != (n, 3)
            or not math.isfinite(batch.received_s)
            or (sensor_s is not None and sensor_s.shape != (n,))
        ):
            raise ValueError(f"malformed batch: acc {acc.shape}, gyr {gyr.shape}")
        seen = self.registry.batch(batch, n)
        st, mapped, gap = seen.sensor, seen.mapped, seen.gap
        sensor_s = mapped.sensor_time_s  # one clock across the sensor's connections
        self.stats.batches += 1
        self.stats.samples += n
        a = st.assignment
        if gap is not None:
            self._report_gap(st, gap, f"{gap.missing_text} lost ({gap.reason})")
        if a is None:
            self.stats.unassigned_samples += n
            return
        t_s = mapped.t_s
        # A decoded packet was checked against its sensor's narrower range (the BLE path: no
        # second check). Else a sum of squares within the limit's square bounds every value,
        # and is not finite (or NaN, which fails the comparison) when one value is not.
        acc_sq, gyr_sq = self._max_sq
        if not batch.range_checked and not (
            np.vdot(acc, acc) <= acc_sq and np.vdot(gyr, gyr) <= gyr_sq
        ):
            keep = self._in_range(st, batch, acc, gyr, t_s)
            if keep is not None:
                acc, gyr, t_s = acc[keep], gyr[keep], t_s[keep]
                sensor_s = None if sensor_s is None else sensor_s[keep]
                n = t_s.size
                if n == 0:
                    return
        self.motion.add(st.address, t_s, gyr)
        pipeline = self._pipelines.get(a.athlete_id)
        info = pipeline.current_set if pipeline else None
        if pipeline is None or info is None:
            return
        stopping = self._stopping.get(a.athlete_id)
        if stopping is None:
            self._set_samples(pipeline, info, st, a.placement, batch, acc, gyr, t_s, sensor_s)
            if pipeline.should_auto_stop():
                self._dispatch(pipeline.stop_set(StopReason.IDLE, float(mapped.t_s[-1])))
            return
        # Stopped, in its grace: the samples timed before the stop are the set's.
        if batch.received_s > stopping.stop_s + stopping.grace_s:
            self._end_grace(a.athlete_id, stopping)
            return
        if t_s[-1] > stopping.stop_s:  # this sensor's stream has passed the stop
            stopping.waiting.discard(a.placement)
            before = t_s <= stopping.stop_s
            acc, gyr, t_s = acc[before], gyr[before], t_s[before]
            sensor_s = None if sensor_s is None else sensor_s[before]
        if t_s.size:
            self._set_samples(pipeline, info, st, a.placement, batch, acc, gyr, t_s, sensor_s)
        if not stopping.waiting:
            self._end_grace(a.athlete_id, stopping)

    def _set_samples(
        self,
        pipeline: AthletePipeline,
        info: SetInfo,
        st: SensorState,
        placement: Placement,
        batch: SampleBatch,
        acc: np.ndarray,
        gyr: np.ndarray,
        t_s: np.ndarray,
        sensor_s: np.ndarray | None,
    ) -> None:
        """Store a set's raw samples and analyse them."""
        n = t_s.size
        self._write_samples(
            RawSamples(
                set_key=info.set_key,
                athlete_id=info.athlete_id,
                placement=placement,
                address=st.address,
                kind=st.kind,
                t_s=t_s,
                acc_mps2=acc,
                gyr_radps=gyr,
                received_s=_repeated(batch.received_s, n),
                sensor_time_s=sensor_s,
                seq=batch.seq,
            )
        )
        self._dispatch(pipeline.push(placement, t_s, acc, gyr))
        found = self.dead_axes.add(st.address, info.set_key, t_s, acc, gyr)
        if found is not None:
            self._dead_axis(pipeline, info, st.address, placement, found, float(t_s[-1]))
        mirrored = self.mirrored_axes.add(st.address, info.set_key, t_s, acc, gyr)
        if mirrored is not None:
            self._mirrored_axis(pipeline, info, st.address, placement, mirrored, float(t_s[-1]))

    def _dead_axis(
        self,
        pipeline: AthletePipeline,
        info: SetInfo,
        address: str,
        placement: Placement,
        found: DeadAxisFound,
        at_s: float,
    ) -> None:
        """Say a dead axis found at `at_s` (a `sensor_dead_axis` warning), and mark the set's
        reps measured since the axis stuck, those stored already included (corrected reps)."""
        rep_code = f"{placement.value}_dead_axis"
        since_set_s = max(found.since_s - info.started_s, 0.0)
        message = _dead_axis_message(placement, address, found.dead, since_set_s, rep_code)
        self._sensor_fault(
            pipeline,
            info,
            placement,
            at_s,
            code="sensor_dead_axis",
            message=message,
            rep_code=rep_code,
            since_s=found.since_s,
        )

    def _mirrored_axis(
        self,
        pipeline: AthletePipeline,
        info: SetInfo,
        address: str,
        placement: Placement,
        mirrored: MirroredAxis,
        at_s: float,
    ) -> None:
        """Say a mirrored axis found at `at_s` (a `sensor_mirrored_axis` warning), and mark
        every rep of the set, those stored already included (corrected reps): a sensor's axis
        configuration holds from its start."""
        rep_code = f"{placement.value}_mirrored_axis"
        message = _mirrored_axis_message(placement, address, mirrored, rep_code)
        self._sensor_fault(
            pipeline,
            info,
            placement,
            at_s,
            code="sensor_mirrored_axis",
            message=message,
            rep_code=rep_code,
            since_s=info.started_s,
        )

    def _sensor_fault(
        self,
        pipeline: AthletePipeline,
        info: SetInfo,
        placement: Placement,
        at_s: float,
        *,
        code: str,
        message: str,
        rep_code: str,
        since_s: float,
    ) -> None:
        """Say a sensor fault of the running set found at `at_s` (gateway clock): a warning
        `code` with `message`, logged and published, and the set's reps measured since `since_s`
        (gateway clock) carry `rep_code`, those published already coming again as corrections
        (`AthletePipeline.mark_reps_since`)."""
        log.warning("athlete %s: %s", info.athlete_id, message)
        self._dispatch(
            [self._warning(info.athlete_id, info.set_key, at_s, code, message, placement)]
        )
        self._dispatch(pipeline.mark_reps_since(rep_code, since_s))

    def _in_range(
        self, st: SensorState, batch: SampleBatch, acc: np.ndarray, gyr: np.ndarray, t_s: np.ndarray
    ) -> np.ndarray | None:
        """The rows of a batch to keep (None: all of them) when the quick check failed; the
        first such samples of a sensor in a set are said (warning and log line)."""
        from fusion.pipeline import MAX_ABS_ACC_MPS2, MAX_ABS_GYR_RADPS

        with np.errstate(invalid="ignore"):
            keep: np.ndarray = (np.abs(acc) <= MAX_ABS_ACC_MPS2).all(axis=1) & (
                np.abs(gyr) <= MAX_ABS_GYR_RADPS
            ).all(axis=1)
        dropped = int(keep.size - np.count_nonzero(keep))
        if not dropped:
            return None  # many values near the limit: within it after all
        self.stats.rejected_samples += dropped
        a = st.assignment
        assert a is not None
        pipeline = self._pipelines.get(a.athlete_id)
        info = pipeline.current_set if pipeline else None
        set_key = info.set_key if info else None
        if st.address in self._range_said and self._range_said[st.address] == set_key:
            return keep
        self._range_said[st.address] = set_key
        bad = ~keep
        found = [
            _worst(values[bad], name, unit, limit)
            for values, name, unit, limit in (
                (acc, "acceleration", "m/s^2", MAX_ABS_ACC_MPS2),
                (gyr, "angular rate", "rad/s", MAX_ABS_GYR_RADPS),
            )
        ]
        message = (
            f"{a.placement.value} sensor sent samples beyond any IMU's physical range or not "
            f"finite ({'; '.join(f for f in found if f)}): they are dropped and the set goes on "
            "without them. Such values are corrupt data or not in m/s^2 and rad/s: check the "
            "sensor's units, or the recording replayed"
        )
        log.warning(
            "sensor %s (%s of athlete %s): %d of %d samples dropped: %s",
            st.address,
            a.placement.value,
            a.athlete_id,
            dropped,
            keep.size,
            message,
        )
        if info is not None:
            first = int(np.flatnonzero(bad)[0])
            at_s = float(t_s[first]) if math.isfinite(t_s[first]) else batch.received_s
            code = "sensor_out_of_range"
            self._dispatch(
                [self._warning(a.athlete_id, info.set_key, at_s, code, message, a.placement)]
            )
        return keep

    def _handle_status(self, status: SensorStatus) -> None:
        st, gap = self.registry.status(status)
        self._publish_status(st, status.detail, gap, at_s=status.at_s)
        if gap is not None:
            self._mark_gap(st, gap)

    def _report_gap(self, st: SensorState, gap: Gap, detail: str) -> None:
        self._publish_status(st, detail, gap, at_s=gap.end_s)
        self._mark_gap(st, gap)

    def _mark_gap(self, st: SensorState, gap: Gap) -> None:
        if st.assignment is not None:
            pipeline = self._pipelines.get(st.assignment.athlete_id)
            if pipeline is not None:
                self._dispatch(pipeline.mark_gap(st.assignment.placement, gap))

    def _publish_status(
        self, st: SensorState, detail: str, gap: Gap | None, *, at_s: float
    ) -> None:
        a = st.assignment
        self._dispatch(
            [
                SensorStatusChanged(
                    athlete_id=a.athlete_id if a else None,
                    t_s=at_s,
                    wall_utc=self.clock.to_utc(at_s),
                    address=st.address,
                    kind=st.kind,
                    placement=a.placement if a else None,
                    state=st.state,
                    battery_pct=st.battery_pct,
                    rssi_dbm=st.rssi_dbm,
                    detail=detail,
                    gap=gap,
                )
            ]
        )

    def _pipeline(self, athlete_id: str) -> AthletePipeline:
        pipeline = self._pipelines.get(athlete_id)
        if pipeline is None:
            pipeline = AthletePipeline(
                athlete_id,
                self.clock,
                live_angles_rate_hz=self.settings.live_angles_rate_hz,
                idle_stop_s=self.settings.idle_stop_s,
                analyzer_factory=self.analyzer_factory,
            )
            self._pipelines[athlete_id] = pipeline
        return pipeline

    def _write_samples(self, samples: RawSamples) -> None:
        if self.sink is None:
            return
        try:
            self.sink.write_samples(samples)
        except Exception:
            self.stats.sink_errors += 1
            log.exception("the sink refused %d samples of %s", len(samples), samples.address)

    def _dispatch(self, events: list[GatewayEvent]) -> None:
        for event in events:
            name = type(event).__name__
            self.stats.events[name] = self.stats.events.get(name, 0) + 1
            entry = None
            if self.sink is not None and isinstance(event, STORED_BEFORE_PUBLISHED):
                entry = _Unpublished(event, stored=False)
                if self._storage_problem is not None and not self._unpublished:
                    entry.shown = True  # storage fails: shown now, marked, and again once stored
                    self.bus.publish(_marked(event, stored=False))
            elif self._unpublished and not isinstance(event, NEVER_WAIT):
                entry = _Unpublished(event, stored=True)  # keeps its place behind a rep
            if entry is not None and not entry.shown:
                with self._unpublished_lock:
                    self._unpublished.append(entry)
            if self.sink is not None and not isinstance(event, LiveAngles):
                try:
                    if entry is not None and not entry.stored:
                        self.sink.record_event(event, on_stored=self._stored_callback(entry))
                    else:
                        self.sink.record_event(event)
                except Exception:
                    self.stats.sink_errors += 1
                    log.exception("the sink refused event %s", name)
                    if entry is not None and not entry.stored:
                        self._mark_stored(entry, False)  # it never will be: do not hold it
            if entry is None:
                self.bus.publish(event)
            elif not entry.shown:
                self._publish_held()

    def _stored_callback(self, entry: _Unpublished) -> OnStored:
        def on_stored(stored: bool) -> None:
            loop = self._loop
            if loop is None or threading.get_ident() == self._loop_thread:
                self._mark_stored(entry, stored)
                return
            try:
                loop.call_soon_threadsafe(self._mark_stored, entry, stored)
            except RuntimeError:  # the loop has closed: shutdown publishes what is left
                entry.stored = True

        return on_stored

    def _mark_stored(self, entry: _Unpublished, stored: bool) -> None:
        if entry.shown:  # published marked not stored: now it is (or never will be)
            entry.stored = True
            if stored:
                self.bus.publish(_marked(entry.event, stored=True))
            return
        if not stored:
            entry.event = _marked(entry.event, stored=False)
        entry.stored = True
        self._publish_held()

    def _publish_held(self, *, everything: bool = False) -> None:
        """Publish the held events from the front that are stored (all of them at shutdown)."""
        while True:
            with self._unpublished_lock:
                if not self._unpublished or not (everything or self._unpublished[0].stored):
                    return
                event = self._unpublished.popleft().event
            self.bus.publish(event)


_LINK_WORDS = {
    LinkState.STREAMING: "connected, but no samples",
    LinkState.CONNECTING: "not connected",
    LinkState.SCANNING: "not connected",
    LinkState.DISCONNECTED: "link lost, reconnecting",
    LinkState.GONE: "link given up",
}


def _dead_axis_message(
    placement: Placement, address: str, dead: DeadAxis, since_set_s: float, rep_code: str
) -> str:
    """What a dead axis's warning says: which sensor and axis, since when (s into the set),
    how its reps are marked, and what to do."""
    return (
        f"{placement.value} sensor ({address}): the {dead.description}, so this sensor's "
        "angles, and the reps and winks measured from them, are wrong. It has read that value "
        f"since {since_set_s:.1f} s into the set: the reps measured since then, and the later "
        f"ones of this set, are marked {rep_code}. Power-cycle the sensor (switch it off and on "
        "again) and record the set again; if the axis stays dead, replace the sensor"
    )


def _mirrored_axis_message(
    placement: Placement, address: str, mirrored: MirroredAxis, rep_code: str
) -> str:
    """What a mirrored axis's warning says: the offline check's message (which sensor, which
    axis and instrument, what to do), which sensor address, and how the set's reps are marked."""
    return (
        f"{mirrored.message(placement.value)} (sensor {address}). The reps of this set, those "
        f"shown already and the later ones, are marked {rep_code}"
    )


def _silent_message(
    placement: Placement,
    address: str,
    st: SensorState | None,
    silent_s: float,
    streaming: list[Placement],
    others: list[Placement],
) -> str:
    """What a silent sensor's warning says: which one, since when, and what to do."""
    link = "never heard from" if st is None else _LINK_WORDS.get(st.state, st.state.value)
    if st is None or st.samples == 0:
        since = f"nothing since the set started {silent_s:.0f} s ago ({link})"
    else:
        since = f"nothing for {silent_s:.0f} s ({link})"
    if streaming:
        besides = f" while the {' and '.join(p.value for p in streaming)} sensor streams"
    elif others:
        besides = f", and the {' and '.join(p.value for p in others)} sensor neither"
    else:
        besides = ""
    return (
        f"{placement.value} sensor ({address}) has sent {since}{besides}: angles and reps need "
        "both sensors, so no reps are counted until it is back; check that it is switched on, "
        "charged and within range of the gateway"
    )


def _marked(event: GatewayEvent, *, stored: bool) -> GatewayEvent:
    """A rep as published with whether the sink has stored it (other events as they are)."""
    return replace(event, stored=stored) if isinstance(event, RepCompleted) else event


def _worst(values: np.ndarray, name: str, unit: str, limit: float) -> str:
    """What of `values` is beyond `limit` or not finite, in words ('' when nothing is)."""
    with np.errstate(invalid="ignore"):
        beyond = values[~(np.abs(values) <= limit)]
    finite = beyond[np.isfinite(beyond)]
    words = (
        [f"|{name}| {np.abs(finite).max():.3g} {unit}, limit {limit:.0f}"] if finite.size else []
    )
    if finite.size < beyond.size:
        words.append(f"an {name} of {beyond[~np.isfinite(beyond)][0]}")
    return "; ".join(words)


def _running_loop() -> asyncio.AbstractEventLoop | None:
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None


def _repeated(value: float, n: int) -> np.ndarray:
    """`np.full(n, value)` without its Python-level overhead (one per packet)."""
    out = np.empty(n)
    out.fill(value)
    return out
