"""Sets: start and stop (which tells the gateway), correct variant/load/notes, list."""

from __future__ import annotations

import json

from fastapi import APIRouter, Query, status

from api.http.deps import Admin, DatabaseDep, DbDep, Reader, ServiceDep
from api.http.routes.common import Cursor, IdPath, Limit, OptionalId
from api.http.schemas import Finding, Page, SetPublic, SetStart, SetUpdate
from api.storage import sets as set_store
from api.storage.db import Database
from api.storage.models import ExerciseSet
from api.vocab import Placement, SetStatus, SetVariant

router = APIRouter(prefix="/sets", tags=["sets"])


def set_public(row: ExerciseSet) -> SetPublic:
    public = SetPublic.model_validate(row)
    public.findings = [Finding(**f) for f in json.loads(row.findings_json or "[]")]
    public.started_without = [Placement(p) for p in (row.missing_sensors or "").split(",") if p]
    return public


def _read_set(database: Database, set_id: int) -> SetPublic:
    with database.sessions() as db:
        return set_public(set_store.get_set(db, set_id))


@router.post("", response_model=SetPublic, status_code=status.HTTP_201_CREATED)
async def start_set(body: SetStart, service: ServiceDep, database: DatabaseDep, _: Admin):
    """Start recording a set for an athlete: the gateway starts analysing their sensors.

    409 with advice when one of the athlete's sensors is not streaming, unless
    `override_missing_sensors` (the set then says which ones it was started without), and
    when the athlete is recording a set already, unless `replace_recording` (that set is
    then stopped first)."""
    set_id = await service.start_set(
        body.athlete_id,
        body.variant,
        body.load_kg,
        body.notes,
        body.session_id,
        override_missing_sensors=body.override_missing_sensors,
        replace_recording=body.replace_recording,
    )
    return _read_set(database, set_id)


@router.post("/{set_id}/stop", response_model=SetPublic)
async def stop_set(set_id: IdPath, service: ServiceDep, database: DatabaseDep, _: Admin):
    await service.stop_set(set_id)
    return _read_set(database, set_id)


@router.patch("/{set_id}", response_model=SetPublic)
async def update_set(
    set_id: IdPath, body: SetUpdate, service: ServiceDep, database: DatabaseDep, _: Admin
):
    """Correct the set's variant, load or notes (its reps follow; a set recording here
    takes the new load at once)."""
    await service.update_set(set_id, body.variant, body.load_kg, body.notes)
    return _read_set(database, set_id)


@router.get("", response_model=Page[SetPublic])
def list_sets(
    db: DbDep,
    _: Reader,
    athlete_id: OptionalId = None,
    session_id: OptionalId = None,
    variant: SetVariant | None = None,
    status_: SetStatus | None = Query(None, alias="status"),
    cursor: Cursor = None,
    limit: Limit = 100,
):
    page = set_store.list_sets(
        db,
        athlete_id=athlete_id,
        session_id=session_id,
        variant=variant,
        status=status_,
        cursor=cursor,
        limit=limit,
    )
    return Page[SetPublic](
        items=[set_public(row) for row in page.items], next_cursor=page.next_cursor
    )


@router.get("/{set_id}", response_model=SetPublic)
def get_set(set_id: IdPath, db: DbDep, _: Reader):
    return set_public(set_store.get_set(db, set_id))
