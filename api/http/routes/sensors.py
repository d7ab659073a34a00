"""Sensors: register, assign to an athlete's sacrum or thigh, live link status."""

from __future__ import annotations

import math

from fastapi import APIRouter, status

from api.http.deps import Admin, DbDep, Reader, ServiceDep
from api.http.routes.common import Cursor, IdPath, Limit, OptionalId
from api.http.schemas import Page, SensorAssign, SensorCreate, SensorLive, SensorPublic
from api.storage import catalog

router = APIRouter(prefix="/sensors", tags=["sensors"])


@router.post("", response_model=SensorPublic, status_code=status.HTTP_201_CREATED)
def register_sensor(body: SensorCreate, db: DbDep, _: Admin):
    return catalog.register_sensor(db, body.address.upper(), body.kind.value, body.name)


@router.get("", response_model=Page[SensorPublic])
def list_sensors(
    db: DbDep, _: Reader, athlete_id: OptionalId = None, cursor: Cursor = None, limit: Limit = 100
):
    page = catalog.list_sensors(db, athlete_id, cursor, limit)
    return Page[SensorPublic](items=page.items, next_cursor=page.next_cursor)


@router.get("/status", response_model=list[SensorLive])
async def sensor_status(service: ServiceDep, _: Reader):
    """Link state, battery, signal, gaps and clock drift of every sensor the gateway knows."""
    return [
        SensorLive(
            address=s.address,
            kind=s.kind.value,
            athlete_id=s.athlete_id,
            placement=s.placement,
            state=s.state.value,
            battery_pct=s.battery_pct,
            rssi_dbm=s.rssi_dbm,
            samples=s.samples,
            gaps=s.gaps,
            samples_missing=s.samples_missing,
            drift_ppm=s.drift_ppm if math.isfinite(s.drift_ppm) else 0.0,
        )
        for s in service.sensor_snapshots()
    ]


@router.get("/{sensor_id}", response_model=SensorPublic)
def get_sensor(sensor_id: IdPath, db: DbDep, _: Reader):
    return catalog.get_sensor(db, sensor_id)


@router.put("/{sensor_id}/assignment", response_model=SensorPublic)
async def assign_sensor(sensor_id: IdPath, body: SensorAssign, service: ServiceDep, _: Admin):
    """Put the sensor on an athlete's sacrum or thigh (the one there before is unassigned),
    or unassign it (both null). Stored, then in effect at once on the running gateway."""
    return await service.assign_sensor(sensor_id, body.athlete_id, body.placement)
