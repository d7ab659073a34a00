"""Reps, filtered by athlete, set, session, date, variant and flag, newest first."""

from __future__ import annotations

from collections.abc import Sequence

import orjson
from anyio import CapacityLimiter, to_thread
from fastapi import APIRouter, Query, Response

from api.http.deps import DatabaseDep, DbDep, Reader
from api.http.routes.common import Cursor, IdPath, Limit, OptionalId, Since, Until, as_utc
from api.http.schemas import Page, RepPublic
from api.storage.db import Database
from api.storage.reps import RepFilter, get_rep, list_rep_rows
from api.vocab import SetVariant

router = APIRouter(prefix="/reps", tags=["reps"])

# The columns a rep-list page selects: RepPublic's fields, in its (the JSON's) order.
REP_PAGE_COLUMNS: tuple[str, ...] = tuple(RepPublic.model_fields)
_QUALITY = REP_PAGE_COLUMNS.index("quality")
# Times as RFC 3339 in UTC with "Z", the form pydantic writes for an aware UTC datetime.
_JSON_OPTIONS = orjson.OPT_UTC_Z | orjson.OPT_NAIVE_UTC


def rep_filter(
    athlete_id: OptionalId = None,
    set_id: OptionalId = None,
    session_id: OptionalId = None,
    variant: SetVariant | None = None,
    flagged: bool | None = Query(None, description="true: butt-wink reps only; false: none"),
    since: Since = None,
    until: Until = None,
) -> RepFilter:
    return RepFilter(
        athlete_id=athlete_id,
        set_id=set_id,
        session_id=session_id,
        variant=variant,
        butt_wink=flagged,
        since=as_utc(since, "since"),
        until=as_utc(until, "until"),
    )


@router.get("", response_model=Page[RepPublic])
async def list_reps_route(
    database: DatabaseDep,
    _: Reader,
    athlete_id: OptionalId = None,
    set_id: OptionalId = None,
    session_id: OptionalId = None,
    variant: SetVariant | None = None,
    flagged: bool | None = Query(None, description="true: butt-wink reps only"),
    since: Since = None,
    until: Until = None,
    cursor: Cursor = None,
    limit: Limit = 100,
):
    where = rep_filter(athlete_id, set_id, session_id, variant, flagged, since, until)
    body = await to_thread.run_sync(
        _rep_page_json, database, where, cursor, limit, limiter=_PAGE_THREADS
    )
    return Response(body, media_type="application/json")


# Rep pages are read and written by at most this many worker threads at once; the other
# requests wait their turn on the event loop. Under the GIL more threads add no throughput,
# only switching: with 50 clients on 2 cores, 2 threads instead of anyio's default 40 cost
# 1.27 instead of 1.63 ms of server CPU a request on SQLite (p99 170 vs 335 ms), 1.72 instead
# of 2.27 ms on PostgreSQL (benchmarks/api_rep_list.py --concurrency 50, load 6-8).
PAGE_THREADS = 2
_PAGE_THREADS = CapacityLimiter(PAGE_THREADS)


def _rep_page_json(database: Database, where: RepFilter, cursor: int | None, limit: int) -> bytes:
    """The hottest route in one worker-thread hop: a read-only transaction, then the page
    written straight from the Core rows (returning a Response skips FastAPI's validation
    against `response_model`, which is kept for the schema)."""
    # No ORM session (nothing to track). One SELECT is its own snapshot: on PostgreSQL it runs
    # without a transaction (a BEGIN and a ROLLBACK are two round trips more than the query);
    # pysqlite begins none for a SELECT anyway, and switching its mode costs ~35 us.
    connection = database.engine.connect()
    if connection.dialect.name == "postgresql":
        connection = connection.execution_options(isolation_level="AUTOCOMMIT")
    with connection:
        rows, next_cursor = list_rep_rows(connection, where, cursor, limit, REP_PAGE_COLUMNS)
    return rep_page_json(rows, next_cursor)


def rep_page_json(rows: Sequence[Sequence], next_cursor: int | None) -> bytes:
    """`Page[RepPublic]` as JSON from rows of REP_PAGE_COLUMNS, without building a model
    per rep: the columns are already typed by the database (SQLAlchemy's column types);
    only `quality` ("code;code") becomes the list RepPublic declares. Byte for byte what
    pydantic writes for the same reps (tests/api/test_rep_page_json.py)."""
    items = []
    for row in rows:
        item = dict(zip(REP_PAGE_COLUMNS, row))
        quality = row[_QUALITY]
        item["quality"] = [code for code in quality.split(";") if code] if quality else []
        items.append(item)
    return orjson.dumps({"items": items, "next_cursor": next_cursor}, option=_JSON_OPTIONS)


@router.get("/{rep_id}", response_model=RepPublic)
def get_rep_route(rep_id: IdPath, db: DbDep, _: Reader):
    return RepPublic.model_validate(get_rep(db, rep_id))
