"""Setting up from the phone, through the API: athletes created, renamed, archived (stored
sets kept) and deleted only when told; sensors found by the gateway's scan, paired, swapped,
unassigned and renamed, each change on the running gateway at once; who is signed in; a
sign-in code (link + QR) for another phone."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from api.auth import create_token
from api.runtime import build_server
from api.settings import Settings
from api.storage import catalog
from api.storage import sets as set_store
from api.storage.models import Athlete, ExerciseSet, Rep, Sensor
from api.vocab import SetStatus, SetVariant, TokenRole
from tests.api.helpers import metrics


@pytest.fixture
def setup(db_target, tmp_path):
    """`winkwatch serve --simulate 2` as the app sees it (gateway built, not streaming)."""
    settings = Settings(
        database_url=db_target.url, database_schema=db_target.schema, gateway_id="gw-setup"
    )
    server = build_server(settings, simulate=2, config_dir=tmp_path)
    with server.database.sessions.begin() as db:
        _, admin = create_token(db, "coach", TokenRole.ADMIN)
        _, reader = create_token(db, "wall screen", TokenRole.READ)
    with TestClient(server.app) as client:
        client.headers.update({"Authorization": f"Bearer {admin}"})
        client.reader = {"Authorization": f"Bearer {reader}"}
        client.server = server
        yield client
    server.sink.close()
    server.database.dispose()


def _stored_set(database, athlete_id: int) -> int:
    with database.sessions.begin() as db:
        row = set_store.start_set(db, athlete_id, SetVariant.BACK_SQUAT, gateway_id="gw-setup")
        set_store.add_reps(db, row, [metrics(1), metrics(2)])
        set_store.finish_set(db, row.id, SetStatus.COMPLETED)
        return row.id


def test_an_athlete_is_created_renamed_with_lengths_and_a_note(setup) -> None:
    made = setup.post(
        "/athletes", json={"name": "Jo", "notes": "left knee", "femur_cm": 44.5, "shank_cm": 41}
    )
    assert made.status_code == 201, made.text
    athlete = made.json()
    assert (athlete["femur_cm"], athlete["shank_cm"], athlete["notes"]) == (44.5, 41.0, "left knee")
    renamed = setup.patch(f"/athletes/{athlete['id']}", json={"name": "Jo B", "femur_cm": 45})
    assert renamed.json()["name"] == "Jo B" and renamed.json()["femur_cm"] == 45.0
    assert renamed.json()["shank_cm"] == 41.0 and renamed.json()["archived_at"] is None
    bad = setup.patch(f"/athletes/{athlete['id']}", json={"femur_cm": 400})
    assert bad.status_code == 422


def test_archiving_keeps_every_stored_set_and_frees_the_sensors(setup) -> None:
    gateway, database = setup.server.gateway, setup.server.database
    athlete_id = int(gateway.assignments.athletes()[0])
    set_id = _stored_set(database, athlete_id)
    archived = setup.put(f"/athletes/{athlete_id}/archive", json={"archived": True})
    assert archived.status_code == 200 and archived.json()["archived_at"] is not None
    listed = [a["id"] for a in setup.get("/athletes").json()["items"]]
    assert athlete_id not in listed
    assert [a["id"] for a in setup.get("/athletes?archived=true").json()["items"]] == [athlete_id]
    assert setup.get(f"/sets/{set_id}").status_code == 200  # kept
    assert len(setup.get(f"/reps?set_id={set_id}").json()["items"]) == 2
    assert gateway.assignments.for_athlete(str(athlete_id)) == {}  # the gateway knows at once
    assert setup.get(f"/sensors?athlete_id={athlete_id}").json()["items"] == []
    # Archived, she records nothing and wears nothing until restored: said, not a traceback.
    started = setup.post("/sets", json={"athlete_id": athlete_id, "variant": "back_squat"})
    assert started.status_code == 409
    assert "is archived: restore them first" in started.json()["detail"]
    assert "before starting a set" in started.json()["detail"]
    sensor_id = setup.get("/sensors").json()["items"][0]["id"]
    paired = setup.put(
        f"/sensors/{sensor_id}/assignment", json={"athlete_id": athlete_id, "placement": "sacrum"}
    )
    assert paired.status_code == 409 and "before pairing a sensor" in paired.json()["detail"]
    with database.sessions() as db:
        assert db.query(ExerciseSet).filter(ExerciseSet.athlete_id == athlete_id).count() == 1
    restored = setup.put(f"/athletes/{athlete_id}/archive", json={"archived": False})
    assert restored.json()["archived_at"] is None
    assert athlete_id in [a["id"] for a in setup.get("/athletes").json()["items"]]


def test_deleting_an_athlete_with_stored_sets_asks_first_and_loses_nothing(setup) -> None:
    database = setup.server.database
    athlete_id = setup.post("/athletes", json={"name": "Kim"}).json()["id"]
    set_id = _stored_set(database, athlete_id)
    refused = setup.delete(f"/athletes/{athlete_id}")
    assert refused.status_code == 409
    assert "1 stored set" in refused.json()["detail"] and "archive" in refused.json()["detail"]
    with database.sessions() as db:
        assert db.get(Athlete, athlete_id) is not None and db.get(ExerciseSet, set_id) is not None
        assert db.query(Rep).filter(Rep.set_id == set_id).count() == 2
    told = setup.delete(f"/athletes/{athlete_id}?delete_sets=true")
    assert told.status_code == 204, told.text
    with database.sessions() as db:
        assert db.get(Athlete, athlete_id) is None and db.get(ExerciseSet, set_id) is None
        assert db.query(Rep).filter(Rep.set_id == set_id).count() == 0
    empty = setup.post("/athletes", json={"name": "Lee"}).json()["id"]
    assert setup.delete(f"/athletes/{empty}").status_code == 204  # nothing to lose: no question
    assert setup.delete(f"/athletes/{empty}").status_code == 404


def test_a_scan_finds_the_sensors_and_pairing_takes_effect_on_the_gateway_at_once(setup) -> None:
    gateway = setup.server.gateway
    found = setup.post("/sensors/scan", json={"timeout_s": 0.5})
    assert found.status_code == 200, found.text
    sensors = found.json()
    assert len(sensors) == 4  # two simulated athletes, two sensors each
    for sensor in sensors:
        assert sensor["kind"] == "simulated" and sensor["rssi_dbm"] == -60
        assert sensor["battery_pct"] == 100 and sensor["name"].startswith("Simulated")
        assert sensor["sensor_id"] is not None and sensor["placement"] in ("sacrum", "thigh")
    jo = setup.post("/athletes", json={"name": "Jo"}).json()["id"]
    pair = {s["placement"]: s for s in sensors if s["athlete_id"] == sensors[0]["athlete_id"]}
    for placement, sensor in pair.items():
        put = setup.put(
            f"/sensors/{sensor['sensor_id']}/assignment",
            json={"athlete_id": jo, "placement": placement},
        )
        assert put.status_code == 200, put.text
    worn = gateway.assignments.for_athlete(str(jo))
    assert {p.value: a.address for p, a in worn.items()} == {
        p: s["address"] for p, s in pair.items()
    }
    swapped = setup.post("/sensors/swap", json={"athlete_id": jo})
    assert swapped.status_code == 200, swapped.text
    worn = gateway.assignments.for_athlete(str(jo))
    assert worn[next(iter(worn))].address != pair[next(iter(worn)).value]["address"]
    assert {p.value: a.address for p, a in worn.items()} == {
        "sacrum": pair["thigh"]["address"],
        "thigh": pair["sacrum"]["address"],
    }
    renamed = setup.patch(f"/sensors/{pair['thigh']['sensor_id']}", json={"name": "blue strap"})
    assert renamed.json()["name"] == "blue strap"
    off = setup.put(f"/sensors/{pair['thigh']['sensor_id']}/assignment", json={})
    assert off.status_code == 200 and off.json()["athlete_id"] is None
    assert list(gateway.assignments.for_athlete(str(jo))) == [
        p for p, a in worn.items() if a.address != pair["thigh"]["address"]
    ]
    one_left = setup.post("/sensors/swap", json={"athlete_id": jo})
    assert one_left.status_code == 409 and "needs a sacrum and a thigh" in one_left.json()["detail"]


def test_read_only_tokens_cannot_change_setup_and_can_ask_who_they_are(setup) -> None:
    assert setup.get("/me").json() == {"name": "coach", "role": "admin"}
    assert setup.get("/me", headers=setup.reader).json() == {"name": "wall screen", "role": "read"}
    for method, path, body in (
        ("post", "/athletes", {"name": "X"}),
        ("post", "/sensors/scan", {"timeout_s": 0.5}),
        ("put", "/athletes/1/archive", {"archived": True}),
        ("post", "/sign-in-codes", {"role": "read"}),
    ):
        response = setup.request(method.upper(), path, json=body, headers=setup.reader)
        assert response.status_code == 403, path


def test_a_sign_in_code_opens_the_dashboard_signed_in(setup) -> None:
    made = setup.post("/sign-in-codes", json={"name": "Jo's phone", "role": "read"})
    assert made.status_code == 201, made.text
    code = made.json()
    assert code["url"].startswith("http://testserver/#token=ww_")
    assert code["qr_svg"].startswith("<svg") and "path" in code["qr_svg"]
    secret = code["url"].split("#token=")[1]
    me = setup.get("/me", headers={"Authorization": f"Bearer {secret}"})
    assert me.json() == {"name": "Jo's phone", "role": "read"}


def test_serve_simulate_after_its_athlete_was_archived_starts_with_a_new_one(
    db_target, tmp_path
) -> None:
    """`winkwatch serve --simulate 1` again on a database whose simulated athlete the coach
    archived: a new active athlete gets the sensors (the archived one stays archived, with
    nothing paired), instead of a refused pairing stopping the server."""
    settings = Settings(
        database_url=db_target.url, database_schema=db_target.schema, gateway_id="gw-setup"
    )
    first = build_server(settings, simulate=1, config_dir=tmp_path)
    archived_id = int(first.gateway.assignments.athletes()[0])
    with first.database.sessions.begin() as db:
        catalog.archive_athlete(db, archived_id, True)
    first.sink.close()
    first.database.dispose()
    again = build_server(settings, simulate=1, config_dir=tmp_path)
    try:
        (active,) = again.gateway.assignments.athletes()
        assert int(active) != archived_id
        with again.database.sessions() as db:
            assert db.get(Athlete, archived_id).archived_at is not None
            assert db.scalar(select(Sensor.id).where(Sensor.athlete_id == archived_id)) is None
            assert db.get(Athlete, int(active)).name == db.get(Athlete, archived_id).name
    finally:
        again.sink.close()
        again.database.dispose()
