"""The rep list's page is written straight from Core rows (api.http.routes.reps): byte for
byte what pydantic writes for the same stored reps through `Page[RepPublic]`, on SQLite and
PostgreSQL, for the awkward values (None, codes, microseconds, floats without a short form)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from pydantic import TypeAdapter

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
