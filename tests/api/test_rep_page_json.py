"""The rep list's page is written straight from Core rows (api.http.routes.reps): byte for
byte what pydantic writes for the same stored reps through `Page[RepPublic]`, on SQLite and
PostgreSQL, for the awkward values (None, codes, microseconds, floats without a short form)."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timedelta

import pytest
from pydantic import TypeAdapter
from sqlalchemy import text

from api.http.routes.reps import _rep_page_json
from api.http.schemas import Page, RepPublic
from api.storage.reps import RepFilter, list_reps
from api.vocab import SetVariant
from tests.api.helpers import store_awkward_reps

PAGE = TypeAdapter(Page[RepPublic])
STARTED = datetime(2026, 3, 1, 9, 30, 15, 250000, tzinfo=UTC)


def _store(database) -> int:
    return store_awkward_reps(
        database,
        variant=SetVariant.BOX_SQUAT,
        set_load_kg=None,
        started=STARTED,
        n_reps=12,
        performed_at=lambda r: STARTED + timedelta(seconds=3.000001 * r),
        depth_deg=lambda r: 95.123456789012345 + r,
        qualities=["", "low_confidence", "gap;low_confidence", ";gap;"],
    )


def test_rep_page_is_what_pydantic_writes(database) -> None:
    athlete = _store(database)
    for where, cursor, limit in [
        (RepFilter(), None, 100),
        (RepFilter(athlete_id=athlete), None, 5),  # a next_cursor
        (RepFilter(athlete_id=athlete, butt_wink=True), None, 100),
        (RepFilter(athlete_id=athlete), 7, 3),
        (RepFilter(athlete_id=athlete + 1), None, 100),  # empty
    ]:
        body = _rep_page_json(database, where, cursor, limit)
        with database.sessions() as db:
            page = list_reps(db, where, cursor, limit)  # ORM objects, validated by pydantic
            expected = PAGE.dump_json(
                Page[RepPublic](
                    items=[RepPublic.model_validate(rep) for rep in page.items],
                    next_cursor=page.next_cursor,
                )
            )
        assert body == expected
        assert PAGE.validate_json(body).next_cursor == page.next_cursor


def test_page_rows_from_the_driver_are_what_sqlalchemy_gives(database) -> None:
    """`fetch_rep_page` reads on the driver's own connection (SQLite's text times and 0/1
    flags through the columns' result processors): the same values, of the same types, as
    SQLAlchemy's Core rows of the same page."""
    from api.http.routes.reps import REP_PAGE_COLUMNS
    from api.storage.reps import fetch_rep_page, list_rep_rows

    athlete = _store(database)
    for where, cursor, limit in [
        (RepFilter(), None, 100),
        (RepFilter(athlete_id=athlete), None, 5),
        (RepFilter(athlete_id=athlete, butt_wink=False), None, 100),
        (RepFilter(athlete_id=athlete), 7, 3),
        (RepFilter(athlete_id=athlete + 1), None, 100),
    ]:
        rows, next_cursor = fetch_rep_page(database.engine, where, cursor, limit, REP_PAGE_COLUMNS)
        with database.engine.connect() as connection:
            expected, expected_cursor = list_rep_rows(
                connection, where, cursor, limit, REP_PAGE_COLUMNS
            )
        assert next_cursor == expected_cursor
        assert [tuple(row) for row in rows] == [tuple(row) for row in expected]
        assert [[type(v) for v in row] for row in rows] == [
            [type(v) for v in row] for row in expected
        ]
        assert any(rows) or where.athlete_id == athlete + 1
        for row in rows:  # the awkward columns really are converted
            performed_at = row[REP_PAGE_COLUMNS.index("performed_at")]
            assert isinstance(performed_at, datetime) and performed_at.tzinfo is not None
            assert isinstance(row[REP_PAGE_COLUMNS.index("butt_wink")], bool)


def _expected_body(database, where: RepFilter, cursor, limit) -> bytes:
    with database.sessions() as db:
        page = list_reps(db, where, cursor, limit)
        return PAGE.dump_json(
            Page[RepPublic](
                items=[RepPublic.model_validate(rep) for rep in page.items],
                next_cursor=page.next_cursor,
            )
        )


def test_sqlite_times_not_as_the_app_stores_them_are_written_as_sqlalchemy_reads_them(
    database,
) -> None:
    """SQLite's page is built straight from the driver's text times (parsed naive, written
    as UTC) only where every time is the naive text the app stores: one written by hand with
    an offset (which `fromisoformat` would keep) goes through the column's own processor,
    as the ORM reads it, and the page is still what pydantic writes."""
    if database.engine.dialect.name != "sqlite":
        pytest.skip("SQLite's stored text times")
    athlete = _store(database)
    with database.engine.begin() as connection:
        connection.execute(
            text("UPDATE reps SET performed_at = :t WHERE id = (SELECT max(id) FROM reps)"),
            {"t": "2026-03-01 09:30:15.250000+02:00"},
        )
    where = RepFilter(athlete_id=athlete)
    body = _rep_page_json(database, where, None, 100)
    assert body == _expected_body(database, where, None, 100)
    assert b"+02:00" not in body
    # The other pages of the same athlete are not affected.
    body = _rep_page_json(database, where, 5, 100)
    assert body == _expected_body(database, where, 5, 100)


def test_kept_read_connections_see_commits_and_are_closed_on_dispose(db_target) -> None:
    """The rep pages' connections stay checked out between pages (SQLite): the next page
    still sees every commit made since (new reps, a deleted one), at most
    KEPT_READ_CONNECTIONS are kept, none inside a transaction, and disposing of the
    database closes them."""
    from sqlalchemy import delete

    from api.storage.db import (
        KEPT_READ_CONNECTIONS,
        give_back_read_connection,
        open_database,
        take_read_connection,
    )
    from api.storage.models import Rep

    database = open_database(db_target.url, db_target.schema)
    try:
        athlete = _store(database)
        where = RepFilter(athlete_id=athlete)
        first = PAGE.validate_json(_rep_page_json(database, where, None, 100))
        kept = getattr(database.engine, "winkwatch_read_connections", None)
        if database.engine.dialect.name == "sqlite":
            assert kept and len(kept) == 1
        with database.sessions.begin() as db:
            db.execute(delete(Rep).where(Rep.id == first.items[0].id))
        _store(database)  # another athlete's set: more reps, committed
        second = PAGE.validate_json(_rep_page_json(database, where, None, 100))
        assert [rep.id for rep in second.items] == [rep.id for rep in first.items[1:]]
        assert _rep_page_json(database, RepFilter(), None, 100) == _expected_body(
            database, RepFilter(), None, 100
        )
        if kept is None:
            return
        taken = [take_read_connection(database.engine) for _ in range(KEPT_READ_CONNECTIONS + 2)]
        taken[0].dbapi_connection.execute("BEGIN")
        for connection in taken:
            give_back_read_connection(database.engine, connection)
        assert len(kept) == KEPT_READ_CONNECTIONS
        assert taken[0] not in kept  # it was inside a transaction: back to the pool
        drivers = [connection.dbapi_connection for connection in kept]
    finally:
        database.dispose()
    assert not kept
    for driver in drivers:
        with pytest.raises(sqlite3.ProgrammingError):
            driver.execute("SELECT 1")
