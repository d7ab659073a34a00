"""Several gateways on one database: unique persisted ids, recovery of one's own sets only,
one platform per athlete at a time (409, enforced by the database), concurrent start-up."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from datetime import UTC, datetime

import numpy as np
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from api.auth import create_token
from api.errors import ConflictError
from api.http import create_app
from api.settings import Settings
from api.storage import catalog
from api.storage import sets as set_store
from api.storage.db import open_database
from api.storage.models import ExerciseSet, Sensor
from api.storage.recorder import DatabaseSink, recover_after_restart
from api.vocab import Placement, SetStatus, SetVariant, TokenRole
from sensor_gateway.config import ConfigError, load_or_create_gateway_id
from sensor_gateway.events import SetStarted, SetStopped, StopReason
from tests.api.helpers import athlete_key, raw_samples, set_info


def test_gateway_id_is_generated_once_and_kept(tmp_path, monkeypatch) -> None:
    monkeypatch.setattr("socket.gethostname", lambda: "raspberrypi")
    first = load_or_create_gateway_id(tmp_path / "pi-a")
    assert first.startswith("raspberrypi-") and len(first) > len("raspberrypi-") + 8
    assert load_or_create_gateway_id(tmp_path / "pi-a") == first  # persisted
    assert load_or_create_gateway_id(tmp_path / "pi-b") != first  # same host name, new id
    monkeypatch.setenv("WINKWATCH_GATEWAY_CONFIG_FILE", str(tmp_path / "pi-a" / "gateway.json"))
    monkeypatch.delenv("WINKWATCH_GATEWAY_ID", raising=False)
    assert Settings().gateway_id == first
    (tmp_path / "pi-c").mkdir()
    (tmp_path / "pi-c" / "gateway_id").write_text("\n")
    with pytest.raises(ConfigError, match="not valid"):
        load_or_create_gateway_id(tmp_path / "pi-c")


def test_gateways_starting_at_once_agree_on_one_id(tmp_path) -> None:
    ids: list[str] = []
    threads = [
        threading.Thread(target=lambda: ids.append(load_or_create_gateway_id(tmp_path)))
        for _ in range(8)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(set(ids)) == 1


def _common(info):
    return dict(athlete_id=info.athlete_id, t_s=info.started_s, wall_utc=info.started_utc)


def test_restart_of_one_gateway_leaves_the_others_sets_alone(database, db_target) -> None:
    sink_a = DatabaseSink(database, gateway_id="pi-a", start_thread=False)
    info = set_info(athlete_key(database, "Ana"), key="a1")
    sink_a.record_event(SetStarted(set=info, **_common(info)))
    assert sink_a.flush()
    # Gateway B (re)starts: the runtime builder's recovery step runs for B.
    assert recover_after_restart(database, "pi-b") == []
    sink_a.write_samples(raw_samples(info, Placement.THIGH, 1000.0 + np.arange(20) / 100))
    assert sink_a.flush()
    with database.sessions() as db:
        row = set_store.set_by_key(db, "a1")
        assert row.status == SetStatus.RECORDING.value and row.recorded_s > 0.1


def test_an_athlete_records_on_one_platform_at_a_time(database, db_target) -> None:
    """Gateway B may not take over a set gateway A is recording: 409 saying where it runs."""
    sink_a = DatabaseSink(database, gateway_id="pi-a", start_thread=False)
    info = set_info(athlete_key(database, "Ana"), key="a1")
    sink_a.record_event(SetStarted(set=info, **_common(info)))
    assert sink_a.flush()
    with database.sessions() as db:
        set_a = set_store.set_by_key(db, "a1")
    settings_b = Settings(
        database_url=db_target.url, database_schema=db_target.schema, gateway_id="pi-b"
    )
    with database.sessions.begin() as db:
        _, admin = create_token(db, "coach", TokenRole.ADMIN)
    with TestClient(create_app(settings_b, database=database)) as client:
        response = client.post(
            "/sets",
            json={"athlete_id": set_a.athlete_id, "variant": "back_squat"},
            headers={"Authorization": f"Bearer {admin}"},
        )
    assert response.status_code == 409, response.text
    detail = response.json()["detail"]
    assert f"set {set_a.id}" in detail and "pi-a" in detail and "one platform" in detail
    # The gateway's own path (a set started on B's sensors) is refused the same way...
    with database.sessions.begin() as db, pytest.raises(ConflictError, match="pi-a"):
        set_store.start_set(
            db, set_a.athlete_id, SetVariant.BACK_SQUAT, gateway_id="pi-b", close_running=True
        )
    sink_b = DatabaseSink(database, gateway_id="pi-b", start_thread=False)
    info_b = set_info(athlete_key(database, "Ana"), key="b1")
    sink_b.record_event(SetStarted(set=info_b, **_common(info_b)))
    sink_b.flush()
    with database.sessions() as db:
        assert set_store.get_set(db, set_a.id).status == SetStatus.RECORDING.value  # untouched
        assert set_store.set_by_key(db, "b1") is None
    # ... and once A has stopped, B records, in a session of its own.
    sink_a.record_event(
        SetStopped(set=info, reason=StopReason.REQUESTED, rep_count=0, **_common(info))
    )
    assert sink_a.flush()
    sink_b.record_event(SetStarted(set=info_b, **_common(info_b)))
    assert sink_b.flush()
    with database.sessions() as db:
        set_b = set_store.set_by_key(db, "b1")
        assert set_b.status == SetStatus.RECORDING.value
        assert set_b.session_id != set_a.session_id


def test_the_database_enforces_one_recording_set_per_athlete(database) -> None:
    with database.sessions.begin() as db:
        athlete = catalog.create_athlete(db, "Ana")
        session = catalog.create_session(db, athlete.id)
        athlete_id, session_id = athlete.id, session.id
    started = datetime(2026, 3, 1, tzinfo=UTC)
    with pytest.raises(IntegrityError), database.sessions.begin() as db:
        for key in ("x1", "x2"):  # what two racing gateways would insert
            db.add(
                ExerciseSet(
                    set_key=key,
                    session_id=session_id,
                    athlete_id=athlete_id,
                    variant="back_squat",
                    status="recording",
                    gateway_id=key,
                    started_at=started,
                )
            )
            db.flush()
    with database.sessions.begin() as db:
        for key, status in (("y1", "completed"), ("y2", "completed"), ("y3", "recording")):
            db.add(
                ExerciseSet(
                    set_key=key,
                    session_id=session_id,
                    athlete_id=athlete_id,
                    variant="back_squat",
                    status=status,
                    gateway_id="gw",
                    started_at=started,
                )
            )
        db.flush()


_START_GATEWAY = """
import sys, time
from api.storage import catalog
from api.storage.db import open_database
url, schema, start_at = sys.argv[1], sys.argv[2] or None, float(sys.argv[3])
time.sleep(max(0.0, start_at - time.time()))  # all processes go at the same instant
database = open_database(url, schema)
with database.sessions.begin() as db:
    catalog.register_sensor(db, "C4:7F:51:00:00:01", "winkwatch", "sacrum")
database.dispose()
"""


def test_gateways_starting_at_once_share_one_schema_and_one_sensor_row(db_target) -> None:
    """Migrations are serialized and sensor registration is idempotent across processes."""
    start_at = str(time.time() + 3.0)
    processes = [
        subprocess.Popen(
            [sys.executable, "-c", _START_GATEWAY, db_target.url, db_target.schema or "", start_at],
            stderr=subprocess.PIPE,
        )
        for _ in range(4)
    ]
    failures = []
    for process in processes:
        _, stderr = process.communicate(timeout=120)
        if process.returncode != 0:
            failures.append(stderr.decode(errors="replace")[-2000:])
    assert failures == []
    database = open_database(db_target.url, db_target.schema)
    with database.sessions() as db:
        assert db.scalar(select(func.count()).select_from(Sensor)) == 1
    database.dispose()


def test_a_live_gateway_refuses_an_athlete_recording_elsewhere(database, db_target, tmp_path):
    from sensor_gateway.config import Assignments, GatewaySettings
    from sensor_gateway.gateway import Gateway

    sink_a = DatabaseSink(database, gateway_id="pi-a", start_thread=False)
    with database.sessions.begin() as db:
        athlete_id = catalog.create_athlete(db, "Ana").id
        _, admin = create_token(db, "coach", TokenRole.ADMIN)
    info = set_info(str(athlete_id), key="a1")
    sink_a.record_event(SetStarted(set=info, **_common(info)))
    assert sink_a.flush()
    settings = GatewaySettings(config_file=tmp_path / "gateway.json")
    store = Assignments()
    store.assign("C4:7F:51:00:00:01", "simulated", str(athlete_id), "sacrum")
    store.assign("C4:7F:51:00:00:02", "simulated", str(athlete_id), "thigh")
    sink_b = DatabaseSink(database, gateway_id="pi-b", start_thread=False)
    gateway_b = Gateway(settings, store, sink=sink_b)
    app_settings = Settings(
        database_url=db_target.url, database_schema=db_target.schema, gateway_id="pi-b"
    )
    app = create_app(app_settings, gateway_b, database=database, sink=sink_b)
    with TestClient(app) as client:
        response = client.post(
            "/sets",
            json={"athlete_id": athlete_id, "variant": "back_squat"},
            headers={"Authorization": f"Bearer {admin}"},
        )
    assert response.status_code == 409 and "pi-a" in response.json()["detail"]
    assert gateway_b.active_sets() == {}  # B never started analysing
    with database.sessions() as db:
        assert set_store.set_by_key(db, "a1").status == SetStatus.RECORDING.value
