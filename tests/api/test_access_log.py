"""Secrets never reach the logs: uvicorn's access log of a real server, with a client that
puts its token in the URL anyway (HTTP query and WebSocket), shows `[redacted]` instead."""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from pathlib import Path
from types import SimpleNamespace

import httpx2
import pytest
import websockets

from api.auth import create_token
from api.http import create_app
from api.runtime import http_server
from api.settings import Settings
from api.storage.db import open_database
from api.vocab import TokenRole
from tests.api.helpers import free_port


class _Capture(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record.getMessage())


@pytest.fixture
def logged_server(tmp_path: Path):
    url = f"sqlite:///{tmp_path / 'ww.db'}"
    database = open_database(url)
    with database.sessions.begin() as db:
        _, secret = create_token(db, "logged", TokenRole.READ)
    app = create_app(Settings(database_url=url, gateway_id="log-test"), database=database)
    port = free_port()
    http = http_server(SimpleNamespace(app=app), "127.0.0.1", port, log_level="info")
    capture = _Capture()
    for name in ("uvicorn.access", "uvicorn.error"):
        logging.getLogger(name).addHandler(capture)
    thread = threading.Thread(target=asyncio.run, args=(http.serve(),), daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not http.started:
        assert time.monotonic() < deadline, "server did not start"
        time.sleep(0.05)
    yield f"127.0.0.1:{port}", secret, capture
    http.should_exit = True
    thread.join(timeout=20)
    for name in ("uvicorn.access", "uvicorn.error"):
        logging.getLogger(name).removeHandler(capture)
    database.dispose()


def test_tokens_in_urls_and_headers_never_reach_the_access_log(logged_server) -> None:
    address, secret, capture = logged_server
    with httpx2.Client(base_url=f"http://{address}") as client:
        assert client.get("/athletes", headers={"Authorization": f"Bearer {secret}"}).is_success
        client.get("/athletes", params={"token": secret})
        client.get(f"/reps?athlete_id=1&token={secret}&limit=5")

    async def websocket_with_token_in_url() -> None:
        try:
            async with websockets.connect(f"ws://{address}/live/ws?token={secret}") as ws:
                await asyncio.wait_for(ws.recv(), 5)
        except websockets.ConnectionClosed:
            pass

    asyncio.run(websocket_with_token_in_url())
    time.sleep(0.3)
    text = "\n".join(capture.lines)
    assert "/athletes" in text and "/live/ws" in text, text  # the requests were logged...
    assert secret not in text and secret[3:15] not in text, text  # ...without the secret
    assert "token=[redacted]" in text
