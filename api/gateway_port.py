"""The API's port to the live gateway: `GatewayPort` (what the API needs from it, typed) and
`LiveService` (storage composed with it: what the HTTP routes call to act on sets and sensors).

The gateway (sensor_gateway) knows athletes by a string key: the database id as a string.
Who wears which sensor is the database's (api.sensor_assignments): the gateway is told. Without a gateway (create_app(..., gateway=None)) sets are still
started and stopped in the database, so the API and its tests work with no sensors.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

from starlette.concurrency import run_in_threadpool

from api import sensor_assignments
from api.errors import ConflictError, StorageError
from api.live_fanout import LiveFanout
from api.storage import baselines, catalog
from api.storage import sets as set_store
from api.storage.db import Database
from api.storage.models import Athlete, ExerciseSet, Sensor
from api.storage.recorder import DatabaseSink
from api.vocab import Placement, SetStatus, SetVariant
from fusion.baseline import PersonalBaseline
from sensor_gateway.config import SensorAssignment
from sensor_gateway.discovery import DiscoveredSensor
from sensor_gateway.errors import GatewayError
from sensor_gateway.events import SetInfo
from sensor_gateway.health import SensorHealth
from sensor_gateway.pubsub import EventBus
from sensor_gateway.readiness import Readiness
from sensor_gateway.samples import SensorKind
from sensor_gateway.sensors import SensorSnapshot

if TYPE_CHECKING:
    from fusion.assessment import AssessmentCalibration
    from fusion.live.depth_guard import DepthGuard

log = logging.getLogger(__name__)


class GatewayPort(Protocol):
    """What the API needs from the running gateway (sensor_gateway.gateway.Gateway)."""

    @property
    def bus(self) -> EventBus: ...

    def start_set(
        self,
        athlete_id: str,
        variant: SetVariant,
        load_kg: float | None = None,
        notes: str = "",
        *,
        baseline: PersonalBaseline | None = None,
        calibration: AssessmentCalibration | None = None,
        depth_guard: DepthGuard | None = None,
        planned: SetInfo | None = None,
    ) -> SetInfo: ...

    def plan_set(
        self, athlete_id: str, variant: SetVariant, load_kg: float | None = None, notes: str = ""
    ) -> SetInfo: ...

    def stop_set(self, athlete_id: str) -> SetInfo | None: ...

    async def stop_set_after_grace(self, athlete_id: str) -> SetInfo | None: ...

    def set_load(self, set_key: str, load_kg: float | None) -> bool: ...

    def sensors(self) -> list[SensorSnapshot]: ...

    def sensor_health(self, snapshot: SensorSnapshot) -> SensorHealth: ...

    def readiness(self, athlete_id: str) -> Readiness: ...

    def active_sets(self) -> dict[str, SetInfo]: ...

    def assign_sensor(
        self, address: str, kind: SensorKind, athlete_id: str, placement: Placement
    ) -> SensorAssignment: ...

    def unassign_sensor(self, address: str) -> bool: ...

    async def discover(self, timeout_s: float) -> list[DiscoveredSensor]: ...


@dataclass
class LiveService:
    database: Database
    gateway_id: str
    gateway: GatewayPort | None = None
    sink: DatabaseSink | None = None
    live_fanout: LiveFanout | None = None  # the gateway's events for stream clients
    # Asked before a sensor (by address) is paired here; raises ConflictError to refuse. An
    # edge of many gateways asks the central server whether another one streams it.
    pairing_check: Callable[[str], Awaitable[None]] | None = None
    # One start or correction of a set at a time, in the order they came: the gateway and
    # the database then end on the same set and load (a correction of a set being started
    # waits until the gateway runs it).
    _changing_sets: asyncio.Lock = field(default_factory=asyncio.Lock, repr=False)

    # -- sensors seen by the gateway -------------------------------------------------------------
    def sensor_snapshots(self) -> list[SensorSnapshot]:
        """The gateway's view of every sensor (link state, battery, gaps, drift); [] without one."""
        return list(self.gateway.sensors()) if self.gateway is not None else []

    def sensor_snapshots_with_health(self) -> list[tuple[SensorSnapshot, SensorHealth | None]]:
        """Each sensor with its health in words (sensor_gateway.health)."""
        gateway = self.gateway
        return [
            (s, None if gateway is None else gateway.sensor_health(s))
            for s in self.sensor_snapshots()
        ]

    # -- sets ---------------------------------------------------------------------------------
    async def start_set(
        self,
        athlete_id: int,
        variant: SetVariant,
        load_kg: float | None,
        notes: str,
        session_id: int | None,
        calibration: AssessmentCalibration | None = None,
        *,
        override_missing_sensors: bool = False,
        replace_recording: bool = True,
    ) -> int:
        """Start recording a set; with a gateway, it starts analysing the athlete's sensors
        (with `calibration`, an assessment's, instead of calibrating on the fly).

        ConflictError (409) with advice when an assigned sensor is not streaming, unless
        `override_missing_sensors`: the set is then marked with the sensors it lacks. A set
        the athlete records on this gateway is stopped first if `replace_recording`, else
        ConflictError says which (on another gateway: always ConflictError)."""
        if self.gateway is None or self.sink is None:
            return await run_in_threadpool(
                self._start_without_gateway, athlete_id, variant, load_kg, notes, session_id
            )
        baseline = await run_in_threadpool(self._check_can_start, athlete_id, session_id)
        missing = self._missing_sensors(athlete_id)
        if missing and not override_missing_sensors:
            raise ConflictError(
                f"not started: {self.gateway.readiness(str(athlete_id)).advice} "
                "(override_missing_sensors: true)"
            )
        depth_guard = await run_in_threadpool(self._depth_guard, athlete_id)
        async with self._changing_sets:  # one at a time: checked, stored, started in turn
            recording = self.gateway.active_sets().get(str(athlete_id))
            if recording is not None and not replace_recording:
                raise ConflictError(await run_in_threadpool(self._recording_message, recording))
            try:
                planned = self.gateway.plan_set(
                    str(athlete_id), SetVariant(variant), load_kg, notes
                )
            except GatewayError as exc:
                raise ConflictError(str(exc)) from exc
            # Stored before the gateway starts it: a set the database cannot take (503, 404 for
            # an athlete deleted meanwhile, 409 for another gateway's set) is refused with
            # nothing changed, the set it would replace still recording. The replaced set's row
            # is completed in the same transaction (set_store.start_set's close_running).
            set_id = await run_in_threadpool(
                self.sink.ensure_set, planned, session_id, missing_sensors=missing
            )
            self.gateway.start_set(
                str(athlete_id),
                planned.variant,
                load_kg,
                notes,
                baseline=baseline,
                calibration=calibration,
                depth_guard=depth_guard,
                planned=planned,
            )
            return set_id

    def _recording_message(self, recording: SetInfo) -> str:
        """Why a start is refused while `recording` runs here, and what to do."""
        with self.database.sessions() as db:
            row = set_store.set_by_key(db, recording.set_key)
        which = f"set {row.id}" if row is not None else "a set (being stored)"
        stop = (
            f"POST /sets/{row.id}/stop"
            if row is not None
            else f"POST /sets/ID/stop, ID from GET /sets?athlete_id={recording.athlete_id}"
            "&status=recording"
        )
        return (
            f"athlete {recording.athlete_id} is already recording {which} "
            f"({recording.variant.value}, started {recording.started_utc:%H:%M:%S} UTC, perhaps "
            f"from another phone): stop it first ({stop}), or start with replace_recording: "
            "true to stop it and start this one"
        )

    def _missing_sensors(self, athlete_id: int) -> list[Placement]:
        """Placements of the athlete's assigned sensors that do not stream now ([] when none
        are assigned at all: the gateway refuses that set itself, saying so)."""
        assert self.gateway is not None
        readiness = self.gateway.readiness(str(athlete_id))
        if all(s.address is None for s in readiness.sensors):
            return []
        return [Placement(p.value) for p in readiness.missing]

    def readiness(self, athlete_id: int) -> Readiness | None:
        """The ready check of the athlete's sensors; None without a gateway."""
        return None if self.gateway is None else self.gateway.readiness(str(athlete_id))

    def _start_without_gateway(
        self,
        athlete_id: int,
        variant: SetVariant,
        load_kg: float | None,
        notes: str,
        session_id: int | None,
    ) -> int:
        with self.database.sessions.begin() as db:
            catalog.refuse_if_archived(db, athlete_id, "starting a set")
            return set_store.start_set(
                db,
                athlete_id,
                variant,
                load_kg=load_kg,
                notes=notes,
                session_id=session_id,
                gateway_id=self.gateway_id,
            ).id

    def _depth_guard(self, athlete_id: int) -> DepthGuard | None:
        """The athlete's depth guard (api.depth_guard): None when off or without a ceiling."""
        from api.depth_guard import athlete_depth_guard

        return athlete_depth_guard(self.database, athlete_id)

    def _check_can_start(self, athlete_id: int, session_id: int | None) -> PersonalBaseline | None:
        """Raises if the set cannot start; returns the athlete's personal baseline."""
        with self.database.sessions() as db:
            catalog.refuse_if_archived(db, athlete_id, "starting a set")
            baseline = baselines.athlete_baseline(db, athlete_id)
            running = set_store.recording_set_of(db, athlete_id)
            if running is not None and running.gateway_id != self.gateway_id:
                raise ConflictError(set_store.already_recording_message(running))
            if session_id is not None:
                session = catalog.get_session(db, session_id)
                if session.athlete_id != athlete_id or session.ended_at is not None:
                    raise ConflictError(
                        f"session {session_id} is not an open session of athlete {athlete_id}"
                    )
            return baseline

    async def stop_set(self, set_id: int) -> None:
        """Stop a recording set (the gateway flushes its analysis and the sink stores it)."""
        row = await run_in_threadpool(self._get_set, set_id)
        if row.status != SetStatus.RECORDING.value:
            raise ConflictError(f"set {set_id} is already {row.status}")
        if self.gateway is not None and self.sink is not None:
            running = self.gateway.active_sets().get(str(row.athlete_id))
            stopped_here = running is not None and running.set_key == row.set_key
            if stopped_here:  # not a newer set
                # the samples taken before the stop and still on their way are kept (at
                # most STOP_GRACE_S), then its last rep and set_stopped
                await self.gateway.stop_set_after_grace(str(row.athlete_id))
            stored = await run_in_threadpool(self.sink.flush)
            problem = self.sink.storage_problem()
            if not stored and problem is not None and stopped_here:
                raise StorageError(
                    f"set {set_id} stopped recording (its live stream says so), but its stop "
                    f"is not stored yet: {problem}"
                )
        await run_in_threadpool(self._finish_if_recording, set_id)

    async def update_set(
        self,
        set_id: int,
        variant: SetVariant | None,
        load_kg: float | None,
        notes: str | None,
    ) -> None:
        """Correct a set's variant, load or notes; its stored reps follow. A set this gateway
        records, or has stopped and still waits for in its grace, takes a new load at once:
        the reps it completes from now on carry it. Those it completed before (of a set just
        stopped too) are stored first, then corrected with the others. Corrections and starts
        are applied one at a time, in the order they came: two corrections at once leave the
        set, its stored reps and its live analysis on the later one, and a correction of a set
        being started waits until the gateway runs it."""
        async with self._changing_sets:
            if load_kg is not None and self.gateway is not None and self.sink is not None:
                row = await run_in_threadpool(self._get_set, set_id)
                self.gateway.set_load(row.set_key, load_kg)
                await run_in_threadpool(self.sink.flush)
            await run_in_threadpool(self._update_set, set_id, variant, load_kg, notes)

    def _update_set(
        self,
        set_id: int,
        variant: SetVariant | None,
        load_kg: float | None,
        notes: str | None,
    ) -> None:
        with self.database.sessions.begin() as db:
            set_store.update_set(db, set_id, variant=variant, load_kg=load_kg, notes=notes)

    def _get_set(self, set_id: int) -> ExerciseSet:
        with self.database.sessions() as db:
            return set_store.get_set(db, set_id)

    def _finish_if_recording(self, set_id: int) -> None:
        with self.database.sessions.begin() as db:
            if set_store.get_set(db, set_id).status == SetStatus.RECORDING.value:
                set_store.finish_set(db, set_id, SetStatus.COMPLETED)

    # -- sensors ------------------------------------------------------------------------------
    async def assign_sensor(
        self, sensor_id: int, athlete_id: int | None, placement: Placement | None
    ) -> Sensor:
        """Store the assignment (both None: unassign), then tell the running gateway: it
        takes effect at once (a BLE sensor newly assigned is connected without a restart).
        A pairing is first put to `pairing_check`, which may refuse it."""
        if athlete_id is not None and self.pairing_check is not None:
            sensor = await run_in_threadpool(self._get_sensor, sensor_id)
            await self.pairing_check(sensor.address)
        return await self.apply_assignment(sensor_id, athlete_id, placement)

    async def apply_assignment(
        self, sensor_id: int, athlete_id: int | None, placement: Placement | None
    ) -> Sensor:
        """`assign_sensor` without `pairing_check` (for a pairing already checked)."""
        sensor, assignment = await run_in_threadpool(
            self._store_assignment, sensor_id, athlete_id, placement
        )
        self.tell_gateway(sensor.address, assignment)
        return sensor

    def _get_sensor(self, sensor_id: int) -> Sensor:
        with self.database.sessions() as db:
            return catalog.get_sensor(db, sensor_id)

    def _store_assignment(
        self, sensor_id: int, athlete_id: int | None, placement: Placement | None
    ) -> tuple[Sensor, SensorAssignment | None]:
        with self.database.sessions.begin() as db:
            try:
                return sensor_assignments.assign(
                    db, sensor_id, athlete_id, placement, self.gateway_id
                )
            except GatewayError as exc:
                raise ConflictError(f"the gateway cannot take this assignment: {exc}") from exc

    def tell_gateway(self, address: str, assignment: SensorAssignment | None) -> None:
        """Hand a stored assignment (None: unassigned) to the running gateway (event loop)."""
        if self.gateway is None:
            return
        if assignment is None:
            self.gateway.unassign_sensor(address)
        else:
            self.gateway.assign_sensor(
                assignment.address, assignment.kind, assignment.athlete_id, assignment.placement
            )

    async def discover(self, timeout_s: float) -> list[DiscoveredSensor]:
        """Sensors the gateway hears within `timeout_s` (BLE scan through the running gateway)."""
        if self.gateway is None:
            raise ConflictError(
                "no gateway runs in this process: scan on the gateway (`winkwatch serve`)"
            )
        try:
            return await self.gateway.discover(timeout_s)
        except GatewayError as exc:
            raise ConflictError(f"cannot look for sensors: {exc}") from exc

    async def archive_athlete(self, athlete_id: int, archived: bool) -> Athlete:
        """Archive (stored sets kept, sensors freed at once on the gateway) or restore."""
        athlete, freed = await run_in_threadpool(self._archive, athlete_id, archived)
        for sensor in freed:
            self.tell_gateway(sensor.address, None)
        return athlete

    def _archive(self, athlete_id: int, archived: bool) -> tuple[Athlete, list[Sensor]]:
        with self.database.sessions.begin() as db:
            return catalog.archive_athlete(db, athlete_id, archived)

    async def delete_athlete(self, athlete_id: int, delete_sets: bool) -> None:
        """Delete an athlete (refused while they have stored sets, unless `delete_sets`)."""
        freed = await run_in_threadpool(self._delete, athlete_id, delete_sets)
        for sensor in freed:
            self.tell_gateway(sensor.address, None)

    def _delete(self, athlete_id: int, delete_sets: bool) -> list[Sensor]:
        with self.database.sessions.begin() as db:
            return catalog.delete_athlete(db, athlete_id, delete_sets=delete_sets)

    async def swap_sensors(self, athlete_id: int) -> list[Sensor]:
        """Swap the athlete's sacrum and thigh sensors, stored and on the gateway at once."""
        swapped = await run_in_threadpool(self._swap, athlete_id)
        for sensor, assignment in swapped:
            self.tell_gateway(sensor.address, assignment)
        return [sensor for sensor, _ in swapped]

    def _swap(self, athlete_id: int) -> list[tuple[Sensor, SensorAssignment | None]]:
        with self.database.sessions.begin() as db:
            return [
                (s, sensor_assignments.as_gateway_assignment(s))
                for s in catalog.swap_placements(db, athlete_id)
            ]
