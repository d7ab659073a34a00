"""An athlete deleted on the central server is deleted on every platform that has her, also
one offline at the time, and a late change from a platform does not bring her back. A sensor
unassigned centrally is unassigned on its platform. Through a private Mosquitto (and, for the
late changes, outbox -> inbox directly), the central store on PostgreSQL (or SQLite)."""

from __future__ import annotations

import asyncio
import json
import time

import httpx2
import numpy as np
import pytest
from sqlalchemy import func, select

from api.federation import topics
from api.federation.central import CentralHub
from api.federation.edge import EdgeForwarder
from api.federation.outbox import Outbox
from api.federation.service import CentralService
from api.gateway_port import LiveService
from api.storage import catalog
from api.storage import sets as set_store
from api.storage.db import open_database
from api.storage.models import (
    Athlete,
    AthleteTombstone,
    ExerciseSet,
    FederationChange,
    FederationRow,
    RawChunk,
    Rep,
    Sensor,
    TombstoneCopy,
)
from api.vocab import Placement
from tests.federation.test_broker import LoopThread, _client, mqtt_settings, wait_until
from tests.federation.test_replication import _drain, _record_set

pytestmark = pytest.mark.slow


def _counts(database) -> dict[str, int]:
    with database.sessions() as db:
        return {
            model.__tablename__: db.scalar(select(func.count()).select_from(model)) or 0
            for model in (Athlete, ExerciseSet, Rep, RawChunk)
        }


def _by_uid(database, uid: str) -> Athlete | None:
    with database.sessions() as db:
        return db.scalar(select(Athlete).where(Athlete.uid == uid))


RETAINED_SETTLE_S = 1.0  # a cleared message never arrives: nothing to wait on but time
RETAINED_WAIT_S = 30.0  # bounds only a hang: on a loaded machine delivery can take seconds


def _retained_profiles(
    broker, gateway_id: str, *, waiting_for: str | None = None
) -> dict[str, bytes]:
    """What the broker keeps retained on `G/down/profile/+` (read as that gateway): what
    arrives within RETAINED_SETTLE_S, or, `waiting_for` a uid, until its message arrives
    (within RETAINED_WAIT_S)."""
    client = _client(broker, gateway_id)
    got: dict[str, bytes] = {}
    client.on_message = lambda _c, _u, m: got.__setitem__(m.topic, bytes(m.payload))
    expected = topics.profile(gateway_id, waiting_for) if waiting_for else None
    try:
        client.subscribe(topics.profile(gateway_id, "+"), qos=1)
        if expected is None:
            time.sleep(RETAINED_SETTLE_S)
        else:
            deadline = time.monotonic() + RETAINED_WAIT_S
            while expected not in got and time.monotonic() < deadline:
                time.sleep(0.05)
    finally:
        client.loop_stop()
        client.disconnect()
    return {topic.rsplit("/", 1)[1]: payload for topic, payload in got.items() if payload}


def _central_app(database, hub):
    """The central API (as `build_central` composes it) on this store and hub, and a coach."""
    from functools import partial

    from api.auth import create_token
    from api.federation.routes import install_central_routes
    from api.http.app import create_app
    from api.settings import Settings
    from api.vocab import TokenRole

    app = create_app(
        Settings(gateway_id="central"),
        hub,
        database=database,
        service=partial(CentralService, hub=hub),
    )
    install_central_routes(app)
    with database.sessions.begin() as db:
        _, token = create_token(db, "coach", TokenRole.ADMIN)
    return app, {"Authorization": f"Bearer {token}"}


def _edge(tmp_path, broker, loop, name: str, database=None):
    database = database or open_database(f"sqlite:///{tmp_path / f'{name}.db'}")
    service = LiveService(database=database, gateway_id=name)
    forwarder = EdgeForwarder(database, name, mqtt_settings(broker, name), service=service)
    return database, forwarder.start(loop.loop)


def test_an_athlete_deleted_centrally_is_deleted_on_every_platform(
    tmp_path, broker, database
) -> None:
    loop = LoopThread()
    hub = CentralHub(database, mqtt_settings(broker, "central")).start(loop.loop)
    central = CentralService(database=database, gateway_id="central", hub=hub)
    edge_a, fwd_a = _edge(tmp_path, broker, loop, "gw-a")
    edge_b, fwd_b = _edge(tmp_path, broker, loop, "gw-b")
    forwarders = [fwd_a, fwd_b]

    app, headers = _central_app(database, hub)

    def http(method: str, path: str, **kwargs):
        async def call():
            transport = httpx2.ASGITransport(app=app)
            async with httpx2.AsyncClient(
                transport=transport, base_url="http://central", headers=headers, timeout=30
            ) as client:
                return await client.request(method, path, **kwargs)

        return asyncio.run_coroutine_threadsafe(call(), loop.loop).result(40)

    try:
        # Ana trains on A (two sensors, a set with reps and raw samples); Bea stays.
        with edge_a.sessions.begin() as db:
            ana = catalog.create_athlete(db, "Ana")
            bea = catalog.create_athlete(db, "Bea")
            db.flush()
            ana_a, uid, bea_a, bea_uid = ana.id, ana.uid, bea.id, bea.uid
        _record_set(edge_a, ana_a, reps=3, chunks=2, gateway_id="gw-a")
        _record_set(edge_a, bea_a, reps=2, chunks=1, gateway_id="gw-a")
        wait_until(lambda: fwd_a.outbox.backlog() == 0, 30, "A to upload")
        ana_c = _by_uid(database, uid).id
        wait_until(lambda: fwd_b.connected and hub.connected, 10, "connections")
        # The coach pairs her on B too (B creates her from the command) and she trains there.
        for address, placement in (("AA:00", Placement.SACRUM), ("AA:01", Placement.THIGH)):
            central.assign_on("gw-b", address, "simulated", ana_c, placement)
        ana_b = _by_uid(edge_b, uid).id
        _record_set(edge_b, ana_b, reps=4, chunks=2, gateway_id="gw-b")
        wait_until(lambda: fwd_b.outbox.backlog() == 0, 30, "B to upload")
        wait_until(lambda: _counts(database)["sets"] == 3, 30, "every set at the central")

        # A sensor unassigned at the central server is unassigned on its platform.
        with database.sessions() as db:
            thigh = catalog.sensor_by_address(db, "AA:01")
            assert thigh is not None and thigh.athlete_id == ana_c
        unpaired = http(
            "PUT", f"/sensors/{thigh.id}/assignment", json={"athlete_id": None, "placement": None}
        )
        assert unpaired.status_code == 200, unpaired.text
        with edge_b.sessions() as db:
            on_b = catalog.sensor_by_address(db, "AA:01")
            assert (on_b.athlete_id, on_b.placement) == (None, None)

        # B goes offline; while it is, it records more for Ana (it does not know yet).
        fwd_b.stop(drain_s=0)
        forwarders.remove(fwd_b)
        with edge_b.sessions.begin() as db:
            db.get(Athlete, ana_b).notes = "late edit on B"
        _record_set(edge_b, ana_b, reps=2, chunks=1, gateway_id="gw-b")

        # The coach deletes Ana at the central server: refused while she has sets (nothing
        # sent anywhere), then with her sets.
        refused = http("DELETE", f"/athletes/{ana_c}")
        assert refused.status_code == 409, refused.text
        with database.sessions() as db:
            assert db.scalar(select(func.count()).select_from(AthleteTombstone)) == 0
        deleted = http("DELETE", f"/athletes/{ana_c}", params={"delete_sets": "true"})
        assert deleted.status_code == 204, deleted.text
        assert _by_uid(database, uid) is None

        # A (online) deletes her with her sets, reps and raw samples; its outbox drains.
        wait_until(lambda: _by_uid(edge_a, uid) is None, 15, "A to delete Ana")
        wait_until(lambda: fwd_a.outbox.backlog() == 0, 15, "A's deletes to upload")
        assert _counts(edge_a) == {"athletes": 1, "sets": 1, "reps": 2, "raw_chunks": 2}
        with edge_a.sessions() as db:
            assert db.scalar(select(ExerciseSet.athlete_id).distinct()) == bea_a
        wait_until(lambda: not _pending(database, "gw-a"), 15, "A's copy to be cleared")
        assert uid not in _retained_profiles(broker, "gw-a")  # the retained message is cleared
        # B is still offline: its tombstone waits on the broker, retained.
        retained_b = _retained_profiles(broker, "gw-b", waiting_for=uid)
        assert json.loads(retained_b[uid]) == {"uid": uid, "deleted": True, "delete_sets": True}

        # B reconnects: its late edits arrive first and are not stored; then it deletes her.
        _, fwd_b = _edge(tmp_path, broker, loop, "gw-b", database=edge_b)
        forwarders.append(fwd_b)
        wait_until(lambda: _by_uid(edge_b, uid) is None, 20, "B to delete Ana")
        wait_until(lambda: fwd_b.outbox.backlog() == 0, 30, "B's outbox to drain")
        wait_until(lambda: not _pending(database, "gw-b"), 15, "B's copy to be cleared")
        assert _counts(edge_b) == {"athletes": 0, "sets": 0, "reps": 0, "raw_chunks": 0}
        with edge_b.sessions() as db:
            assert db.scalar(select(func.count()).select_from(FederationChange)) == 0
            assert {s.athlete_id for s in db.scalars(select(Sensor))} == {None}
        assert uid not in _retained_profiles(broker, "gw-b")
        # The central server has Bea and her set, nothing of Ana's, and keeps her tombstone.
        assert _by_uid(database, uid) is None
        assert _counts(database) == {"athletes": 1, "sets": 1, "reps": 2, "raw_chunks": 2}
        assert _by_uid(database, bea_uid) is not None
        with database.sessions() as db:
            assert db.get(AthleteTombstone, uid) is not None
            assert {s.athlete_id for s in db.scalars(select(Sensor))} == {None}
        assert fwd_a.athletes_deleted == 1 and fwd_b.athletes_deleted == 1
    finally:
        for forwarder in forwarders:
            forwarder.stop(drain_s=0)
        hub.stop()
        loop.close()
        edge_a.dispose()
        edge_b.dispose()


def _pending(database, gateway_id: str) -> bool:
    with database.sessions() as db:
        return bool(
            db.scalar(
                select(func.count())
                .select_from(TombstoneCopy)
                .where(TombstoneCopy.gateway_id == gateway_id)
            )
        )


def test_late_changes_of_a_deleted_athlete_do_not_bring_her_back(tmp_path, database) -> None:
    """Without the edge applying the tombstone: its edits, new sets and a second database
    that also has her (e.g. a platform whose copy the central server never saw) are refused
    quietly, and the edge's replication keeps flowing for everyone else."""
    from api.federation.service import CentralService

    edge = open_database(f"sqlite:///{tmp_path / 'edge.db'}")
    outbox = Outbox(edge)
    with edge.sessions.begin() as db:
        ana, bea = catalog.create_athlete(db, "Ana"), catalog.create_athlete(db, "Bea")
        db.flush()
        ana_id, uid, bea_id = ana.id, ana.uid, bea.id
        sensor = catalog.register_sensor(db, "AA:00", "simulated")
        catalog.assign_sensor(db, sensor.id, ana_id, Placement.SACRUM)
    _record_set(edge, ana_id, reps=3, chunks=2)
    _drain(outbox, database)
    ana_c = _by_uid(database, uid).id
    asyncio.run(CentralService(database=database, gateway_id="central").delete_athlete(ana_c, True))
    assert _counts(database) == {"athletes": 1, "sets": 0, "reps": 0, "raw_chunks": 0}
    with database.sessions() as db:  # her rows' id mappings are gone with her rows
        mapped = dict(
            db.execute(
                select(FederationRow.table_name, func.count()).group_by(FederationRow.table_name)
            ).all()
        )
    # Bea and the sensor; her set only as a set of hers (its late raw chunks are dropped)
    assert mapped == {"athletes": 1, "sensors": 1, "sets_of_deleted_athletes": 1}

    with edge.sessions.begin() as db:  # late: renamed, re-paired, a new set; Bea trains too
        db.get(Athlete, ana_id).name = "Ana late"
        catalog.assign_sensor(db, sensor.id, ana_id, Placement.THIGH)
    _record_set(edge, ana_id, reps=2, chunks=1)
    _record_set(edge, bea_id, reps=2, chunks=1)
    _drain(outbox, database)
    assert outbox.backlog() == 0  # nothing stuck behind her rows
    assert _by_uid(database, uid) is None
    assert _counts(database) == {"athletes": 1, "sets": 1, "reps": 2, "raw_chunks": 2}
    with database.sessions() as db:
        synced = catalog.sensor_by_address(db, "AA:00")
        assert (synced.athlete_id, synced.placement) == (None, None)  # kept, without her

    other = open_database(f"sqlite:///{tmp_path / 'other.db'}")
    with other.sessions.begin() as db:
        copy = catalog.create_athlete(db, "Ana elsewhere")
        copy.uid = uid
        db.flush()
        copy_id = copy.id
    _record_set(other, copy_id, reps=2, chunks=1)
    other_outbox = Outbox(other)
    _drain(other_outbox, database, gateway_id="gw-b")
    assert _by_uid(database, uid) is None
    assert _counts(database) == {"athletes": 1, "sets": 1, "reps": 2, "raw_chunks": 2}
    with database.sessions() as db:  # gw-b will be told to delete its copy
        copies = {(c.gateway_id, c.local_id) for c in db.scalars(select(TombstoneCopy))}
    assert copies == {("gw-a", ana_id), ("gw-b", copy_id)}
    # ... and the central API lists what each platform has still to delete (readers too)
    from fastapi.testclient import TestClient

    app, coach = _central_app(database, None)
    with TestClient(app) as client:
        assert client.get("/gateways/deletions").status_code == 401
        response = client.get("/gateways/deletions", headers=coach)
        assert response.status_code == 200, response.text
        pending = response.json()
        assert [(p["gateway_id"], p["athlete_uid"], p["delete_sets"]) for p in pending] == [
            ("gw-a", uid, True),
            ("gw-b", uid, True),
        ]
        assert pending[0]["deleted_at"] == pending[1]["deleted_at"]

    # The edge deletes her (as its forwarder does on the tombstone): its copy is cleared.
    with edge.sessions.begin() as db:
        catalog.delete_athlete(db, ana_id, delete_sets=True)
    _drain(outbox, database)
    with database.sessions() as db:
        assert {c.gateway_id for c in db.scalars(select(TombstoneCopy))} == {"gw-b"}
    with TestClient(app) as client:
        pending = client.get("/gateways/deletions", headers=coach).json()
        assert [(p["gateway_id"], p["athlete_uid"]) for p in pending] == [("gw-b", uid)]
    edge.dispose()
    other.dispose()


def test_late_raw_chunks_of_a_deleted_athletes_set_are_dropped_saying_so(
    tmp_path, database, caplog
) -> None:
    """Found by the previous session: a set of hers still recording on the edge when she was
    deleted centrally sends its next raw chunks after the tombstone; the central server
    logged "raw_chunks row refers to sets N that never reached the central server", which is
    wrong (it reached it, and was deleted with her). They are dropped with one line per batch
    saying whose they are and why; nothing of hers comes back, the other athlete's set still
    arrives; after the edge's own delete of her the markers go with her copy."""
    import logging

    from api.federation.service import CentralService

    edge = open_database(f"sqlite:///{tmp_path / 'edge.db'}")
    outbox = Outbox(edge)
    with edge.sessions.begin() as db:
        ana, bea = catalog.create_athlete(db, "Ana"), catalog.create_athlete(db, "Bea")
        db.flush()
        ana_id, uid, bea_id = ana.id, ana.uid, bea.id
    _record_set(edge, ana_id, reps=2, chunks=1)
    _drain(outbox, database)
    with edge.sessions() as db:
        (her_set,) = db.scalars(select(ExerciseSet.id).where(ExerciseSet.athlete_id == ana_id))
    ana_c = _by_uid(database, uid).id
    asyncio.run(CentralService(database=database, gateway_id="central").delete_athlete(ana_c, True))
    assert _counts(database) == {"athletes": 1, "sets": 0, "reps": 0, "raw_chunks": 0}

    rng = np.random.default_rng(3)
    with edge.sessions.begin() as db:  # her set goes on recording on the edge
        for index in (1, 2):
            set_store.add_raw_chunk(
                db,
                her_set,
                Placement.THIGH,
                "AA:thigh",
                index,
                index + np.arange(200) / 200.0,
                rng.normal(size=(200, 3)),
                rng.normal(size=(200, 3)),
            )
    _record_set(edge, bea_id, reps=2, chunks=1)
    caplog.set_level(logging.INFO, logger="api.federation.inbox")
    _drain(outbox, database, max_changes=1)  # each chunk in a batch of its own
    assert outbox.backlog() == 0
    assert _by_uid(database, uid) is None
    assert _counts(database) == {"athletes": 1, "sets": 1, "reps": 2, "raw_chunks": 2}  # Bea's
    messages = [r.getMessage() for r in caplog.records]
    assert not [m for m in messages if "never reached" in m], messages
    dropped = [m for m in messages if "deleted centrally" in m]
    assert len(dropped) == 2, messages
    assert all(
        f"gateway gw-a: dropped 1 raw_chunks row of set {her_set} (athlete {ana_id} there)" in m
        and "not stored" in m
        for m in dropped
    ), dropped
    assert all(
        r.levelno < logging.WARNING for r in caplog.records if "deleted centrally" in r.getMessage()
    )

    with edge.sessions.begin() as db:  # the edge applies the tombstone
        catalog.delete_athlete(db, ana_id, delete_sets=True)
    _drain(outbox, database)
    with database.sessions() as db:
        assert db.scalar(select(func.count()).select_from(TombstoneCopy)) == 0
        left = db.scalars(select(FederationRow.table_name)).all()
    # Bea's rows only: her set's marker went with the edge's copy of her
    assert sorted(left) == [
        "athletes",
        "raw_chunks",
        "raw_chunks",
        "reps",
        "reps",
        "sessions",
        "sets",
    ]
    edge.dispose()


@pytest.mark.parametrize("with_service", [True, False])
def test_the_edge_stops_her_running_set_and_deletes_her_on_the_tombstone(
    tmp_path, with_service
) -> None:
    """The tombstone as the forwarder receives it (no broker): a set of hers still recording
    here is ended first, her data goes, another athlete's stays, and the outbox has the
    deletes to carry up; an unknown uid or a second delivery changes nothing."""
    from api.federation.mqtt import MqttSettings
    from api.federation.tombstones import tombstone_message
    from api.storage import sets as set_store
    from api.vocab import SetVariant

    edge = open_database(f"sqlite:///{tmp_path / 'edge.db'}")
    outbox = Outbox(edge)
    with edge.sessions.begin() as db:
        ana, bea = catalog.create_athlete(db, "Ana"), catalog.create_athlete(db, "Bea")
        db.flush()
        ana_id, uid, bea_id = ana.id, ana.uid, bea.id
    _record_set(edge, ana_id, reps=2, chunks=1)
    _record_set(edge, bea_id, reps=2, chunks=1)
    with edge.sessions.begin() as db:  # started here, still recording
        set_store.start_set(db, ana_id, SetVariant.BACK_SQUAT, gateway_id="gw-a")
    outbox.acknowledge(outbox.read_batch(0, max_changes=10_000).seq)
    loop = LoopThread()
    service = LiveService(database=edge, gateway_id="gw-a") if with_service else None
    forwarder = EdgeForwarder(edge, "gw-a", MqttSettings(host="127.0.0.1"), service=service)
    forwarder._loop = loop.loop if with_service else None
    try:
        forwarder._on_tombstone(tombstone_message("f" * 32, True))  # not here: nothing
        forwarder._on_tombstone(tombstone_message(uid, False))
        forwarder._on_tombstone(tombstone_message(uid, False))  # delivered twice
        wait_until(lambda: _by_uid(edge, uid) is None, 10, "Ana to be deleted")
        time.sleep(0.3)
        assert forwarder.athletes_deleted == 1
        assert _counts(edge) == {"athletes": 1, "sets": 1, "reps": 2, "raw_chunks": 2}
        with edge.sessions() as db:
            deletes = {
                (c.table_name, c.op)
                for c in db.scalars(select(FederationChange).where(FederationChange.op == "delete"))
            }
        assert {("athletes", "delete"), ("sets", "delete"), ("reps", "delete")} <= deletes
        assert ("raw_chunks", "delete") in deletes
    finally:
        loop.close()
        edge.dispose()
