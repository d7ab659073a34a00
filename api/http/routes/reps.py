"""Reps, filtered by athlete, set, session, date, variant and flag, newest first."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import make_dataclass

import orjson
from anyio import CapacityLimiter, to_thread
from fastapi import APIRouter, Query, Response

from api.http.deps import DatabaseDep, DbDep, Reader
from api.http.lean_route import LeanRoute
from api.http.routes.common import Cursor, IdPath, Limit, OptionalId, Since, Until, as_utc
from api.http.schemas import Page, RepPublic
from api.storage.db import Database
from api.storage.reps import RepFilter, fetch_rep_page, get_rep
from api.vocab import SetVariant

# The list answers its common requests (a remembered token, valid parameters) without
# FastAPI's per-request dependency solving (`LeanRoute`); the rep by id is an ordinary route.
router = APIRouter(prefix="/reps", tags=["reps"], route_class=LeanRoute)

# The columns a rep-list page selects: RepPublic's fields, in its (the JSON's) order.
REP_PAGE_COLUMNS: tuple[str, ...] = tuple(RepPublic.model_fields)
# orjson writes a dataclass instance as an object of its fields in order, from the
# instance's own (key-sharing) dict: building one per rep costs ~0.5 us where
# `dict(zip(columns, row))` costs ~2.4 us, and it is written faster than a dict.
_RepJson = make_dataclass("_RepJson", REP_PAGE_COLUMNS)
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
    """The hottest route in one worker-thread hop: the page's rows as plain tuples
    (`fetch_rep_page`: no ORM session, no transaction), then written straight as JSON
    (returning a Response skips FastAPI's validation against `response_model`, which is
    kept for the schema)."""
    return rep_page_json(*fetch_rep_page(database.engine, where, cursor, limit, REP_PAGE_COLUMNS))


def rep_page_json(rows: Sequence[Sequence], next_cursor: int | None) -> bytes:
    """`Page[RepPublic]` as JSON from rows of REP_PAGE_COLUMNS, without building a model
    per rep: the columns are already typed by the database (its driver's or SQLAlchemy's
    types); only `quality` ("code;code") becomes the list RepPublic declares. Byte for byte
    what pydantic writes for the same reps (tests/api/test_rep_page_json.py)."""
    items = [_RepJson(*row) for row in rows]
    for item in items:
        quality = item.quality
        item.quality = [code for code in quality.split(";") if code] if quality else []
    return orjson.dumps({"items": items, "next_cursor": next_cursor}, option=_JSON_OPTIONS)


@router.get("/{rep_id}", response_model=RepPublic)
def get_rep_route(rep_id: IdPath, db: DbDep, _: Reader):
    return RepPublic.model_validate(get_rep(db, rep_id))
