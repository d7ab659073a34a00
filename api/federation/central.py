"""The central consumer: broker -> PostgreSQL, live events onto the central bus, commands down.

- **Data** (`+/up/data`): a worker thread applies each batch with `inbox.apply_batch` (one
  transaction, exactly once) and answers with the retained acknowledgement `G/down/ack`.
  The topic's gateway id is the one the broker authenticated; the payload cannot claim
  another gateway's database.
- **Live** (`+/up/live`): events are rebuilt (`wire.event_from_dict`) with the central
  athlete id (found by the athlete's uid) and published on `bus`, so `/live/ws`, `/live/events`
  and the dashboard work unchanged across all gateways.
- **Status** (`+/up/status`, retained, last will): `gateways` shows who is online.
- **Deleted athletes** (`tombstones`): retained on `G/down/profile/U` until edge G's delete
  of her is stored, then cleared.
- **Commands**: `command(G, action, ...)` publishes `G/down/cmd` (expires after
  `COMMAND_TIMEOUT_S`) and waits for the edge's `up/reply`.
- **Questions** (`+/up/query`): an edge about to pair a sensor asks whether another online
  gateway streams it; answered on `G/down/answer` from a small thread pool (not the data
  worker, which may be busy with a long upload, nor paho's thread).
"""

from __future__ import annotations

import asyncio
import json
import logging
import queue
import threading
import time
import uuid
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import paho.mqtt.client as mqtt
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode
from sqlalchemy import select
from sqlalchemy.exc import DisconnectionError, InterfaceError, OperationalError, SQLAlchemyError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError

from api.errors import ConflictError, InvalidInputError, NotFoundError, WinkWatchError
from api.federation import status, tombstones, topics
from api.federation.errors import CommandFailed, FederationError, GatewayTooOld
from api.federation.inbox import apply_batch
from api.federation.mqtt import (
    MqttSettings,
    connect,
    expiring,
    make_client,
    reason_failed,
    resolve,
)
from api.federation.profiles import PROFILE_SWEEP_S, athlete_profile, profile_payload
from api.federation.wire import decode_payload, event_from_dict
from api.storage.db import Database
from api.storage.models import Athlete, FederationInbox, FederationRow
from api.vocab import Placement, SetVariant
from fusion.baseline import PersonalBaseline
from sensor_gateway.config import SensorAssignment
from sensor_gateway.discovery import DiscoveredSensor
from sensor_gateway.events import SetInfo
from sensor_gateway.pubsub import EventBus
from sensor_gateway.samples import SensorKind
from sensor_gateway.sensors import SensorSnapshot

if TYPE_CHECKING:
    from fusion.assessment import AssessmentCalibration
    from fusion.live.depth_guard import DepthGuard
    from sensor_gateway.health import SensorHealth
    from sensor_gateway.readiness import Readiness

log = logging.getLogger(__name__)
_NOT_A_GATEWAY = FederationError(
    "the central server has no sensors of its own: act on a platform with "
    "POST /gateways/{gateway_id}/sets or PUT /gateways/{gateway_id}/sensors"
)

COMMAND_TIMEOUT_S = 10.0
_STORED_KINDS = ("data", "status", "sensors")  # up/ messages the data worker stores in order
# The database cannot be reached now (down, restarting, its pool exhausted): not the payload's
# fault, so the worker waits before the next message. Anything else is the payload's.
_DATABASE_UNREACHABLE = (OperationalError, InterfaceError, DisconnectionError, PoolTimeoutError)
_MAX_PROBLEM_CHARS = 300
UNKNOWN_ATHLETE_RETRY_S = 1.0  # an athlete not yet replicated is looked up again after this
ANSWER_EXPIRY_S = 5  # an edge waits 3 s for an answer (edge.QUESTION_TIMEOUT_S): no use later


class CentralHub:
    def __init__(
        self,
        database: Database,
        settings: MqttSettings,
        *,
        username: str = "central",
        client_id: str = "winkwatch-central",
    ) -> None:
        self._db = database
        self.settings = settings
        self.bus = EventBus()
        self.gateways: dict[str, dict[str, Any]] = {}
        self._client = make_client(settings, client_id, username=username)
        self._client.on_connect = self._on_connect
        self._client.on_message = self._on_message
        self._client.on_disconnect = self._on_disconnect
        self._loop: asyncio.AbstractEventLoop | None = None
        # (gateway id, kind, payload) of `up/data`, `up/status`, `up/sensors`: stored in order.
        self._data: queue.Queue[tuple[str, str, bytes] | None] = queue.Queue()
        self._worker: threading.Thread | None = None
        self._replies: dict[str, asyncio.Future[dict[str, Any]]] = {}
        self._athletes: dict[str, tuple[int | None, float]] = {}
        self._connected = threading.Event()
        self._answering = ThreadPoolExecutor(max_workers=2, thread_name_prefix="winkwatch-answer")
        self.questions_answered = 0
        self.batches_applied = 0
        self.changes_applied = 0
        self.duplicates = 0
        self.gaps = 0
        self.live_relayed = 0
        self.profiles_published = 0
        self.tombstones_published = 0
        self.profiles_cleared = 0
        self._profiles_sent: dict[tuple[str, str], bytes] = {}  # (gateway, uid) -> payload

    # -- life cycle ---------------------------------------------------------------------------
    def start(self, loop: asyncio.AbstractEventLoop) -> CentralHub:
        self._loop = loop
        self._worker = threading.Thread(target=self._apply_loop, name="winkwatch-central-apply")
        self._worker.daemon = True
        self._worker.start()
        connect(self._client, self.settings)
        return self

    def stop(self) -> None:
        if self._loop is not None and not self._loop.is_closed():
            self._loop.call_soon_threadsafe(self.bus.close)  # live streams end
        self._client.disconnect()
        self._client.loop_stop()
        self._data.put(None)
        self._answering.shutdown(wait=True, cancel_futures=True)
        if self._worker is not None:
            self._worker.join(timeout=30.0)

    @property
    def connected(self) -> bool:
        return self._connected.is_set()

    # -- the API's GatewayPort: the central server is no gateway of its own ----------------------
    # Its live streams read `bus`; sets and sensors are acted on at the edges (CentralService).
    def sensors(self) -> list[SensorSnapshot]:
        return []  # link state lives on the edges (api.federation.status)

    def sensor_health(self, snapshot: SensorSnapshot) -> SensorHealth:
        raise _NOT_A_GATEWAY

    def readiness(self, athlete_id: str) -> Readiness:
        raise _NOT_A_GATEWAY

    def active_sets(self) -> dict[str, SetInfo]:
        return {}

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
    ) -> SetInfo:
        raise _NOT_A_GATEWAY

    def plan_set(
        self, athlete_id: str, variant: SetVariant, load_kg: float | None = None, notes: str = ""
    ) -> SetInfo:
        raise _NOT_A_GATEWAY

    def stop_set(self, athlete_id: str) -> SetInfo | None:
        raise _NOT_A_GATEWAY

    async def stop_set_after_grace(self, athlete_id: str) -> SetInfo | None:
        raise _NOT_A_GATEWAY

    def set_load(self, set_key: str, load_kg: float | None) -> bool:
        raise _NOT_A_GATEWAY

    def assign_sensor(
        self, address: str, kind: SensorKind, athlete_id: str, placement: Placement
    ) -> SensorAssignment:
        raise _NOT_A_GATEWAY

    def unassign_sensor(self, address: str) -> bool:
        raise _NOT_A_GATEWAY

    async def discover(self, timeout_s: float) -> list[DiscoveredSensor]:
        raise _NOT_A_GATEWAY

    # -- MQTT callbacks (paho's thread) --------------------------------------------------------
    def _on_connect(
        self,
        client: mqtt.Client,
        _userdata: Any,
        _flags: mqtt.ConnectFlags,
        reason_code: ReasonCode,
        _properties: Properties | None,
    ) -> None:
        if reason_failed(reason_code):
            log.error("broker refused the central server: %s", reason_code)
            return
        client.subscribe(topics.ALL_UP, qos=1)
        self._connected.set()
        log.info("central server connected to the broker")

    def _on_disconnect(
        self,
        _client: mqtt.Client,
        _userdata: Any,
        _flags: mqtt.DisconnectFlags,
        reason_code: ReasonCode,
        _properties: Properties | None,
    ) -> None:
        self._connected.clear()
        log.warning("central server lost the broker (%s); reconnecting", reason_code)

    def _on_message(self, _client: mqtt.Client, _userdata: Any, message: mqtt.MQTTMessage) -> None:
        # An exception here would end paho's network thread, and with it every gateway's data:
        # whatever a gateway sends, a message that cannot be handled is dropped alone.
        try:
            self._handle_message(message)
        except Exception as exc:
            log.error("ignored a message on %s that could not be handled: %r", message.topic, exc)

    def _handle_message(self, message: mqtt.MQTTMessage) -> None:
        parsed = topics.parse(message.topic)
        if parsed is None or parsed[1] != "up":
            return
        gateway_id, _, kind = parsed
        if kind in _STORED_KINDS:
            self._data.put((gateway_id, kind, bytes(message.payload)))
            if kind != "status":
                return
        try:
            data = decode_payload(message.payload)
        except FederationError as exc:
            if kind != "status":  # the worker says so of a status
                log.error("ignored a malformed message on %s: %s", message.topic, exc)
            return
        if not isinstance(data, dict):
            return
        if kind == "live":
            self._relay(gateway_id, data)
        elif kind == "status":  # also stored by the worker
            self.gateways[gateway_id] = {**data, "gateway_id": gateway_id}
        elif kind == "query":
            self._answering.submit(self._answer, gateway_id, data)
        elif kind == "reply":
            future = self._replies.get(str(data.get("id")))
            if future is not None and self._loop is not None:
                self._loop.call_soon_threadsafe(resolve, future, data)

    def _relay(self, gateway_id: str, data: dict[str, Any]) -> None:
        uid = data.get("athlete_uid")
        athlete = self._central_athlete(uid) if uid else None
        try:
            event = event_from_dict(data, athlete_id=None if athlete is None else str(athlete))
        except FederationError as exc:
            log.warning("live event from %s ignored: %s", gateway_id, exc)
            return
        if self._loop is not None:
            self._loop.call_soon_threadsafe(self.bus.publish, event)
            self.live_relayed += 1

    def _central_athlete(self, uid: str) -> int | None:
        known = self._athletes.get(uid)
        if known is not None and (known[0] is not None or time.monotonic() < known[1]):
            return known[0]
        with self._db.sessions() as db:
            athlete_id = db.scalar(select(Athlete.id).where(Athlete.uid == uid))
        self._athletes[uid] = (athlete_id, time.monotonic() + UNKNOWN_ATHLETE_RETRY_S)
        return athlete_id

    # -- questions from the edges (answering threads) ------------------------------------------
    def _answer(self, gateway_id: str, query: dict[str, Any]) -> None:
        """Answer an edge's question on `G/down/answer`: `streaming_gateway` (`address`): the
        online gateway other than the asking one that streams the sensor (`streaming_on`,
        null if none), the same question as the central server's own pairing asks."""
        answer: dict[str, Any] = {"id": query.get("id"), "ok": False}
        address = query.get("address")
        try:
            if query.get("question") != "streaming_gateway":
                raise FederationError(f"unknown question {query.get('question')!r}")
            if not isinstance(address, str):
                raise FederationError("a streaming_gateway question names no sensor address")
            streaming = status.streaming_gateway(self._db, address, other_than=gateway_id)
            answer.update(ok=True, streaming_on=streaming)
        except (WinkWatchError, SQLAlchemyError) as exc:
            log.error("could not answer gateway %s's question: %s", gateway_id, _one_line(exc))
            answer["detail"] = _one_line(exc)
        self.questions_answered += 1  # before: the edge may act on the answer at once
        self._client.publish(
            topics.down(gateway_id, "answer"),
            json.dumps(answer).encode(),
            qos=1,
            properties=expiring(ANSWER_EXPIRY_S),
        )

    # -- data worker -----------------------------------------------------------------------------
    def _apply_loop(self) -> None:
        next_sweep_s = time.monotonic() + PROFILE_SWEEP_S
        while True:
            try:
                item = self._data.get(timeout=max(0.0, next_sweep_s - time.monotonic()))
            except queue.Empty:
                item = ("", "sweep", b"")
            if item is None:
                return
            gateway_id, kind, payload = item
            try:
                if kind == "data":
                    self._store_batch(gateway_id, payload)
                elif kind == "status":
                    status.store_gateway_status(self._db, gateway_id, decode_payload(payload))
                elif kind == "sensors":
                    status.store_sensor_status(self._db, gateway_id, decode_payload(payload))
                elif kind == "tombstones":
                    self.publish_tombstones()
                else:
                    self.publish_profiles()
                    self.publish_tombstones()
                    next_sweep_s = time.monotonic() + PROFILE_SWEEP_S
            except _DATABASE_UNREACHABLE as exc:  # data comes again, status is retained
                log.error(
                    "could not store %s from gateway %s (will come again): %s",
                    kind,
                    gateway_id,
                    _one_line(exc),
                )
                time.sleep(1.0)  # not to spin while the database is down
            except Exception as exc:
                if kind not in _STORED_KINDS:
                    log.exception("could not publish the athletes' profiles and tombstones")
                    continue
                # What the payload holds (not JSON, nested too deep, a value no column takes):
                # it is refused alone, at once, and the next gateway's message goes on.
                log.error("%s from gateway %s refused: %s", kind, gateway_id, _one_line(exc))

    def _store_batch(self, gateway_id: str, payload: bytes) -> None:
        message = decode_payload(payload)
        result = apply_batch(self._db, gateway_id, message)
        if result.status == "applied":
            self.batches_applied += 1
            self.changes_applied += result.applied
        elif result.status == "duplicate":
            self.duplicates += 1
        else:
            self.gaps += 1
        self._client.publish(
            topics.down(gateway_id, "ack"),
            json.dumps({"origin": message.get("origin"), "seq": result.last_seq}).encode(),
            qos=1,
            retain=True,
        )
        if result.athlete_ids:
            self.publish_profiles(result.athlete_ids)
        for cleared_gateway, uid in sorted(result.tombstones_cleared):
            self.clear_profile(cleared_gateway, uid)
        if result.tombstones_added:
            self.publish_tombstones()

    # -- athlete profiles down to the edges (worker thread) ---------------------------------------
    def publish_profiles(self, athlete_ids: Iterable[int] | None = None) -> int:
        """Publish (retained) the profile of each athlete to every gateway that knows them, where
        it changed since last sent; `athlete_ids` None: every athlete. Returns messages sent."""
        with self._db.sessions() as db:
            query = (
                select(FederationInbox.gateway_id, Athlete)
                .join(FederationRow, FederationRow.origin == FederationInbox.origin)
                .join(Athlete, Athlete.id == FederationRow.central_id)
                .where(FederationRow.table_name == "athletes")
            )
            if athlete_ids is not None:
                query = query.where(Athlete.id.in_(list(athlete_ids)))
            targets = [(g, athlete_profile(a)) for g, a in db.execute(query)]
        sent = 0
        for gateway_id, profile in targets:
            sent += self.publish_profile(gateway_id, profile)
        return sent

    def publish_profile(self, gateway_id: str, profile: dict[str, Any]) -> bool:
        payload = profile_payload(profile)
        key = (gateway_id, str(profile["uid"]))
        if self._profiles_sent.get(key) == payload:
            return False
        info = self._client.publish(topics.profile(gateway_id, key[1]), payload, qos=1, retain=True)
        if info.rc == mqtt.MQTT_ERR_SUCCESS:  # else sent again at the next sweep
            self._profiles_sent[key] = payload
            self.profiles_published += 1
        return True

    # -- athletes deleted centrally (worker thread; api.federation.tombstones) ------------------
    def send_tombstones(self) -> None:
        """Publish pending tombstones soon (from any thread: the worker thread publishes)."""
        self._data.put(("", "tombstones", b""))

    def publish_tombstones(self) -> int:
        """Publish, retained on `G/down/profile/<uid>` in place of her profile, the tombstone of
        every deleted athlete that gateway still has; returns messages sent."""
        with self._db.sessions() as db:
            targets = tombstones.pending(db)
        sent = 0
        for gateway_id, uid, delete_sets in targets:
            key = (gateway_id, uid)
            payload = tombstones.tombstone_payload(uid, delete_sets)
            if self._profiles_sent.get(key) == payload:
                continue
            info = self._client.publish(
                topics.profile(gateway_id, uid), payload, qos=1, retain=True
            )
            if info.rc == mqtt.MQTT_ERR_SUCCESS:  # else sent again at the next sweep
                self._profiles_sent[key] = payload
                self.tombstones_published += 1
                sent += 1
        return sent

    def clear_profile(self, gateway_id: str, uid: str) -> None:
        """The gateway deleted the athlete: no retained message for her is left on the broker."""
        info = self._client.publish(topics.profile(gateway_id, uid), b"", qos=1, retain=True)
        if info.rc == mqtt.MQTT_ERR_SUCCESS:
            self._profiles_sent[(gateway_id, uid)] = b""
            self.profiles_cleared += 1

    # -- commands (event loop) -------------------------------------------------------------------
    async def command(self, gateway_id: str, action: str, **fields: Any) -> dict[str, Any]:
        """Send `action` to the gateway and return its answer (raises the matching API error)."""
        topics.check_gateway_id(gateway_id)
        command_id = uuid.uuid4().hex
        expires = datetime.now(UTC) + timedelta(seconds=COMMAND_TIMEOUT_S)
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._replies[command_id] = future
        payload = {"id": command_id, "action": action, "expires_utc": expires.isoformat()}
        try:
            self._client.publish(
                topics.down(gateway_id, "cmd"),
                json.dumps({**payload, **fields}).encode(),
                qos=1,
                properties=expiring(int(COMMAND_TIMEOUT_S)),
            )
            try:
                reply = await asyncio.wait_for(future, COMMAND_TIMEOUT_S)
            except TimeoutError:
                online = self.gateways.get(gateway_id, {}).get("online")
                raise CommandFailed(
                    f"gateway {gateway_id} did not answer {action} within "
                    f"{COMMAND_TIMEOUT_S:.0f} s ({'online' if online else 'offline or unknown'});"
                    " check its link and try again"
                ) from None
        finally:
            self._replies.pop(command_id, None)
        if not reply.get("ok"):
            detail = f"gateway {gateway_id}: {reply.get('detail')}"
            code = reply.get("code")
            if code == 422 and _too_old(str(reply.get("detail"))):
                raise GatewayTooOld(gateway_id, action, str(reply.get("detail")))
            if code == 404:
                raise _NotFoundOnEdge(detail)
            if code == 409:
                raise ConflictError(detail)
            raise InvalidInputError(detail)
        return reply


class _NotFoundOnEdge(NotFoundError):
    def __init__(self, detail: str) -> None:
        WinkWatchError.__init__(self, detail)
        self.kind, self.ident = "record", detail


def _too_old(detail: str) -> bool:
    """Whether an edge's 422 says its WinkWatch is older than this server's: it knows no such
    action, or not a value of the command (a set variant added since). The command was checked
    here with the same rules, so either means the versions differ. These are the texts of
    `EdgeForwarder._run_command` and of a Python enum, in every version that answers 422."""
    return detail.startswith("FederationError: unknown action") or (
        detail.startswith("ValueError:") and "is not a valid" in detail
    )


def _one_line(exc: BaseException) -> str:
    """The problem in one log line: its first line (SQLAlchemy adds the statement and its
    parameters), cut short; the exception's type when it is not the project's own."""
    text = str(exc) if isinstance(exc, WinkWatchError) else f"{type(exc).__name__}: {exc}"
    line = text.splitlines()[0] if text.strip() else type(exc).__name__
    return line if len(line) <= _MAX_PROBLEM_CHARS else line[: _MAX_PROBLEM_CHARS - 3] + "..."
