"""Athletes and their wink summaries."""

from __future__ import annotations

from fastapi import APIRouter, status

from api.http.deps import Admin, DbDep, Reader
from api.http.routes.common import Cursor, IdPath, Limit, Since, Until, as_utc
from api.http.schemas import AthleteCreate, AthletePublic, AthleteSummaryPublic, AthleteUpdate, Page
from api.storage import catalog
from api.storage.reps import summarize_athlete

router = APIRouter(prefix="/athletes", tags=["athletes"])


@router.post("", response_model=AthletePublic, status_code=status.HTTP_201_CREATED)
def create_athlete(body: AthleteCreate, db: DbDep, _: Admin):
    return catalog.create_athlete(db, body.name, body.notes)


@router.get("", response_model=Page[AthletePublic])
def list_athletes(db: DbDep, _: Reader, cursor: Cursor = None, limit: Limit = 100):
    page = catalog.list_athletes(db, cursor, limit)
    return Page[AthletePublic](items=page.items, next_cursor=page.next_cursor)


@router.get("/{athlete_id}", response_model=AthletePublic)
def get_athlete(athlete_id: IdPath, db: DbDep, _: Reader):
    return catalog.get_athlete(db, athlete_id)


@router.patch("/{athlete_id}", response_model=AthletePublic)
def update_athlete(athlete_id: IdPath, body: AthleteUpdate, db: DbDep, _: Admin):
    return catalog.update_athlete(db, athlete_id, name=body.name, notes=body.notes)


@router.get("/{athlete_id}/summary", response_model=AthleteSummaryPublic)
def athlete_summary(
    athlete_id: IdPath, db: DbDep, _: Reader, since: Since = None, until: Until = None
):
    """Wink onset depth per variant, per day (trend) and per load (where it starts under load)."""
    return summarize_athlete(db, athlete_id, as_utc(since, "since"), as_utc(until, "until"))
