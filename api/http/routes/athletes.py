"""Athletes and their wink summaries."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, status

from api.errors import InvalidInputError
from api.http.deps import Admin, DbDep, Reader, ServiceDep
from api.http.routes.common import Cursor, IdPath, Limit, Since, Until, as_utc
from api.http.schemas import (
    ArchiveUpdate,
    AthleteCreate,
    AthletePublic,
    AthleteSummaryPublic,
    AthleteUpdate,
    BaselineUpdate,
    Page,
)
from api.storage import baselines, catalog
from api.storage.reps import summarize_athlete
from fusion.baseline import BaselineError, PersonalBaseline

router = APIRouter(prefix="/athletes", tags=["athletes"])


@router.post("", response_model=AthletePublic, status_code=status.HTTP_201_CREATED)
def create_athlete(body: AthleteCreate, db: DbDep, _: Admin):
    athlete = catalog.create_athlete(db, body.name, body.notes)
    athlete.femur_cm, athlete.shank_cm = body.femur_cm, body.shank_cm
    return athlete


@router.get("", response_model=Page[AthletePublic])
def list_athletes(
    db: DbDep,
    _: Reader,
    cursor: Cursor = None,
    limit: Limit = 100,
    archived: Annotated[bool, Query(description="the archived athletes instead")] = False,
):
    """Active athletes (with `archived=true`: the archived ones)."""
    page = catalog.list_athletes(db, cursor, limit, archived=archived)
    return Page[AthletePublic](items=page.items, next_cursor=page.next_cursor)


@router.put("/{athlete_id}/archive", response_model=AthletePublic)
async def archive_athlete(athlete_id: IdPath, body: ArchiveUpdate, service: ServiceDep, _: Admin):
    """Archive the athlete (every stored set kept; their sensors are freed at once), or
    restore them with `archived: false`."""
    return await service.archive_athlete(athlete_id, body.archived)


@router.delete("/{athlete_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_athlete(
    athlete_id: IdPath,
    service: ServiceDep,
    _: Admin,
    delete_sets: Annotated[
        bool, Query(description="also delete the athlete's stored sets (else 409 if any)")
    ] = False,
) -> None:
    """Delete the athlete. Refused (409, nothing changed) while they have stored sets, unless
    `delete_sets=true`: stored data is never lost silently (archive to keep it)."""
    await service.delete_athlete(athlete_id, delete_sets)


@router.get("/{athlete_id}", response_model=AthletePublic)
def get_athlete(athlete_id: IdPath, db: DbDep, _: Reader):
    return catalog.get_athlete(db, athlete_id)


@router.patch("/{athlete_id}", response_model=AthletePublic)
def update_athlete(athlete_id: IdPath, body: AthleteUpdate, db: DbDep, _: Admin):
    athlete = catalog.update_athlete(db, athlete_id, name=body.name, notes=body.notes)
    if body.femur_cm is not None:
        athlete.femur_cm = body.femur_cm
    if body.shank_cm is not None:
        athlete.shank_cm = body.shank_cm
    return athlete


@router.get("/{athlete_id}/summary", response_model=AthleteSummaryPublic)
def athlete_summary(
    athlete_id: IdPath, db: DbDep, _: Reader, since: Since = None, until: Until = None
):
    """Wink onset depth per variant, per day (trend) and per load (where it starts under load)."""
    return summarize_athlete(db, athlete_id, as_utc(since, "since"), as_utc(until, "until"))


@router.put("/{athlete_id}/baseline", response_model=AthletePublic)
def put_baseline(athlete_id: IdPath, body: BaselineUpdate, db: DbDep, _: Admin):
    """Set the athlete's personal baseline from sets whose reps do not wink, or as values.

    Sets started for the athlete afterwards flag against max(default,
    centre + k x sqrt(spread^2 + floor^2)) (fusion.baseline).
    """
    values = (body.centre_deg, body.spread_deg, body.reps)
    if body.set_ids is not None:
        if any(v is not None for v in values):
            raise InvalidInputError("give either set_ids or centre_deg/spread_deg/reps, not both")
        baseline = baselines.baseline_from_sets(db, athlete_id, body.set_ids)
    elif all(v is not None for v in values):
        try:
            baseline = PersonalBaseline(*values)  # type: ignore[arg-type]
        except BaselineError as exc:
            raise InvalidInputError(str(exc)) from exc
    else:
        raise InvalidInputError("give set_ids, or all of centre_deg, spread_deg and reps")
    baselines.set_baseline(db, athlete_id, baseline)
    return catalog.get_athlete(db, athlete_id)


@router.delete("/{athlete_id}/baseline", response_model=AthletePublic)
def delete_baseline(athlete_id: IdPath, db: DbDep, _: Admin):
    """Forget the athlete's baseline: the global default threshold applies again."""
    baselines.set_baseline(db, athlete_id, None)
    return catalog.get_athlete(db, athlete_id)
