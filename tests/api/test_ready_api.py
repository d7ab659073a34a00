"""The ready check over HTTP against a real server with a simulated athlete, and the start of
a set refused (409 with advice) while a sensor is not streaming unless overridden."""

from __future__ import annotations

import time

import httpx2
import pytest

from api.runtime import build_server
from api.settings import Settings
from tests.api.helpers import free_port, serve_in_thread
from tests.api.test_live_server import _tokens


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    root = tmp_path_factory.mktemp("ready")
    url = f"sqlite:///{root / 'ww.db'}"
    admin, _ = _tokens(url)
    built = build_server(
        Settings(database_url=url, gateway_id="ready-test"), simulate=1, config_dir=root
    )
    port = free_port()
    served = serve_in_thread(built, port)
    client = httpx2.Client(
        base_url=f"http://127.0.0.1:{port}",
        headers={"Authorization": f"Bearer {admin}"},
        timeout=10,
    )
    yield client, built, int(built.gateway.assignments.athletes()[0])
    client.close()
    served.stop()


def test_the_simulated_athletes_sensors_stream_and_say_their_health(server) -> None:
    client, _, athlete = server
    deadline = time.monotonic() + 20
    while True:
        body = client.get(f"/athletes/{athlete}/ready").json()
        if not body["missing"] or time.monotonic() > deadline:
            break
        time.sleep(0.3)
    assert body["missing"] == [], body
    assert [s["placement"] for s in body["sensors"]] == ["sacrum", "thigh"]
    assert all(s["streaming"] and s["health"] in ("good", "check") for s in body["sensors"])
    assert body["placement_code"] is None  # the simulator's sensors are where they belong
    status = client.get("/sensors/status").json()
    mine = [s for s in status if s["athlete_id"] == str(athlete)]
    assert len(mine) == 2 and all(s["health"] == "good" and s["health_reason"] for s in mine)


def test_a_set_with_silent_sensors_needs_the_override_and_is_marked(server) -> None:
    client, built, _ = server
    athlete = client.post("/athletes", json={"name": "Quiet"}).json()["id"]
    for placement in ("sacrum", "thigh"):  # assigned, but nothing ever streams from them
        built.gateway.assign_sensor(
            f"QUIET-{placement}".upper(), "simulated", str(athlete), placement
        )
    ready = client.get(f"/athletes/{athlete}/ready").json()
    assert ready["missing"] == ["sacrum", "thigh"] and not ready["ready"]
    assert all(s["health"] == "bad" and "not seen yet" in s["reason"] for s in ready["sensors"])
    refused = client.post("/sets", json={"athlete_id": athlete, "variant": "back_squat"})
    assert refused.status_code == 409, refused.text
    detail = refused.json()["detail"]
    assert "not streaming" in detail and "override" in detail
    assert client.get("/sets", params={"athlete_id": athlete}).json()["items"] == []
    started = client.post(
        "/sets",
        json={"athlete_id": athlete, "variant": "back_squat", "override_missing_sensors": True},
    )
    assert started.status_code == 201, started.text
    assert started.json()["started_without"] == ["sacrum", "thigh"]
    set_id = started.json()["id"]
    assert client.get(f"/sets/{set_id}").json()["started_without"] == ["sacrum", "thigh"]
    assert client.post(f"/sets/{set_id}/stop").status_code == 200
    assert client.get("/athletes/99999/ready").status_code == 404


def test_without_a_gateway_the_ready_check_is_a_documented_409(tmp_path) -> None:
    # schemathesis (ST103): the 409 was given but not in the schema
    from fastapi.testclient import TestClient

    from api.auth import create_token
    from api.http import create_app
    from api.storage import catalog
    from api.storage.db import open_database
    from api.vocab import TokenRole

    url = f"sqlite:///{tmp_path / 'ww.db'}"
    database = open_database(url)
    with database.sessions.begin() as db:
        _, reader = create_token(db, "dashboard", TokenRole.READ)
        athlete = catalog.create_athlete(db, "Ana").id
    app = create_app(Settings(database_url=url, gateway_id="no-gateway"), database=database)
    with TestClient(app) as client:
        response = client.get(
            f"/athletes/{athlete}/ready", headers={"Authorization": f"Bearer {reader}"}
        )
        assert response.status_code == 409 and "no gateway" in response.json()["detail"]
        operation = client.get("/openapi.json").json()["paths"]["/athletes/{athlete_id}/ready"]
        assert "409" in operation["get"]["responses"]
    database.dispose()
