"""An export streaming when its token is revoked ends at its next batch, as the token's
requests get 401 and its live streams end: a real uvicorn server and an httpx stream, the
token revoked after the first batch. Before, the download ran to its end (`winkwatch token
revoke` changed nothing for it). The client sees a download cut short, not a shorter CSV
that looks whole."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import httpx2
import pytest

from api.auth import create_token, revoke_token
from api.http import create_app, deps
from api.http.routes import exports
from api.rep_export import iter_reps_csv
from api.runtime import http_server
from api.settings import Settings
from api.vocab import SetVariant, TokenRole
from tests.api.helpers import free_port, store_awkward_reps

BATCH_ROWS = 200
BATCHES = 10
WAIT_S = 60.0  # bound on every wait below; each ends as soon as its event happens


def test_an_export_ends_at_its_next_batch_once_its_token_is_revoked(
    database, db_target, monkeypatch
) -> None:
    started = datetime(2026, 3, 1, 9, 30, tzinfo=UTC)
    store_awkward_reps(
        database,
        variant=SetVariant.BACK_SQUAT,
        set_load_kg=60.0,
        started=started,
        n_reps=BATCHES * BATCH_ROWS,
        performed_at=lambda r: started + timedelta(seconds=3 * r),
        depth_deg=lambda r: 95.0 + r % 10,
        qualities=[""],
    )
    with database.sessions.begin() as db:
        token, secret = create_token(db, "lost tablet", TokenRole.READ)
        token_id = token.id
    monkeypatch.setattr(deps, "TOKEN_CACHE_TTL_S", 0.0)  # every check asks the database

    revoked = threading.Event()
    seen: dict[str, object] = {"batches": 0}

    def gated_export(db, where) -> Iterator[str]:
        """The route's export in small batches; every batch after the second waits until
        the token is revoked, so the revocation lands mid-export."""
        for k, chunk in enumerate(iter_reps_csv(db, where, batch_rows=BATCH_ROWS)):
            if k >= 2:
                assert revoked.wait(WAIT_S), "the token was never revoked"
            seen["batches"] = k
            yield chunk

    monkeypatch.setattr(exports, "iter_reps_csv", gated_export)
    app = create_app(
        Settings(database_url=db_target.url, database_schema=db_target.schema, gateway_id="gw"),
        database=database,
    )
    port = free_port()
    http = http_server(SimpleNamespace(app=app), "127.0.0.1", port, log_level="warning")
    thread = threading.Thread(target=lambda: asyncio.run(http.serve()), daemon=True)
    thread.start()
    deadline = time.monotonic() + WAIT_S
    while not http.started:
        assert time.monotonic() < deadline, "server did not start"
        time.sleep(0.05)
    try:
        url = f"http://127.0.0.1:{port}/export/reps.csv"
        headers = {"Authorization": f"Bearer {secret}"}
        received = bytearray()
        with httpx2.stream("GET", url, headers=headers, timeout=WAIT_S) as response:
            assert response.status_code == 200
            chunks = response.iter_bytes()
            received += next(chunks)
            assert received.startswith(b"rep,start_s,")
            with database.sessions.begin() as db:
                revoke_token(db, token_id)
            revoked.set()
            with pytest.raises(httpx2.RemoteProtocolError):  # cut short, not a whole CSV
                for chunk in chunks:
                    received += chunk
        assert seen["batches"] < BATCHES - 1  # stopped at a batch, not run to its end
        assert received.count(b"\n") < BATCHES * BATCH_ROWS + 1
        refused = httpx2.get(url, headers=headers, timeout=WAIT_S)
        assert refused.status_code == 401  # as the token's requests
    finally:
        http.should_exit = True
        thread.join(timeout=WAIT_S)
