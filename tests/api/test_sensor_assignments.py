"""The database is the one source of truth of who wears which sensor: a running gateway is
told at start and on every change (a BLE sensor paired through the API streams at once, no
restart), each gateway streams only its own sensors, athletes are never created on the fly."""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Iterator
from pathlib import Path

import httpx2
import pytest

from api import sensor_assignments
from api.auth import create_token
from api.errors import NotFoundError
from api.runtime import build_server
from api.settings import Settings
from api.storage import catalog
from api.storage.db import open_database
from api.storage.models import Athlete
from api.storage.recorder import resolve_athlete_key
from api.vocab import Placement, TokenRole
from sensor_gateway.samples import SensorKind
from tests.api.helpers import free_port, serve_in_thread
from tests.gateway.conftest import fake_bluez  # noqa: F401 - the fixture
from tests.gateway.fake_bluez import FakeSensor

STREAM_TIMEOUT_S = 20.0  # scan + connect + first notifications on a loaded machine


def _wait_for(condition, timeout_s: float, what: str):
    deadline = time.monotonic() + timeout_s
    while True:
        found = condition()
        if found:
            return found
        assert time.monotonic() < deadline, f"timed out after {timeout_s} s waiting for {what}"
        time.sleep(0.1)


@contextlib.contextmanager
def _running(settings: Settings, config_dir: Path) -> Iterator[tuple[str, object]]:
    server = build_server(settings, config_dir=config_dir)
    port = free_port()
    served = serve_in_thread(server, port)
    try:
        yield f"http://127.0.0.1:{port}", server
    finally:
        served.stop()


def _status(base: str, headers: dict[str, str], address: str) -> dict | None:
    sensors = httpx2.get(f"{base}/sensors/status", headers=headers, timeout=5).json()
    return next((s for s in sensors if s["address"] == address), None)


def test_a_ble_sensor_paired_through_the_api_streams_at_once_without_a_restart(
    fake_bluez,  # noqa: F811 - the fixture
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    sensor = FakeSensor(SensorKind.WINKWATCH, "5A:C7:00:00:00:11")
    fake_bluez.add(sensor)
    url = f"sqlite:///{tmp_path / 'ww.db'}"
    database = open_database(url)
    with database.sessions.begin() as db:
        athlete_id = catalog.create_athlete(db, "Ana").id
        sensor_id = catalog.register_sensor(db, sensor.address, sensor.kind.value).id
        _, admin = create_token(db, "coach", TokenRole.ADMIN)
    database.dispose()
    headers = {"Authorization": f"Bearer {admin}"}
    settings = Settings(database_url=url, gateway_id="gw-a")
    caplog.set_level(logging.WARNING, logger="api.runtime")
    with _running(settings, tmp_path) as (base, _server):
        # Nothing assigned yet: the server says an assignment needs no restart.
        assert "takes effect at once, no restart needed" in caplog.text
        assert _status(base, headers, sensor.address) is None
        put = httpx2.put(
            f"{base}/sensors/{sensor_id}/assignment",
            json={"athlete_id": athlete_id, "placement": "thigh"},
            headers=headers,
        )
        assert put.status_code == 200, put.text
        streaming = _wait_for(
            lambda: (
                (s := _status(base, headers, sensor.address)) and s["state"] == "streaming" and s
            ),
            STREAM_TIMEOUT_S,
            "the newly paired sensor to stream",
        )
        assert streaming["athlete_id"] == str(athlete_id) and streaming["placement"] == "thigh"
        assert _wait_for(
            lambda: _status(base, headers, sensor.address)["samples"] > 50, 10.0, "samples"
        )
        off = httpx2.put(f"{base}/sensors/{sensor_id}/assignment", json={}, headers=headers)
        assert off.status_code == 200 and off.json()["athlete_id"] is None
        gone = _wait_for(
            lambda: (
                (s := _status(base, headers, sensor.address))
                and s["state"] == "gone"
                and s["athlete_id"] is None
                and s
            ),
            STREAM_TIMEOUT_S,
            "the unassigned sensor to be let go",
        )
        assert gone["placement"] is None


def test_a_restarted_gateway_streams_its_own_sensors_from_the_database(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'ww.db'}"
    database = open_database(url)
    with database.sessions.begin() as db:
        ana = catalog.create_athlete(db, "Ana").id
        ben = catalog.create_athlete(db, "Ben").id
        for address, athlete, gateway in (
            ("5A:C7:00:00:00:21", ana, "gw-a"),
            ("5A:C7:00:00:00:22", ana, "gw-a"),
            ("5A:C7:00:00:00:23", ben, "gw-b"),  # another gateway's sensor on this database
        ):
            sensor = catalog.register_sensor(db, address, "witmotion")
            placement = Placement.THIGH if address.endswith("22") else Placement.SACRUM
            sensor_assignments.assign(db, sensor.id, athlete, placement, gateway)
    database.dispose()
    server = build_server(Settings(database_url=url, gateway_id="gw-a"), config_dir=tmp_path)
    try:
        held = {
            (a.address, a.athlete_id, a.placement.value) for a in server.gateway.assignments.all()
        }
        assert held == {
            ("5A:C7:00:00:00:21", str(ana), "sacrum"),
            ("5A:C7:00:00:00:22", str(ana), "thigh"),
        }
        ble = server.gateway._sources[0]
        assert sorted(s.address for s in ble.sensors) == ["5A:C7:00:00:00:21", "5A:C7:00:00:00:22"]
    finally:
        server.sink.close()
        server.database.dispose()


def test_the_sink_never_creates_an_athlete_from_a_gateway_key(tmp_path: Path) -> None:
    database = open_database(f"sqlite:///{tmp_path / 'ww.db'}")
    with database.sessions.begin() as db:
        known = catalog.create_athlete(db, "Ana").id
        assert resolve_athlete_key(db, str(known)) == known
        for key in ("alice", "999", "Ana"):  # a name, an unknown id, even an existing name
            with pytest.raises(NotFoundError):
                resolve_athlete_key(db, key)
        assert db.query(Athlete).count() == 1
    database.dispose()
