"""Athletes, sensors (placement assignment) and training sessions."""

from __future__ import annotations

from sqlalchemy import delete, func, select
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from api.errors import ConflictError
from api.storage.db import get_or_not_found
from api.storage.models import (
    Assessment,
    Athlete,
    Calibration,
    ExerciseSet,
    RawChunk,
    Rep,
    Sensor,
    SetAngleSeries,
    TrainingSession,
    utc_now,
)
from api.storage.paging import Page, fetch_page
from api.vocab import Placement, SetStatus


def create_athlete(db: Session, name: str, notes: str = "") -> Athlete:
    athlete = Athlete(name=name, notes=notes)
    db.add(athlete)
    db.flush()
    return athlete


def get_athlete(db: Session, athlete_id: int) -> Athlete:
    return get_or_not_found(db, Athlete, athlete_id, "athlete")


def update_athlete(
    db: Session, athlete_id: int, *, name: str | None = None, notes: str | None = None
) -> Athlete:
    athlete = get_athlete(db, athlete_id)
    if name is not None:
        athlete.name = name
    if notes is not None:
        athlete.notes = notes
    db.flush()
    return athlete


def list_athletes(
    db: Session, cursor: int | None = None, limit: int = 100, *, archived: bool = False
) -> Page[Athlete]:
    """Active athletes (`archived`: the archived ones instead)."""
    query = select(Athlete).where(
        Athlete.archived_at.is_not(None) if archived else Athlete.archived_at.is_(None)
    )
    return fetch_page(db, query, Athlete.id, cursor, limit)


def stored_sets_of(db: Session, athlete_id: int) -> int:
    return db.scalar(select(func.count()).where(ExerciseSet.athlete_id == athlete_id)) or 0


def refuse_while_recording(db: Session, athlete: Athlete, doing: str) -> None:
    recording = db.scalar(
        select(ExerciseSet.id).where(
            ExerciseSet.athlete_id == athlete.id,
            ExerciseSet.status == SetStatus.RECORDING.value,
        )
    )
    if recording is not None:
        raise ConflictError(
            f"{athlete.name} is recording set {recording}: stop it before {doing} the athlete"
        )


def refuse_if_archived(db: Session, athlete_id: int, doing: str) -> Athlete:
    """The athlete, unless archived (an archived athlete records nothing and wears nothing)."""
    athlete = get_athlete(db, athlete_id)
    if athlete.archived_at is not None:
        raise ConflictError(
            f"{athlete.name} is archived: restore them first (PUT /athletes/{athlete_id}/archive "
            f'with {{"archived": false}}) before {doing}'
        )
    return athlete


def unassign_sensors_of(db: Session, athlete_id: int) -> list[Sensor]:
    """Take every sensor off the athlete; returns them (to tell the gateway)."""
    sensors = list(db.scalars(select(Sensor).where(Sensor.athlete_id == athlete_id)))
    for sensor in sensors:
        sensor.athlete_id = None
        sensor.placement = None
    db.flush()
    return sensors


def archive_athlete(db: Session, athlete_id: int, archived: bool) -> tuple[Athlete, list[Sensor]]:
    """Archive (or restore) an athlete: every stored set is kept; archiving takes their
    sensors off them (free for someone else). Returns the athlete and the sensors freed."""
    athlete = get_athlete(db, athlete_id)
    freed: list[Sensor] = []
    if archived:
        refuse_while_recording(db, athlete, "archiving")
        if athlete.archived_at is None:
            athlete.archived_at = utc_now()
        freed = unassign_sensors_of(db, athlete_id)
    else:
        athlete.archived_at = None
    db.flush()
    return athlete, freed


def delete_athlete(db: Session, athlete_id: int, *, delete_sets: bool) -> list[Sensor]:
    """Delete an athlete. One with stored sets is refused unless `delete_sets` (then the sets,
    their reps, raw samples, calibrations, assessments and sessions go too): data is never
    lost silently. Returns the sensors that were taken off them."""
    athlete = get_athlete(db, athlete_id)
    stored = stored_sets_of(db, athlete_id)
    if stored and not delete_sets:
        raise ConflictError(
            f"{athlete.name} has {stored} stored set{'s' if stored != 1 else ''}: archive the "
            "athlete to keep them, or delete with delete_sets=true to delete them too"
        )
    refuse_while_recording(db, athlete, "deleting")
    freed = unassign_sensors_of(db, athlete_id)
    set_ids = select(ExerciseSet.id).where(ExerciseSet.athlete_id == athlete_id)
    for model, column in (
        (RawChunk, RawChunk.set_id),
        (SetAngleSeries, SetAngleSeries.set_id),
    ):
        db.execute(delete(model).where(column.in_(set_ids)))
    db.execute(delete(Rep).where(Rep.athlete_id == athlete_id))
    db.execute(delete(Calibration).where(Calibration.athlete_id == athlete_id))
    db.execute(delete(ExerciseSet).where(ExerciseSet.athlete_id == athlete_id))
    db.execute(delete(Assessment).where(Assessment.athlete_id == athlete_id))
    db.execute(delete(TrainingSession).where(TrainingSession.athlete_id == athlete_id))
    db.delete(athlete)
    db.flush()
    return freed


def get_sensor(db: Session, sensor_id: int) -> Sensor:
    return get_or_not_found(db, Sensor, sensor_id, "sensor")


def sensor_by_address(db: Session, address: str) -> Sensor | None:
    return db.scalar(select(Sensor).where(Sensor.address == address))


def register_sensor(db: Session, address: str, kind: str, name: str = "") -> Sensor:
    """Add a sensor, or return the existing one with that address (kind/name refreshed).

    One `INSERT ... ON CONFLICT (address) DO NOTHING`, so gateways registering the same
    sensor at once both succeed (a check-then-insert would fail in one of them).
    """
    insert = sqlite_insert if db.get_bind().dialect.name == "sqlite" else postgresql_insert
    db.execute(
        insert(Sensor)
        .values(address=address, kind=kind, name=name, created_at=utc_now())
        .on_conflict_do_nothing(index_elements=[Sensor.address])
    )
    sensor = sensor_by_address(db, address)
    assert sensor is not None  # inserted now or before
    sensor.kind = kind
    if name:
        sensor.name = name
    db.flush()
    return sensor


def assign_sensor(
    db: Session, sensor_id: int, athlete_id: int | None, placement: Placement | None
) -> Sensor:
    """Put a sensor on an athlete's sacrum or thigh (or unassign it with None, None).

    The sensor that held that athlete's placement before is unassigned: an athlete wears
    one sacrum and one thigh sensor.
    """
    sensor = get_sensor(db, sensor_id)
    if (athlete_id is None) != (placement is None):
        raise ConflictError("give both athlete_id and placement to assign, or neither to unassign")
    if athlete_id is not None and placement is not None:
        refuse_if_archived(db, athlete_id, "pairing a sensor")
        for previous in db.scalars(
            select(Sensor).where(
                Sensor.athlete_id == athlete_id,
                Sensor.placement == placement.value,
                Sensor.id != sensor.id,
            )
        ):
            previous.athlete_id = None
            previous.placement = None
    sensor.athlete_id = athlete_id
    sensor.placement = placement.value if placement is not None else None
    db.flush()
    return sensor


def rename_sensor(db: Session, sensor_id: int, name: str) -> Sensor:
    sensor = get_sensor(db, sensor_id)
    sensor.name = name
    db.flush()
    return sensor


def swap_placements(db: Session, athlete_id: int) -> list[Sensor]:
    """Swap the athlete's sacrum and thigh sensors (they were put on the other way round)."""
    athlete = get_athlete(db, athlete_id)
    worn = sensors_of_athlete(db, athlete_id)
    if set(worn) != set(Placement):
        raise ConflictError(
            f"{athlete.name} wears {len(worn)} sensor{'s' if len(worn) != 1 else ''}: a swap "
            "needs a sacrum and a thigh sensor"
        )
    sacrum, thigh = worn[Placement.SACRUM], worn[Placement.THIGH]
    sacrum.placement, thigh.placement = Placement.THIGH.value, Placement.SACRUM.value
    db.flush()
    return [sacrum, thigh]


def list_sensors(
    db: Session, athlete_id: int | None = None, cursor: int | None = None, limit: int = 100
) -> Page[Sensor]:
    query = select(Sensor)
    if athlete_id is not None:
        query = query.where(Sensor.athlete_id == athlete_id)
    return fetch_page(db, query, Sensor.id, cursor, limit)


def sensors_of_athlete(db: Session, athlete_id: int) -> dict[Placement, Sensor]:
    sensors = db.scalars(select(Sensor).where(Sensor.athlete_id == athlete_id))
    return {Placement(s.placement): s for s in sensors if s.placement is not None}


def create_session(
    db: Session, athlete_id: int, gateway_id: str = "", notes: str = ""
) -> TrainingSession:
    get_athlete(db, athlete_id)
    session = TrainingSession(athlete_id=athlete_id, gateway_id=gateway_id, notes=notes)
    db.add(session)
    db.flush()
    return session


def get_session(db: Session, session_id: int) -> TrainingSession:
    return get_or_not_found(db, TrainingSession, session_id, "session")


def end_session(db: Session, session_id: int) -> TrainingSession:
    session = get_session(db, session_id)
    if session.ended_at is None:
        session.ended_at = utc_now()
    db.flush()
    return session


def open_session_for(db: Session, athlete_id: int, gateway_id: str) -> TrainingSession:
    """The athlete's latest session on this gateway that has not ended, or a new one
    (sets recorded on another platform never land in this gateway's session)."""
    session = db.scalar(
        select(TrainingSession)
        .where(
            TrainingSession.athlete_id == athlete_id,
            TrainingSession.gateway_id == gateway_id,
            TrainingSession.ended_at.is_(None),
        )
        .order_by(TrainingSession.id.desc())
        .limit(1)
    )
    return session if session is not None else create_session(db, athlete_id, gateway_id)


def list_sessions(
    db: Session, athlete_id: int | None = None, cursor: int | None = None, limit: int = 100
) -> Page[TrainingSession]:
    query = select(TrainingSession)
    if athlete_id is not None:
        query = query.where(TrainingSession.athlete_id == athlete_id)
    return fetch_page(db, query, TrainingSession.id, cursor, limit)
