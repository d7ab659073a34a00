"""Who wears which sensor: the database is the one source of truth, the gateway is told.

The `sensors` table holds every assignment (athlete, placement) and the gateway that streams
the sensor (`Sensor.gateway_id`, set when it is assigned through that gateway). A gateway
keeps no file of its own: at start the runtime hands it this gateway's assignments
(`gateway_assignments`), and every change made through the API reaches the running gateway
at once (`api.gateway_port.LiveService.assign_sensor`). The gateway knows an athlete by the
database id as a string.

`import_legacy_file`: a `gateway.json` left by an older WinkWatch is imported once (its
sensors registered and assigned, athletes named in it found by id or name, created if none
has that name), then renamed `gateway.json.imported` so that it is never read again.
"""

from __future__ import annotations

import logging
from collections.abc import Collection
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from api.storage import catalog
from api.storage.db import Database
from api.storage.models import Athlete, Sensor
from api.vocab import Placement
from sensor_gateway.config import SensorAssignment, make_assignment, read_assignment_file
from sensor_gateway.samples import SensorKind

log = logging.getLogger(__name__)

IMPORTED_SUFFIX = ".imported"


def as_gateway_assignment(sensor: Sensor) -> SensorAssignment | None:
    """The gateway's form of a stored sensor's assignment (None: not assigned)."""
    if sensor.athlete_id is None or sensor.placement is None:
        return None
    return make_assignment(
        sensor.address, sensor.kind, str(sensor.athlete_id), sensor.placement, label=sensor.name
    )


def gateway_assignments(
    db: Session, gateway_id: str, kinds: Collection[SensorKind] | None = None
) -> list[SensorAssignment]:
    """The assignments of the sensors `gateway_id` streams (of `kinds`, default all)."""
    query = select(Sensor).where(
        Sensor.gateway_id == gateway_id,
        Sensor.athlete_id.is_not(None),
        Sensor.placement.is_not(None),
    )
    if kinds is not None:
        query = query.where(Sensor.kind.in_([k.value for k in kinds]))
    found = [as_gateway_assignment(s) for s in db.scalars(query.order_by(Sensor.id))]
    return [a for a in found if a is not None]


def assign(
    db: Session,
    sensor_id: int,
    athlete_id: int | None,
    placement: Placement | None,
    gateway_id: str | None,
) -> tuple[Sensor, SensorAssignment | None]:
    """Store an assignment (None, None: unassign) made through `gateway_id`; returns the sensor
    and what the gateway is to be told. Raises before anything is stored if the gateway could
    not take it (ConflictError / ConfigError)."""
    sensor = catalog.assign_sensor(db, sensor_id, athlete_id, placement)
    assignment = as_gateway_assignment(sensor)  # validated as the gateway validates it
    if gateway_id is not None and assignment is not None:
        sensor.gateway_id = gateway_id
    db.flush()
    return sensor, assignment


def athlete_for_key(db: Session, key: str) -> tuple[int, bool]:
    """The athlete a gateway.json (or `winkwatch gateway --assign`) names: an existing id, or
    the athlete of that name (created if none); returns (id, created)."""
    key = key.strip()
    if key.isdigit() and db.get(Athlete, int(key)) is not None:
        return int(key), False
    found = db.scalar(select(Athlete.id).where(Athlete.name == key).order_by(Athlete.id).limit(1))
    if found is not None:
        return found, False
    return catalog.create_athlete(db, key).id, True


def import_legacy_file(database: Database, path: Path, gateway_id: str) -> int:
    """Import the assignments of an old `gateway.json` into the database once (see the
    module docstring); returns how many. Raises ConfigError for a file that cannot be read
    (it is then left alone)."""
    assignments = read_assignment_file(path)
    if not path.exists():
        return 0
    with database.sessions.begin() as db:
        for a in assignments:
            athlete_id, created = athlete_for_key(db, a.athlete_id)
            if created:
                log.warning(
                    "gateway.json names athlete %r: created athlete %d of that name",
                    a.athlete_id,
                    athlete_id,
                )
            sensor = catalog.register_sensor(db, a.address, a.kind.value, a.label)
            assign(db, sensor.id, athlete_id, Placement(a.placement.value), gateway_id)
    imported = path.with_name(path.name + IMPORTED_SUFFIX)
    path.replace(imported)
    log.warning(
        "imported %d sensor assignment(s) from %s into the database, which keeps them from now "
        "on (the file is kept as %s and no longer read)",
        len(assignments),
        path,
        imported,
    )
    return len(assignments)


__all__ = [
    "as_gateway_assignment",
    "assign",
    "athlete_for_key",
    "gateway_assignments",
    "import_legacy_file",
]
