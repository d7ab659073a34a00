"""A set's load, variant or notes corrected on either side reaches the other: on the central
server (PATCH /sets/{id}) it is made on the gateway that recorded the set and comes back up
through that gateway's outbox; on the gateway it goes up through the outbox, also when the
broker was down at the time. Reps (load, wink under load) follow on both sides. Through a
private Mosquitto, the central store on PostgreSQL (or SQLite)."""

from __future__ import annotations

import asyncio

import httpx2
import pytest
from sqlalchemy import select

from api.federation.central import CentralHub
from api.federation.edge import EdgeForwarder
from api.gateway_port import LiveService
from api.storage import catalog
from api.storage import sets as set_store
from api.storage.db import open_database
from api.storage.models import ExerciseSet, Rep
from api.vocab import SetStatus, SetVariant
from tests.api.helpers import metrics
from tests.federation.test_broker import LoopThread, mqtt_settings, wait_until
from tests.federation.test_deletion import _central_app, _edge

pytestmark = pytest.mark.slow


def _record(edge, athlete_id: int) -> str:
    """A completed set of four reps at 60 kg, two of them with a wink; its key."""
    with edge.sessions.begin() as db:
        row = set_store.start_set(db, athlete_id, SetVariant.BACK_SQUAT, gateway_id="gw-a")
        row.load_kg = 60.0
        reps = [
            metrics(rep=i + 1, start_s=3.0 * i, onset_deg=80.0 if i % 2 else None) for i in range(4)
        ]
        set_store.add_reps(db, row, reps)
        set_store.finish_set(db, row.id, SetStatus.COMPLETED)
        return row.set_key


def _state(database, set_key: str):
    """(set id, variant, load, notes, {(rep variant, rep load, wink, wink under load)})."""
    with database.sessions() as db:
        row = db.scalar(select(ExerciseSet).where(ExerciseSet.set_key == set_key))
        if row is None:
            return None
        reps = db.scalars(select(Rep).where(Rep.set_id == row.id))
        return (
            row.id,
            row.variant,
            row.load_kg,
            row.notes,
            {(r.variant, r.load_kg, r.butt_wink, r.loaded_wink) for r in reps},
        )


def _reps(variant: str, load_kg: float | None) -> set[tuple]:
    loaded = bool(load_kg)
    return {(variant, load_kg, False, False), (variant, load_kg, True, loaded)}


def test_a_set_corrected_on_either_side_is_corrected_on_both(tmp_path, broker, database) -> None:
    loop = LoopThread()
    hub = CentralHub(database, mqtt_settings(broker, "central")).start(loop.loop)
    edge, forwarder = _edge(tmp_path, broker, loop, "gw-a")
    forwarders = [forwarder]
    app, headers = _central_app(database, hub)

    def patch(set_id: int, body: dict) -> httpx2.Response:
        async def call():
            transport = httpx2.ASGITransport(app=app)
            async with httpx2.AsyncClient(
                transport=transport, base_url="http://central", headers=headers, timeout=60
            ) as client:
                return await client.patch(f"/sets/{set_id}", json=body)

        return asyncio.run_coroutine_threadsafe(call(), loop.loop).result(90)

    def on_edge(set_id: int, **fields) -> None:  # the gateway's own PATCH /sets/{id}
        service = forwarders[-1]._service
        call = service.update_set(
            set_id, fields.get("variant"), fields.get("load_kg"), fields.get("notes")
        )
        asyncio.run_coroutine_threadsafe(call, loop.loop).result(30)

    try:
        with edge.sessions.begin() as db:
            athlete_id = catalog.create_athlete(db, "Ana").id
        key = _record(edge, athlete_id)
        wait_until(lambda: _state(database, key) is not None, 30, "the set at the central")
        wait_until(lambda: forwarder.outbox.backlog() == 0, 30, "the outbox to drain")
        edge_id, central_id = _state(edge, key)[0], _state(database, key)[0]
        assert _state(database, key)[1:] == ("back_squat", 60.0, "", _reps("back_squat", 60.0))
        wait_until(lambda: forwarder.connected and hub.connected, 15, "both connected")

        # Corrected at the central server: made on the gateway, back up through its outbox.
        body = {"variant": "box_squat", "load_kg": 100.0, "notes": "was 100 kg"}
        corrected = patch(central_id, body)
        assert corrected.status_code == 200, corrected.text
        assert (corrected.json()["load_kg"], corrected.json()["variant"]) == (100.0, "box_squat")
        expected = ("box_squat", 100.0, "was 100 kg", _reps("box_squat", 100.0))
        assert _state(edge, key)[1:] == expected
        assert _state(database, key)[1:] == expected
        # The same correction again (a retry) changes nothing.
        again = patch(central_id, body)
        assert again.status_code == 200, again.text
        wait_until(lambda: forwarder.outbox.backlog() == 0, 30, "the outbox to drain")
        assert _state(edge, key)[1:] == _state(database, key)[1:] == expected

        # A later change on the gateway keeps the central correction (it was made there).
        on_edge(edge_id, notes="checked")
        expected = ("box_squat", 100.0, "checked", _reps("box_squat", 100.0))
        wait_until(lambda: _state(database, key)[1:] == expected, 30, "the notes at the central")

        # Corrected on the gateway while the broker is down: arrives once it is back.
        broker.kill()
        wait_until(lambda: not forwarder.connected, 30, "the edge to see the broker gone")
        on_edge(edge_id, load_kg=0.0)
        broker.start()
        expected = ("box_squat", 0.0, "checked", _reps("box_squat", 0.0))
        assert _state(edge, key)[1:] == expected
        wait_until(lambda: _state(database, key)[1:] == expected, 90, "the load after the outage")

        # With the gateway offline the central server refuses, says why, and changes nothing.
        forwarder.stop(drain_s=0)
        forwarders.remove(forwarder)
        refused = patch(central_id, {"load_kg": 40.0})
        assert refused.status_code == 504, refused.text
        assert "gw-a" in refused.json()["detail"] and "try again" in refused.json()["detail"]
        assert _state(database, key)[1:] == _state(edge, key)[1:] == expected
    finally:
        for running in forwarders:
            running.stop(drain_s=0)
        hub.stop()
        loop.close()
        edge.dispose()


class _OlderGateway(EdgeForwarder):
    """A gateway running WinkWatch from before central corrections (99a1430): its command
    handler is today's, without `update_set`, so it answers as that version does (422
    "unknown action 'update_set'"). It keeps the actions it was sent."""

    received: list[str]

    def _handlers(self):
        handlers = super()._handlers()
        del handlers["update_set"]
        return handlers

    async def _run_command(self, command):
        self.received.append(str(command.get("action")))
        await super()._run_command(command)


def test_a_correction_an_older_gateway_cannot_take_is_kept_centrally_and_says_update_it(
    tmp_path, broker, database
) -> None:
    loop = LoopThread()
    hub = CentralHub(database, mqtt_settings(broker, "central")).start(loop.loop)
    edge = open_database(f"sqlite:///{tmp_path / 'gw-a.db'}")
    service = LiveService(database=edge, gateway_id="gw-a")
    forwarder = _OlderGateway(edge, "gw-a", mqtt_settings(broker, "gw-a"), service=service)
    forwarder.received = []
    forwarder.start(loop.loop)
    app, headers = _central_app(database, hub)

    def patch(set_id: int, body: dict) -> httpx2.Response:
        async def call():
            transport = httpx2.ASGITransport(app=app)
            async with httpx2.AsyncClient(
                transport=transport, base_url="http://central", headers=headers, timeout=60
            ) as client:
                return await client.patch(f"/sets/{set_id}", json=body)

        return asyncio.run_coroutine_threadsafe(call(), loop.loop).result(90)

    try:
        with edge.sessions.begin() as db:
            athlete_id = catalog.create_athlete(db, "Ana").id
        key = _record(edge, athlete_id)
        wait_until(lambda: _state(database, key) is not None, 30, "the set at the central")
        wait_until(lambda: forwarder.outbox.backlog() == 0, 30, "the outbox to drain")
        wait_until(lambda: forwarder.connected and hub.connected, 15, "both connected")
        central_id = _state(database, key)[0]
        before_on_edge = _state(edge, key)[1:]

        body = {"load_kg": 100.0, "notes": "was 100 kg"}
        refused = patch(central_id, body)
        # Said plainly: stored here, not on the gateway, which must be updated to take it.
        assert refused.status_code == 409, refused.text
        detail = refused.json()["detail"]
        assert "gateway gw-a" in detail and "update WinkWatch on gw-a" in detail, detail
        assert "stored on the central server" in detail, detail
        assert "unknown action 'update_set'" in detail, detail
        # Nothing lost: the correction is kept centrally (its reps follow there) ...
        expected = ("back_squat", 100.0, "was 100 kg", _reps("back_squat", 100.0))
        assert _state(database, key)[1:] == expected
        # ... the gateway, which could not take it, keeps what it had ...
        assert _state(edge, key)[1:] == before_on_edge
        # ... and it was asked once: the command is not sent again.
        assert forwarder.received == ["update_set"]
        # The same correction again: the same answer, nothing changes, asked once more.
        again = patch(central_id, body)
        assert again.status_code == 409, again.text
        assert _state(database, key)[1:] == expected
        assert forwarder.received == ["update_set", "update_set"]
    finally:
        forwarder.stop(drain_s=0)
        hub.stop()
        loop.close()
        edge.dispose()
