"""Fixtures: databases as in tests/api (SQLite, and PostgreSQL per-test schemas), a private
Mosquitto broker."""

import pytest

from tests.api.conftest import database, db_target  # noqa: F401  (fixtures)
from tests.federation.infra import Mosquitto, mosquitto_available

USERS = {"central": "central-secret", "gw-a": "a-secret", "gw-b": "b-secret", "gw-c": "c-secret"}


@pytest.fixture
def broker(tmp_path):
    if not mosquitto_available():
        pytest.skip("mosquitto is not installed (apt-get install mosquitto mosquitto-clients)")
    server = Mosquitto(tmp_path / "mosquitto", USERS).start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def central_target(tmp_path):
    """The central store: PostgreSQL (own schema) when WINKWATCH_TEST_POSTGRES_URL is set,
    else SQLite."""
    import uuid

    from sqlalchemy import create_engine, text

    from tests.api.conftest import POSTGRES_URL, DbTarget

    if POSTGRES_URL is None:
        yield DbTarget(url=f"sqlite:///{tmp_path / 'central.db'}", schema=None)
        return
    schema = f"ww_central_{uuid.uuid4().hex[:12]}"
    try:
        yield DbTarget(url=POSTGRES_URL, schema=schema)
    finally:
        engine = create_engine(POSTGRES_URL)
        with engine.begin() as connection:
            connection.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        engine.dispose()
