"""Routes of the dashboard: the page itself and a set's angles through time."""

from __future__ import annotations

import math

from fastapi import APIRouter, Query
from fastapi.responses import FileResponse
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from api.errors import InvalidInputError
from api.http.deps import DatabaseDep, Reader
from api.http.routes.common import IdPath

router = APIRouter(tags=["dashboard"])

PAGE_CACHE = "no-cache"  # revalidate: a new release must not leave phones on old JS


class SetAnglesPublic(BaseModel):
    """Angles of a set (offline analysis of its raw samples), s since the set started, deg."""

    set_id: int
    t_s: list[float]
    thigh_deg: list[float | None]
    pelvic_tilt_deg: list[float | None]
    hip_flexion_deg: list[float | None]
    in_gap: list[bool] = Field(description="a sensor had no samples here (values interpolated)")
    findings: list[str] = Field(description="data-quality findings of the analysis, in plain words")


@router.get("/", include_in_schema=False)
def dashboard_page() -> FileResponse:
    """The dashboard (sign in with a token from `winkwatch token create` or `winkwatch demo`)."""
    from api.dashboard import STATIC_DIR

    return FileResponse(STATIC_DIR / "index.html", headers={"Cache-Control": PAGE_CACHE})


@router.get("/favicon.ico", include_in_schema=False)
def favicon() -> FileResponse:
    """The dashboard's icon, for browsers that ask for /favicon.ico before reading the page."""
    from api.dashboard import STATIC_DIR

    return FileResponse(STATIC_DIR / "favicon.svg", media_type="image/svg+xml")


@router.get("/dashboard/sets/{set_id}/angles", response_model=SetAnglesPublic)
async def set_angles(
    set_id: IdPath,
    database: DatabaseDep,
    _: Reader,
    max_rate_hz: float = Query(50.0, ge=1.0, le=200.0, description="thin to this rate"),
):
    """Thigh angle, pelvic tilt and hip flexion through the set, from its stored raw samples
    (analysed once and kept while the set's samples stay the same)."""
    from api.dashboard.series import set_angle_series, thin
    from fusion.errors import FusionError

    try:
        kept = await run_in_threadpool(set_angle_series, database, set_id)
    except FusionError as exc:
        raise InvalidInputError(f"set {set_id} cannot be analysed: {exc}") from exc
    series = thin(kept, max_rate_hz)
    return SetAnglesPublic(
        set_id=set_id,
        t_s=_rounded(series.t_s, 3),
        thigh_deg=_rounded(series.thigh_deg, 2),
        pelvic_tilt_deg=_rounded(series.pelvic_tilt_deg, 2),
        hip_flexion_deg=_rounded(series.hip_flexion_deg, 2),
        in_gap=[bool(g) for g in series.in_gap],
        findings=list(series.findings),
    )


def _rounded(values, digits: int) -> list[float | None]:
    return [round(float(v), digits) if math.isfinite(v) else None for v in values]
