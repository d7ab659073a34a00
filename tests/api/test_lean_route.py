"""The rep list's lean path (`api.http.lean_route.LeanRoute`) answers exactly as FastAPI's
own handler: same bodies, statuses and headers for good and bad parameters and tokens, and
it is really taken for the common request (no dependency solving)."""

from __future__ import annotations

from datetime import UTC, datetime

import fastapi.routing
import pytest
from fastapi import APIRouter, Depends, FastAPI, HTTPException, Response
from fastapi.testclient import TestClient

from api.http import deps
from api.http.lean_route import LeanRoute
from api.http.routes import reps as reps_routes
from api.vocab import SetVariant
from tests.api.helpers import store_awkward_reps

QUERIES = [
    "",
    "?limit=2",
    "?limit=2&cursor=3",
    "?athlete_id=1&variant=back_squat&flagged=true",
    "?athlete_id=1&flagged=false&limit=1",
    "?since=2026-01-01T00:00:00Z&until=2030-01-01T00:00:00%2B02:00",
    "?since=2026-01-01T10:00:00",  # no zone: UTC
    "?since=0001-01-01T00:00:00%2B01:00",  # out of Python's range once in UTC
    "?set_id=1&session_id=1",
    "?limit=5&limit=1",  # repeated: the last one counts, as in FastAPI
    "?unknown=1&limit=1",
    "?flagged=1",
    "?flagged=yes",
    # invalid: 422 with FastAPI's (or the project's) problems
    "?limit=0",
    "?limit=1001",
    "?limit=abc",
    "?limit=",
    "?limit=1.5",
    "?athlete_id=0",
    "?athlete_id=-3",
    "?athlete_id=99999999999999999999999",
    "?cursor=0",
    "?variant=deadlift",
    "?flagged=maybe",
    "?since=12345",
    "?since=yesterday",
    "?since=2026-02-01T00:00:00Z&until=2026-01-01T00:00:00Z",
    "?limit=abc&athlete_id=x&since=1",
    # the query string's forms: escapes, empty pairs, names without a value
    "?limit=2&&cursor=3&",
    "?limit=%32&variant=back%5Fsquat",
    "?limit=2&unknown=a+b",
    "?flagged=true&flagged=false",
    "?=1&limit=2",
    "?limit",
    "?limit=2&athlete_id",
    "?limit==2",
]


def _store_reps(database) -> None:
    store_awkward_reps(
        database,
        variant=SetVariant.BACK_SQUAT,
        set_load_kg=60.0,
        started=datetime(2026, 3, 1, 9, 0, tzinfo=UTC),
        n_reps=7,
        performed_at=lambda r: datetime(2026, 3, 1, 9, 0, r, 1000 * r, tzinfo=UTC),
        depth_deg=lambda r: 90.0 + r / 3,
        qualities=["", "short_rep", "short_rep;gap"],
    )


def _solve_counter(monkeypatch) -> list[int]:
    calls = [0]
    solve = fastapi.routing.solve_dependencies

    async def counting(**kwargs):
        calls[0] += 1
        return await solve(**kwargs)

    monkeypatch.setattr(fastapi.routing, "solve_dependencies", counting)
    return calls


def _answer(client: TestClient, path: str, headers: dict) -> tuple:
    response = client.get(path, headers=headers)
    return response.status_code, response.content, sorted(response.headers.items())


def test_lean_and_fastapi_answer_every_query_alike(api, monkeypatch) -> None:
    _store_reps(api.database)
    calls = _solve_counter(monkeypatch)
    app: FastAPI = api.app
    api.get("/reps", headers=api.reader)  # the token is now remembered
    for query in QUERIES:
        api.get("/reps?limit=1", headers=api.reader)  # remembered again if its 2 s ran out
        calls[0] = 0
        lean = _answer(api, "/reps" + query, api.reader)
        lean_solved = calls[0]
        app.dependency_overrides[deps.get_service] = deps.get_service  # FastAPI's path
        try:
            calls[0] = 0
            generic = _answer(api, "/reps" + query, api.reader)
            assert calls[0] >= 1
        finally:
            app.dependency_overrides.clear()
        assert lean == generic, query
        if lean[0] == 200:
            assert lean_solved == 0, f"{query}: answered by FastAPI's handler, not the lean path"
    assert _answer(api, "/reps?limit=1", api.reader)[0] == 200


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Bearer"},
        {"Authorization": "Basic dXNlcjpwdw=="},
        {"Authorization": "Bearer ww_not-a-token"},
        {"Authorization": "Bearer nonsense"},
    ],
)
def test_bad_tokens_get_fastapis_answer(api, monkeypatch, headers) -> None:
    calls = _solve_counter(monkeypatch)
    status, body, _ = _answer(api, "/reps?limit=abc", headers)  # auth before parameters
    assert status == 401 and b"winkwatch token create" in body
    assert calls[0] == 1


def test_query_values_are_what_starlette_parses() -> None:
    from starlette.datastructures import QueryParams
    from starlette.requests import Request

    from api.http.lean_route import query_values

    for raw in [
        b"",
        b"limit=100&cursor=60000&athlete_id=7",
        b"a",
        b"a=",
        b"=b",
        b"a=1&a=2",
        b"a=1&&b=2&",
        b"&&",
        b"a==b",
        b"a=1;b=2",
        b"a=%20x&b=%zz&c=%C3%A9",
        b"a+b=c+d",
        b"a=\xe9\xff",  # raw bytes, not escaped
        b"since=2026-01-01T00:00:00%2B02:00",
    ]:
        parsed = QueryParams(raw)
        assert query_values(Request({"type": "http", "query_string": raw})) == {
            name: parsed[name] for name in parsed
        }, raw


@pytest.mark.parametrize("form", ["Bearer {}", "bearer {}", "BEARER  {} ", "Bearer {}\t"])
def test_bearer_forms_are_read_as_fastapi_reads_them(api, monkeypatch, form) -> None:
    """The lean path reads the token from the scope as HTTPBearer does: the scheme in any
    case, the credentials stripped; the answer is FastAPI's."""
    calls = _solve_counter(monkeypatch)
    token = api.reader["Authorization"].removeprefix("Bearer ")
    headers = {"Authorization": form.format(token)}
    api.get("/reps", headers=api.reader)  # the token is now remembered
    calls[0] = 0
    lean = _answer(api, "/reps?limit=2", headers)
    assert lean[0] == 200 and calls[0] == 0
    api.app.dependency_overrides[deps.get_service] = deps.get_service  # FastAPI's path
    try:
        assert _answer(api, "/reps?limit=2", headers) == lean
    finally:
        api.app.dependency_overrides.clear()


def test_a_blocked_client_is_refused_even_with_a_remembered_token(api) -> None:
    assert api.get("/reps", headers=api.reader).status_code == 200
    limiter = api.app.state.auth_limiter
    for _ in range(limiter.max_failures):
        assert api.get("/reps", headers={"Authorization": "Bearer ww_wrong"}).status_code == 401
    refused = api.get("/reps", headers=api.reader)
    assert refused.status_code == 429 and "Retry-After" in refused.headers


def test_the_first_request_of_a_token_is_solved_by_fastapi_then_lean(api, monkeypatch) -> None:
    calls = _solve_counter(monkeypatch)
    assert api.get("/reps", headers=api.admin).status_code == 200
    assert calls[0] == 1  # looked up in the database, then remembered
    assert api.get("/reps", headers=api.admin).status_code == 200
    assert calls[0] == 1


def test_only_the_rep_list_is_lean() -> None:
    routes = {route.path: route for route in reps_routes.router.routes}
    assert hasattr(routes["/reps"], "lean_plan")
    assert not hasattr(routes["/reps/{rep_id}"], "lean_plan")  # a session dependency


def _blocked() -> None:
    raise HTTPException(403, "blocked by the including router")


async def _page(database: deps.DatabaseDep, limit: int = 1) -> Response:
    return Response(f'{{"limit": {limit}}}', media_type="application/json")


def test_dependencies_of_an_including_router_are_not_skipped(database) -> None:
    router = APIRouter(route_class=LeanRoute)
    router.add_api_route("/page", _page)
    app = FastAPI()
    app.state.database = database
    app.include_router(router, prefix="/open")
    app.include_router(router, prefix="/closed", dependencies=[Depends(_blocked)])
    with TestClient(app) as client:
        assert client.get("/open/page?limit=3").json() == {"limit": 3}
        assert client.get("/closed/page?limit=3").status_code == 403


def test_a_lean_endpoint_must_return_a_response(database) -> None:
    async def not_a_response(database: deps.DatabaseDep) -> dict:
        return {"a": 1}

    router = APIRouter(route_class=LeanRoute)
    router.add_api_route("/x", not_a_response)
    app = FastAPI()
    app.state.database = database
    app.include_router(router)
    with TestClient(app) as client, pytest.raises(TypeError, match="must return a Response"):
        client.get("/x")
