"""Reps, filtered by athlete, set, session, date, variant and flag, newest first."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import make_dataclass
from datetime import datetime
from operator import attrgetter
from typing import Any

import orjson
from anyio import CapacityLimiter, to_thread
from fastapi import APIRouter, Query, Response
from sqlalchemy import Boolean
from sqlalchemy.dialects import sqlite

from api.http.deps import DatabaseDep, DbDep, Reader
from api.http.lean_route import LeanRoute
from api.http.routes.common import Cursor, IdPath, Limit, OptionalId, Since, Until, as_utc
from api.http.schemas import Page, RepPublic
from api.storage.db import Database
from api.storage.reps import (
    PageProcessors,
    RepFilter,
    fetch_rep_page_raw,
    get_rep,
    processed,
)
from api.vocab import SetVariant

# The list answers its common requests (a remembered token, valid parameters) without
# FastAPI's per-request dependency solving (`LeanRoute`); the rep by id is an ordinary route.
router = APIRouter(prefix="/reps", tags=["reps"], route_class=LeanRoute)

# The columns a rep-list page selects: RepPublic's fields, in its (the JSON's) order.
REP_PAGE_COLUMNS: tuple[str, ...] = tuple(RepPublic.model_fields)
# Times as RFC 3339 in UTC with "Z", the form pydantic writes for an aware UTC datetime
# (and, with OPT_NAIVE_UTC, for a naive one: SQLite's stored UTC times).
_JSON_OPTIONS = orjson.OPT_UTC_Z | orjson.OPT_NAIVE_UTC


def _item_type(name: str, convert: dict[str, str], helpers: dict[str, Any]) -> type:
    """A dataclass of REP_PAGE_COLUMNS built from one page row (`cls(*row)`), which orjson
    writes as an object of its fields in order from the instance's own (key-sharing) dict:
    ~0.5 us a rep where `dict(zip(columns, row))` costs ~2.4 us, and written faster than a
    dict. Its generated `__init__` sets each field in order, `quality` ("code;code") split
    into the list RepPublic declares (an empty one as `()`, written as `[]`), and each
    column in `convert` through the helper named, in the same call: no pass over the
    page's rows or columns of its own."""
    assignments = []
    for column in REP_PAGE_COLUMNS:
        if column == "quality":
            value = "_list(_filter(None, quality.split(';'))) if quality else ()"
        elif column in convert:
            value = f"{convert[column]}({column})"
        else:
            value = column
        assignments.append(f"    self.{column} = {value}")
    source = f"def __init__(self, {', '.join(REP_PAGE_COLUMNS)}):\n" + "\n".join(assignments)
    namespace: dict[str, Any] = {}
    exec(source, {"_list": list, "_filter": filter, **helpers}, namespace)
    return make_dataclass(name, REP_PAGE_COLUMNS, init=False, namespace=namespace)


# Rows whose values are already typed as RepPublic's fields (PostgreSQL's driver rows,
# or SQLite's through their columns' result processors).
_RepJson = _item_type("_RepJson", {}, {})
# SQLite's driver rows: `performed_at` is the stored text of a naive UTC time (what
# UtcDateTime binds), parsed to a naive datetime (written as UTC, see _JSON_OPTIONS), and
# the flags are 0/1, made bools by SQLAlchemy's own Boolean processor for SQLite. The page
# is checked after (`_sqlite_page_items`): anything else goes through the processors.
_SQLITE_FLAGS = ("butt_wink", "loaded_wink")
_RepJsonSqlite = _item_type(
    "_RepJsonSqlite",
    {"performed_at": "_time", **dict.fromkeys(_SQLITE_FLAGS, "_flag")},
    {
        "_time": datetime.fromisoformat,
        "_flag": Boolean().dialect_impl(sqlite.dialect()).result_processor(sqlite.dialect(), None),
    },
)
_SQLITE_PROCESSED = frozenset(("performed_at", *_SQLITE_FLAGS))
_performed_at_zone = attrgetter("performed_at.tzinfo")


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
    """The hottest route in one worker-thread hop: the page's rows as the driver returns
    them (`fetch_rep_page_raw`: no ORM session, no transaction), then written straight as
    JSON (returning a Response skips FastAPI's validation against `response_model`, which
    is kept for the schema)."""
    rows, next_cursor, processors = fetch_rep_page_raw(
        database.engine, where, cursor, limit, REP_PAGE_COLUMNS
    )
    items = None
    if processors and database.engine.dialect.name == "sqlite":
        items = _sqlite_page_items(rows, processors)
    if items is None:
        items = [_RepJson(*row) for row in (processed(rows, processors) if processors else rows)]
    return orjson.dumps({"items": items, "next_cursor": next_cursor}, option=_JSON_OPTIONS)


def _sqlite_page_items(rows: Sequence[Sequence], processors: PageProcessors) -> list | None:
    """SQLite's driver rows as `_RepJsonSqlite` items, or None where they are not what the
    app stores (then the columns' processors convert them): the processed columns must be
    exactly the time and the two flags, and every time the naive text UTC times are stored
    as (one with an offset, or text `fromisoformat` does not take, was written by hand)."""
    if {REP_PAGE_COLUMNS[position] for position, _ in processors} != _SQLITE_PROCESSED:
        return None
    try:
        items = [_RepJsonSqlite(*row) for row in rows]
    except (TypeError, ValueError):
        return None
    if any(map(_performed_at_zone, items)):
        return None
    return items


@router.get("/{rep_id}", response_model=RepPublic)
def get_rep_route(rep_id: IdPath, db: DbDep, _: Reader):
    return RepPublic.model_validate(get_rep(db, rep_id))
