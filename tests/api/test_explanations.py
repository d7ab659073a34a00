"""Per-athlete explanations of the dashboard's numbers: defaults with the threshold in use,
an admin's own text or an explanation hidden, back to the default; read-only tokens read."""

from __future__ import annotations

from api.explanations import EXPLANATION_KEYS


def _items(body):
    return {item["key"]: item for item in body["items"]}


def test_defaults_name_the_threshold_in_use(api) -> None:
    athlete = api.post("/athletes", json={"name": "Ana"}, headers=api.admin).json()["id"]
    body = api.get(f"/athletes/{athlete}/explanations", headers=api.reader).json()
    assert [i["key"] for i in body["items"]] == list(EXPLANATION_KEYS)
    assert body["threshold_deg"] == 5.0 and body["threshold_source"] == "default"
    items = _items(body)
    assert "0° standing upright" in items["thigh"]["text"] and "90°" in items["thigh"]["text"]
    assert "positive = tipped forward" in items["pelvic_tilt"]["text"]
    assert "5.0° (the default; no personal baseline yet)" in items["threshold"]["text"]
    assert all(i["shown"] and not i["custom"] for i in body["items"])
    # A personal baseline above the default: the threshold text follows it.
    baseline = {"centre_deg": 3.0, "spread_deg": 1.5, "reps": 12}
    assert (
        api.put(f"/athletes/{athlete}/baseline", json=baseline, headers=api.admin).status_code
        == 200
    )
    body = api.get(f"/athletes/{athlete}/explanations", headers=api.reader).json()
    assert body["threshold_source"] == "personal" and body["threshold_deg"] > 5.0
    words = f"{body['threshold_deg']:.1f}° (personal baseline of 12 reps)"
    assert words in _items(body)["threshold"]["text"]


def test_an_admin_adjusts_one_athlete_only(api) -> None:
    ana = api.post("/athletes", json={"name": "Ana"}, headers=api.admin).json()["id"]
    ben = api.post("/athletes", json={"name": "Ben"}, headers=api.admin).json()["id"]
    own = {"text": "90 is your box: stay above it.", "shown": True}
    response = api.put(f"/athletes/{ana}/explanations/thigh", json=own, headers=api.admin)
    assert response.status_code == 200, response.text
    thigh = _items(response.json())["thigh"]
    assert (
        thigh["text"] == own["text"] and thigh["custom"] and "0° standing" in thigh["default_text"]
    )
    hidden = api.put(
        f"/athletes/{ana}/explanations/pelvic_tilt", json={"shown": False}, headers=api.admin
    )
    assert _items(hidden.json())["pelvic_tilt"]["shown"] is False
    # Stored: read back, and the other athlete keeps the defaults.
    items = _items(api.get(f"/athletes/{ana}/explanations", headers=api.reader).json())
    assert items["thigh"]["text"] == own["text"] and not items["pelvic_tilt"]["shown"]
    others = _items(api.get(f"/athletes/{ben}/explanations", headers=api.reader).json())
    assert not others["thigh"]["custom"] and others["pelvic_tilt"]["shown"]
    # Back to the default.
    back = api.delete(f"/athletes/{ana}/explanations/thigh", headers=api.admin).json()
    assert not _items(back)["thigh"]["custom"] and _items(back)["pelvic_tilt"]["shown"] is False


def test_refusals_are_clear(api) -> None:
    ana = api.post("/athletes", json={"name": "Ana"}, headers=api.admin).json()["id"]
    response = api.put(
        f"/athletes/{ana}/explanations/thigh", json={"text": "x"}, headers=api.reader
    )
    assert response.status_code == 403
    response = api.put(
        f"/athletes/{ana}/explanations/colour", json={"text": "x"}, headers=api.admin
    )
    assert response.status_code == 422 and "use one of thigh" in str(response.json()["detail"])
    assert api.get("/athletes/999/explanations", headers=api.reader).status_code == 404
    too_long = {"text": "x" * 1001}
    assert (
        api.put(f"/athletes/{ana}/explanations/thigh", json=too_long, headers=api.admin).status_code
        == 422
    )


def test_the_schema_lists_the_keys(api) -> None:
    # schemathesis: any string was a schema-valid key, and a 422 for '0' "rejected valid data"
    paths = api.get("/openapi.json").json()["paths"]
    for method in ("put", "delete"):
        (key,) = [
            p
            for p in paths["/athletes/{athlete_id}/explanations/{key}"][method]["parameters"]
            if p["name"] == "key"
        ]
        assert key["schema"]["enum"] == list(EXPLANATION_KEYS), method
