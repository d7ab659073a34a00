"""CSV export, streamed: reps (the `winkwatch analyze` columns + ids) and raw samples."""

from __future__ import annotations

from collections.abc import Iterator

from fastapi import APIRouter, Query
from fastapi.responses import StreamingResponse

from api.errors import NotFoundError
from api.export import encode_text, iter_raw_csv, iter_raw_zip
from api.http.deps import DatabaseDep, Reader
from api.http.routes.common import IdPath, OptionalId, Since, Until, as_utc
from api.rep_export import iter_reps_csv
from api.storage import sets as set_store
from api.storage.db import Database
from api.storage.reps import RepFilter
from api.vocab import Placement, SetVariant

router = APIRouter(tags=["export"])


def _streamed(database: Database, produce) -> Iterator:
    """Run `produce(db)` in its own session, open for as long as the client reads."""
    with database.sessions() as db:
        yield from produce(db)


def _check_set(database: Database, set_id: int, placement: Placement | None = None) -> None:
    with database.sessions() as db:
        set_store.get_set(db, set_id)
        if placement is not None and placement not in set_store.raw_placements(db, set_id):
            raise NotFoundError(f"raw {placement.value} samples of set", set_id)


@router.get(
    "/export/reps.csv",
    response_class=StreamingResponse,
    responses={200: {"content": {"text/csv": {}}}},
)
def export_reps(
    database: DatabaseDep,
    _: Reader,
    athlete_id: OptionalId = None,
    set_id: OptionalId = None,
    session_id: OptionalId = None,
    variant: SetVariant | None = None,
    flagged: bool | None = Query(None),
    since: Since = None,
    until: Until = None,
):
    """Reps of a set, a session or an athlete over a date range, oldest first."""
    where = RepFilter(  # InvalidInputError (422) now, not mid-stream
        athlete_id=athlete_id,
        set_id=set_id,
        session_id=session_id,
        variant=variant,
        butt_wink=flagged,
        since=as_utc(since, "since"),
        until=as_utc(until, "until"),
    )
    return StreamingResponse(
        encode_text(_streamed(database, lambda db: iter_reps_csv(db, where))),
        media_type="text/csv",
        headers={"Content-Disposition": 'attachment; filename="reps.csv"'},
    )


@router.get(
    "/sets/{set_id}/raw.zip",
    response_class=StreamingResponse,
    responses={200: {"content": {"application/zip": {}}}},
)
def export_raw_zip(set_id: IdPath, database: DatabaseDep, _: Reader):
    """Raw samples of every sensor of the set, one raw-recording CSV per sensor, zipped."""
    _check_set(database, set_id)
    return StreamingResponse(
        _streamed(database, lambda db: iter_raw_zip(db, set_id)),
        media_type="application/zip",
        headers={"Content-Disposition": f'attachment; filename="set{set_id}_raw.zip"'},
    )


@router.get(
    "/sets/{set_id}/raw/{placement}.csv",
    response_class=StreamingResponse,
    responses={200: {"content": {"text/csv": {}}}},
)
def export_raw_csv(set_id: IdPath, placement: Placement, database: DatabaseDep, _: Reader):
    """Raw samples of one sensor of the set in the raw-recording CSV format (`winkwatch analyze` input)."""
    _check_set(database, set_id, placement)
    return StreamingResponse(
        encode_text(_streamed(database, lambda db: iter_raw_csv(db, set_id, placement))),
        media_type="text/csv",
        headers={
            "Content-Disposition": f'attachment; filename="set{set_id}_{placement.value}.csv"'
        },
    )
