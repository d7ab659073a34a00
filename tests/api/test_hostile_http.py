"""Hostile requests: values JSON cannot echo, token guessing, framing and sniffing, bad
sensor addresses. Every answer is a documented 4xx with a body in the documented shape."""

from __future__ import annotations

import asyncio
import contextlib
import re
import tempfile
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from api.auth import create_token
from api.http import create_app
from api.http.guard import FailedAuthLimiter, origin_allowed
from api.settings import Settings
from api.storage.db import open_database
from api.vocab import TokenRole


@pytest.fixture
def api():
    url = f"sqlite:///{Path(tempfile.mkdtemp(prefix='ww-hostile-')) / 'ww.db'}"
    database = open_database(url)
    with database.sessions.begin() as db:
        _, admin = create_token(db, "coach", TokenRole.ADMIN)
        _, reader = create_token(db, "dashboard", TokenRole.READ)
    settings = Settings(database_url=url, gateway_id="hostile", auth_failures_per_minute=5)
    app = create_app(settings, database=database)
    with TestClient(app, raise_server_exceptions=False) as client:
        client.admin = {"Authorization": f"Bearer {admin}", "Content-Type": "application/json"}
        client.reader = {"Authorization": f"Bearer {reader}"}
        yield client
    database.dispose()


def _is_validation_body(body: dict) -> bool:
    """FastAPI's documented 422 shape: {"detail": [{"loc": [...], "msg": str, "type": str}]}."""
    problems = body.get("detail")
    return (
        isinstance(problems, list)
        and len(problems) > 0
        and all(
            isinstance(p.get("loc"), list)
            and isinstance(p.get("msg"), str)
            and isinstance(p.get("type"), str)
            for p in problems
        )
    )


@pytest.mark.parametrize(
    "body",
    [
        '{"name": NaN}',
        '{"name": Infinity}',
        '{"name": "\\ud800"}',
        '{"name": "Ana", "notes": "\\udfff tail"}',
        '"\\ud800"',
        '{"name": [NaN, "\\ud800"]}',
    ],
    ids=["nan", "infinity", "lone-surrogate", "surrogate-in-notes", "bare-surrogate", "mixed"],
)
def test_values_json_cannot_echo_get_a_clean_422(api, body: str) -> None:
    response = api.post("/athletes", content=body, headers=api.admin)
    assert response.status_code == 422, response.text
    assert _is_validation_body(response.json()), response.text


def test_the_projects_own_422s_have_the_documented_shape(api) -> None:
    # InvalidInputError, raised by the project (not by FastAPI's validation): since >= until.
    response = api.get(
        "/reps", params={"since": "2026-03-02", "until": "2026-03-01"}, headers=api.reader
    )
    assert response.status_code == 422, response.text
    assert _is_validation_body(response.json()), response.text
    assert "`since`" in response.json()["detail"][0]["msg"]


def test_401_403_404_409_429_are_documented_with_their_body(api) -> None:
    spec = api.get("/openapi.json").json()
    assert spec["components"]["schemas"]["ErrorPublic"]["properties"]["detail"]["type"] == "string"
    create = spec["paths"]["/athletes"]["post"]["responses"]
    assert {"401", "403", "409", "422", "429", "503"} <= set(create)
    assert {"401", "404", "429"} <= set(spec["paths"]["/athletes/{athlete_id}"]["get"]["responses"])
    assert "409" in spec["paths"]["/sets/{set_id}/stop"]["post"]["responses"]
    assert "401" not in spec["paths"]["/health"]["get"]["responses"]
    # every change needs an admin token, as documented by its 403
    for path, operations in spec["paths"].items():
        for method in operations:
            if method in ("post", "put", "patch", "delete"):
                answer = api.request(method, path.replace("{", "").replace("}", ""), json={})
                assert answer.status_code in (401, 404, 405, 422), (method, path)


def test_token_guessing_is_limited_per_client_with_a_clear_429(api) -> None:
    wrong = {"Authorization": "Bearer ww_guess"}
    codes = [api.get("/athletes", headers=wrong).status_code for _ in range(5)]
    assert codes == [401] * 5
    blocked = api.get("/athletes", headers=wrong)
    assert blocked.status_code == 429
    assert int(blocked.headers["Retry-After"]) >= 1
    assert "too many rejected tokens" in blocked.json()["detail"]
    # while blocked, even a right token from that address waits (guessing must not pay off)
    assert api.get("/athletes", headers=api.reader).status_code == 429
    # no token at all is not a guess and is not counted
    assert api.get("/health").status_code == 200


def test_failed_auth_limiter_window_slides() -> None:
    now = [0.0]
    limiter = FailedAuthLimiter(3, 60.0, clock_s=lambda: now[0])
    for t_s in (0.0, 10.0, 20.0):
        now[0] = t_s
        limiter.record_failure("10.0.0.1")
    assert limiter.retry_after_s("10.0.0.1") == pytest.approx(40.0)
    assert limiter.retry_after_s("10.0.0.2") == 0.0  # per client
    now[0] = 60.5
    assert limiter.retry_after_s("10.0.0.1") == 0.0  # the first failure left the window


def test_dashboard_and_api_answers_carry_security_headers(api) -> None:
    for path in ("/", "/dashboard/static/app.js", "/athletes", "/health"):
        headers = api.get(path).headers
        csp = headers["content-security-policy"]
        assert "script-src 'self'" in csp and "unsafe-inline" not in csp, path
        assert "frame-ancestors 'none'" in csp
        assert headers["x-frame-options"] == "DENY"
        assert headers["x-content-type-options"] == "nosniff"
        assert headers["referrer-policy"] == "no-referrer"
    page = api.get("/").text
    assert "<script>" not in page  # every script is a file (script-src 'self' allows no inline)
    assert not re.search(r"\son[a-z]+\s*=", page)  # no inline event handlers either


def test_origin_check() -> None:
    assert origin_allowed(None, "127.0.0.1:8000", [])  # not a browser
    assert origin_allowed("http://127.0.0.1:8000", "127.0.0.1:8000", [])
    assert not origin_allowed("http://evil.example", "127.0.0.1:8000", [])
    assert not origin_allowed("null", "127.0.0.1:8000", [])
    assert origin_allowed("https://gym.example/", "10.0.0.2:8000", ["https://gym.example"])


@pytest.mark.parametrize(
    "address", ["AA:BB", "not an address", "AA:BB:CC:DD:EE:GG", "AA-BB-CC-DD-EE-FF", "../../etc"]
)
def test_sensor_addresses_must_be_ble_addresses(api, address: str) -> None:
    response = api.post(
        "/sensors", json={"address": address, "kind": "witmotion"}, headers=api.admin
    )
    assert response.status_code == 422, response.text
    assert "not a BLE address" in response.json()["detail"][0]["msg"]


def test_ble_and_simulated_addresses_are_accepted(api) -> None:
    ble = api.post(
        "/sensors", json={"address": "d4:ca:6e:f1:20:3a", "kind": "movella_dot"}, headers=api.admin
    )
    assert ble.status_code == 201 and ble.json()["address"] == "D4:CA:6E:F1:20:3A"
    simulated = api.post(
        "/sensors", json={"address": "SIM-1-THIGH", "kind": "simulated"}, headers=api.admin
    )
    assert simulated.status_code == 201, simulated.text


def _ws_close(api, token: str) -> tuple[int, str]:
    from starlette.websockets import WebSocketDisconnect

    with api.websocket_connect("/live/ws") as ws:
        ws.send_json({"token": token})
        try:
            ws.receive_text()
        except WebSocketDisconnect as exc:
            return exc.code, exc.reason
    return 0, ""


def test_websocket_token_guessing_is_limited_too(api) -> None:
    codes = [_ws_close(api, "ww_guess")[0] for _ in range(5)]
    assert codes == [1008] * 5
    code, reason = _ws_close(api, "ww_guess")
    assert code == 4429 and "too many rejected tokens" in reason
    assert api.get("/athletes", headers={"Authorization": "Bearer ww_guess"}).status_code == 429


def test_an_oversized_body_is_refused_before_it_is_read(api) -> None:
    # Found by probing a running server: a 250 MB body with no token was read whole (peak
    # memory +370 MB) before its 401; a few at once would exhaust a Raspberry Pi's memory.
    oversized = '{"name": "' + "a" * (2 << 20) + '"}'
    for headers in ({"Content-Type": "application/json"}, api.admin):
        response = api.post("/athletes", content=oversized, headers=headers)
        assert response.status_code == 413, response.text[:200]
        assert "1 MiB" in response.json()["detail"]

    def streamed():  # a generator body: refused too, whether counted or declared
        for _ in range(64):
            yield b" " * (1 << 20)

    assert api.post("/athletes", content=streamed(), headers=api.admin).status_code == 413
    # A recording import may be large (two CSVs of up to 50 MB): 3 MB is not refused
    recording = '{"sacrum_csv": "' + "0" * (3 << 20) + '", "thigh_csv": ""}'
    response = api.post(
        "/assessments/999/steps/baseline/recording", content=recording, headers=api.admin
    )
    assert response.status_code == 422 and "sacrum_csv, line 1" in response.text  # read whole


def _post_with_a_body_never_sent_fully(api, path: str, token: str | None) -> tuple[int, int]:
    """POST `path` at the ASGI level: a few MiB of body arrive, then the client stalls. The
    status answered (0: none within 5 s) and how many body chunks the server asked for."""
    chunks_read = 0

    async def receive() -> dict:
        nonlocal chunks_read
        chunks_read += 1
        if chunks_read > 4:
            await asyncio.Event().wait()  # the rest of the body never comes
        return {"type": "http.request", "body": b" " * (1 << 20), "more_body": True}

    statuses: list[int] = []

    async def send(message: dict) -> None:
        if message["type"] == "http.response.start":
            statuses.append(message["status"])

    headers = [(b"content-type", b"application/json"), (b"host", b"testserver")]
    if token is not None:
        headers.append((b"authorization", f"Bearer {token}".encode()))
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "root_path": "",
        "query_string": b"",
        "headers": headers,
        "client": ("127.0.0.1", 50000),
        "server": ("testserver", 80),
        "state": {},
    }

    async def call() -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(api.app(scope, receive, send), 5)

    asyncio.run(call())
    return (statuses[0] if statuses else 0), chunks_read


def test_a_recording_import_is_refused_before_its_body_is_read_without_an_admin_token(
    api,
) -> None:
    # Found by probing: the recording import takes bodies up to 101 MB, and FastAPI read the
    # whole body before it checked the token, so anyone who could reach the port made the
    # server read (and hold) 101 MB per request. A client that never finishes its body got
    # no answer at all.
    path = "/assessments/1/steps/baseline/recording"
    reader = api.reader["Authorization"].removeprefix("Bearer ")
    for token, expected in ((None, 401), ("ww_wrong", 401), (reader, 403)):
        status, chunks_read = _post_with_a_body_never_sent_fully(api, path, token)
        assert (status, chunks_read) == (expected, 0), token


@pytest.mark.parametrize(
    ("method", "path", "body", "field"),
    [
        ("PATCH", "/sets/1", {"load_kg": False}, "load_kg"),
        ("PATCH", "/sets/1", {"load_kg": "20"}, "load_kg"),
        ("POST", "/sets", {"athlete_id": True, "variant": "bodyweight"}, "athlete_id"),
        ("POST", "/sets", {"athlete_id": 1, "variant": "bodyweight", "load_kg": True}, "load_kg"),
        ("POST", "/sets", {"athlete_id": "1", "variant": "bodyweight"}, "athlete_id"),
        ("POST", "/sets", {"athlete_id": 1.5, "variant": "bodyweight"}, "athlete_id"),
        (
            "POST",
            "/sets",
            {"athlete_id": 1, "variant": "bodyweight", "session_id": True},
            "session_id",
        ),
        (
            "POST",
            "/sets",
            {"athlete_id": 1, "variant": "bodyweight", "override_missing_sensors": 1},
            "override_missing_sensors",
        ),
        ("PUT", "/athletes/1/depth-guard", {"margin_deg": False}, "margin_deg"),
        ("PUT", "/athletes/1/depth-guard", {"on": 1}, "on"),
        ("PUT", "/athletes/1/archive", {"archived": 0}, "archived"),
        ("PUT", "/athletes/1/archive", {"archived": "true"}, "archived"),
        ("PUT", "/athletes/1/baseline", {"set_ids": [True]}, "set_ids"),
        (
            "PUT",
            "/athletes/1/baseline",
            {"centre_deg": True, "spread_deg": 1, "reps": 5},
            "centre_deg",
        ),
        ("PUT", "/athletes/1/baseline", {"centre_deg": 5, "spread_deg": 1, "reps": True}, "reps"),
        ("POST", "/athletes", {"name": "Ana", "femur_cm": "40"}, "femur_cm"),
        ("PATCH", "/athletes/1", {"shank_cm": "40"}, "shank_cm"),
        ("POST", "/assessments", {"athlete_id": True}, "athlete_id"),
        ("POST", "/assessments/1/steps", {"kind": "baseline", "load_kg": False}, "load_kg"),
        ("POST", "/sessions", {"athlete_id": True}, "athlete_id"),
        ("POST", "/sensors/scan", {"timeout_s": True}, "timeout_s"),
        ("POST", "/sensors/swap", {"athlete_id": True}, "athlete_id"),
        ("PUT", "/sensors/1/assignment", {"athlete_id": True, "placement": "sacrum"}, "athlete_id"),
        ("PUT", "/athletes/1/explanations/wink", {"shown": 0}, "shown"),
        ("POST", "/sessions", {"athlete_id": 1.5}, "athlete_id"),
        ("PUT", "/athletes/1/baseline", {"set_ids": [1.5]}, "set_ids"),
    ],
)
def test_numbers_and_booleans_in_a_body_are_taken_strictly(
    api, method: str, path: str, body: dict, field: str
) -> None:
    # Found by probing: pydantic's lax mode stored `"load_kg": false` as 0 kg, took
    # `"archived": 0` as false and `"athlete_id": true` as athlete 1
    response = api.request(method, path, json=body, headers=api.admin)
    assert response.status_code == 422, response.text
    assert [field] in [problem["loc"][1:2] for problem in response.json()["detail"]]


@pytest.mark.parametrize("set_id", [2**64, 10**23, 2**31, 0, -5])
def test_a_baseline_from_set_ids_no_set_can_have_is_a_422(api, set_id: int) -> None:
    # Found by probing: `{"set_ids": [2**64]}` reached SQLite, which cannot bind it
    # (OverflowError, a 500); every other id of a body is 1..2**31-1 already
    made = api.post("/athletes", json={"name": "Ana"}, headers=api.admin).json()
    response = api.put(
        f"/athletes/{made['id']}/baseline", json={"set_ids": [set_id]}, headers=api.admin
    )
    assert response.status_code == 422, response.text
    assert [problem["loc"][1:3] for problem in response.json()["detail"]] == [["set_ids", 0]]
    assert api.get(f"/athletes/{made['id']}", headers=api.admin).json()["baseline_reps"] is None


def test_a_json_integer_written_with_a_point_zero_is_an_integer(api) -> None:
    # JSON Schema's `integer` takes 3.0 (schemathesis sent `"athlete_id": 2710991.0` to POST
    # /sensors/swap and got 422 for a schema-valid body); 1.5 stays refused (above).
    made = api.post("/athletes", json={"name": "Ana"}, headers=api.admin).json()
    session = api.post("/sessions", json={"athlete_id": float(made["id"])}, headers=api.admin)
    assert session.status_code == 201, session.text
    assert session.json()["athlete_id"] == made["id"]
    baseline = {"centre_deg": 12, "spread_deg": 2, "reps": 20.0}
    stored = api.put(f"/athletes/{made['id']}/baseline", json=baseline, headers=api.admin)
    assert stored.status_code == 200 and stored.json()["baseline_reps"] == 20


def test_an_int_is_still_a_number_where_a_float_is_taken(api) -> None:
    made = api.post("/athletes", json={"name": "Ana", "femur_cm": 40}, headers=api.admin)
    assert made.status_code == 201 and made.json()["femur_cm"] == 40.0
    athlete_id = made.json()["id"]
    guard = api.put(
        f"/athletes/{athlete_id}/depth-guard", json={"margin_deg": 5}, headers=api.admin
    )
    assert guard.status_code == 200 and guard.json()["margin_deg"] == 5.0
    baseline = {"centre_deg": 12, "spread_deg": 2, "reps": 20}
    stored = api.put(f"/athletes/{athlete_id}/baseline", json=baseline, headers=api.admin)
    assert stored.status_code == 200 and stored.json()["baseline_centre_deg"] == 12.0


def test_a_websocket_that_goes_away_before_its_token_message_is_no_server_error(
    api, caplog
) -> None:
    # Found by probing a running server: a phone that closed the page before the dashboard
    # had sent its token left "Exception in ASGI application" and a traceback in the log
    # (WebSocketDisconnect out of the wait for the token message)
    for _ in range(3):
        with api.websocket_connect("/live/ws"):
            pass  # closes (1000) without a message
    assert [r.getMessage() for r in caplog.records if r.levelname == "ERROR"] == []
