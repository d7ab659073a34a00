"""Through a private Mosquitto: edge outbox -> central store, acknowledgements, identity."""

from __future__ import annotations

import asyncio
import json
import threading
import time

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion
from sqlalchemy import func, select

from api.federation import topics
from api.federation.central import CentralHub
from api.federation.edge import EdgeForwarder
from api.federation.mqtt import MqttSettings
from api.storage import catalog
from api.storage.db import open_database
from api.storage.models import Athlete, FederationInbox
from tests.federation.conftest import USERS


def mqtt_settings(broker, user: str) -> MqttSettings:
    return MqttSettings(host="127.0.0.1", port=broker.port, username=user, password=USERS[user])


class LoopThread:
    """An asyncio loop in a thread (the central hub and edges post work onto it)."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(timeout=5)


def wait_until(condition, timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def test_edge_changes_reach_the_central_store_once_and_are_acknowledged(
    tmp_path, broker, database
) -> None:
    loop = LoopThread()
    hub = CentralHub(database, mqtt_settings(broker, "central")).start(loop.loop)
    edge_db = open_database(f"sqlite:///{tmp_path / 'edge.db'}")
    forwarder = EdgeForwarder(edge_db, "gw-a", mqtt_settings(broker, "gw-a")).start()
    try:
        with edge_db.sessions.begin() as db:
            for index in range(30):
                catalog.create_athlete(db, f"athlete {index}")
        wait_until(lambda: forwarder.outbox.backlog() == 0, 15, "the outbox to drain")
        with database.sessions() as db:
            assert db.scalar(select(func.count()).select_from(Athlete)) == 30
            inbox = db.scalar(select(FederationInbox))
            assert (inbox.gateway_id, inbox.last_seq) == ("gw-a", forwarder.acked_seq)
        wait_until(lambda: hub.gateways.get("gw-a", {}).get("online"), 5, "retained status")
        forwarder.stop()
        # Offline said by the edge itself at a clean stop (a crash leaves it to the last will).
        wait_until(lambda: hub.gateways["gw-a"]["online"] is False, 5, "the offline status")
    finally:
        forwarder.stop(drain_s=0)
        hub.stop()
        loop.close()
        edge_db.dispose()


def _client(broker, user: str) -> mqtt.Client:
    client = mqtt.Client(
        CallbackAPIVersion.VERSION2, client_id=f"test-{user}", protocol=MQTTProtocolVersion.MQTTv5
    )
    client.username_pw_set(user, USERS[user])
    client.connect("127.0.0.1", broker.port)
    client.loop_start()
    return client


def test_a_gateway_cannot_publish_or_listen_as_another(broker, database) -> None:
    loop = LoopThread()
    hub = CentralHub(database, mqtt_settings(broker, "central")).start(loop.loop)
    wait_until(lambda: hub.connected, 5, "the central to connect")
    intruder = _client(broker, "gw-a")
    acks: dict[int, object] = {}
    subacks: list[object] = []
    assert hub is not None
    intruder.on_publish = lambda _c, _u, mid, reason, _p: acks.__setitem__(mid, reason)
    intruder.on_subscribe = lambda _c, _u, _mid, reasons, _p: subacks.extend(reasons)
    try:
        forged = {
            "origin": "f" * 32,
            "prev_seq": 0,
            "seq": 1,
            "changes": [
                {
                    "seq": 1,
                    "table": "athletes",
                    "id": 1,
                    "op": "insert",
                    "row": {"uid": "e" * 32, "name": "forged", "notes": "", "created_at": None},
                }
            ],
        }
        info = intruder.publish(topics.up("gw-b", "data"), json.dumps(forged), qos=1)
        status = intruder.publish(
            topics.up("gw-b", "status"), json.dumps({"online": True}), qos=1, retain=True
        )
        ack = intruder.publish(topics.down("gw-a", "ack"), json.dumps({"seq": 9}), qos=1)
        intruder.subscribe(topics.down("gw-b", "cmd"), qos=1)
        wait_until(lambda: len(acks) == 3 and subacks, 5, "the broker's answers")
        for message in (info, status, ack):
            assert acks[message.mid].value == 135, acks  # 0x87 Not authorized
        # Mosquitto grants the subscription but never delivers what the ACL forbids reading.
        received: list[str] = []
        intruder.on_message = lambda _c, _u, message: received.append(message.topic)
        hub._client.publish(topics.down("gw-b", "cmd"), b'{"id": "x"}', qos=1)
        time.sleep(0.5)
        assert received == []
        assert "gw-b" not in hub.gateways
        with database.sessions() as db:
            assert db.scalar(select(func.count()).select_from(Athlete)) == 0
            assert db.scalar(select(func.count()).select_from(FederationInbox)) == 0
    finally:
        intruder.loop_stop()
        intruder.disconnect()
        hub.stop()
        loop.close()


def test_wrong_password_is_refused(broker) -> None:
    client = mqtt.Client(CallbackAPIVersion.VERSION2, protocol=MQTTProtocolVersion.MQTTv5)
    client.username_pw_set("gw-a", "not-the-password")
    reasons: list[object] = []
    client.on_connect = lambda _c, _u, _f, reason, _p: reasons.append(reason)
    client.connect("127.0.0.1", broker.port)
    client.loop_start()
    try:
        wait_until(lambda: reasons, 5, "the broker's answer")
        assert reasons[0].is_failure and "authori" in str(reasons[0]).lower(), reasons
    finally:
        client.loop_stop()


def _live_angles(**fields: object) -> dict[str, object]:
    from datetime import UTC, datetime

    from sensor_gateway.events import LiveAngles, event_to_dict

    event = LiveAngles(
        athlete_id="1",
        t_s=1.0,
        wall_utc=datetime.now(UTC),
        set_key="k",
        set_t_s=1.0,
        thigh_deg=40.0,
        pelvic_tilt_deg=10.0,
        hip_flexion_deg=50.0,
    )
    return {**event_to_dict(event), "athlete_uid": None, **fields}


@pytest.mark.parametrize(
    "payload",
    [
        json.dumps(_live_angles(athlete_uid=["not", "a", "uid"])).encode(),
        json.dumps(_live_angles(thigh_deg=10**400)).encode(),  # JSON integers have no limit
        b"[" * 100_000,  # json.loads raises RecursionError, not ValueError
    ],
    ids=["unhashable-uid", "huge-number", "deep-nesting"],
)
def test_a_malformed_live_message_does_not_stop_the_central_server(
    tmp_path, broker, database, payload
) -> None:
    # Found by probing: each of these raised in paho's network thread, which ended it: the
    # central server still said it was connected but stored nothing more from any gateway.
    loop = LoopThread()
    hub = CentralHub(database, mqtt_settings(broker, "central")).start(loop.loop)
    wait_until(lambda: hub.connected, 5, "the central to connect")
    sender = _client(broker, "gw-a")
    edge_db = open_database(f"sqlite:///{tmp_path / 'edge.db'}")
    forwarder = EdgeForwarder(edge_db, "gw-b", mqtt_settings(broker, "gw-b"))
    try:
        sender.publish(topics.up("gw-a", "live"), payload, qos=1).wait_for_publish(5)
        sender.publish(topics.up("gw-a", "live"), json.dumps(_live_angles()), qos=1)
        wait_until(lambda: hub.live_relayed == 1, 5, "the good live event after the bad one")
        forwarder.start()
        with edge_db.sessions.begin() as db:
            catalog.create_athlete(db, "after the bad message")
        wait_until(lambda: forwarder.outbox.backlog() == 0, 15, "the other gateway's data")
        with database.sessions() as db:
            assert db.scalar(select(Athlete.name)) == "after the bad message"
    finally:
        forwarder.stop(drain_s=0)
        sender.loop_stop()
        sender.disconnect()
        hub.stop()
        loop.close()
        edge_db.dispose()


@pytest.mark.parametrize(
    "payload",
    [
        b"[" * 100_000,  # json.loads raises RecursionError, not ValueError
        json.dumps({"origin": None, "seq": [1]}).encode(),
    ],
    ids=["deep-nesting", "seq-a-list"],
)
def test_a_malformed_down_message_does_not_stop_the_edge(tmp_path, broker, database, payload):
    # Each raised in the edge's paho network thread, which ended it: the edge said it was
    # connected but took no acknowledgement (its outbox only grew), command or profile again.
    loop = LoopThread()
    hub = CentralHub(database, mqtt_settings(broker, "central")).start(loop.loop)
    central = _client(broker, "central")
    edge_db = open_database(f"sqlite:///{tmp_path / 'edge.db'}")
    forwarder = EdgeForwarder(edge_db, "gw-a", mqtt_settings(broker, "gw-a"))
    try:
        forwarder.start()
        wait_until(lambda: hub.connected, 5, "the central to connect")
        if b'"seq"' in payload:  # this edge's own origin, so that it is read as its ack
            payload = payload.replace(b"null", json.dumps(forwarder.outbox.origin).encode())
        time.sleep(0.5)  # the edge subscribed
        central.publish(topics.down("gw-a", "ack"), payload, qos=1).wait_for_publish(5)
        with edge_db.sessions.begin() as db:
            catalog.create_athlete(db, "after the bad message")
        wait_until(lambda: forwarder.outbox.backlog() == 0, 15, "the acknowledgement")
    finally:
        forwarder.stop(drain_s=0)
        central.loop_stop()
        central.disconnect()
        hub.stop()
        loop.close()
        edge_db.dispose()


def _batch_with_huge_id() -> bytes:
    row = {"uid": "e" * 32, "name": "huge", "notes": "", "created_at": None}
    change = {"seq": 1, "table": "athletes", "id": 10**400, "op": "insert", "row": row}
    return json.dumps({"origin": "f" * 32, "prev_seq": 0, "seq": 1, "changes": [change]}).encode()


@pytest.mark.parametrize(
    ("kind", "payload", "problem"),
    [
        ("data", b"[" * 100_000, "nested too deeply"),  # RecursionError, not ValueError
        ("sensors", b'{"a": ' * 100_000, "nested too deeply"),
        ("status", b'{"online": tru', "not JSON"),
        ("data", _batch_with_huge_id(), "refused"),  # the driver cannot take the number
    ],
    ids=["data-deep-nesting", "sensors-deep-nesting", "status-not-json", "data-huge-id"],
)
def test_a_payload_that_cannot_be_decoded_is_refused_alone_at_once(
    tmp_path, broker, database, caplog, kind, payload, problem
) -> None:
    # The data worker took a RecursionError (or any error but ValueError/TypeError/KeyError)
    # for the database being unreachable: "could not store data from gateway gw-a (will come
    # again)", then slept 1 s, so one gateway's bad payloads held up every other gateway's.
    import logging

    caplog.set_level(logging.INFO, logger="api.federation.central")
    loop = LoopThread()
    hub = CentralHub(database, mqtt_settings(broker, "central")).start(loop.loop)
    wait_until(lambda: hub.connected, 5, "the central to connect")
    sender = _client(broker, "gw-a")
    edge_db = open_database(f"sqlite:///{tmp_path / 'edge.db'}")
    forwarder = EdgeForwarder(edge_db, "gw-b", mqtt_settings(broker, "gw-b"))
    bad_payloads = 8
    try:
        for _ in range(bad_payloads):
            sender.publish(topics.up("gw-a", kind), payload, qos=1).wait_for_publish(5)
        forwarder.start()
        with edge_db.sessions.begin() as db:
            catalog.create_athlete(db, "after the bad payloads")
        started_s = time.monotonic()
        wait_until(lambda: forwarder.outbox.backlog() == 0, 15, "the other gateway's data")
        assert time.monotonic() - started_s < bad_payloads / 2  # 1 s each before
        with database.sessions() as db:
            assert db.scalar(select(Athlete.name)) == "after the bad payloads"
        about_a = [r for r in caplog.records if "gw-a" in r.getMessage()]
        assert len(about_a) == bad_payloads, [r.getMessage() for r in about_a]
        for record in about_a:
            line = record.getMessage()
            assert line.startswith(f"{kind} from gateway gw-a refused: "), line
            assert problem in line and "will come again" not in line, line
            assert "\n" not in line and len(line) < 400, line
    finally:
        forwarder.stop(drain_s=0)
        sender.loop_stop()
        sender.disconnect()
        hub.stop()
        loop.close()
        edge_db.dispose()
