"""An athlete archived (or restored) on the central server is archived (or restored) on every
platform that has her: out of its lists, her sensors freed, a set she records there stopped
first; nothing echoes back up. Through a private Mosquitto with the central store on
PostgreSQL (or SQLite), and as the forwarder receives the profile (no broker)."""

from __future__ import annotations

import time
from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from api.federation.central import CentralHub
from api.federation.edge import EdgeForwarder
from api.federation.errors import FederationError
from api.federation.mqtt import MqttSettings
from api.federation.outbox import Outbox
from api.federation.profiles import apply_profile
from api.gateway_port import LiveService
from api.storage import catalog
from api.storage import sets as set_store
from api.storage.db import open_database
from api.storage.models import Athlete, ExerciseSet, FederationChange, Sensor
from api.vocab import Placement, SetStatus, SetVariant
from tests.federation.test_broker import LoopThread, mqtt_settings, wait_until

pytestmark = pytest.mark.slow

ARCHIVED_AT = datetime(2026, 11, 30, 18, 5, 7, 123456, tzinfo=UTC)


def _athlete(database, uid: str) -> Athlete | None:
    with database.sessions() as db:
        return db.scalar(select(Athlete).where(Athlete.uid == uid))


def _edge_with_ana(tmp_path, *, recording: bool) -> tuple:
    """An edge database with Ana wearing a sacrum sensor (and recording a set), all of it
    already acknowledged by the central server."""
    edge = open_database(f"sqlite:///{tmp_path / 'edge.db'}")
    with edge.sessions.begin() as db:
        ana = catalog.create_athlete(db, "Ana")
        db.flush()
        sensor = catalog.register_sensor(db, "AA:BB:CC:00:00:01", "simulated")
        catalog.assign_sensor(db, sensor.id, ana.id, Placement.SACRUM)
        set_id = None
        if recording:
            set_id = set_store.start_set(db, ana.id, SetVariant.BACK_SQUAT, gateway_id="gw-a").id
        ana_id, uid = ana.id, ana.uid
    outbox = Outbox(edge)
    outbox.acknowledge(outbox.read_batch(0, max_changes=10_000).seq)
    return edge, outbox, ana_id, uid, set_id


def _athlete_changes(edge) -> int:
    with edge.sessions() as db:
        return len(
            list(
                db.scalars(
                    select(FederationChange).where(FederationChange.table_name == "athletes")
                )
            )
        )


def test_a_profile_archives_and_restores_the_athlete_here(tmp_path) -> None:
    edge, _outbox, ana_id, uid, _ = _edge_with_ana(tmp_path, recording=False)
    applied = apply_profile(
        edge, {"uid": uid, "archived_at": ARCHIVED_AT.isoformat()}, create=False
    )
    assert applied is not None and applied.athlete_id == ana_id
    assert applied.freed == ["AA:BB:CC:00:00:01"]
    assert _athlete(edge, uid).archived_at == ARCHIVED_AT  # the central server's instant
    with edge.sessions() as db:
        sensor = catalog.sensor_by_address(db, "AA:BB:CC:00:00:01")
        assert (sensor.athlete_id, sensor.placement) == (None, None)
        assert [a.id for a in catalog.list_athletes(db).items] == []
    assert _athlete_changes(edge) == 0  # no echo of the archive upward
    again = apply_profile(edge, {"uid": uid, "archived_at": ARCHIVED_AT.isoformat()}, create=False)
    assert again is not None and again.freed == []  # the retained message again: no change

    restored = apply_profile(edge, {"uid": uid, "archived_at": None}, create=False)
    assert restored is not None and restored.freed == []
    assert _athlete(edge, uid).archived_at is None
    # A profile from an older central server, without the field, leaves the state alone.
    apply_profile(edge, {"uid": uid, "archived_at": ARCHIVED_AT.isoformat()}, create=False)
    apply_profile(edge, {"uid": uid, "name": "Ana"}, create=False)
    assert _athlete(edge, uid).archived_at == ARCHIVED_AT
    with pytest.raises(FederationError, match="archived_at 'yesterday' is not a time"):
        apply_profile(edge, {"uid": uid, "archived_at": "yesterday"}, create=False)
    edge.dispose()


@pytest.mark.parametrize("with_service", [True, False])
def test_the_edge_stops_her_running_set_before_archiving_her(
    tmp_path, with_service, caplog
) -> None:
    """With the running service the set is stopped first and archived; without one (no
    gateway in the process) the archive is refused with a clear log line, nothing changed."""
    edge, _outbox, _ana_id, uid, set_id = _edge_with_ana(tmp_path, recording=True)
    loop = LoopThread()
    service = LiveService(database=edge, gateway_id="gw-a") if with_service else None
    forwarder = EdgeForwarder(edge, "gw-a", MqttSettings(host="127.0.0.1"), service=service)
    forwarder._loop = loop.loop if with_service else None
    try:
        forwarder._on_profile({"uid": uid, "archived_at": ARCHIVED_AT.isoformat()})
        if with_service:
            wait_until(lambda: _athlete(edge, uid).archived_at is not None, 10, "the archive")
            with edge.sessions() as db:
                assert db.get(ExerciseSet, set_id).status == SetStatus.COMPLETED.value
                assert db.scalar(select(Sensor.athlete_id)) is None
            assert forwarder.profiles_applied == 1
        else:
            time.sleep(0.2)
            assert _athlete(edge, uid).archived_at is None
            with edge.sessions() as db:
                assert db.get(ExerciseSet, set_id).status == SetStatus.RECORDING.value
            assert forwarder.profiles_applied == 0
            assert (
                "Ana is recording set" in caplog.text and "stop it before archiving" in caplog.text
            )
    finally:
        loop.close()
        edge.dispose()


def test_an_athlete_archived_centrally_is_archived_on_her_platform(
    tmp_path, broker, database
) -> None:
    """The defect this fixes: the central server's archive never reached the edge, and the
    edge's next change of her row (all columns go up) restored her centrally."""
    loop = LoopThread()
    hub = CentralHub(database, mqtt_settings(broker, "central")).start(loop.loop)
    edge = open_database(f"sqlite:///{tmp_path / 'gw-a.db'}")
    service = LiveService(database=edge, gateway_id="gw-a")
    forwarder = EdgeForwarder(edge, "gw-a", mqtt_settings(broker, "gw-a"), service=service)
    forwarder.start(loop.loop)
    try:
        with edge.sessions.begin() as db:
            ana_id, uid = (a := catalog.create_athlete(db, "Ana")).id, a.uid
        wait_until(lambda: _athlete(database, uid) is not None, 30, "Ana on the central server")
        with database.sessions.begin() as db:  # the coach archives her at the central server
            catalog.archive_athlete(db, _athlete(database, uid).id, True)
        central_at = _athlete(database, uid).archived_at
        wait_until(lambda: _athlete(edge, uid).archived_at is not None, 30, "the archive on gw-a")
        assert _athlete(edge, uid).archived_at == central_at

        with edge.sessions.begin() as db:  # a later edit on the edge goes up with her archive
            catalog.get_athlete(db, ana_id).femur_cm = 45.0
        wait_until(lambda: _athlete(database, uid).femur_cm == 45.0, 30, "the edit centrally")
        assert _athlete(database, uid).archived_at == central_at

        with database.sessions.begin() as db:  # restored centrally: restored on the edge
            catalog.archive_athlete(db, _athlete(database, uid).id, False)
        wait_until(lambda: _athlete(edge, uid).archived_at is None, 30, "the restore on gw-a")
    finally:
        forwarder.stop(drain_s=0)
        hub.stop()
        loop.close()
        edge.dispose()
