"""Databases for the storage and API tests: SQLite always, PostgreSQL when
WINKWATCH_TEST_POSTGRES_URL is set (a fresh schema per test, dropped afterwards)."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

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
