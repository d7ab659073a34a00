"""Known tokens are remembered for TOKEN_CACHE_TTL_S; a revoked one stops working within it."""

from __future__ import annotations

import time

from fastapi.testclient import TestClient

from api.auth import create_token, revoke_token
from api.http import create_app, deps
from api.settings import Settings
from api.vocab import TokenRole


def test_a_used_then_revoked_token_stops_working_within_the_ttl(
    database, db_target, monkeypatch
) -> None:
    monkeypatch.setattr(deps, "TOKEN_CACHE_TTL_S", 0.3)
    settings = Settings(
        database_url=db_target.url, database_schema=db_target.schema, gateway_id="gw-test"
    )
    with database.sessions.begin() as db:
        token, secret = create_token(db, "temp", TokenRole.READ)
    headers = {"Authorization": f"Bearer {secret}"}
    with TestClient(create_app(settings, database=database)) as client:
        assert client.get("/reps", headers=headers).status_code == 200
        with database.sessions.begin() as db:
            revoke_token(db, token.id)
        time.sleep(0.4)
        assert client.get("/reps", headers=headers).status_code == 401
        assert client.get("/athletes", headers=headers).status_code == 401
        wrong = {"Authorization": f"Bearer {secret}x"}
        assert client.get("/reps", headers=wrong).status_code == 401
