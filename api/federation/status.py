"""Gateway and sensor status stored on the central server.

Each edge publishes, retained, its own status (`up/status`: online, origin, since when; the
broker publishes the last will `online: false` when the edge vanishes) and the status of every
sensor it serves (`up/sensors`: link state, battery, signal, samples, gaps, missing samples,
clock drift), on every link change and every few seconds. Status is state, not history: the
newest report replaces the gateway's earlier one (`federation_gateways`,
`federation_sensor_status`), and a retained message gives a restarted central server the
newest report at once. The central's `/sensors/status` and the dashboard's sensor list read it.
"""

from __future__ import annotations

import math
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, select

from api.errors import ConflictError
from api.federation.errors import FederationError
from api.storage.db import Database
from api.storage.models import Athlete, GatewayStatus, SensorStatus, utc_now
from api.vocab import Placement
from sensor_gateway.config import normalise_address
from sensor_gateway.samples import LinkState, SensorKind
from sensor_gateway.sensors import SensorSnapshot

MAX_SENSORS_PER_GATEWAY = 256  # far above what one Pi's radios serve


def store_gateway_status(database: Database, gateway_id: str, status: dict[str, Any]) -> None:
    if not isinstance(status, dict):
        raise FederationError("gateway status is not a JSON object")
    since = status.get("since_utc")
    origin = status.get("origin")
    with database.sessions.begin() as db:
        db.merge(
            GatewayStatus(
                gateway_id=gateway_id,
                online=bool(status.get("online")),
                origin=str(origin)[:32] if origin else None,
                since_utc=datetime.fromisoformat(since) if since else None,
                updated_at=utc_now(),
            )
        )


def store_sensor_status(database: Database, gateway_id: str, report: dict[str, Any]) -> None:
    """Replace what is stored of `gateway_id`'s sensors by this report."""
    sensors = report.get("sensors") if isinstance(report, dict) else None
    if not isinstance(sensors, list) or len(sensors) > MAX_SENSORS_PER_GATEWAY:
        raise FederationError("sensor status report without a list of at most 256 sensors")
    rows = [_sensor_row(gateway_id, entry) for entry in sensors]
    with database.sessions.begin() as db:
        db.execute(delete(SensorStatus).where(SensorStatus.gateway_id == gateway_id))
        db.add_all(rows)


def _sensor_row(gateway_id: str, entry: Any) -> SensorStatus:
    if not isinstance(entry, dict):
        raise FederationError("a sensor status is not a JSON object")
    drift_ppm = float(entry.get("drift_ppm") or 0.0)
    return SensorStatus(
        gateway_id=gateway_id,
        address=str(entry["address"])[:64],
        kind=SensorKind(entry["kind"]).value,
        athlete_uid=str(entry["athlete_uid"])[:32] if entry.get("athlete_uid") else None,
        placement=Placement(entry["placement"]).value if entry.get("placement") else None,
        state=LinkState(entry["state"]).value,
        battery_pct=_optional_int(entry.get("battery_pct")),
        rssi_dbm=_optional_int(entry.get("rssi_dbm")),
        samples=int(entry.get("samples") or 0),
        gaps=int(entry.get("gaps") or 0),
        samples_missing=int(entry.get("samples_missing") or 0),
        drift_ppm=drift_ppm if math.isfinite(drift_ppm) else 0.0,
        last_received_s=float(entry.get("last_received_s") or 0.0),
        reported_at=utc_now(),
    )


def _optional_int(value: Any) -> int | None:
    return None if value is None else int(value)


def sensor_snapshots(database: Database) -> list[SensorSnapshot]:
    """Every gateway's sensors as last reported, with central athlete ids, by gateway."""
    with database.sessions() as db:
        rows = db.execute(
            select(SensorStatus, Athlete.id)
            .outerjoin(Athlete, Athlete.uid == SensorStatus.athlete_uid)
            .order_by(SensorStatus.gateway_id, SensorStatus.address)
        )
        return [
            SensorSnapshot(
                address=row.address,
                kind=SensorKind(row.kind),
                athlete_id=None if athlete_id is None else str(athlete_id),
                placement=Placement(row.placement) if row.placement else None,
                state=LinkState(row.state),
                battery_pct=row.battery_pct,
                rssi_dbm=row.rssi_dbm,
                samples=row.samples,
                gaps=row.gaps,
                samples_missing=row.samples_missing,
                drift_ppm=row.drift_ppm,
                last_received_s=row.last_received_s,
            )
            for row, athlete_id in rows
        ]


def gateway_statuses(database: Database) -> dict[str, GatewayStatus]:
    with database.sessions() as db:
        return {row.gateway_id: row for row in db.scalars(select(GatewayStatus))}


def streaming_gateway(database: Database, address: str, *, other_than: str | None) -> str | None:
    """The online gateway (other than `other_than`) whose last sensor report (`up/sensors`)
    has this sensor streaming; None if none has. Addresses compare as gateways hold them
    (upper case): a catalog keeps an address as it was typed, a report as the radio has it."""
    with database.sessions() as db:
        query = (
            select(SensorStatus.gateway_id)
            .join(GatewayStatus, GatewayStatus.gateway_id == SensorStatus.gateway_id)
            .where(
                func.upper(SensorStatus.address) == normalise_address(address),
                SensorStatus.state == LinkState.STREAMING.value,
                GatewayStatus.online.is_(True),
            )
            .order_by(SensorStatus.reported_at.desc())
            .limit(1)
        )
        if other_than is not None:
            query = query.where(SensorStatus.gateway_id != other_than)
        return db.scalar(query)


def streaming_elsewhere(address: str, elsewhere: str, gateway_id: str) -> ConflictError:
    """The refusal of pairing `address` on `gateway_id` while `elsewhere` streams it: a sensor
    streams to one gateway at a time, and that one, not told, would go on recording it for its
    athlete there (the two gateways would fight over it)."""
    return ConflictError(
        f"sensor {address} is streaming on gateway {elsewhere}: unpair it there first "
        "(PUT /sensors/{id}/assignment with athlete_id and placement null, on the central "
        f"server or on {elsewhere} itself) or switch it off, then pair it on {gateway_id}"
    )
