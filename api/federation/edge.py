"""The edge forwarder: the gateway's outbox -> broker, live events, commands from the central.

Runs next to `winkwatch serve` on a Pi (`winkwatch serve --edge`); the gateway and its
SQLite sink are unchanged and do not know about it.

- **Data**: a sender thread reads outbox batches in order and publishes them QoS 1 on
  `up/data`, at most `WINDOW_BATCHES` ahead of the central's acknowledgement (`down/ack`,
  retained). No acknowledgement progress for `ACK_TIMEOUT_S`, or a reconnect, sends again
  from the last acknowledged change (go-back-N); the central drops what it already has.
  Only an acknowledgement deletes outbox rows, so a broker that loses messages it had
  accepted (killed before it saved them) costs a resend, not data.
- **Status**: retained `up/status` {"online": true, ...}; the last will sets it false.
- **Live**: every gateway event except those the outbox carries anyway is published QoS 0 on
  `up/live` with the athlete's `uid` (lossy by design: a live view wants the newest).
- **Deleted athletes** (a tombstone, retained on `down/profile/U`): the athlete is deleted
  here with her data through the service (api.federation.tombstones).
- **Commands** (`down/cmd`): start_set / stop_set / update_set / assign_sensor /
  unassign_sensor, run through the same `LiveService` the local API uses; the answer goes
  to `up/reply`.
- **Pairing here** (the local API): before a sensor is paired, the central server is asked
  (`up/query`, answered on `down/answer`) whether another online gateway streams it; if one
  does, the pairing is refused (409) as the central server's own would be. With the central
  server out of reach (no broker, no answer in `QUESTION_TIMEOUT_S`) it is paired here with a
  warning: a gateway keeps working alone, and the coach at the platform is the one pairing.
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
import threading
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode
from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError

from api.errors import ConflictError, NotFoundError, WinkWatchError
from api.federation import status, topics
from api.federation.errors import FederationError
from api.federation.mqtt import (
    MqttSettings,
    connect,
    expiring,
    make_client,
    reason_failed,
    resolve,
)
from api.federation.outbox import Outbox
from api.federation.profiles import apply_profile
from api.gateway_port import LiveService
from api.storage import catalog
from api.storage import sets as set_store
from api.storage.db import Database
from api.storage.models import Athlete, ExerciseSet
from api.vocab import Placement, SetStatus, SetVariant
from sensor_gateway.events import GatewayEvent, SensorStatusChanged, event_to_dict
from sensor_gateway.pubsub import EventBus, SubscriptionClosed

log = logging.getLogger(__name__)

WINDOW_BATCHES = 16  # batches in flight before waiting for the central's acknowledgement
ACK_TIMEOUT_S = 10.0  # no acknowledgement progress for this long: resend from the last ack
IDLE_POLL_S = 0.1  # how often an empty outbox is looked at again (the sink commits each 1 s)
DRAIN_S = 10.0  # at a clean shutdown, how long to wait for the last changes to be acknowledged
LIVE_QUEUE = 2000  # live events buffered for the relay before the oldest are dropped
SENSOR_REPORT_S = 5.0  # sensor status is published at least this often (and on link changes)
SENSOR_REPORT_MIN_S = 0.5  # link changes within this are reported together
# A question to the central server (is this sensor streaming elsewhere?) unanswered for this
# long: it is out of reach. A broker round trip takes milliseconds; the coach is waiting.
QUESTION_TIMEOUT_S = 3.0


class EdgeForwarder:
    def __init__(
        self,
        database: Database,
        gateway_id: str,
        settings: MqttSettings,
        *,
        service: LiveService | None = None,
    ) -> None:
        self.gateway_id = topics.check_gateway_id(gateway_id)
        self.settings = settings
        self.outbox = Outbox(database)
        self._db = database
        self._service = service
        self.started_utc = datetime.now(UTC)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._client = make_client(
            settings,
            f"winkwatch-edge-{gateway_id}",
            username=gateway_id,
            will=(topics.up(gateway_id, "status"), self._status(online=False)),
        )
        self._client.on_connect = self._on_connect
        self._client.on_disconnect = self._on_disconnect
        self._client.on_message = self._on_message
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._connected = threading.Event()
        self._acked = self.outbox.acked_seq()
        self._next_prev = self._acked
        self._in_flight: list[int] = []
        self._last_progress_s = time.monotonic()
        self._sender: threading.Thread | None = None
        self._live_task: asyncio.Task[None] | None = None
        self._athlete_uids: dict[str, str | None] = {}
        self.batches_sent = 0
        self.resends = 0
        self.live_sent = 0
        self.profiles_applied = 0
        self.athletes_deleted = 0
        self._deleting = asyncio.Lock()
        self.sensor_reports = 0
        self._sensor_task: asyncio.Task[None] | None = None
        self._answers: dict[str, asyncio.Future[dict[str, Any]]] = {}
        if service is not None:
            service.pairing_check = self.check_pairing

    # -- life cycle -------------------------------------------------------------------------
    def start(
        self, loop: asyncio.AbstractEventLoop | None = None, bus: EventBus | None = None
    ) -> EdgeForwarder:
        """Connect and start forwarding; with `loop` and `bus`, relay live events and commands."""
        self._loop = loop
        connect(self._client, self.settings)
        self._sender = threading.Thread(target=self._send_loop, name="winkwatch-edge-send")
        self._sender.daemon = True
        self._sender.start()
        if loop is not None and bus is not None:
            self._live_task = loop.create_task(self._relay_live(bus), name="edge-live-relay")
            if self._service is not None:
                self._sensor_task = loop.create_task(
                    self._report_sensors(bus), name="edge-sensor-status"
                )
        return self

    def stop(self, drain_s: float = DRAIN_S) -> None:
        """Forward what is left (for at most `drain_s` while connected), say offline (retained),
        disconnect; changes not acknowledged by then stay in the outbox for the next start."""
        if self._connected.is_set() and drain_s > 0:
            self.wait_until_forwarded(drain_s)
        self._stop.set()
        self._wake.set()
        for task in (self._live_task, self._sensor_task):
            if task is not None:
                task.cancel()
        if self._sender is not None:
            self._sender.join(timeout=10.0)
        if self._connected.is_set():
            info = self._client.publish(
                topics.up(self.gateway_id, "status"), self._status(False), qos=1, retain=True
            )
            try:
                info.wait_for_publish(timeout=2.0)
            except (RuntimeError, ValueError):
                pass
        self._client.disconnect()
        self._client.loop_stop()

    @property
    def connected(self) -> bool:
        return self._connected.is_set()

    @property
    def acked_seq(self) -> int:
        return self._acked

    def wait_until_forwarded(self, timeout_s: float) -> bool:
        """True once the central server acknowledged every change in the outbox."""
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.outbox.backlog() == 0:
                return True
            time.sleep(0.1)
        return False

    # -- MQTT callbacks (paho's thread) -------------------------------------------------------
    def _on_connect(
        self,
        client: mqtt.Client,
        _userdata: Any,
        _flags: mqtt.ConnectFlags,
        reason_code: ReasonCode,
        _properties: Properties | None,
    ) -> None:
        if reason_failed(reason_code):
            log.error("broker refused gateway %s: %s", self.gateway_id, reason_code)
            return
        client.subscribe(
            [
                (topics.down(self.gateway_id, "ack"), 1),
                (topics.down(self.gateway_id, "cmd"), 1),
                (topics.down(self.gateway_id, "answer"), 1),
                (topics.profile(self.gateway_id, "+"), 1),
            ]
        )
        client.publish(topics.up(self.gateway_id, "status"), self._status(True), qos=1, retain=True)
        with self._lock:
            self._go_back("reconnected")
        self._connected.set()
        self._wake.set()
        log.info("gateway %s connected to the broker", self.gateway_id)

    def _on_disconnect(
        self,
        _client: mqtt.Client,
        _userdata: Any,
        _flags: mqtt.DisconnectFlags,
        reason_code: ReasonCode,
        _properties: Properties | None,
    ) -> None:
        self._connected.clear()
        if not self._stop.is_set():
            log.warning(
                "gateway %s lost the broker (%s); reconnecting", self.gateway_id, reason_code
            )

    def _on_message(self, _client: mqtt.Client, _userdata: Any, message: mqtt.MQTTMessage) -> None:
        # An exception here would end paho's network thread, and with it every ack, command
        # and profile this edge gets (as on the central server): one bad message is dropped.
        try:
            self._handle_message(message)
        except Exception as exc:
            log.error("ignored a message on %s that could not be handled: %r", message.topic, exc)

    def _handle_message(self, message: mqtt.MQTTMessage) -> None:
        parsed = topics.parse(message.topic)
        if not message.payload:
            return  # a retained message cleared (an athlete's, once this edge deleted her)
        try:
            data = json.loads(message.payload)
        except ValueError:
            log.error("ignored a malformed message on %s", message.topic)
            return
        if parsed is None or not isinstance(data, dict):
            return
        if parsed[2] == "ack":
            self._on_ack(data)
        elif parsed[2] == "cmd" and self._loop is not None:
            asyncio.run_coroutine_threadsafe(self._run_command(data), self._loop)
        elif parsed[2] == "answer":
            future = self._answers.get(str(data.get("id")))
            if future is not None and self._loop is not None:
                self._loop.call_soon_threadsafe(resolve, future, data)
        elif parsed[2].startswith("profile/") and data.get("deleted") is True:
            self._on_tombstone(data)
        elif parsed[2].startswith("profile/"):
            self._on_profile(data)

    def _on_tombstone(self, tombstone: dict[str, Any]) -> None:
        """The athlete was deleted on the central server: delete her here too (with her sets,
        reps and raw samples), through the service, so her sensors are freed on the running
        gateway and the outbox carries the deletes up (which clears the tombstone)."""
        uid = tombstone.get("uid")
        if not isinstance(uid, str):
            return
        if self._loop is not None and self._service is not None:
            future = asyncio.run_coroutine_threadsafe(self._delete_athlete(uid), self._loop)
            future.add_done_callback(_log_failure("delete an athlete"))
            return
        try:
            self._delete_without_service(uid)
        except (WinkWatchError, SQLAlchemyError) as exc:
            log.error("could not delete athlete %s as the central server asked: %s", uid, exc)

    async def _delete_athlete(self, uid: str) -> None:
        # The tombstone can come twice (queued in the session and retained): one at a time.
        async with self._deleting:
            await self._delete_locked(uid)

    async def _delete_locked(self, uid: str) -> None:
        service = self._service
        assert service is not None
        while True:  # a set started here before the delete reached this platform: stop it
            local_id, recording = await asyncio.to_thread(self._athlete_by_uid, uid)
            if local_id is None:
                return
            if recording is None:
                break
            await service.stop_set(recording)
        # Her sets go too, whatever the central request said: the central server refused the
        # delete if it had sets of hers, so any here were never stored there, and will not be
        # (she is tombstoned); keeping them would keep her on this platform.
        await service.delete_athlete(local_id, delete_sets=True)
        self._athlete_uids.clear()  # SQLite may give her local id to the next athlete
        self.athletes_deleted += 1
        log.info("deleted athlete %s as the central server asked", uid)

    def _athlete_by_uid(self, uid: str) -> tuple[int | None, int | None]:
        """(local id, her recording set) of the athlete with this uid."""
        with self._db.sessions() as db:
            local_id = db.scalar(select(Athlete.id).where(Athlete.uid == uid))
            if local_id is None:
                return None, None
            running = set_store.recording_set_of(db, local_id)
            return local_id, None if running is None else running.id

    def _delete_without_service(self, uid: str) -> None:
        with self._db.sessions.begin() as db:
            local_id = db.scalar(select(Athlete.id).where(Athlete.uid == uid))
            if local_id is None:
                return
            for running in db.scalars(
                select(ExerciseSet).where(
                    ExerciseSet.athlete_id == local_id,
                    ExerciseSet.status == SetStatus.RECORDING.value,
                )
            ):
                set_store.finish_set(db, running.id, SetStatus.INTERRUPTED)
            catalog.delete_athlete(db, local_id, delete_sets=True)
        self._athlete_uids.clear()
        self.athletes_deleted += 1

    def _on_profile(self, profile: dict[str, Any]) -> None:
        if self._loop is not None and self._service is not None:
            future = asyncio.run_coroutine_threadsafe(self._apply_with_service(profile), self._loop)
            future.add_done_callback(_log_failure("apply an athlete profile"))
            return
        self._apply_profile(profile)

    async def _apply_with_service(self, profile: dict[str, Any]) -> None:
        """Apply a profile on the running gateway: archived centrally, the athlete's set
        recording here is stopped first (as the central server's own archive refuses one it
        knows of), and the sensors the archive frees are let go at once."""
        service = self._service
        assert service is not None
        uid = profile.get("uid")
        if profile.get("archived_at") is not None and isinstance(uid, str):
            _, recording = await asyncio.to_thread(self._athlete_by_uid, uid)
            if recording is not None:  # (an archived athlete cannot start one)
                await service.stop_set(recording)
                log.info(
                    "stopped set %s here: the central server archived athlete %s", recording, uid
                )
        for address in await asyncio.to_thread(self._apply_profile, profile):
            service.tell_gateway(address, None)

    def _apply_profile(self, profile: dict[str, Any]) -> list[str]:
        """Apply a profile to the local athlete; the addresses of the sensors it freed."""
        try:
            applied = apply_profile(self._db, profile, create=False)
        except (WinkWatchError, SQLAlchemyError, TypeError, ValueError) as exc:
            log.error("could not apply the athlete profile from the central server: %s", exc)
            return []
        if applied is None:
            return []
        self.profiles_applied += 1
        return applied.freed

    def _on_ack(self, data: dict[str, Any]) -> None:
        if data.get("origin") != self.outbox.origin:
            return  # an acknowledgement for an earlier database of this gateway
        seq = int(data.get("seq", 0))
        if seq <= self._acked:
            return
        try:
            acked = self.outbox.acknowledge(seq)
        except WinkWatchError as exc:  # pragma: no cover - the local disk failed
            log.error("could not clear the outbox up to %d: %s", seq, exc)
            return
        with self._lock:
            self._acked = acked
            self._in_flight = [s for s in self._in_flight if s > acked]
            self._next_prev = max(self._next_prev, acked)
            self._last_progress_s = time.monotonic()
        self._wake.set()

    # -- sender thread --------------------------------------------------------------------------
    def _go_back(self, why: str) -> None:
        """Send again from the last acknowledged change (called with the lock held)."""
        if self._next_prev > self._acked:
            self.resends += 1
            log.info("resending from change %d (%s)", self._acked, why)
        self._next_prev = self._acked
        self._in_flight = []
        self._last_progress_s = time.monotonic()

    def _send_loop(self) -> None:
        while not self._stop.is_set():
            self._wake.clear()
            if not self._connected.is_set():
                self._wake.wait(0.5)
                continue
            with self._lock:
                if self._in_flight and time.monotonic() - self._last_progress_s > ACK_TIMEOUT_S:
                    self._go_back(f"no acknowledgement for {ACK_TIMEOUT_S:.0f} s")
                if len(self._in_flight) >= WINDOW_BATCHES:
                    wait = True
                else:
                    wait = False
                    after = self._next_prev
            if wait:
                self._wake.wait(0.5)
                continue
            try:
                batch = self.outbox.read_batch(after)
            except WinkWatchError as exc:  # pragma: no cover - the local disk failed
                log.error("cannot read the outbox: %s", exc)
                self._wake.wait(1.0)
                continue
            if batch is None:
                self._wake.wait(IDLE_POLL_S)
                continue
            info = self._client.publish(
                topics.up(self.gateway_id, "data"), batch.payload(self.gateway_id), qos=1
            )
            with self._lock:
                if info.rc != mqtt.MQTT_ERR_SUCCESS:
                    self._go_back(f"publish failed ({mqtt.error_string(info.rc)})")
                    continue
                if self._next_prev != after:  # a reconnect or ack timeout went back meanwhile
                    continue
                if not self._in_flight:
                    self._last_progress_s = time.monotonic()
                self._in_flight.append(batch.seq)
                self._next_prev = batch.seq
                self.batches_sent += 1

    def _status(self, online: bool) -> bytes:
        return json.dumps(
            {
                "online": online,
                "gateway_id": self.gateway_id,
                "origin": self.outbox.origin,
                "since_utc": self.started_utc.isoformat(),
                "at_utc": datetime.now(UTC).isoformat(),
            }
        ).encode()

    # -- live relay (event loop) ----------------------------------------------------------------
    async def _relay_live(self, bus: EventBus) -> None:
        subscription = bus.subscribe(athlete_id=None, max_queued=LIVE_QUEUE)
        topic = topics.up(self.gateway_id, "live")
        try:
            async for event in subscription:
                if not self._connected.is_set():
                    continue
                message = event_to_dict(event)
                message["athlete_uid"] = self._athlete_uid(event)
                message["sent_unix_s"] = time.time()
                self._client.publish(topic, json.dumps(message).encode(), qos=0)
                self.live_sent += 1
        finally:
            subscription.unsubscribe()

    # -- sensor status (event loop) ---------------------------------------------------------------
    async def _report_sensors(self, bus: EventBus) -> None:
        """Publish every sensor's status (retained) when a link changes and every
        `SENSOR_REPORT_S` (samples, gaps and drift move on between link changes)."""
        subscription = bus.subscribe(event_types=[SensorStatusChanged], max_queued=LIVE_QUEUE)
        try:
            while True:
                try:
                    await asyncio.wait_for(subscription.get(), SENSOR_REPORT_S)
                    await asyncio.sleep(SENSOR_REPORT_MIN_S)  # a burst of changes: one report
                    while subscription.get_nowait() is not None:
                        pass
                except TimeoutError:
                    pass
                except SubscriptionClosed:
                    return
                if self._connected.is_set():
                    self._publish_sensors()
        finally:
            subscription.unsubscribe()

    def _publish_sensors(self) -> None:
        assert self._service is not None
        sensors = []
        for snapshot in self._service.sensor_snapshots():
            sensors.append(
                {
                    "address": snapshot.address,
                    "kind": snapshot.kind.value,
                    "athlete_uid": self._uid_of_key(snapshot.athlete_id),
                    "placement": None if snapshot.placement is None else snapshot.placement.value,
                    "state": snapshot.state.value,
                    "battery_pct": snapshot.battery_pct,
                    "rssi_dbm": snapshot.rssi_dbm,
                    "samples": snapshot.samples,
                    "gaps": snapshot.gaps,
                    "samples_missing": snapshot.samples_missing,
                    "drift_ppm": snapshot.drift_ppm if math.isfinite(snapshot.drift_ppm) else 0.0,
                    "last_received_s": snapshot.last_received_s,
                }
            )
        payload = {
            "gateway_id": self.gateway_id,
            "at_utc": datetime.now(UTC).isoformat(),
            "sensors": sensors,
        }
        self._client.publish(
            topics.up(self.gateway_id, "sensors"), json.dumps(payload).encode(), qos=1, retain=True
        )
        self.sensor_reports += 1

    def _athlete_uid(self, event: GatewayEvent) -> str | None:
        return self._uid_of_key(event.athlete_id)

    def _uid_of_key(self, key: str | None) -> str | None:
        if key is None:
            return None
        if key not in self._athlete_uids:
            with self._db.sessions() as db:
                uid = (
                    db.scalar(select(Athlete.uid).where(Athlete.id == int(key)))
                    if key.isdigit()
                    else None
                )
            self._athlete_uids[key] = uid
        return self._athlete_uids[key]

    # -- questions to the central server (event loop) ----------------------------------------------
    async def check_pairing(self, address: str) -> None:
        """Refuse (ConflictError) pairing `address` here while the central server says another
        online gateway streams it; the central server out of reach: paired, with a warning."""
        try:
            answer = await self._ask("streaming_gateway", address=address)
        except FederationError as exc:
            log.warning(
                "sensor %s paired on gateway %s without the central server's word on whether "
                "another gateway streams it (%s): if one does, the two will fight over it; "
                "unpair it there",
                address,
                self.gateway_id,
                exc,
            )
            return
        elsewhere = answer.get("streaming_on")
        if isinstance(elsewhere, str):
            raise status.streaming_elsewhere(address, elsewhere, self.gateway_id)

    async def _ask(self, question: str, **fields: Any) -> dict[str, Any]:
        """The central server's answer to `question` (`up/query` -> `down/answer`); raises
        FederationError when it cannot be had within QUESTION_TIMEOUT_S."""
        if not self._connected.is_set():
            raise FederationError("this gateway is not connected to the broker")
        question_id = uuid.uuid4().hex
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._answers[question_id] = future
        try:
            self._client.publish(
                topics.up(self.gateway_id, "query"),
                json.dumps({"id": question_id, "question": question, **fields}).encode(),
                qos=1,
                properties=expiring(int(QUESTION_TIMEOUT_S)),
            )
            try:
                answer = await asyncio.wait_for(future, QUESTION_TIMEOUT_S)
            except TimeoutError:
                raise FederationError(
                    f"the central server did not answer within {QUESTION_TIMEOUT_S:.0f} s"
                ) from None
        finally:
            self._answers.pop(question_id, None)
        if not answer.get("ok"):
            raise FederationError(f"the central server could not answer: {answer.get('detail')}")
        return answer

    # -- commands from the central server (event loop) --------------------------------------------
    async def _run_command(self, command: dict[str, Any]) -> None:
        reply: dict[str, Any] = {"id": command.get("id"), "ok": False}
        try:
            expires = command.get("expires_utc")
            if expires is not None and datetime.fromisoformat(expires) < datetime.now(UTC):
                raise FederationError("the command expired before it reached the gateway")
            handler = self._handlers().get(str(command.get("action")))
            if handler is None:
                raise FederationError(f"unknown action {command.get('action')!r}")
            if self._service is None:
                raise FederationError("this gateway runs without the API service")
            reply.update(await handler(command))
            reply["ok"] = True
        except NotFoundError as exc:
            reply.update(detail=str(exc), code=404)
        except ConflictError as exc:
            reply.update(detail=str(exc), code=409)
        except (WinkWatchError, KeyError, ValueError) as exc:
            reply.update(detail=f"{exc.__class__.__name__}: {exc}", code=422)
        self._client.publish(topics.up(self.gateway_id, "reply"), json.dumps(reply).encode(), qos=1)

    def _handlers(self) -> dict[str, Callable[[dict[str, Any]], Any]]:
        return {
            "start_set": self._start_set,
            "stop_set": self._stop_set,
            "update_set": self._update_set,
            "assign_sensor": self._assign_sensor,
            "unassign_sensor": self._unassign_sensor,
        }

    def _local_athlete(self, command: dict[str, Any]) -> int:
        """The local athlete with the command's uid, created the first time it is seen here."""
        uid = str(command["athlete_uid"])
        profile = command.get("profile")
        if isinstance(profile, dict) and profile.get("uid") == uid:
            applied = apply_profile(self._db, profile, create=True)
            assert applied is not None
            self.profiles_applied += 1
            return applied.athlete_id
        with self._db.sessions.begin() as db:
            found = db.scalar(select(Athlete.id).where(Athlete.uid == uid))
            if found is not None:
                return found
            athlete = catalog.create_athlete(db, str(command.get("athlete_name") or uid))
            athlete.uid = uid
            db.flush()
            return athlete.id

    async def _start_set(self, command: dict[str, Any]) -> dict[str, Any]:
        assert self._service is not None
        athlete_id = await asyncio.to_thread(self._local_athlete, command)
        set_id = await self._service.start_set(
            athlete_id,
            SetVariant(command["variant"]),
            command.get("load_kg"),
            str(command.get("notes") or ""),
            None,
            # A central server from before the option asked to replace, as starts did then.
            replace_recording=command.get("replace_recording", True) is not False,
        )
        return {"set_key": await asyncio.to_thread(self._set_key, set_id)}

    def _set_key(self, set_id: int) -> str:
        with self._db.sessions() as db:
            return set_store.get_set(db, set_id).set_key

    async def _stop_set(self, command: dict[str, Any]) -> dict[str, Any]:
        assert self._service is not None

        def local_id() -> int:
            with self._db.sessions() as db:
                found = db.scalar(
                    select(ExerciseSet.id).where(ExerciseSet.set_key == str(command["set_key"]))
                )
            if found is None:
                raise NotFoundError("set", str(command["set_key"]))
            return found

        await self._service.stop_set(await asyncio.to_thread(local_id))
        return {"set_key": command["set_key"]}

    async def _update_set(self, command: dict[str, Any]) -> dict[str, Any]:
        """The coach corrected a set of this gateway's on the central server: corrected here
        (its reps follow; a set recording here takes the load at once), and the outbox carries
        the set and its reps back up. Setting the same values again changes nothing."""
        assert self._service is not None
        set_key = str(command["set_key"])

        def local_id() -> int:
            with self._db.sessions() as db:
                found = db.scalar(select(ExerciseSet.id).where(ExerciseSet.set_key == set_key))
            if found is None:
                raise NotFoundError("set", set_key)
            return found

        variant = command.get("variant")
        load_kg = command.get("load_kg")
        notes = command.get("notes")
        await self._service.update_set(
            await asyncio.to_thread(local_id),
            None if variant is None else SetVariant(variant),
            None if load_kg is None else float(load_kg),
            None if notes is None else str(notes),
        )
        return {"set_key": set_key}

    async def _assign_sensor(self, command: dict[str, Any]) -> dict[str, Any]:
        assert self._service is not None
        athlete_id = await asyncio.to_thread(self._local_athlete, command)
        placement = Placement(command["placement"])
        address, kind = str(command["address"]), str(command["kind"])

        def register() -> int:
            with self._db.sessions.begin() as db:
                sensor = catalog.sensor_by_address(db, address) or catalog.register_sensor(
                    db, address, kind
                )
                return sensor.id

        sensor_id = await asyncio.to_thread(register)
        # The central server checked that no other gateway streams it (as `check_pairing` asks).
        await self._service.apply_assignment(sensor_id, athlete_id, placement)
        return {"address": address}

    async def _unassign_sensor(self, command: dict[str, Any]) -> dict[str, Any]:
        """The coach took the sensor off its athlete on the central server."""
        assert self._service is not None
        address = str(command["address"])

        def local_id() -> int | None:
            with self._db.sessions() as db:
                sensor = catalog.sensor_by_address(db, address)
                return None if sensor is None else sensor.id

        sensor_id = await asyncio.to_thread(local_id)
        if sensor_id is not None:
            await self._service.assign_sensor(sensor_id, None, None)
        return {"address": address, "unassigned": sensor_id is not None}


def _log_failure(doing: str) -> Callable[[Any], None]:
    """A done callback logging the future's exception: could not `doing` as the central asked."""

    def done(future: Any) -> None:
        exc = future.exception()
        if exc is not None:
            log.error("could not %s as the central server asked: %s", doing, exc)

    return done
