"""A sensor that gateway A streams is not quietly paired elsewhere: the central server sends
an assignment of it to A (the gateway streaming it, as A's sensor report says), and pairing
it on gateway B while A streams it is refused, saying where it streams and what to do, whether
asked of the central server or of B's own API (B asks the central server; with the central
server out of reach B pairs it and warns). Through a private Mosquitto, the central store on
PostgreSQL (or SQLite)."""

from __future__ import annotations

import asyncio
import json
import logging
import time

import httpx2
import pytest

from api.errors import ConflictError
from api.federation import topics
from api.federation.central import CentralHub
from api.federation.service import CentralService
from api.storage import catalog
from api.storage.db import open_database
from api.storage.models import SensorStatus
from api.vocab import Placement
from tests.federation.test_broker import LoopThread, _client, mqtt_settings, wait_until
from tests.federation.test_deletion import _edge

pytestmark = pytest.mark.slow

ADDRESS = "AA:01"


def _pairing(database, address: str):
    """(athlete uid, placement) of the sensor in this store, or None."""
    with database.sessions() as db:
        sensor = catalog.sensor_by_address(db, address)
        if sensor is None or sensor.athlete_id is None:
            return None
        return catalog.get_athlete(db, sensor.athlete_id).uid, sensor.placement


def _reported(database, gateway_id: str, state: str) -> bool:
    with database.sessions() as db:
        row = db.get(SensorStatus, (gateway_id, ADDRESS))
        return row is not None and row.state == state


def test_a_sensor_streaming_on_one_gateway_is_not_paired_behind_its_back(
    tmp_path, broker, database
) -> None:
    loop = LoopThread()
    hub = CentralHub(database, mqtt_settings(broker, "central")).start(loop.loop)
    central = CentralService(database=database, gateway_id="central", hub=hub)
    edge_a, fwd_a = _edge(tmp_path, broker, loop, "gw-a")
    edge_b, fwd_b = _edge(tmp_path, broker, loop, "gw-b")
    reporter = _client(broker, "gw-a")  # gateway A's sensor report (its radio streams AA:01)
    try:
        with database.sessions.begin() as db:
            ana, bea = catalog.create_athlete(db, "Ana"), catalog.create_athlete(db, "Bea")
            db.flush()
            ana_id, ana_uid, bea_id, bea_uid = ana.id, ana.uid, bea.id, bea.uid
        wait_until(lambda: fwd_a.connected and fwd_b.connected and hub.connected, 15, "links")
        wait_until(lambda: {"gw-a", "gw-b"} <= set(hub.gateways), 15, "both gateways' status")
        # B has seen the sensor (it paired it for Bea once, unpaired since) and is the
        # gateway whose database sent anything last.
        central.assign_on("gw-b", ADDRESS, "simulated", bea_id, Placement.SACRUM)
        with edge_b.sessions.begin() as db:
            catalog.assign_sensor(db, catalog.sensor_by_address(db, ADDRESS).id, None, None)
        central.assign_on("gw-a", ADDRESS, "simulated", ana_id, Placement.SACRUM)
        report = {
            "gateway_id": "gw-a",
            "sensors": [
                {
                    "address": ADDRESS,
                    "kind": "simulated",
                    "athlete_uid": ana_uid,
                    "placement": "sacrum",
                    "state": "streaming",
                }
            ],
        }
        reporter.publish(topics.up("gw-a", "sensors"), json.dumps(report), qos=1, retain=True)
        wait_until(lambda: _reported(database, "gw-a", "streaming"), 15, "A's sensor report")
        wait_until(lambda: fwd_a.outbox.backlog() == 0, 15, "A's outbox to drain")
        with edge_b.sessions.begin() as db:  # B's database sends a change after A's
            catalog.create_athlete(db, "Cleo")
        wait_until(lambda: fwd_b.outbox.backlog() == 0, 15, "B's outbox to drain")
        assert _pairing(edge_a, ADDRESS) == (ana_uid, "sacrum")

        # Pairing it on B while A streams it: refused, nothing changes on either gateway.
        with pytest.raises(ConflictError, match="streaming on gateway gw-a") as refused:
            central.assign_on("gw-b", ADDRESS, "simulated", bea_id, Placement.SACRUM)
        assert "unpair it there first" in str(refused.value)
        assert _pairing(edge_a, ADDRESS) == (ana_uid, "sacrum")
        assert _pairing(edge_b, ADDRESS) is None

        # Moved at the central server (PUT /sensors/{id}/assignment): A, which streams it, is
        # told, not B.
        with database.sessions() as db:
            sensor_id = catalog.sensor_by_address(db, ADDRESS).id
        moved = central.assign_sensor(sensor_id, bea_id, Placement.THIGH)
        asyncio.run_coroutine_threadsafe(moved, loop.loop).result(30)
        assert _pairing(edge_a, ADDRESS) == (bea_uid, "thigh")
        assert _pairing(edge_b, ADDRESS) is None
        unpaired = central.assign_sensor(sensor_id, None, None)
        asyncio.run_coroutine_threadsafe(unpaired, loop.loop).result(30)
        assert _pairing(edge_a, ADDRESS) is None

        # Once A no longer streams it, it can be paired on B.
        report["sensors"][0].update(state="gone", athlete_uid=None, placement=None)
        reporter.publish(topics.up("gw-a", "sensors"), json.dumps(report), qos=1, retain=True)
        wait_until(lambda: _reported(database, "gw-a", "gone"), 15, "A's new sensor report")
        central.assign_on("gw-b", ADDRESS, "simulated", ana_id, Placement.SACRUM)
        assert _pairing(edge_b, ADDRESS) == (ana_uid, "sacrum")
    finally:
        reporter.loop_stop()
        reporter.disconnect()
        fwd_a.stop(drain_s=0)
        fwd_b.stop(drain_s=0)
        hub.stop()
        loop.close()


def _report(reporter, uid: str | None, state: str) -> None:
    """Gateway A's sensor report (retained): its radio has AA:01 in this link state."""
    sensor = {"address": ADDRESS, "kind": "simulated", "athlete_uid": uid, "state": state}
    sensor["placement"] = None if uid is None else "sacrum"
    report = {"gateway_id": "gw-a", "sensors": [sensor]}
    reporter.publish(topics.up("gw-a", "sensors"), json.dumps(report), qos=1, retain=True)


def _gateway_api(tmp_path, broker, loop, name: str):
    """An edge as `winkwatch serve --edge` composes it (its own API on its SQLite, the
    forwarder acting through the API's service), an admin's headers, and a request function."""
    from api.auth import create_token
    from api.federation.edge import EdgeForwarder
    from api.http.app import create_app
    from api.http.deps import app_service
    from api.settings import Settings
    from api.vocab import TokenRole

    database = open_database(f"sqlite:///{tmp_path / f'{name}.db'}")
    app = create_app(Settings(gateway_id=name), database=database)
    settings = mqtt_settings(broker, name)
    forwarder = EdgeForwarder(database, name, settings, service=app_service(app)).start(loop.loop)
    with database.sessions.begin() as db:
        _, token = create_token(db, "coach", TokenRole.ADMIN)

    def http(method: str, path: str, **kwargs) -> httpx2.Response:
        async def call():
            async with httpx2.AsyncClient(
                transport=httpx2.ASGITransport(app=app),
                base_url=f"http://{name}",
                headers={"Authorization": f"Bearer {token}"},
                timeout=30,
            ) as client:
                return await client.request(method, path, **kwargs)

        return asyncio.run_coroutine_threadsafe(call(), loop.loop).result(40)

    return database, forwarder, http


def test_pairing_on_a_gateway_s_own_api_asks_the_central_server_first(
    tmp_path, broker, database, caplog
) -> None:
    loop = LoopThread()
    hub = CentralHub(database, mqtt_settings(broker, "central")).start(loop.loop)
    edge_a, fwd_a = _edge(tmp_path, broker, loop, "gw-a")
    edge_b, fwd_b, on_b = _gateway_api(tmp_path, broker, loop, "gw-b")
    reporter = _client(broker, "gw-a")  # gateway A's sensor report (its radio streams AA:01)
    hubs = [hub]
    try:
        with edge_a.sessions.begin() as db:
            ana_uid = catalog.create_athlete(db, "Ana").uid
        wait_until(lambda: fwd_a.connected and fwd_b.connected and hub.connected, 15, "links")
        wait_until(lambda: {"gw-a", "gw-b"} <= set(hub.gateways), 15, "both gateways' status")
        _report(reporter, ana_uid, "streaming")
        wait_until(lambda: _reported(database, "gw-a", "streaming"), 15, "A's sensor report")
        bea = on_b("POST", "/athletes", json={"name": "Bea"}).json()["id"]
        sensor = on_b("POST", "/sensors", json={"address": ADDRESS, "kind": "simulated"})
        assert sensor.status_code == 201, sensor.text
        assignment = f"/sensors/{sensor.json()['id']}/assignment"
        pair = {"athlete_id": bea, "placement": "sacrum"}

        # On B's own API while A streams it: refused as the central server refuses it.
        refused = on_b("PUT", assignment, json=pair)
        assert refused.status_code == 409, refused.text
        detail = refused.json()["detail"]
        assert "sensor AA:01 is streaming on gateway gw-a: unpair it there first" in detail
        assert "then pair it on gw-b" in detail
        assert _pairing(edge_b, ADDRESS) is None
        assert hub.questions_answered == 1
        # Taking a sensor off an athlete asks nothing.
        assert on_b("PUT", assignment, json={"athlete_id": None, "placement": None}).is_success
        assert hub.questions_answered == 1

        # Once A no longer streams it, B pairs it.
        _report(reporter, None, "gone")
        wait_until(lambda: _reported(database, "gw-a", "gone"), 15, "A's new sensor report")
        paired = on_b("PUT", assignment, json=pair)
        assert paired.status_code == 200, paired.text
        wait_until(lambda: _pairing(edge_b, ADDRESS) is not None, 5, "B's pairing")
        assert on_b("PUT", assignment, json={"athlete_id": None, "placement": None}).is_success

        # The central server out of reach (A streams it again, unknown to B): B pairs it,
        # after at most the question's timeout, and warns that the two may fight over it.
        _report(reporter, ana_uid, "streaming")
        wait_until(lambda: _reported(database, "gw-a", "streaming"), 15, "A streams it again")
        hub.stop()
        hubs.clear()
        caplog.clear()
        with caplog.at_level(logging.WARNING, logger="api.federation.edge"):
            started_s = time.monotonic()
            alone = on_b("PUT", assignment, json=pair)
            waited_s = time.monotonic() - started_s
        assert alone.status_code == 200, alone.text
        assert waited_s < 6.0
        assert _pairing(edge_b, ADDRESS) is not None
        warned = [r.getMessage() for r in caplog.records if ADDRESS in r.getMessage()]
        assert warned and "did not answer" in warned[0] and "fight over it" in warned[0], warned
    finally:
        reporter.loop_stop()
        reporter.disconnect()
        fwd_a.stop(drain_s=0)
        fwd_b.stop(drain_s=0)
        for running in hubs:
            running.stop()
        loop.close()
        edge_a.dispose()
        edge_b.dispose()
