"""Requests racing on one athlete: archiving her while another request deletes her, or
starting her set while she is deleted. Found with concurrent requests on a running server:
PUT /archive got a 500 (SQLAlchemy's StaleDataError: the UPDATE found her row gone), and a
set start that failed (404: she was deleted between the gateway starting the set and the set
being stored) left the gateway recording a set that was never stored ("dropped one
SetStarted that cannot be stored" every commit until another set replaced it)."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace

import pytest
from sqlalchemy import delete

from api.errors import NotFoundError
from api.gateway_port import LiveService
from api.storage import catalog
from api.storage import sets as set_store
from api.storage.models import Athlete
from api.vocab import SetVariant


def test_archiving_an_athlete_deleted_meanwhile_is_a_409_not_a_500(
    api, database, monkeypatch
) -> None:
    with database.sessions.begin() as db:
        athlete_id = catalog.create_athlete(db, "Ana").id
    real = catalog.refuse_while_recording

    def deleted_meanwhile(db, athlete, doing) -> None:
        real(db, athlete, doing)
        # what a DELETE committed by another request between the read and the write leaves
        gone = delete(Athlete).where(Athlete.id == athlete.id)
        db.execute(gone.execution_options(synchronize_session=False))

    monkeypatch.setattr(catalog, "refuse_while_recording", deleted_meanwhile)
    response = api.put(
        f"/athletes/{athlete_id}/archive", json={"archived": True}, headers=api.admin
    )
    assert response.status_code == 409, response.text
    assert "another request at the same time" in response.json()["detail"]
    with database.sessions() as db:  # nothing of it was stored: she is still there
        assert catalog.get_athlete(db, athlete_id).archived_at is None


class _Gateway:
    """The gateway as LiveService sees it: one running set per athlete."""

    def __init__(self) -> None:
        self.active: dict[str, SimpleNamespace] = {}

    def readiness(self, athlete_id):  # both sensors streaming: nothing missing
        streaming = SimpleNamespace(address="A", health=SimpleNamespace(streaming=True))
        return SimpleNamespace(sensors=(streaming, streaming), missing=())

    def plan_set(self, athlete_id, variant, load_kg=None, notes=""):
        return SimpleNamespace(set_key=f"key-{athlete_id}", variant=variant)

    def start_set(self, athlete_id, variant, load_kg=None, notes="", *, planned, **kwargs):
        self.active[athlete_id] = planned
        return planned

    def active_sets(self):
        return dict(self.active)

    def stop_set(self, athlete_id):
        return self.active.pop(athlete_id, None)

    async def stop_set_after_grace(self, athlete_id):
        return self.stop_set(athlete_id)


def test_a_set_start_that_cannot_be_stored_is_not_started_on_the_gateway(database) -> None:
    with database.sessions.begin() as db:
        athlete_id = catalog.create_athlete(db, "Ben").id

    def ensure_set(info, session_id, missing_sensors):  # she was deleted meanwhile
        raise NotFoundError("athlete", athlete_id)

    gateway = _Gateway()
    service = LiveService(
        database,
        "gw",
        gateway=gateway,
        sink=SimpleNamespace(ensure_set=ensure_set),
    )
    with pytest.raises(NotFoundError):
        asyncio.run(service.start_set(athlete_id, SetVariant.BACK_SQUAT, 80.0, "", None))
    assert gateway.active == {}  # not left recording a set nobody stored


def test_a_load_corrected_while_the_set_records_is_the_load_of_all_its_reps(
    database, db_target, tmp_path
) -> None:
    # Found by probing `serve --simulate 1`: PATCH /sets/{id} {"load_kg": 123} on the set
    # being recorded changed the set and its stored reps, but the gateway went on analysing
    # with 80 kg: reps 1-4 said 123 kg, reps 5-9 of the same set 80 kg. A rep completed just
    # before the change, still waiting in the sink, kept the old load too.
    from fastapi.testclient import TestClient

    from api.http import create_app
    from sensor_gateway.events import RepCompleted
    from tests.api.helpers import gateway_with_sink, metrics

    ana, gateway, sink, admin, settings = gateway_with_sink(database, db_target, tmp_path)
    app = create_app(settings, gateway, database=database, sink=sink)
    headers = {"Authorization": f"Bearer {admin}"}
    with TestClient(app) as client:
        body = {"athlete_id": int(ana), "variant": "back_squat", "load_kg": 80}
        started = client.post(
            "/sets", json={**body, "override_missing_sensors": True}, headers=headers
        )
        assert started.status_code == 201, started.text
        set_id, info = started.json()["id"], gateway.active_sets()[ana]
        done = metrics(1, onset_deg=85.0, load_kg=80.0)  # completed, not yet committed
        sink.record_event(
            RepCompleted(
                set_key=info.set_key,
                metrics=done,
                athlete_id=ana,
                t_s=0.0,
                wall_utc=info.started_utc,
            )
        )
        patched = client.patch(f"/sets/{set_id}", json={"load_kg": 100}, headers=headers)
        assert patched.status_code == 200 and patched.json()["load_kg"] == 100.0
        assert gateway.active_sets()[ana].load_kg == 100.0  # the reps from now on carry it
        assert client.post(f"/sets/{set_id}/stop", headers=headers).status_code == 200
        reps = client.get("/reps", params={"set_id": set_id}, headers=headers).json()["items"]
    assert [(r["load_kg"], r["loaded_wink"]) for r in reps] == [(100.0, True)]


def test_two_load_corrections_at_once_leave_the_set_and_its_live_analysis_on_one_load(
    database, db_target, tmp_path, monkeypatch
) -> None:
    # Two PATCH /sets/{id} {"load_kg"} on the recording set, the second arriving while the
    # first still waits for its database transaction (a busy database, the thread pool): the
    # second was applied to the gateway and the database, then the first's transaction wrote
    # its load over it. The set said 100 kg and the reps from then on 120 kg.
    import threading

    from tests.api.helpers import gateway_with_sink

    ana, gateway, sink, _, _ = gateway_with_sink(database, db_target, tmp_path)
    service = LiveService(database, "gw-test", gateway=gateway, sink=sink)
    first_waits, second_done = threading.Event(), threading.Event()
    real_update = service._update_set

    def update_set(set_id, variant, load_kg, notes) -> None:
        if load_kg == 100.0:  # the first correction's transaction starts late
            first_waits.set()
            second_done.wait(timeout=5.0)
        real_update(set_id, variant, load_kg, notes)

    monkeypatch.setattr(service, "_update_set", update_set)

    async def correct_twice() -> int:
        set_id = await service.start_set(
            int(ana), SetVariant.BACK_SQUAT, 80.0, "", None, override_missing_sensors=True
        )
        first = asyncio.create_task(service.update_set(set_id, None, 100.0, None))
        await asyncio.to_thread(first_waits.wait, 5.0)
        second = asyncio.create_task(service.update_set(set_id, None, 120.0, None))
        await asyncio.wait({second}, timeout=0.5)  # done at once unless it waits its turn
        second_done.set()
        await asyncio.gather(first, second)
        return set_id

    set_id = asyncio.run(correct_twice())
    with database.sessions() as db:
        stored_kg = set_store.get_set(db, set_id).load_kg
    assert (stored_kg, gateway.active_sets()[ana].load_kg) == (120.0, 120.0)


def test_a_load_corrected_while_the_set_starts_is_the_load_its_live_analysis_takes(
    database, db_target, tmp_path, monkeypatch
) -> None:
    # A set is stored before the gateway starts it. A PATCH landing in between (a second
    # phone that lists the recording sets) found no set on the gateway, so it corrected the
    # row only, and the gateway then started the set with the load of the start: the set
    # said 100 kg, every rep of it 80 kg.
    import threading

    from tests.api.helpers import gateway_with_sink

    ana, gateway, sink, _, _ = gateway_with_sink(database, db_target, tmp_path)
    service = LiveService(database, "gw-test", gateway=gateway, sink=sink)
    stored, corrected = threading.Event(), threading.Event()
    real_ensure_set = sink.ensure_set

    def ensure_set(info, session_id, missing_sensors):
        set_id = real_ensure_set(info, session_id, missing_sensors=missing_sensors)
        stored.set()
        corrected.wait(timeout=5.0)  # the gateway starts the set a moment later
        return set_id

    monkeypatch.setattr(sink, "ensure_set", ensure_set)

    async def correct_while_starting() -> int:
        start = asyncio.create_task(
            service.start_set(
                int(ana), SetVariant.BACK_SQUAT, 80.0, "", None, override_missing_sensors=True
            )
        )
        await asyncio.to_thread(stored.wait, 5.0)
        with database.sessions() as db:  # what GET /sets?status=recording lists
            row = set_store.recording_set_of(db, int(ana))
        assert row is not None
        patch = asyncio.create_task(service.update_set(row.id, None, 100.0, None))
        await asyncio.wait({patch}, timeout=0.5)  # done at once unless it waits for the start
        corrected.set()
        set_id, _ = await asyncio.gather(start, patch)
        return set_id

    set_id = asyncio.run(correct_while_starting())
    with database.sessions() as db:
        stored_kg = set_store.get_set(db, set_id).load_kg
    assert (stored_kg, gateway.active_sets()[ana].load_kg) == (100.0, 100.0)
