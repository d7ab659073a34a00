"""Reps, filtered by athlete, set, session, date, variant and flag, newest first."""

from __future__ import annotations

from fastapi import APIRouter, Query, Response
from fastapi.concurrency import run_in_threadpool
from pydantic import TypeAdapter

from api.http.deps import DatabaseDep, DbDep, Reader
from api.http.routes.common import Cursor, IdPath, Limit, OptionalId, Since, Until, as_utc
from api.http.schemas import Page, RepPublic
from api.storage.db import Database
from api.storage.reps import RepFilter, get_rep, list_rep_rows
from api.vocab import SetVariant

router = APIRouter(prefix="/reps", tags=["reps"])
_REP_PAGE = TypeAdapter(Page[RepPublic])


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
    body = await run_in_threadpool(_rep_page_json, database, where, cursor, limit)
    return Response(body, media_type="application/json")


def _rep_page_json(database: Database, where: RepFilter, cursor: int | None, limit: int) -> bytes:
    """The hottest route in one worker-thread hop: read-only transaction, rows validated
    once and serialised by pydantic-core (returning a Response skips FastAPI's second
    validation against `response_model`, which is kept for the schema)."""
    with database.sessions() as db:
        rows, next_cursor = list_rep_rows(db, where, cursor, limit)
    return _REP_PAGE.dump_json(
        _REP_PAGE.validate_python({"items": rows, "next_cursor": next_cursor})
    )


@router.get("/{rep_id}", response_model=RepPublic)
def get_rep_route(rep_id: IdPath, db: DbDep, _: Reader):
    return RepPublic.model_validate(get_rep(db, rep_id))
