"""Sensors: register, assign to an athlete's sacrum or thigh, live link status."""

from __future__ import annotations

import math

from fastapi import APIRouter, status
from sqlalchemy import select
from starlette.concurrency import run_in_threadpool

from api.http.deps import Admin, DbDep, Reader, ServiceDep
from api.http.routes.common import Cursor, IdPath, Limit, OptionalId
from api.http.schemas import (
    Page,
    SensorAssign,
    SensorCreate,
    SensorFound,
    SensorLive,
    SensorPublic,
    SensorScan,
    SensorSwap,
    SensorUpdate,
)
from api.storage import catalog
from api.storage.models import Sensor
from api.vocab import Placement

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
    """Link state, battery, signal, gaps and clock drift of every sensor the gateway knows,
    and its health in words (good / check / bad, with the reason)."""
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
            health=None if health is None else health.level.value,
            health_reason="" if health is None else health.reason,
        )
        for s, health in service.sensor_snapshots_with_health()
    ]


@router.post("/scan", response_model=list[SensorFound])
async def scan_sensors(body: SensorScan, service: ServiceDep, _: Admin):
    """Listen for sensors through the running gateway for `timeout_s` (BLE: name, kind,
    signal, battery), strongest first, with what the database knows of each."""
    found = await service.discover(body.timeout_s)

    def known() -> dict[str, Sensor]:
        with service.database.sessions() as db:
            addresses = [f.address for f in found]
            return {
                s.address: s
                for s in db.scalars(select(Sensor).where(Sensor.address.in_(addresses)))
            }

    stored = await run_in_threadpool(known)
    live = {s.address: s for s in service.sensor_snapshots()}  # battery of streaming ones
    out = []
    for f in found:
        row = stored.get(f.address)
        battery_pct = f.battery_pct
        if battery_pct is None and f.address in live:
            battery_pct = live[f.address].battery_pct
        out.append(
            SensorFound(
                address=f.address,
                name=f.name,
                kind=f.kind,
                rssi_dbm=f.rssi_dbm,
                battery_pct=battery_pct,
                sensor_id=row.id if row is not None else None,
                athlete_id=row.athlete_id if row is not None else None,
                placement=Placement(row.placement) if row is not None and row.placement else None,
            )
        )
    return out


@router.post("/swap", response_model=list[SensorPublic])
async def swap_sensors(body: SensorSwap, service: ServiceDep, _: Admin):
    """Swap the athlete's sacrum and thigh sensors (put on the other way round); in effect
    at once on the running gateway."""
    return await service.swap_sensors(body.athlete_id)


@router.patch("/{sensor_id}", response_model=SensorPublic)
def rename_sensor(sensor_id: IdPath, body: SensorUpdate, db: DbDep, _: Admin):
    return catalog.rename_sensor(db, sensor_id, body.name)


@router.get("/{sensor_id}", response_model=SensorPublic)
def get_sensor(sensor_id: IdPath, db: DbDep, _: Reader):
    return catalog.get_sensor(db, sensor_id)


@router.put("/{sensor_id}/assignment", response_model=SensorPublic)
async def assign_sensor(sensor_id: IdPath, body: SensorAssign, service: ServiceDep, _: Admin):
    """Put the sensor on an athlete's sacrum or thigh (the one there before is unassigned),
    or unassign it (both null). Stored, then in effect at once on the running gateway."""
    return await service.assign_sensor(sensor_id, body.athlete_id, body.placement)
