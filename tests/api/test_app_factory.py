"""Building the app opens and writes nothing; the runtime recovers interrupted sets."""

from __future__ import annotations

import subprocess
import sys

import pytest
from fastapi.testclient import TestClient

from api.errors import StorageError
from api.http import create_app
from api.runtime import build_server
from api.settings import Settings
from api.storage import catalog
from api.storage import sets as set_store
from api.storage.db import open_database
from api.storage.gateway_lease import take_gateway_lease
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


def test_a_second_process_of_the_same_gateway_is_refused_before_it_interrupts_a_set(
    db_target, tmp_path
) -> None:
    """A second `serve` with the same gateway id (say on another port) used to mark the
    running server's set interrupted while it kept recording into it."""
    settings = Settings(
        database_url=db_target.url, database_schema=db_target.schema, gateway_id="gw"
    )
    first = build_server(settings, simulate=1, config_dir=tmp_path)
    try:
        database = open_database(db_target.url, db_target.schema)
        try:
            with database.sessions.begin() as db:
                athlete = catalog.create_athlete(db, "Ana", "")
                set_id = set_store.start_set(
                    db, athlete.id, SetVariant.BACK_SQUAT, gateway_id="gw"
                ).id
        finally:
            database.dispose()
        with pytest.raises(StorageError, match="'gw' is already running") as refused:
            build_server(settings, simulate=1, config_dir=tmp_path)
        assert "WINKWATCH_GATEWAY_ID" in str(refused.value)
        other = build_server(  # no simulation: its athlete is the first server's
            settings.model_copy(update={"gateway_id": "gw-2"}), simulate=0, config_dir=tmp_path
        )
        other.sink.close()
        other.database.dispose()
        database = open_database(db_target.url, db_target.schema)
        try:
            with database.sessions() as db:
                assert set_store.get_set(db, set_id).status == SetStatus.RECORDING.value
        finally:
            database.dispose()
    finally:
        first.sink.close()
        first.database.dispose()
    # The lease goes with the first server's database: the next start is a restart.
    again = build_server(settings, simulate=1, config_dir=tmp_path)
    try:
        assert set_id in again.interrupted_set_ids
    finally:
        again.sink.close()
        again.database.dispose()


def test_the_lease_is_dropped_when_its_holder_dies(tmp_path) -> None:
    """A gateway killed with -9 holds nothing: the kernel drops its flock."""
    url = f"sqlite:///{tmp_path / 'ww.db'}"
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, time\n"
            "from api.storage.db import open_database\n"
            "from api.storage.gateway_lease import take_gateway_lease\n"
            f"database = open_database({url!r})\n"
            "take_gateway_lease(database, 'gw')\n"
            "print('held', flush=True)\n"
            "time.sleep(60)\n",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        database = open_database(url)
        try:
            with pytest.raises(StorageError, match="already running"):
                take_gateway_lease(database, "gw")
            holder.kill()
            holder.wait(timeout=10)
            take_gateway_lease(database, "gw")
        finally:
            database.dispose()
    finally:
        holder.kill()
        holder.wait(timeout=10)
