"""`CentralService`: what the API routes call on the central server (sets start/stop on the
platform where the athlete is, over MQTT), in place of the single-gateway `LiveService`."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from starlette.concurrency import run_in_threadpool

from api.errors import ConflictError
from api.federation import status, tombstones
from api.federation.central import COMMAND_TIMEOUT_S, CentralHub
from api.federation.errors import CommandFailed, GatewayTooOld
from api.federation.profiles import athlete_profile
from api.gateway_port import LiveService
from api.storage import catalog
from api.storage.models import (
    ExerciseSet,
    FederationInbox,
    FederationRow,
    Sensor,
)
from api.vocab import Placement, SetStatus, SetVariant
from sensor_gateway.health import SensorHealth
from sensor_gateway.readiness import Readiness
from sensor_gateway.sensors import SensorSnapshot

if TYPE_CHECKING:
    from fusion.assessment import AssessmentCalibration

REPLICATION_WAIT_S = 15.0  # how long a command waits for its result to be replicated back


@dataclass
class CentralService(LiveService):
    hub: CentralHub | None = None

    def sensor_snapshots(self) -> list[SensorSnapshot]:
        """Every gateway's sensors as that gateway last reported them (api.federation.status)."""
        return status.sensor_snapshots(self.database)

    def sensor_snapshots_with_health(self) -> list[tuple[SensorSnapshot, SensorHealth | None]]:
        """As the edges reported them; their health is judged on the edge (its clock)."""
        return [(s, None) for s in self.sensor_snapshots()]

    def readiness(self, athlete_id: int) -> Readiness | None:
        return None  # the ready check runs on the athlete's platform

    # -- where is an athlete / a sensor --------------------------------------------------------
    def gateway_of_sensor(self, address: str) -> str | None:
        """The online gateway streaming this sensor now (its last sensor report says so), else
        the gateway whose database last sent a batch with a row for it."""
        streaming = self.streaming_gateway(address)
        if streaming is not None:
            return streaming
        with self.database.sessions() as db:
            return db.scalar(
                select(FederationInbox.gateway_id)
                .join(FederationRow, FederationRow.origin == FederationInbox.origin)
                .join(Sensor, Sensor.id == FederationRow.central_id)
                .where(FederationRow.table_name == "sensors", Sensor.address == address)
                .order_by(FederationInbox.updated_at.desc())
                .limit(1)
            )

    def streaming_gateway(self, address: str, *, other_than: str | None = None) -> str | None:
        """The online gateway (other than `other_than`) streaming this sensor now, as its last
        sensor report says; None if none is."""
        return status.streaming_gateway(self.database, address, other_than=other_than)

    def gateway_of_athlete(self, athlete_id: int) -> str:
        with self.database.sessions() as db:
            catalog.get_athlete(db, athlete_id)
            found = db.scalar(
                select(FederationInbox.gateway_id)
                .join(FederationRow, FederationRow.origin == FederationInbox.origin)
                .join(Sensor, Sensor.id == FederationRow.central_id)
                .where(FederationRow.table_name == "sensors", Sensor.athlete_id == athlete_id)
                .order_by(FederationInbox.updated_at.desc())
                .limit(1)
            )
        if found is None:
            raise ConflictError(
                f"athlete {athlete_id} wears no sensors on any gateway; assign sensors there or "
                "start the set on a platform with POST /gateways/{gateway_id}/sets"
            )
        return found

    # -- sets ------------------------------------------------------------------------------------
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
        # The edge checks its own sensors: a central start asks for the set on the platform.
        if calibration is not None:
            raise ConflictError(
                "assessment steps are recorded live on the platform: start the step with its "
                "gateway's own API or dashboard (it reaches the central server from there)"
            )
        gateway_id = await run_in_threadpool(self.gateway_of_athlete, athlete_id)
        return await self.start_on(
            gateway_id,
            athlete_id,
            variant,
            load_kg,
            notes,
            session_id,
            replace_recording=replace_recording,
        )

    async def start_on(
        self,
        gateway_id: str,
        athlete_id: int,
        variant: SetVariant,
        load_kg: float | None,
        notes: str = "",
        session_id: int | None = None,
        *,
        replace_recording: bool = True,
    ) -> int:
        """Start a set on the platform `gateway_id`; returns its central id once replicated
        (the platform refuses while the athlete records there, unless `replace_recording`)."""
        if session_id is not None:
            raise ConflictError("sessions belong to a gateway; start the set without session_id")
        profile = await run_in_threadpool(self._athlete_profile, athlete_id)
        reply = await self._hub().command(
            gateway_id,
            "start_set",
            athlete_uid=profile["uid"],
            athlete_name=profile["name"],
            profile=profile,
            variant=SetVariant(variant).value,
            load_kg=load_kg,
            notes=notes,
            replace_recording=replace_recording,
        )
        return await self._replicated_set(str(reply["set_key"]), lambda row: True)

    async def stop_set(self, set_id: int) -> None:
        row = await run_in_threadpool(self._get_set, set_id)
        if row.status != SetStatus.RECORDING.value:
            raise ConflictError(f"set {set_id} is already {row.status}")
        await self._hub().command(row.gateway_id, "stop_set", set_key=row.set_key)
        await self._replicated_set(row.set_key, lambda r: r.status != SetStatus.RECORDING.value)

    async def update_set(
        self,
        set_id: int,
        variant: SetVariant | None,
        load_kg: float | None,
        notes: str | None,
    ) -> None:
        """PATCH /sets/{id}: the correction is made on the gateway that recorded the set (its
        reps follow there, a set recording there takes the new load at once) and comes back
        through that gateway's outbox, as its sets and reps always do. Stored only here, the
        gateway would never learn of it and its next change of the set would undo it; so
        with the gateway unreachable the correction is refused (504) and nothing changes.
        A gateway too old to take corrections is another matter: trying again will not help
        until it is updated, so the correction is kept here (409 saying so)."""
        row = await run_in_threadpool(self._get_set, set_id)
        if variant is None and load_kg is None and notes is None:
            return
        try:
            await self._hub().command(
                row.gateway_id,
                "update_set",
                set_key=row.set_key,
                variant=None if variant is None else SetVariant(variant).value,
                load_kg=load_kg,
                notes=notes,
            )
        except GatewayTooOld as too_old:
            await run_in_threadpool(self._update_set, set_id, variant, load_kg, notes)
            raise too_old.with_outcome(
                f"The correction of set {set_id} is stored on the central server only (its "
                f"reps follow here; reports and exports here show it); {row.gateway_id} keeps "
                "its old values, and its next change of this set (a notes edit, a reanalysis "
                f"there) puts them back here. Once {row.gateway_id} is updated, send the "
                "correction again to make it there too."
            ) from too_old

        def corrected(stored: ExerciseSet) -> bool:
            return (
                (variant is None or stored.variant == SetVariant(variant).value)
                and (load_kg is None or stored.load_kg == load_kg)
                and (notes is None or stored.notes == notes)
            )

        await self._replicated_set(row.set_key, corrected)

    async def assign_sensor(
        self, sensor_id: int, athlete_id: int | None, placement: Placement | None
    ) -> Sensor:
        """PUT /sensors/{id}/assignment: stored here, and sent to the gateway that last saw
        the sensor (whose database then replicates it back)."""
        sensor = await run_in_threadpool(self._store_central, sensor_id, athlete_id, placement)
        await run_in_threadpool(
            self.assign_on_gateway, sensor.address, sensor.kind, athlete_id, placement
        )
        return sensor

    async def delete_athlete(self, athlete_id: int, delete_sets: bool) -> None:
        """DELETE /athletes/{id}: deleted here and, through a retained tombstone, on every
        platform that has her, even one offline now; she is never stored again
        (api.federation.tombstones)."""
        await run_in_threadpool(self._delete_everywhere, athlete_id, delete_sets)
        if self.hub is not None:
            self.hub.send_tombstones()

    def _delete_everywhere(self, athlete_id: int, delete_sets: bool) -> tombstones.Deleted:
        with self.database.sessions.begin() as db:
            return tombstones.delete_centrally(db, athlete_id, delete_sets=delete_sets)

    def tell_gateway(self, address: str, assignment: object) -> None:
        """The central server has no gateway: a platform learns of changes by command."""

    def _store_central(
        self, sensor_id: int, athlete_id: int | None, placement: Placement | None
    ) -> Sensor:
        with self.database.sessions.begin() as db:
            return catalog.assign_sensor(db, sensor_id, athlete_id, placement)

    def assign_on_gateway(
        self, address: str, kind: str, athlete_id: int | None, placement: Placement | None
    ) -> None:
        """Tell the gateway that last saw the sensor (blocking; call from a worker thread);
        both None: take the sensor off its athlete there."""
        gateway_id = self.gateway_of_sensor(address)
        if gateway_id is None or self.hub is None:
            return
        if athlete_id is None or placement is None:
            self._run(self.hub.command(gateway_id, "unassign_sensor", address=address))
            return
        self.assign_on(gateway_id, address, kind, athlete_id, placement)

    def assign_on(
        self, gateway_id: str, address: str, kind: str, athlete_id: int, placement: Placement
    ) -> None:
        """Pair a sensor with an athlete on `gateway_id` (blocking; call from a worker thread).
        Refused (409) while another gateway streams the sensor: a sensor streams to one gateway
        at a time, and that one, not told, would go on recording it for its athlete there."""
        elsewhere = self.streaming_gateway(address, other_than=gateway_id)
        if elsewhere is not None:
            raise status.streaming_elsewhere(address, elsewhere, gateway_id)
        profile = self._athlete_profile(athlete_id)
        self._run(
            self._hub().command(
                gateway_id,
                "assign_sensor",
                address=address,
                kind=kind,
                placement=Placement(placement).value,
                athlete_uid=profile["uid"],
                athlete_name=profile["name"],
                profile=profile,
            )
        )

    def _run(self, command: Coroutine[Any, Any, dict[str, Any]]) -> dict[str, Any]:
        """A hub command run on its event loop, from a worker thread (blocking)."""
        loop = self._hub()._loop
        assert loop is not None
        future = asyncio.run_coroutine_threadsafe(command, loop)
        return future.result(timeout=COMMAND_TIMEOUT_S + 1.0)

    # -- helpers -----------------------------------------------------------------------------------
    def _hub(self) -> CentralHub:
        if self.hub is None:
            raise CommandFailed("this central server is not connected to a broker")
        return self.hub

    def _athlete_profile(self, athlete_id: int) -> dict[str, Any]:
        """Uid, name, baseline, lengths and prescription: the edge gets them with the command."""
        with self.database.sessions() as db:
            return athlete_profile(catalog.get_athlete(db, athlete_id))

    async def _replicated_set(self, set_key: str, ready: Callable[[ExerciseSet], bool]) -> int:
        deadline = time.monotonic() + REPLICATION_WAIT_S
        while True:
            row = await run_in_threadpool(self._set_by_key, set_key)
            if row is not None and ready(row):
                return row.id
            if time.monotonic() > deadline:
                raise CommandFailed(
                    f"the gateway accepted the command but set {set_key} has not reached the "
                    f"central server within {REPLICATION_WAIT_S:.0f} s; it will appear when "
                    "the gateway's link is back"
                )
            await asyncio.sleep(0.1)

    def _set_by_key(self, set_key: str) -> ExerciseSet | None:
        with self.database.sessions() as db:
            return db.scalar(select(ExerciseSet).where(ExerciseSet.set_key == set_key))


__all__ = ["CentralService"]
