"""Two simulations on one database: the second is refused before it changes anything.

Probed first with two `winkwatch serve --simulate 2` (gateway ids gw-a and gw-b) on one
SQLite file: both simulated "Simulated athlete 1" and "2" (found by name) with the same
sensors (SIM-1-SACRUM, ...), the second took those sensors over (sensors.gateway_id gw-b)
and every set it started was refused, the athlete recording on gw-a ("dropped one SetStarted
that cannot be stored", 731 warnings of samples of unknown sets in 60 s): nothing it showed
was stored.
"""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from sqlalchemy import select

from api.errors import StorageError
from api.runtime import build_server, close_unstarted
from api.settings import Settings
from api.storage.db import open_database
from api.storage.models import Athlete, Sensor
from tests.api.helpers import free_port


def _sensor_gateways(url: str, schema: str | None) -> dict[str, str | None]:
    database = open_database(url, schema)
    try:
        with database.sessions() as db:
            return {s.address: s.gateway_id for s in db.scalars(select(Sensor))}
    finally:
        database.dispose()


def test_a_second_simulation_of_the_same_athletes_is_refused(db_target, tmp_path) -> None:
    settings = Settings(database_url=db_target.url, database_schema=db_target.schema)
    first = build_server(
        settings.model_copy(update={"gateway_id": "gw-a"}), simulate=2, config_dir=tmp_path
    )
    try:
        before = _sensor_gateways(db_target.url, db_target.schema)
        assert set(before.values()) == {"gw-a"} and len(before) == 4
        with pytest.raises(StorageError, match="already simulated by") as refused:
            build_server(
                settings.model_copy(update={"gateway_id": "gw-b"}), simulate=3, config_dir=tmp_path
            )
        message = str(refused.value)
        assert "'Simulated athlete 1'" in message and "Nothing was changed" in message
        assert "--simulate N" in message and "WINKWATCH_DATABASE_URL" in message
        if db_target.schema is None:  # SQLite names the holder
            assert "gateway 'gw-a'" in message
        # The refused one took no sensor over and created no third athlete.
        assert _sensor_gateways(db_target.url, db_target.schema) == before
        database = open_database(db_target.url, db_target.schema)
        try:
            with database.sessions() as db:
                assert len(db.scalars(select(Athlete)).all()) == 2
        finally:
            database.dispose()
        # Its gateway id's lease went with it: gw-b can start without a simulation.
        ble = build_server(
            settings.model_copy(update={"gateway_id": "gw-b"}), simulate=0, config_dir=tmp_path
        )
        close_unstarted(ble)
    finally:
        close_unstarted(first)
    # Once the first stops, its athletes may be simulated by another gateway.
    second = build_server(
        settings.model_copy(update={"gateway_id": "gw-b"}), simulate=2, config_dir=tmp_path
    )
    close_unstarted(second)
    assert set(_sensor_gateways(db_target.url, db_target.schema).values()) == {"gw-b"}


def test_the_second_serve_says_why_and_exits_2(tmp_path) -> None:
    """The command line: `serve --simulate` on a database whose athletes another process
    simulates ends with the message (exit 2), no traceback."""
    url = f"sqlite:///{tmp_path / 'ww.db'}"
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import time\n"
            "from api.runtime import build_server\n"
            "from api.settings import Settings\n"
            f"s = Settings(database_url={url!r}, gateway_id='gw-a')\n"
            "from pathlib import Path\n"
            f"server = build_server(s, simulate=1, config_dir=Path({str(tmp_path)!r}))\n"
            "print('simulating', flush=True)\n"
            "time.sleep(600)\n",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "simulating"
        env = {
            "WINKWATCH_DATABASE_URL": url,
            "WINKWATCH_GATEWAY_ID": "gw-b",
            "WINKWATCH_GATEWAY_CONFIG_FILE": str(tmp_path / "b" / "gateway.json"),
        }
        done = subprocess.run(
            [sys.executable, "-m", "api.cli.main", "serve", "--simulate", "1"]
            + ["--port", str(free_port())],
            env=dict(os.environ, **env),
            capture_output=True,
            text=True,
            timeout=300,
        )
    finally:
        holder.kill()
        holder.wait(timeout=30)
    assert done.returncode == 2, done.stderr
    assert "already simulated by gateway 'gw-a'" in done.stderr
    assert "Traceback" not in done.stderr
