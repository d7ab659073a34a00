"""The depth guard's settings per athlete (`api.depth_guard`)."""

from __future__ import annotations

from fastapi import APIRouter

from api.depth_guard import DepthGuardSettings, depth_guard_settings
from api.http.deps import Admin, DbDep, Reader
from api.http.routes.common import IdPath
from api.http.schemas import DepthGuardPublic, DepthGuardUpdate
from api.storage import catalog
from fusion.live.depth_guard import DATA_AGE_S, REACTION_S

router = APIRouter(prefix="/athletes", tags=["athletes"])


def _public(settings: DepthGuardSettings) -> DepthGuardPublic:
    guard = settings.guard
    return DepthGuardPublic(
        on=settings.on,
        margin_deg=settings.margin_deg,
        ceiling_thigh_deg=settings.ceiling_thigh_deg,
        cue_level_deg=None if guard is None else guard.cue_level_deg,
        lookahead_s=REACTION_S + DATA_AGE_S,
        active=guard is not None,
        explanation=settings.explanation,
    )


@router.get("/{athlete_id}/depth-guard", response_model=DepthGuardPublic)
def get_depth_guard(athlete_id: IdPath, db: DbDep, _: Reader):
    """The athlete's depth guard: prescribed ceiling, margin, and whether it is on."""
    return _public(depth_guard_settings(catalog.get_athlete(db, athlete_id)))


@router.put("/{athlete_id}/depth-guard", response_model=DepthGuardPublic)
def put_depth_guard(athlete_id: IdPath, body: DepthGuardUpdate, db: DbDep, _: Admin):
    """Turn the guard on or off and set its margin (deg above the ceiling); sets started from
    now on use it."""
    athlete = catalog.get_athlete(db, athlete_id)
    if body.on is not None:
        athlete.depth_guard_on = body.on
    if body.margin_deg is not None:
        athlete.depth_guard_margin_deg = body.margin_deg
    db.flush()
    return _public(depth_guard_settings(athlete))
