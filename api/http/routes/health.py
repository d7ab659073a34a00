"""GET /health: the only endpoint without a token (for load balancers and `docker`).

Not ok (503, `status` degraded) when the database does not answer, or when the live
gateway's data cannot be stored (a full disk, an unwritable database: `storage.detail` says
what fails and what to do); `storage` also counts what waits in memory and what was lost.
"""

from __future__ import annotations

from fastapi import APIRouter, Response, status
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from api.http.deps import DatabaseDep, ServiceDep
from api.http.schemas import Health, StorageHealthPublic

router = APIRouter(tags=["health"])


@router.get(
    "/health",
    response_model=Health,
    responses={503: {"model": Health, "description": "the database or the storage fails"}},
)
def health(database: DatabaseDep, service: ServiceDep, response: Response) -> Health:
    try:
        with database.engine.connect() as connection:
            connection.execute(text("SELECT 1"))
        reachable = "ok"
    except SQLAlchemyError:
        reachable = "unavailable"
    storage = None
    if service.sink is not None:
        stored = service.sink.health()
        storage = StorageHealthPublic(
            state="ok" if stored.ok else "failing",
            detail=stored.problem,
            error=stored.error,
            failing_since=stored.failing_since,
            waiting_samples=stored.waiting_samples,
            waiting_reps=stored.waiting_reps,
            lost_samples=stored.lost_samples,
            lost_reps=stored.lost_reps,
            lost_events=stored.lost_events,
        )
    ok = reachable == "ok" and (storage is None or storage.state == "ok")
    if not ok:
        response.status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    return Health(
        status="ok" if ok else "degraded",
        database=reachable,
        gateway=service.gateway is not None,
        storage=storage,
    )
