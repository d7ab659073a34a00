"""Central-only routes: the gateways (platforms), acting on one of them, and the deletions
they have still to apply."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, FastAPI, Path, Request, status
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from sqlalchemy import select
from starlette.concurrency import run_in_threadpool

from api.federation import status as gateway_status
from api.federation import tombstones
from api.federation.errors import CommandFailed
from api.federation.service import CentralService
from api.http.deps import Admin, Reader, app_service
from api.http.routes.sets import set_public
from api.http.schemas import SetPublic, SetStart
from api.storage import sets as set_store
from api.storage.models import FederationInbox
from api.vocab import Placement

router = APIRouter(prefix="/gateways", tags=["gateways"])

GatewayId = Annotated[str, Path(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")]


class GatewayPublic(BaseModel):
    gateway_id: str
    online: bool
    since_utc: str | None = None
    last_change: int = 0  # the last outbox change of this gateway stored centrally
    last_change_at: str | None = None


class PendingDeletion(BaseModel):
    gateway_id: str
    athlete_uid: str  # the deleted athlete's random id (no central row of her is left)
    delete_sets: bool  # her sets are deleted with her on that platform (else kept, unlinked)
    deleted_at: str  # when she was deleted centrally (UTC, ISO 8601)


class SensorPairing(BaseModel):
    address: str = Field(min_length=1, max_length=64)
    kind: str = Field(default="winkwatch", max_length=32)
    athlete_id: int = Field(ge=1)
    placement: Placement


def _service(request: Request) -> CentralService:
    service = app_service(request.app)
    assert isinstance(service, CentralService), "central routes are installed on a central app"
    return service


@router.get("", response_model=list[GatewayPublic])
def list_gateways(request: Request, _: Reader) -> list[GatewayPublic]:
    """Every gateway that sent data or status: online (retained status + last will) and how
    far its data has reached the central store."""
    service = _service(request)
    live: dict[str, dict[str, Any]] = dict(service.hub.gateways) if service.hub else {}
    stored = gateway_status.gateway_statuses(service.database)
    with service.database.sessions() as db:
        inbox = {row.gateway_id: row for row in db.scalars(select(FederationInbox))}
    out = []
    for gateway_id in sorted(set(live) | set(stored) | set(inbox)):
        row = inbox.get(gateway_id)
        saved = stored.get(gateway_id)
        # The hub's copy is the newest (the stored one is written right after it).
        state = live.get(gateway_id) or (
            {
                "online": saved.online,
                "since_utc": saved.since_utc.isoformat() if saved.since_utc else None,
            }
            if saved is not None
            else {}
        )
        out.append(
            GatewayPublic(
                gateway_id=gateway_id,
                online=bool(state.get("online")),
                since_utc=state.get("since_utc"),
                last_change=row.last_seq if row else 0,
                last_change_at=row.updated_at.isoformat() if row else None,
            )
        )
    return out


@router.get("/deletions", response_model=list[PendingDeletion])
def list_pending_deletions(request: Request, _: Reader) -> list[PendingDeletion]:
    """Athletes deleted centrally that a gateway has not deleted yet (its delete has not reached
    the central store): one item per gateway and athlete, oldest first. The tombstone waits
    for it, retained on the broker (api.federation.tombstones); an item that stays names a
    platform that has been offline since."""
    with _service(request).database.sessions() as db:
        pending = tombstones.pending_deletions(db)
    return [
        PendingDeletion(
            gateway_id=gateway_id,
            athlete_uid=uid,
            delete_sets=delete_sets,
            deleted_at=deleted_at.isoformat(),
        )
        for gateway_id, uid, delete_sets, deleted_at in pending
    ]


@router.post("/{gateway_id}/sets", response_model=SetPublic, status_code=201)
async def start_set_on(
    gateway_id: GatewayId, body: SetStart, request: Request, _: Admin
) -> SetPublic:
    """Start a set for an athlete on this platform (the edge answers over MQTT)."""
    service = _service(request)
    set_id = await service.start_on(
        gateway_id,
        body.athlete_id,
        body.variant,
        body.load_kg,
        body.notes,
        body.session_id,
        replace_recording=body.replace_recording,
    )

    def read() -> SetPublic:
        with service.database.sessions() as db:
            return set_public(set_store.get_set(db, set_id))

    return await run_in_threadpool(read)


@router.put("/{gateway_id}/sensors", status_code=204)
def pair_sensor_on(gateway_id: GatewayId, body: SensorPairing, request: Request, _: Admin) -> None:
    """Pair a sensor with an athlete on this platform (e.g. the athlete moved platforms)."""
    _service(request).assign_on(
        gateway_id, body.address, body.kind, body.athlete_id, body.placement
    )


def install_central_routes(app: FastAPI) -> None:
    app.include_router(router)

    async def command_failed(_request: Request, exc: Exception) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status_code=status.HTTP_504_GATEWAY_TIMEOUT)

    app.add_exception_handler(CommandFailed, command_failed)
