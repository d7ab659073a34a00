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

    def start_set(self, athlete_id, variant, load_kg=None, notes="", **kwargs):
        self.active[athlete_id] = SimpleNamespace(set_key=f"key-{athlete_id}")
        return self.active[athlete_id]

    def active_sets(self):
        return dict(self.active)

    def stop_set(self, athlete_id):
        return self.active.pop(athlete_id, None)


def test_a_set_start_that_cannot_be_stored_stops_the_gateways_set(database) -> None:
    with database.sessions.begin() as db:
        athlete_id = catalog.create_athlete(db, "Ben").id

    def ensure_set(info, session_id):  # she was deleted after the gateway started the set
        raise NotFoundError("athlete", athlete_id)

    gateway = _Gateway()
    service = LiveService(
        database,
        "gw",
        gateway=gateway,
        sink=SimpleNamespace(ensure_set=ensure_set, discard_set=lambda set_key: None),
    )
    with pytest.raises(NotFoundError):
        asyncio.run(service.start_set(athlete_id, SetVariant.BACK_SQUAT, 80.0, "", None))
    assert gateway.active == {}  # not left recording a set nobody stored
