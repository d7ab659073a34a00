"""Building the app opens and writes nothing; the runtime recovers interrupted sets."""

from __future__ import annotations

from fastapi.testclient import TestClient

from api.http import create_app
from api.runtime import build_server
from api.settings import Settings
from api.storage import catalog
from api.storage import sets as set_store
from api.storage.db import open_database
from api.vocab import SetStatus, SetVariant


def test_building_the_app_does_not_touch_the_database(tmp_path) -> None:
    path = tmp_path / "ww.db"
    app = create_app(Settings(database_url=f"sqlite:///{path}"))
    assert not path.exists()
    with TestClient(app) as client:  # starting it opens and upgrades the database
        assert path.exists()
        assert client.get("/health").json()["database"] == "ok"


def _recording_set(url: str, gateway_id: str) -> int:
    database = open_database(url)
    try:
        with database.sessions.begin() as db:
            athlete = catalog.create_athlete(db, "Ana", "")
            row = set_store.start_set(db, athlete.id, SetVariant.BACK_SQUAT, gateway_id=gateway_id)
            return row.id
    finally:
        database.dispose()


def _status(url: str, set_id: int) -> str:
    database = open_database(url)
    try:
        with database.sessions() as db:
            return set_store.get_set(db, set_id).status
    finally:
        database.dispose()


def test_a_set_left_recording_is_interrupted_by_the_server_not_by_the_app(tmp_path) -> None:
    url = f"sqlite:///{tmp_path / 'ww.db'}"
    set_id = _recording_set(url, "gw")
    database = open_database(url)
    create_app(Settings(database_url=url, gateway_id="gw"), database=database)
    assert _status(url, set_id) == SetStatus.RECORDING.value
    database.dispose()

    server = build_server(
        Settings(database_url=url, gateway_id="gw"), simulate=1, config_dir=tmp_path
    )
    try:
        assert server.interrupted_set_ids == [set_id]
        assert _status(url, set_id) == SetStatus.INTERRUPTED.value
    finally:
        server.sink.close()
        server.database.dispose()
