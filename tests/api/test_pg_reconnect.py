"""PostgreSQL connections the server has closed (a restart, `pg_terminate_backend`) are
replaced without a pre-ping round trip: a pooled connection with a readable socket is
pinged at checkout (api.storage.db), and the rep page, read on the driver's connection,
is read again once on a new connection if its connection dies after that check."""

from __future__ import annotations

import pytest
from sqlalchemy import select, text

import api.storage.db as db_module
from api.http.routes.reps import REP_PAGE_COLUMNS
from api.storage import catalog
from api.storage.models import Athlete
from api.storage.reps import RepFilter, fetch_rep_page

pytestmark = pytest.mark.postgres


@pytest.fixture
def pg_database(database):
    if database.engine.dialect.name != "postgresql":
        pytest.skip("PostgreSQL only")
    with database.sessions.begin() as db:
        catalog.create_athlete(db, "A")
    return database


def _pooled_pid(database) -> int:
    """The backend pid of the connection the pool hands out next (it is returned at once)."""
    with database.engine.connect() as connection:
        return connection.execute(text("SELECT pg_backend_pid()")).scalar_one()


def _terminate(database, pid: int) -> None:
    """Ends backend `pid` from a connection of its own, as a server restart would."""
    import psycopg

    url = database.engine.url.set(drivername="postgresql")
    with psycopg.connect(url.render_as_string(hide_password=False), autocommit=True) as admin:
        assert admin.execute("SELECT pg_terminate_backend(%s)", [pid]).fetchone() == (True,)
        # until the backend is gone and its goodbye has reached the pooled socket
        admin.execute(
            "SELECT count(*) FROM (SELECT pg_sleep(0.05) FROM generate_series(1, 40)) s "
            "WHERE EXISTS (SELECT 1 FROM pg_stat_activity WHERE pid = %s)",
            [pid],
        )


def test_a_killed_pooled_connection_is_replaced_at_checkout(pg_database) -> None:
    old_pid = _pooled_pid(pg_database)
    _terminate(pg_database, old_pid)
    rows, _ = fetch_rep_page(pg_database.engine, RepFilter(), None, 10, REP_PAGE_COLUMNS)
    assert rows == []
    with pg_database.sessions() as db:  # ORM sessions (every other route) too
        assert db.execute(select(Athlete.name)).scalars().all() == ["A"]
    assert _pooled_pid(pg_database) != old_pid


def test_the_rep_page_is_read_again_if_its_connection_dies_after_the_check(
    pg_database, monkeypatch
) -> None:
    old_pid = _pooled_pid(pg_database)
    _terminate(pg_database, old_pid)
    # the goodbye has not reached the socket yet at checkout (a race with the restart)
    monkeypatch.setattr(db_module.select, "select", lambda r, w, x, timeout: ([], [], []))
    rows, _ = fetch_rep_page(pg_database.engine, RepFilter(), None, 10, REP_PAGE_COLUMNS)
    assert rows == []
    assert _pooled_pid(pg_database) != old_pid


def test_a_notification_on_an_idle_connection_is_not_a_disconnect(pg_database) -> None:
    import psycopg

    with pg_database.engine.connect() as connection:
        connection.execute(text("LISTEN ww_reconnect_test"))
        connection.commit()
        pid = connection.execute(text("SELECT pg_backend_pid()")).scalar_one()
        connection.commit()
    url = pg_database.engine.url.set(drivername="postgresql")
    with psycopg.connect(url.render_as_string(hide_password=False), autocommit=True) as other:
        other.execute("NOTIFY ww_reconnect_test")
    # the pooled connection's socket is now readable: pinged at checkout, and kept
    rows, _ = fetch_rep_page(pg_database.engine, RepFilter(), None, 10, REP_PAGE_COLUMNS)
    assert rows == []
    assert _pooled_pid(pg_database) == pid
