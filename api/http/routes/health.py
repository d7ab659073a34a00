"""GET /health: the only endpoint without a token (for load balancers and `docker`)."""

from __future__ import annotations

from fastapi import APIRouter
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from api.http.deps import DatabaseDep, ServiceDep
from api.http.schemas import Health

router = APIRouter(tags=["health"])


@router.get("/health", response_model=Health)
def health(database: DatabaseDep, service: ServiceDep) -> Health:
    try:
        with database.engine.connect() as connection:
            connection.execute(text("SELECT 1"))
        reachable = "ok"
    except SQLAlchemyError:
        reachable = "unavailable"
    return Health(
        status="ok" if reachable == "ok" else "degraded",
        database=reachable,
        gateway=service.gateway is not None,
    )
