"""The ready check before a set: the athlete's sensors, stillness and placement now."""

from __future__ import annotations

from fastapi import APIRouter
from starlette.concurrency import run_in_threadpool

from api.errors import ConflictError
from api.http.deps import DatabaseDep, Reader, ServiceDep
from api.http.errors import documented_conflict
from api.http.routes.common import IdPath
from api.http.schemas import ReadyPublic, SensorReadyPublic
from api.storage import catalog
from api.storage.db import Database
from sensor_gateway.readiness import CALIBRATION_STILL_S

router = APIRouter(prefix="/athletes", tags=["athletes"])


def _check_athlete(database: Database, athlete_id: int) -> None:
    with database.sessions() as db:
        catalog.get_athlete(db, athlete_id)  # 404 for an unknown athlete


@router.get(
    "/{athlete_id}/ready",
    response_model=ReadyPublic,
    responses=documented_conflict("no gateway runs in this server (no live sensors)"),
)
async def get_ready(athlete_id: IdPath, service: ServiceDep, database: DatabaseDep, _: Reader):
    """Both sensors streaming with their health in words, how long the athlete has stood
    still, and whether the last squat showed the sensors in place (swapped / misplaced); not
    ready while the gateway's data cannot be stored (`storage_problem`)."""
    await run_in_threadpool(_check_athlete, database, athlete_id)
    readiness = service.readiness(athlete_id)
    if readiness is None:
        raise ConflictError("no gateway is running in this server: there are no live sensors")
    storage_problem = service.sink.storage_problem() if service.sink is not None else None
    advice = readiness.advice
    if storage_problem is not None:  # a set now would not be stored (POST /sets: 503)
        advice = f"Not ready: {storage_problem}. {advice}"
    return ReadyPublic(
        athlete_id=athlete_id,
        ready=readiness.ready and storage_problem is None,
        sensors=[
            SensorReadyPublic(
                placement=s.placement.value,
                address=s.address,
                kind=None if s.kind is None else s.kind.value,
                health=s.health.level.value,
                reason=s.health.reason,
                streaming=s.health.streaming,
                battery_pct=s.battery_pct,
                rssi_dbm=s.rssi_dbm,
            )
            for s in readiness.sensors
        ],
        missing=[p.value for p in readiness.missing],
        still_s=round(readiness.still_s, 2),
        calibration_still_s=CALIBRATION_STILL_S,
        placement_checked=readiness.placement_checked,
        placement_code=readiness.placement_code,
        placement_message=readiness.placement_message,
        storage_problem=storage_problem,
        advice=advice,
    )
