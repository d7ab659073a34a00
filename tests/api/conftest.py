"""Databases for the storage and API tests: SQLite always, PostgreSQL when
WINKWATCH_TEST_POSTGRES_URL is set (a fresh schema per test, dropped afterwards)."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, text

from api.storage.db import Database, open_database

POSTGRES_URL = os.environ.get("WINKWATCH_TEST_POSTGRES_URL")


@dataclass(frozen=True)
class DbTarget:
    url: str
    schema: str | None


def _backends() -> list:
    return [
        pytest.param("sqlite", id="sqlite"),
        pytest.param(
            "postgres",
            id="postgres",
            marks=[
                pytest.mark.postgres,
                pytest.mark.skipif(
                    POSTGRES_URL is None, reason="WINKWATCH_TEST_POSTGRES_URL is not set"
                ),
            ],
        ),
    ]


@pytest.fixture(params=_backends())
def db_target(request, tmp_path: Path) -> Iterator[DbTarget]:
    """An empty database (URL + schema); the PostgreSQL schema is dropped afterwards."""
    if request.param == "sqlite":
        yield DbTarget(url=f"sqlite:///{tmp_path / 'winkwatch.db'}", schema=None)
        return
    schema = f"ww_test_{uuid.uuid4().hex[:12]}"
    try:
        yield DbTarget(url=POSTGRES_URL, schema=schema)
    finally:
        admin = create_engine(POSTGRES_URL)
        with admin.begin() as connection:
            connection.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        admin.dispose()


@pytest.fixture
def database(db_target: DbTarget) -> Iterator[Database]:
    database = open_database(db_target.url, db_target.schema)
    try:
        yield database
    finally:
        database.dispose()


@pytest.fixture
def api(database: Database, db_target: DbTarget) -> Iterator[Any]:
    """The HTTP API on `database` through Starlette's TestClient, with `admin` and `reader`
    (Authorization headers of an admin and a read-only token) and `database` attached."""
    from fastapi.testclient import TestClient

    from api.auth import create_token
    from api.http import create_app
    from api.settings import Settings
    from api.vocab import TokenRole

    settings = Settings(
        database_url=db_target.url, database_schema=db_target.schema, gateway_id="gw-test"
    )
    with database.sessions.begin() as db:
        _, admin = create_token(db, "coach", TokenRole.ADMIN)
        _, reader = create_token(db, "dashboard", TokenRole.READ)
    with TestClient(create_app(settings, database=database)) as client:
        client.admin = {"Authorization": f"Bearer {admin}"}
        client.reader = {"Authorization": f"Bearer {reader}"}
        client.database = database
        yield client
