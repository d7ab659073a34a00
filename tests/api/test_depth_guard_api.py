"""The depth guard's settings per athlete over HTTP, and what a set start hands the gateway."""

from __future__ import annotations

import asyncio
import json
from types import SimpleNamespace

import pytest

from api.gateway_port import LiveService
from api.storage import catalog
from api.vocab import SetVariant
from fusion.live.depth_guard import DEFAULT_MARGIN_DEG, DepthGuard


def _prescribe(database, athlete_id: int, ceiling_deg: float | None) -> None:
    with database.sessions.begin() as db:
        athlete = catalog.get_athlete(db, athlete_id)
        athlete.prescription_json = json.dumps(
            {"depth_ceiling_thigh_deg": ceiling_deg, "box_height_cm": None}
        )


def test_guard_needs_a_ceiling_and_follows_the_coachs_settings(api, database) -> None:
    athlete = api.post("/athletes", json={"name": "Ana"}, headers=api.admin).json()["id"]
    body = api.get(f"/athletes/{athlete}/depth-guard", headers=api.reader).json()
    assert body["on"] and not body["active"] and body["ceiling_thigh_deg"] is None
    assert "run an assessment" in body["explanation"]
    _prescribe(database, athlete, 82.0)
    body = api.get(f"/athletes/{athlete}/depth-guard", headers=api.reader).json()
    assert body["active"] and body["margin_deg"] == DEFAULT_MARGIN_DEG
    assert body["cue_level_deg"] == pytest.approx(82.0 - DEFAULT_MARGIN_DEG)
    changed = api.put(
        f"/athletes/{athlete}/depth-guard", json={"margin_deg": 6}, headers=api.admin
    ).json()
    assert changed["cue_level_deg"] == pytest.approx(76.0) and "76 deg" in changed["explanation"]
    off = api.put(f"/athletes/{athlete}/depth-guard", json={"on": False}, headers=api.admin)
    assert off.json()["active"] is False and off.json()["margin_deg"] == 6.0
    refused = api.put(f"/athletes/{athlete}/depth-guard", json={"on": True}, headers=api.reader)
    assert refused.status_code == 403
    bad = api.put(f"/athletes/{athlete}/depth-guard", json={"margin_deg": 45}, headers=api.admin)
    assert bad.status_code == 422
    assert api.get("/athletes/9999/depth-guard", headers=api.reader).status_code == 404


@pytest.mark.parametrize("ceiling_deg", [-1.2, 0.0])
def test_a_ceiling_at_or_above_standing_is_explained_not_a_500(api, database, ceiling_deg) -> None:
    """A prescription can put the ceiling at or above standing (median onset within its
    margin of the top): the guard is inactive and says why; GET and PUT answered 500."""
    athlete = api.post("/athletes", json={"name": "Top"}, headers=api.admin).json()["id"]
    _prescribe(database, athlete, ceiling_deg)
    got = api.get(f"/athletes/{athlete}/depth-guard", headers=api.reader)
    assert got.status_code == 200, got.text
    body = got.json()
    assert body["ceiling_thigh_deg"] == ceiling_deg and body["cue_level_deg"] is None
    assert not body["active"] and "at or above standing" in body["explanation"]
    put = api.put(f"/athletes/{athlete}/depth-guard", json={"margin_deg": 5}, headers=api.admin)
    assert put.status_code == 200 and not put.json()["active"], put.text
    gateway = _RecordingGateway()
    service = LiveService(
        database,
        "gw",
        gateway=gateway,
        sink=SimpleNamespace(ensure_set=lambda info, s, missing_sensors: 1),
    )
    asyncio.run(service.start_set(athlete, SetVariant.BACK_SQUAT, 80.0, "", None))
    assert gateway.kwargs["depth_guard"] is None  # the set starts, unguarded


class _RecordingGateway:
    def __init__(self) -> None:
        self.kwargs: dict = {}

    def readiness(self, athlete_id):  # both sensors streaming: nothing missing
        streaming = SimpleNamespace(address="A", health=SimpleNamespace(streaming=True))
        return SimpleNamespace(sensors=(streaming, streaming), missing=())

    def active_sets(self):
        return {}

    def plan_set(self, athlete_id, variant, load_kg=None, notes=""):
        return SimpleNamespace(set_key="k", variant=variant)

    def start_set(self, athlete_id, variant, load_kg=None, notes="", **kwargs):
        self.kwargs = kwargs
        return kwargs["planned"]


def test_a_set_start_gives_the_gateway_the_athletes_guard(database) -> None:
    with database.sessions.begin() as db:
        athlete = catalog.create_athlete(db, "Ben", "").id
    gateway = _RecordingGateway()
    service = LiveService(
        database,
        "gw",
        gateway=gateway,
        sink=SimpleNamespace(ensure_set=lambda info, s, missing_sensors: 1),
    )

    def start() -> object:
        asyncio.run(service.start_set(athlete, SetVariant.BACK_SQUAT, 80.0, "", None))
        return gateway.kwargs["depth_guard"]

    assert start() is None  # no prescription yet
    _prescribe(database, athlete, 90.0)
    assert start() == DepthGuard(90.0, DEFAULT_MARGIN_DEG)
    with database.sessions.begin() as db:
        catalog.get_athlete(db, athlete).depth_guard_margin_deg = 8.0
    assert start() == DepthGuard(90.0, 8.0)
    with database.sessions.begin() as db:
        catalog.get_athlete(db, athlete).depth_guard_on = False
    assert start() is None
