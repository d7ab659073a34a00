"""Sets: start, stop, edit, recovery after a crash; their reps, calibrations and raw samples."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from typing import cast

import numpy as np
from sqlalchemy import Table, delete, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from api.errors import ConflictError, NotFoundError
from api.storage import catalog
from api.storage.db import get_or_not_found
from api.storage.models import Calibration, ExerciseSet, RawChunk, Rep, utc_now
from api.storage.paging import Page, fetch_page
from api.storage.raw_codec import (
    CODEC,
    SensorClock,
    decode_clock,
    decode_samples,
    encode_samples,
)
from api.vocab import Placement, RepSource, SetStatus, SetVariant
from fusion.types import ImuRecording, QualityFinding, RepMetrics


def start_set(
    db: Session,
    athlete_id: int,
    variant: SetVariant,
    *,
    load_kg: float | None = None,
    notes: str = "",
    session_id: int | None = None,
    gateway_id: str = "",
    set_key: str | None = None,
    started_at: datetime | None = None,
    close_running: bool = False,
) -> ExerciseSet:
    """A new set in status `recording` (in the athlete's open session on this gateway unless
    one is given).

    `set_key` is the gateway's key of the set (a new UUID when the set has no gateway).
    An athlete records one set at a time, on one platform (gateway) at a time: a set still
    recording is a conflict, unless `close_running` and it is this gateway's (the gateway
    started the new set, so it has ended the old one): then the old one is completed.
    A set another gateway records is never touched: ConflictError says where it runs.
    The database enforces the rule too (a unique index), for gateways that race.
    """
    catalog.get_athlete(db, athlete_id)
    running = recording_set_of(db, athlete_id)
    if running is not None and (running.gateway_id != gateway_id or not close_running):
        raise ConflictError(already_recording_message(running))
    if running is not None:
        running.status = SetStatus.COMPLETED.value
        running.ended_at = started_at or utc_now()
        db.flush()
    if session_id is None:
        session = catalog.open_session_for(db, athlete_id, gateway_id)
    else:
        session = catalog.get_session(db, session_id)
        if session.athlete_id != athlete_id:
            raise ConflictError(
                f"session {session_id} belongs to athlete {session.athlete_id}, not {athlete_id}"
            )
        if session.ended_at is not None:
            raise ConflictError(f"session {session_id} has ended; start a new session")
    exercise_set = ExerciseSet(
        session_id=session.id,
        athlete_id=athlete_id,
        variant=SetVariant(variant).value,
        load_kg=load_kg,
        notes=notes,
        status=SetStatus.RECORDING.value,
        gateway_id=gateway_id,
        set_key=set_key or uuid.uuid4().hex,
        started_at=started_at or utc_now(),
    )
    try:
        with db.begin_nested():  # a savepoint: the race's loser keeps a usable transaction
            db.add(exercise_set)
            db.flush()
    except IntegrityError as exc:
        winner = recording_set_of(db, athlete_id)
        if winner is None:
            raise
        raise ConflictError(already_recording_message(winner)) from exc
    return exercise_set


def recording_set_of(db: Session, athlete_id: int) -> ExerciseSet | None:
    """The athlete's set in status `recording`, if any (there is at most one)."""
    return db.scalar(
        select(ExerciseSet).where(
            ExerciseSet.athlete_id == athlete_id,
            ExerciseSet.status == SetStatus.RECORDING.value,
        )
    )


def already_recording_message(running: ExerciseSet) -> str:
    where = f" on gateway {running.gateway_id!r}" if running.gateway_id else ""
    return (
        f"athlete {running.athlete_id} is already recording set {running.id}{where}; an athlete "
        "records on one platform at a time: stop that set first (POST /sets/"
        f"{running.id}/stop), then start again"
    )


def set_by_key(db: Session, set_key: str) -> ExerciseSet | None:
    return db.scalar(select(ExerciseSet).where(ExerciseSet.set_key == set_key))


def get_set(db: Session, set_id: int) -> ExerciseSet:
    return get_or_not_found(db, ExerciseSet, set_id, "set")


def finish_set(
    db: Session,
    set_id: int,
    status: SetStatus = SetStatus.COMPLETED,
    ended_at: datetime | None = None,
) -> ExerciseSet:
    """End a recording set; `ended_at` is when it really stopped (default now), which may be
    well before this commit (the gateway's stop waited out a database outage)."""
    exercise_set = get_set(db, set_id)
    if exercise_set.status != SetStatus.RECORDING.value:
        raise ConflictError(f"set {set_id} is already {exercise_set.status}")
    exercise_set.status = status.value
    exercise_set.ended_at = ended_at or utc_now()
    db.flush()
    return exercise_set


def update_set(
    db: Session,
    set_id: int,
    *,
    variant: SetVariant | None = None,
    load_kg: float | None = None,
    notes: str | None = None,
) -> ExerciseSet:
    """Correct a set's variant, load or notes; its reps follow."""
    exercise_set = get_set(db, set_id)
    if variant is not None:
        exercise_set.variant = SetVariant(variant).value
        db.execute(update(Rep).where(Rep.set_id == set_id).values(variant=exercise_set.variant))
    if load_kg is not None:
        exercise_set.load_kg = load_kg
        # a wink under load as fusion.metrics has it: a wink with load_kg > 0
        loaded_wink = Rep.butt_wink if load_kg > 0 else False
        db.execute(
            update(Rep).where(Rep.set_id == set_id).values(load_kg=load_kg, loaded_wink=loaded_wink)
        )
    if notes is not None:
        exercise_set.notes = notes
    db.flush()
    return exercise_set


def mark_interrupted(db: Session, gateway_id: str) -> list[int]:
    """Sets this gateway left `recording` (it was killed): mark them interrupted, ended at
    their last stored sample (`recorded_s` after the start), not at this restart. Sets of
    other gateways are never touched."""
    rows = list(
        db.scalars(
            select(ExerciseSet).where(
                ExerciseSet.status == SetStatus.RECORDING.value,
                ExerciseSet.gateway_id == gateway_id,
            )
        )
    )
    for row in rows:
        row.status = SetStatus.INTERRUPTED.value
        row.ended_at = row.started_at + timedelta(seconds=max(0.0, row.recorded_s or 0.0))
    db.flush()
    return [row.id for row in rows]


def list_sets(
    db: Session,
    *,
    athlete_id: int | None = None,
    session_id: int | None = None,
    variant: SetVariant | None = None,
    status: SetStatus | None = None,
    cursor: int | None = None,
    limit: int = 100,
) -> Page[ExerciseSet]:
    query = select(ExerciseSet)
    if athlete_id is not None:
        query = query.where(ExerciseSet.athlete_id == athlete_id)
    if session_id is not None:
        query = query.where(ExerciseSet.session_id == session_id)
    if variant is not None:
        query = query.where(ExerciseSet.variant == SetVariant(variant).value)
    if status is not None:
        query = query.where(ExerciseSet.status == SetStatus(status).value)
    return fetch_page(db, query, ExerciseSet.id, cursor, limit)


def rep_row(exercise_set: ExerciseSet, metrics: RepMetrics) -> dict[str, object]:
    """Column values of a `Rep` for `metrics` of `exercise_set` (times set-relative, s)."""
    values = asdict(metrics)
    values["quality"] = ";".join(metrics.quality)
    values.update(
        set_id=exercise_set.id,
        athlete_id=exercise_set.athlete_id,
        variant=exercise_set.variant,
        performed_at=exercise_set.started_at + timedelta(seconds=float(metrics.start_s)),
    )
    for key, value in values.items():
        if isinstance(value, (np.floating, np.integer, np.bool_)):
            values[key] = value.item()
    return values


def add_reps(db: Session, exercise_set: ExerciseSet, reps: Iterable[RepMetrics]) -> int:
    rows = [rep_row(exercise_set, metrics) for metrics in reps]
    if rows:
        db.execute(cast(Table, Rep.__table__).insert(), rows)
    return len(rows)


def correct_live_rep_quality(db: Session, exercise_set: ExerciseSet, metrics: RepMetrics) -> None:
    """The gateway found something about a live rep after storing it (a dead sensor axis):
    its stored rep of that number takes `metrics.quality`; only the quality (a load corrected
    meanwhile stays), and only while the set's reps are the live ones (a re-analysis numbers
    its own). A rep whose first store was lost is added."""
    if exercise_set.reps_source != RepSource.LIVE.value:
        return
    quality = ";".join(metrics.quality)
    done = db.execute(
        update(Rep)
        .where(Rep.set_id == exercise_set.id, Rep.rep == metrics.rep)
        .values(quality=quality)
    )
    if not getattr(done, "rowcount", 0):
        add_reps(db, exercise_set, [metrics])


# Finding codes the recording itself adds to a set (not the analysis): a re-analysis keeps
# them, since it cannot see what was never stored.
RAW_SAMPLES_LOST = "raw_samples_lost"
RECORDING_FINDINGS = frozenset({RAW_SAMPLES_LOST})


def recording_findings(exercise_set: ExerciseSet) -> list[QualityFinding]:
    """The set's findings about its recording (RECORDING_FINDINGS), kept across analyses."""
    return [
        QualityFinding(**f)
        for f in json.loads(exercise_set.findings_json or "[]")
        if f.get("code") in RECORDING_FINDINGS
    ]


def replace_reps(
    db: Session,
    set_id: int,
    reps: Sequence[RepMetrics],
    findings: Sequence[QualityFinding],
    source: RepSource,
) -> int:
    exercise_set = get_set(db, set_id)
    db.execute(delete(Rep).where(Rep.set_id == set_id))
    exercise_set.reps_source = source.value
    kept = recording_findings(exercise_set)
    exercise_set.findings_json = findings_to_json(
        [*kept, *(f for f in findings if f.code not in RECORDING_FINDINGS)]
    )
    db.flush()
    return add_reps(db, exercise_set, reps)


def findings_to_json(findings: Sequence[QualityFinding]) -> str:
    return json.dumps([asdict(finding) for finding in findings])


def add_calibration(
    db: Session,
    athlete_id: int,
    set_id: int | None,
    ok: bool,
    message: str,
    at: datetime | None = None,
) -> Calibration:
    calibration = Calibration(
        athlete_id=athlete_id, set_id=set_id, ok=ok, message=message, created_at=at or utc_now()
    )
    db.add(calibration)
    db.flush()
    return calibration


def add_raw_chunk(
    db: Session,
    set_id: int,
    placement: Placement,
    address: str,
    chunk_index: int,
    t_s: np.ndarray,
    acc_mps2: np.ndarray,
    gyr_radps: np.ndarray,
    clock: SensorClock | None = None,
) -> None:
    """Store one block of samples; `t_s` seconds since the set started; `clock` what the
    sensor sent (receive times set-relative), kept so the clock can be mapped again."""
    t_s = np.asarray(t_s, dtype=float)
    if t_s.size == 0:
        return
    db.execute(
        cast(Table, RawChunk.__table__).insert(),
        [
            dict(
                set_id=set_id,
                placement=Placement(placement).value,
                address=address,
                chunk_index=chunk_index,
                n_samples=int(t_s.size),
                t_first_s=float(t_s[0]),
                t_last_s=float(t_s[-1]),
                codec=CODEC,
                payload=encode_samples(t_s, acc_mps2, gyr_radps, clock),
            )
        ],
    )


def raw_placements(db: Session, set_id: int) -> list[Placement]:
    rows = db.scalars(select(RawChunk.placement).where(RawChunk.set_id == set_id).distinct())
    return sorted((Placement(p) for p in rows), key=lambda p: p.value)


def load_raw(db: Session, set_id: int, placement: Placement) -> ImuRecording:
    """All stored samples of one sensor of a set, in time order (set-relative seconds)."""
    get_set(db, set_id)
    rows = db.execute(
        select(RawChunk.n_samples, RawChunk.codec, RawChunk.payload)
        .where(RawChunk.set_id == set_id, RawChunk.placement == Placement(placement).value)
        .order_by(RawChunk.chunk_index, RawChunk.id)
    ).all()
    if not rows:
        raise NotFoundError(f"raw {Placement(placement).value} samples of set", set_id)
    parts = [decode_samples(row.payload, row.n_samples, row.codec) for row in rows]
    t_s = np.concatenate([p[0] for p in parts])
    acc = np.concatenate([p[1] for p in parts])
    gyr = np.concatenate([p[2] for p in parts])
    # Keep strictly increasing times only: drops any block a retried write stored twice.
    keep = np.ones(t_s.shape, dtype=bool)
    keep[1:] = t_s[1:] > np.maximum.accumulate(t_s)[:-1]
    return ImuRecording(t_s=t_s[keep], acc_mps2=acc[keep], gyr_radps=gyr[keep])


def load_sensor_clock(db: Session, set_id: int, placement: Placement) -> SensorClock | None:
    """What one sensor of a set really sent, per stored sample, in the order `load_raw`
    returns the samples (duplicates dropped alike): receive times (set-relative), its own
    timestamps and packet sequence numbers. None when the set was stored before these were
    kept (codec v1)."""
    get_set(db, set_id)
    rows = db.execute(
        select(RawChunk.n_samples, RawChunk.codec, RawChunk.payload)
        .where(RawChunk.set_id == set_id, RawChunk.placement == Placement(placement).value)
        .order_by(RawChunk.chunk_index, RawChunk.id)
    ).all()
    if not rows:
        raise NotFoundError(f"raw {Placement(placement).value} samples of set", set_id)
    decoded = [decode_clock(row.payload, row.n_samples, row.codec) for row in rows]
    clocks = [clock for clock in decoded if clock is not None]
    if len(clocks) < len(decoded):
        return None
    t_s = np.concatenate([decode_samples(r.payload, r.n_samples, r.codec)[0] for r in rows])
    keep = np.ones(t_s.shape, dtype=bool)
    keep[1:] = t_s[1:] > np.maximum.accumulate(t_s)[:-1]
    return SensorClock(
        received_s=np.concatenate([c.received_s for c in clocks])[keep],
        sensor_time_s=np.concatenate([c.sensor_time_s for c in clocks])[keep],
        seq=np.concatenate([c.seq for c in clocks])[keep],
    )


@dataclass(frozen=True)
class SetRecordings:
    """Both sensors' stored samples of a set, with what the analysis needs to know about it."""

    sacrum: ImuRecording
    thigh: ImuRecording
    load_kg: float | None
    status: str


def load_set_recordings(db: Session, set_id: int) -> SetRecordings:
    """Both raw recordings of a set; NotFoundError names the sensor(s) without samples."""
    row = get_set(db, set_id)
    placements = raw_placements(db, set_id)
    missing = [p.value for p in Placement if p not in placements]
    if missing:
        raise NotFoundError(f"raw {' and '.join(missing)} samples of set", set_id)
    return SetRecordings(
        sacrum=load_raw(db, set_id, Placement.SACRUM),
        thigh=load_raw(db, set_id, Placement.THIGH),
        load_kg=row.load_kg,
        status=row.status,
    )
