"""A live stream ends once its token is revoked, as its requests get 401: a lost or stolen
tablet's open dashboard kept receiving every athlete's angles, reps and winks for as long as
its socket stayed open (`winkwatch token revoke` changed nothing for it)."""

from __future__ import annotations

import asyncio
import json
import time

import httpx2
import pytest
import websockets

from api.auth import create_token, revoke_token
from api.http.routes import live
from api.runtime import build_server
from api.settings import Settings
from api.storage.db import open_database
from api.vocab import TokenRole
from tests.api.helpers import serve_in_thread

pytestmark = pytest.mark.slow
STREAM_END_TIMEOUT_S = 30.0  # recheck (0.2 s here) + token cache (2 s) + a loaded machine


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    root = tmp_path_factory.mktemp("revoked")
    url = f"sqlite:///{root / 'ww.db'}"
    settings = Settings(database_url=url, gateway_id="revoked-test")
    built = build_server(settings, simulate=1, config_dir=root)
    served = serve_in_thread(built)
    yield served, url
    served.stop()


@pytest.fixture
def quick_recheck(monkeypatch):
    monkeypatch.setattr(live, "TOKEN_RECHECK_S", 0.2)


def _token(url: str, name: str) -> tuple[int, str]:
    database = open_database(url)
    try:
        with database.sessions.begin() as db:
            token, secret = create_token(db, name, TokenRole.READ)
            return token.id, secret
    finally:
        database.dispose()


def _revoke(url: str, token_id: int) -> None:
    database = open_database(url)
    try:
        with database.sessions.begin() as db:
            revoke_token(db, token_id)
    finally:
        database.dispose()


@pytest.mark.parametrize("how", ["header", "first message"])
def test_a_websocket_ends_with_1008_once_its_token_is_revoked(server, quick_recheck, how) -> None:
    served, url = server
    token_id, secret = _token(url, f"tablet ({how})")

    async def run() -> tuple[int, str, int]:
        uri = f"ws://127.0.0.1:{served.port}/live/ws"
        headers = {"Authorization": f"Bearer {secret}"} if how == "header" else None
        async with websockets.connect(uri, additional_headers=headers) as ws:
            if how == "first message":
                await ws.send(json.dumps({"token": secret}))
            json.loads(await asyncio.wait_for(ws.recv(), 20))  # streaming
            await asyncio.to_thread(_revoke, url, token_id)
            after = 0
            deadline = time.monotonic() + STREAM_END_TIMEOUT_S
            try:
                while time.monotonic() < deadline:
                    await asyncio.wait_for(ws.recv(), deadline - time.monotonic())
                    after += 1
            except websockets.ConnectionClosed as exc:
                assert exc.rcvd is not None
                return exc.rcvd.code, exc.rcvd.reason, after
        raise AssertionError(f"still streaming {STREAM_END_TIMEOUT_S} s after the revocation")

    code, reason, _ = asyncio.run(run())
    assert code == 1008 and "revoked" in reason


def test_an_sse_stream_ends_with_an_error_event_once_its_token_is_revoked(
    server, quick_recheck
) -> None:
    served, url = server
    token_id, secret = _token(url, "tablet (sse)")
    headers = {"Authorization": f"Bearer {secret}"}
    with (
        httpx2.Client(base_url=served.url, timeout=STREAM_END_TIMEOUT_S) as client,
        client.stream("GET", "/live/events", headers=headers) as response,
    ):
        assert response.status_code == 200
        lines = response.iter_lines()
        assert next(line for line in lines if line.startswith("event: "))  # streaming
        _revoke(url, token_id)
        deadline = time.monotonic() + STREAM_END_TIMEOUT_S
        for line in lines:
            assert time.monotonic() < deadline, "still streaming after the revocation"
            if line == "event: error":
                detail = json.loads(next(lines).removeprefix("data: "))["detail"]
                assert "revoked" in detail
                break
        else:
            raise AssertionError("the stream ended without saying why")
        assert list(lines) == [""]  # and then it ends
        assert client.get("/athletes", headers=headers).status_code == 401


def test_a_valid_token_keeps_its_stream(server, quick_recheck) -> None:
    """The recheck does not end streams whose token is still valid (many rechecks pass)."""
    served, url = server
    _, secret = _token(url, "tablet (kept)")

    async def run() -> int:
        uri = f"ws://127.0.0.1:{served.port}/live/ws"
        async with websockets.connect(
            uri, additional_headers={"Authorization": f"Bearer {secret}"}
        ) as ws:
            received = 0
            deadline = time.monotonic() + 3.0  # 15 rechecks
            while time.monotonic() < deadline:
                await asyncio.wait_for(ws.recv(), 20)
                received += 1
            return received

    assert asyncio.run(run()) > 10  # ~20 Hz angles all along
