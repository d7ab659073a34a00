"""HTTP API through httpx (Starlette's TestClient), on SQLite and PostgreSQL."""

from __future__ import annotations

import csv
import io
import zipfile
from datetime import UTC, datetime

import numpy as np
import pytest

from api.auth import create_token, revoke_token
from api.rep_export_sql import REP_EXPORT_COLUMNS
from api.storage import sets as set_store
from api.vocab import Placement, SetVariant, TokenRole
from fusion.types import REP_CSV_COLUMNS, REP_CSV_EXTRA_COLUMNS
from sensor_gateway.recording_csv import read_recording_csv
from tests.api.helpers import metrics


def _athlete(api, name="Ana") -> int:
    response = api.post("/athletes", json={"name": name}, headers=api.admin)
    assert response.status_code == 201, response.text
    return response.json()["id"]


def test_health_needs_no_token_and_everything_else_does(api) -> None:
    assert api.get("/health").json() == {
        "status": "ok",
        "database": "ok",
        "gateway": False,
        "storage": None,
    }
    for path in ("/athletes", "/reps", "/sets", "/sessions", "/sensors", "/export/reps.csv"):
        response = api.get(path)
        assert response.status_code == 401, path
        assert "winkwatch token create" in response.json()["detail"]
    assert api.get("/athletes", headers={"Authorization": "Bearer ww_nope"}).status_code == 401


def test_the_dashboard_page_and_its_icon_need_no_token(api) -> None:
    page = api.get("/")
    assert page.status_code == 200 and 'rel="icon"' in page.text
    icon = api.get("/favicon.ico")
    assert icon.status_code == 200 and icon.headers["content-type"].startswith("image/svg+xml")
    assert icon.content.startswith(b"<svg")


def test_read_tokens_cannot_change_and_revoked_tokens_stop_working(api) -> None:
    response = api.post("/athletes", json={"name": "Ana"}, headers=api.reader)
    assert response.status_code == 403 and "read-only" in response.json()["detail"]
    assert api.get("/athletes", headers=api.reader).status_code == 200
    with api.database.sessions.begin() as db:
        token, secret = create_token(db, "temp", TokenRole.ADMIN)
        revoke_token(db, token.id)
    assert api.get("/athletes", headers={"Authorization": f"Bearer {secret}"}).status_code == 401


def test_athletes_sensors_sessions(api) -> None:
    athlete = _athlete(api)
    assert (
        api.patch(f"/athletes/{athlete}", json={"notes": "deep hips"}, headers=api.admin).json()[
            "notes"
        ]
        == "deep hips"
    )
    sensor = api.post(
        "/sensors", json={"address": "aa:bb:cc:dd:ee:01", "kind": "witmotion"}, headers=api.admin
    ).json()
    assert sensor["address"] == "AA:BB:CC:DD:EE:01"
    assigned = api.put(
        f"/sensors/{sensor['id']}/assignment",
        json={"athlete_id": athlete, "placement": "sacrum"},
        headers=api.admin,
    )
    assert assigned.status_code == 200 and assigned.json()["placement"] == "sacrum"
    listed = api.get("/sensors", params={"athlete_id": athlete}, headers=api.reader).json()
    assert [s["id"] for s in listed["items"]] == [sensor["id"]]
    half = api.put(
        f"/sensors/{sensor['id']}/assignment", json={"athlete_id": athlete}, headers=api.admin
    )
    assert half.status_code == 409
    session = api.post("/sessions", json={"athlete_id": athlete}, headers=api.admin).json()
    assert session["gateway_id"] == "gw-test"
    ended = api.post(f"/sessions/{session['id']}/end", headers=api.admin).json()
    assert ended["ended_at"] is not None


def test_start_and_stop_a_set(api) -> None:
    athlete = _athlete(api)
    started = api.post(
        "/sets",
        json={"athlete_id": athlete, "variant": "box_squat", "load_kg": 80},
        headers=api.admin,
    )
    assert started.status_code == 201, started.text
    body = started.json()
    assert (body["status"], body["variant"], body["load_kg"]) == ("recording", "box_squat", 80.0)
    again = api.post(
        "/sets", json={"athlete_id": athlete, "variant": "box_squat"}, headers=api.admin
    )
    assert again.status_code == 409 and "already recording" in again.json()["detail"]
    stopped = api.post(f"/sets/{body['id']}/stop", headers=api.admin)
    assert stopped.json()["status"] == "completed"
    assert api.post(f"/sets/{body['id']}/stop", headers=api.admin).status_code == 409
    patched = api.patch(
        f"/sets/{body['id']}", json={"variant": "goblet_squat"}, headers=api.admin
    ).json()
    assert patched["variant"] == "goblet_squat"
    listed = api.get(
        "/sets", params={"athlete_id": athlete, "status": "completed"}, headers=api.reader
    ).json()
    assert [s["id"] for s in listed["items"]] == [body["id"]]


@pytest.mark.parametrize(
    ("method", "path", "body", "code", "words"),
    [
        ("post", "/athletes", {"name": ""}, 422, "name"),
        ("post", "/athletes", {"name": " \t "}, 422, "at least 1 character"),
        ("patch", "/athletes/1", {"name": "  "}, 422, "at least 1 character"),
        ("post", "/sign-in-codes", {"name": "  "}, 422, "at least 1 character"),
        ("post", "/athletes", {"name": "a\x00b"}, 422, "name"),
        ("post", "/sets", {"athlete_id": 1, "variant": "leg_press"}, 422, "variant"),
        (
            "post",
            "/sets",
            {"athlete_id": 1, "variant": "back_squat", "load_kg": -5},
            422,
            "load_kg",
        ),
        (
            "post",
            "/sets",
            {"athlete_id": 999, "variant": "back_squat"},
            404,
            "athlete 999 does not exist",
        ),
        ("get", "/athletes/0", None, 422, "athlete_id"),
        ("get", "/athletes/99999999999", None, 422, "athlete_id"),
        ("get", "/sets/12345", None, 404, "set 12345 does not exist"),
        ("get", "/reps?since=2026-03-02&until=2026-03-01", None, 422, "since"),
        ("get", "/reps?limit=100000", None, 422, "limit"),
        ("get", "/reps?until=0.5", None, 422, "ISO 8601 date-time"),  # not seconds since 1970
        ("get", "/export/reps.csv?since=1700000000", None, 422, "not a number"),
    ],
)
def test_bad_input_gets_a_clear_4xx(api, method, path, body, code, words) -> None:
    response = getattr(api, method)(
        path, headers=api.admin, **({"json": body} if body is not None else {})
    )
    assert response.status_code == code, response.text
    assert words in response.text


def _stored_set(api, athlete: int, variant: SetVariant, reps: list) -> int:
    with api.database.sessions.begin() as db:
        row = set_store.start_set(
            db, athlete, variant, load_kg=60, started_at=datetime(2026, 3, 1, 9, tzinfo=UTC)
        )
        set_store.add_reps(db, row, reps)
        set_store.finish_set(db, row.id)
        return row.id


def test_rep_list_filters_and_pages(api) -> None:
    athlete = _athlete(api)
    other = _athlete(api, "Ben")
    back = _stored_set(
        api,
        athlete,
        SetVariant.BACK_SQUAT,
        [metrics(i, onset_deg=90.0 if i <= 3 else None) for i in range(1, 8)],
    )
    _stored_set(api, other, SetVariant.BACK_SQUAT, [metrics(1, onset_deg=90.0)])
    page = api.get("/reps", params={"athlete_id": athlete, "limit": 5}, headers=api.reader).json()
    assert len(page["items"]) == 5 and page["next_cursor"] is not None
    rest = api.get(
        "/reps",
        params={"athlete_id": athlete, "limit": 5, "cursor": page["next_cursor"]},
        headers=api.reader,
    ).json()
    assert len(rest["items"]) == 2 and rest["next_cursor"] is None
    flagged = api.get(
        "/reps", params={"athlete_id": athlete, "flagged": "true"}, headers=api.reader
    ).json()
    assert sorted(r["rep"] for r in flagged["items"]) == [1, 2, 3]
    assert all(r["set_id"] == back and r["butt_wink"] for r in flagged["items"])
    none_front = api.get("/reps", params={"variant": "front_squat"}, headers=api.reader).json()
    assert none_front["items"] == []
    one = api.get(f"/reps/{flagged['items'][0]['id']}", headers=api.reader).json()
    assert one["wink_onset_depth_deg"] == 90.0 and one["quality"] == []


def test_summary_endpoint(api) -> None:
    athlete = _athlete(api)
    _stored_set(
        api,
        athlete,
        SetVariant.FRONT_SQUAT,
        [metrics(1, onset_deg=85.0), metrics(2, onset_deg=95.0), metrics(3)],
    )
    summary = api.get(f"/athletes/{athlete}/summary", headers=api.reader).json()
    assert summary["variants"][0]["variant"] == "front_squat"
    assert summary["variants"][0]["median_loaded_onset_depth_deg"] == 90.0
    assert summary["over_time"][0]["day"] == "2026-03-01"


@pytest.mark.parametrize(("load_kg", "loaded_winks"), [(0, 0), (100, 2)])
def test_a_corrected_load_corrects_the_reps_loaded_wink_too(api, load_kg, loaded_winks) -> None:
    # Found by probing: PATCH /sets/{id} gave the reps the new load but left loaded_wink as
    # the old load made it, so a set corrected from bodyweight to 100 kg counted 0 winks under
    # load (and the other way round 2) while its onsets counted as under load
    athlete = _athlete(api)
    start_load = 60 if load_kg == 0 else 0
    reps = [
        metrics(1, onset_deg=85.0, load_kg=start_load),
        metrics(2, onset_deg=95.0, load_kg=start_load),
        metrics(3, load_kg=start_load),
    ]
    with api.database.sessions.begin() as db:
        row = set_store.start_set(db, athlete, SetVariant.BACK_SQUAT, load_kg=start_load)
        set_store.add_reps(db, row, reps)
        set_store.finish_set(db, row.id)
        set_id = row.id
    patched = api.patch(f"/sets/{set_id}", json={"load_kg": load_kg}, headers=api.admin)
    assert patched.status_code == 200, patched.text
    stored = api.get("/reps", params={"set_id": set_id}, headers=api.reader).json()["items"]
    assert sorted((r["load_kg"], r["loaded_wink"]) for r in stored) == sorted(
        (load_kg, r.butt_wink and load_kg > 0) for r in reps
    )
    summary = api.get(f"/athletes/{athlete}/summary", headers=api.reader).json()
    assert summary["variants"][0]["loaded_wink_reps"] == loaded_winks


def test_rep_csv_export_has_analyze_columns_then_ids(api) -> None:
    athlete = _athlete(api)
    reps = [
        metrics(
            i,
            start_s=2.5 * i,
            onset_deg=90.0 + i if i % 2 else None,
            quality=("gap_thigh",) if i == 2 else (),
        )
        for i in range(1, 6)
    ]
    set_id = _stored_set(api, athlete, SetVariant.BACK_SQUAT, reps)
    response = api.get("/export/reps.csv", params={"set_id": set_id}, headers=api.reader)
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(response.text)))
    header = response.text.splitlines()[0].split(",")
    assert tuple(header) == REP_EXPORT_COLUMNS
    assert (
        tuple(header[: len(REP_CSV_COLUMNS) + len(REP_CSV_EXTRA_COLUMNS)])
        == REP_CSV_COLUMNS + REP_CSV_EXTRA_COLUMNS
    )
    assert len(rows) == 5
    for row, expected in zip(rows, reps):
        want = expected.as_row()
        for column in REP_CSV_COLUMNS + REP_CSV_EXTRA_COLUMNS:
            value = want[column]
            if value is None:
                assert row[column] == ""
            elif isinstance(value, float):
                assert float(row[column]) == pytest.approx(value)
            else:
                assert row[column] == str(value), column
        assert (int(row["set_id"]), int(row["athlete_id"]), row["variant"]) == (
            set_id,
            athlete,
            "back_squat",
        )


def test_raw_export_round_trips_through_the_recording_format(api, tmp_path) -> None:
    athlete = _athlete(api)
    rng = np.random.default_rng(5)
    with api.database.sessions.begin() as db:
        row = set_store.start_set(db, athlete, SetVariant.BACK_SQUAT)
        t_s = np.arange(450) / 150.0
        acc = rng.normal(0, 4, (450, 3)).astype(np.float32).astype(float)
        gyr = rng.normal(0, 2, (450, 3)).astype(np.float32).astype(float)
        for index, part in enumerate(np.array_split(np.arange(450), 3)):
            for placement in Placement:
                set_store.add_raw_chunk(
                    db, row.id, placement, "AA", index, t_s[part], acc[part], gyr[part]
                )
        set_store.finish_set(db, row.id)
        set_id = row.id
    single = api.get(f"/sets/{set_id}/raw/thigh.csv", headers=api.reader)
    assert single.status_code == 200
    (tmp_path / "thigh.csv").write_text(single.text)
    back = read_recording_csv(tmp_path / "thigh.csv")
    np.testing.assert_allclose(back.t_s, t_s, rtol=1e-8)
    np.testing.assert_allclose(back.acc_mps2, acc, rtol=1e-7)
    archive = zipfile.ZipFile(
        io.BytesIO(api.get(f"/sets/{set_id}/raw.zip", headers=api.reader).content)
    )
    assert sorted(archive.namelist()) == [f"set{set_id}_sacrum.csv", f"set{set_id}_thigh.csv"]
    (tmp_path / "sacrum.csv").write_bytes(archive.read(f"set{set_id}_sacrum.csv"))
    np.testing.assert_allclose(
        read_recording_csv(tmp_path / "sacrum.csv").gyr_radps, gyr, rtol=1e-7
    )
    empty = _stored_set(api, athlete, SetVariant.BACK_SQUAT, [])
    assert api.get(f"/sets/{empty}/raw/thigh.csv", headers=api.reader).status_code == 404


def test_personal_baseline_from_sets_or_values(api) -> None:
    athlete = _athlete(api)
    other = _athlete(api, "Ben")
    winks = [1.0, 1.5, 2.0, 2.5, 3.0, 9.0]  # one odd rep: the median/MAD ignore it
    warmup = _stored_set(
        api,
        athlete,
        SetVariant.GOBLET_SQUAT,
        [metrics(i + 1, wink_deg=w) for i, w in enumerate(winks)],
    )
    foreign = _stored_set(api, other, SetVariant.BACK_SQUAT, [metrics(1)])
    assert api.get(f"/athletes/{athlete}", headers=api.reader).json()["baseline_reps"] is None
    response = api.put(
        f"/athletes/{athlete}/baseline", json={"set_ids": [warmup]}, headers=api.admin
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["baseline_reps"] == 6
    assert body["baseline_centre_deg"] == pytest.approx(2.25)
    assert body["baseline_spread_deg"] == pytest.approx(1.4826 * 0.75)
    for payload, code, words in (
        ({"set_ids": [foreign]}, 422, "another athlete"),
        # an unknown id in a body is 404 naming it, as for POST /sets' athlete_id
        ({"set_ids": [warmup, 424242]}, 404, "set 424242 does not exist"),
        ({"set_ids": [424243, warmup, 424242]}, 404, "set 424242 (and 424243) does not exist"),
        ({"centre_deg": 2.0}, 422, "all of"),
        ({"set_ids": [warmup], "reps": 3}, 422, "not both"),
    ):
        response = api.put(f"/athletes/{athlete}/baseline", json=payload, headers=api.admin)
        assert response.status_code == code and words in response.text, response.text
    assert (
        api.put(
            f"/athletes/{athlete}/baseline", json={"set_ids": [warmup]}, headers=api.reader
        ).status_code
        == 403
    )
    values = {"centre_deg": 3.0, "spread_deg": 0.5, "reps": 7}
    assert (
        api.put(f"/athletes/{athlete}/baseline", json=values, headers=api.admin).json()[
            "baseline_reps"
        ]
        == 7
    )
    cleared = api.delete(f"/athletes/{athlete}/baseline", headers=api.admin).json()
    assert cleared["baseline_reps"] is None and cleared["baseline_centre_deg"] is None


def test_a_baseline_is_not_taken_from_a_set_still_recording(api) -> None:
    """Found by probing: PUT /athletes/{id}/baseline with a set still recording took the
    reps it had so far (here 3 of a warm-up set) as the athlete's baseline, 200 and no word
    of it; the reps that came after were never in it. 409 naming the set, nothing changed."""
    athlete = _athlete(api)
    warmup = _stored_set(
        api, athlete, SetVariant.GOBLET_SQUAT, [metrics(i, wink_deg=2.0) for i in range(1, 7)]
    )
    assert (
        api.put(
            f"/athletes/{athlete}/baseline", json={"set_ids": [warmup]}, headers=api.admin
        ).json()["baseline_reps"]
        == 6
    )
    with api.database.sessions.begin() as db:
        row = set_store.start_set(db, athlete, SetVariant.BODYWEIGHT_SQUAT)
        set_store.add_reps(db, row, [metrics(i, wink_deg=1.0) for i in range(1, 4)])
        running = row.id
    response = api.put(
        f"/athletes/{athlete}/baseline", json={"set_ids": [warmup, running]}, headers=api.admin
    )
    assert response.status_code == 409, response.text
    assert f"set {running} is still recording" in response.json()["detail"]
    body = api.get(f"/athletes/{athlete}", headers=api.reader).json()
    assert (body["baseline_reps"], body["baseline_centre_deg"]) == (6, pytest.approx(2.0))


@pytest.mark.parametrize(
    "bounds",
    [
        {"until": "0292-07-21T20:39:04-08:42"},  # a valid date-time long before any rep
        {"since": "0001-01-01T00:00:00+05:00"},  # before year 1 in UTC
        {"until": "9999-12-31T23:00:00-05:00"},  # after year 9999 in UTC
    ],
)
def test_any_schema_valid_time_bound_is_accepted(api, bounds) -> None:
    athlete = _athlete(api)
    _stored_set(api, athlete, SetVariant.BACK_SQUAT, [metrics(1)])
    response = api.get("/reps", params=bounds, headers=api.reader)
    assert response.status_code == 200, response.text
    expected = 0 if "0292" in bounds.get("until", "") else 1
    assert len(response.json()["items"]) == expected
