"""The vocabularies come from the API (GET /vocabulary); the dashboard keeps no copy."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient

from api.auth import create_token
from api.dashboard import STATIC_DIR
from api.http import create_app
from api.settings import Settings
from api.vocab import SET_VARIANT_LABELS, Placement, SetVariant, TokenRole
from fusion.assessment import VERDICT_FIELDS, VERDICT_VALUES
from fusion.assessment.kinds import MIN_REPS
from sensor_gateway.samples import LinkState


@pytest.fixture
def client(tmp_path):
    settings = Settings(database_url=f"sqlite:///{tmp_path / 'ww.db'}")
    app = create_app(settings)
    with TestClient(app) as client:
        with app.state.database.sessions.begin() as db:
            _, reader = create_token(db, "dashboard", TokenRole.READ)
        client.reader = {"Authorization": f"Bearer {reader}"}
        yield client


def test_every_variant_is_served_with_its_label_in_order(client) -> None:
    body = client.get("/vocabulary", headers=client.reader).json()
    assert body["set_variants"] == [
        {"value": v.value, "label": SET_VARIANT_LABELS[v]} for v in SetVariant
    ]
    assert [t["value"] for t in body["placements"]] == [p.value for p in Placement]
    assert [t["value"] for t in body["link_states"]] == [s.value for s in LinkState]
    assert body["set_variants"][-1]["label"] == "Quadruped rock-back"
    # The assessment's steps in the battery's order (the guided assessment walks them so).
    assert [t["value"] for t in body["step_kinds"]][:2] == ["baseline", "rock_back"]
    # ... each with the reps its analysis needs, so the page says when a step is too short.
    assert {t["value"]: t["min_reps"] for t in body["step_kinds"]} == MIN_REPS
    assert MIN_REPS["baseline"] == 5
    assert {t["value"] for t in body["verdict_fields"]} == set(VERDICT_FIELDS)
    assert [t["value"] for t in body["verdict_values"]] == list(VERDICT_VALUES)


def test_the_vocabulary_needs_a_token(client) -> None:
    assert client.get("/vocabulary").status_code == 401


def test_no_dashboard_script_copies_a_vocabulary() -> None:
    scripts = {path.name: path.read_text(encoding="utf-8") for path in STATIC_DIR.glob("*.js")}
    assert scripts, STATIC_DIR
    for name, text in scripts.items():
        for variant in SetVariant:
            assert not re.search(rf"\b{variant.value}\b", text), (name, variant.value)
