"""A client that disconnects mid-export stops it: a real uvicorn server and an httpx stream
closed after the first batch. The export's generator is closed (off the event loop), reads
no batch after the disconnect was seen but the one in flight, and gives its database
connections back, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import httpx2

from api.auth import create_token
from api.http import create_app
from api.http.routes import exports
from api.rep_export import iter_reps_csv
from api.runtime import http_server
from api.settings import Settings
from api.vocab import SetVariant, TokenRole
from tests.api.helpers import free_port, store_awkward_reps

BATCH_ROWS = 200
BATCHES = 10
WAIT_S = 60.0  # bound on every wait below; each ends as soon as its event happens


def test_a_disconnected_client_stops_the_export_and_frees_its_connections(
    database, db_target, monkeypatch
) -> None:
    started = datetime(2026, 3, 1, 9, 30, tzinfo=UTC)
    store_awkward_reps(
        database,
        variant=SetVariant.FRONT_SQUAT,
        set_load_kg=40.0,
        started=started,
        n_reps=BATCHES * BATCH_ROWS,
        performed_at=lambda r: started + timedelta(seconds=3 * r),
        depth_deg=lambda r: 95.0 + r % 10,
        qualities=[""],
    )
    with database.sessions.begin() as db:
        _, token = create_token(db, "dashboard", TokenRole.READ)

    disconnect_seen = threading.Event()  # the app received http.disconnect
    closed = threading.Event()
    seen: dict[str, object] = {"batches": 0}

    def gated_export(db, where) -> Iterator[str]:
        """The route's export in small batches; every batch after the first waits until
        the app has seen the client go, so the disconnect lands mid-export."""
        try:
            for k, chunk in enumerate(iter_reps_csv(db, where, batch_rows=BATCH_ROWS)):
                if k >= 2:
                    assert disconnect_seen.wait(WAIT_S), "the disconnect never reached the app"
                seen["batches"] = k
                yield chunk
        finally:
            seen["closed_in"] = threading.current_thread()
            closed.set()

    monkeypatch.setattr(exports, "iter_reps_csv", gated_export)
    app = create_app(
        Settings(database_url=db_target.url, database_schema=db_target.schema, gateway_id="gw"),
        database=database,
    )

    async def watched(scope, receive, send):
        async def receive_watched():
            message = await receive()
            if message["type"] == "http.disconnect":
                disconnect_seen.set()
            return message

        await app(scope, receive_watched, send)

    port = free_port()
    http = http_server(SimpleNamespace(app=watched), "127.0.0.1", port, log_level="warning")
    loop_threads: list[threading.Thread] = []

    def serve() -> None:
        loop_threads.append(threading.current_thread())
        asyncio.run(http.serve())

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    deadline = time.monotonic() + WAIT_S
    while not http.started:
        assert time.monotonic() < deadline, "server did not start"
        time.sleep(0.05)
    try:
        url = f"http://127.0.0.1:{port}/export/reps.csv"
        headers = {"Authorization": f"Bearer {token}"}
        with httpx2.stream("GET", url, headers=headers, timeout=WAIT_S) as response:
            assert response.status_code == 200
            first = next(response.iter_bytes())
            assert first.startswith(b"rep,start_s,")
        # The client is gone: the export is closed without being read to its end, and not
        # on the event loop's thread (its clean-up waits for the database).
        assert closed.wait(WAIT_S), "the export's generator was not closed"
        assert seen["closed_in"] is not loop_threads[0]
        assert seen["batches"] < BATCHES - 1  # the one in flight at most, then no more
        deadline = time.monotonic() + WAIT_S
        while database.engine.pool.checkedout():
            assert time.monotonic() < deadline, "the export kept a database connection"
            time.sleep(0.02)
        # The server carries on: the next export is whole.
        with httpx2.Client(timeout=WAIT_S) as client:
            disconnect_seen.set()
            text = client.get(url, headers=headers).text
        assert text.count("\n") == BATCHES * BATCH_ROWS + 1
    finally:
        http.should_exit = True
        thread.join(timeout=WAIT_S)
