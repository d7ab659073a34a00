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
