"""Tables. Times are stored as UTC; set-relative times (`*_s`) are seconds since the set began.

Raw samples are never a row per sample: `RawChunk` holds a compressed block of one sensor's
samples (see `api.storage.raw_codec`), written about once a second while a set records.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any
from uuid import uuid4

from sqlalchemy import (
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    TypeDecorator,
    text,
)
from sqlalchemy import (
    true as sa_true,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class UtcDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on every backend (SQLite stores them naive)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: Any | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if not isinstance(value, datetime):
            raise TypeError(f"expected a datetime from the database, got {type(value).__name__}")
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)

    def result_processor(self, dialect: Dialect, coltype: object) -> Callable[[Any], Any]:
        """`process_result_value` after the dialect's own conversion, as one function per
        column. TypeDecorator's generic chain and `replace(tzinfo=...)` cost about 1 us a
        value, the largest per-row cost of a rep-list page; SQLite's stored text (naive, in
        UTC: `process_bind_param`) is parsed straight to an aware datetime instead."""
        impl = self.impl_instance.dialect_impl(dialect).result_processor(dialect, coltype)
        to_utc = self.process_result_value

        def process(value: Any) -> datetime | None:
            if value is None:
                return None
            if value.__class__ is str:
                try:
                    return datetime.fromisoformat(value + "+00:00")
                except ValueError:
                    pass  # not the stored form (e.g. written by hand): the dialect's parser
            if impl is not None:
                value = impl(value)
            if value.__class__ is datetime and value.tzinfo is UTC:
                return value  # PostgreSQL in a UTC session
            return to_utc(value, dialect)

        return process


def utc_now() -> datetime:
    return datetime.now(UTC)


class Base(DeclarativeBase):
    pass


def new_uid() -> str:
    """A new identity unique across every gateway and the central server (UUID4 hex)."""
    return uuid4().hex


class Athlete(Base):
    __tablename__ = "athletes"
    __table_args__ = ({"sqlite_autoincrement": True},)  # never reuse an id (migration 0018)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    # The athlete's identity across gateways: an athlete recorded on several platforms is one
    # athlete on the central server (api.federation) because every copy carries this uid.
    uid: Mapped[str] = mapped_column(String(32), unique=True, default=new_uid)
    name: Mapped[str] = mapped_column(String(200))
    notes: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utc_now)
    # Personal baseline of the pelvis reversal (fusion.baseline), None until one is set.
    baseline_centre_deg: Mapped[float | None] = mapped_column(Float, nullable=True)
    baseline_spread_deg: Mapped[float | None] = mapped_column(Float, nullable=True)
    baseline_reps: Mapped[int | None] = mapped_column(Integer, nullable=True)
    # For the box height of an assessment's prescription (fusion.assessment.prescription).
    femur_cm: Mapped[float | None] = mapped_column(Float, nullable=True)
    shank_cm: Mapped[float | None] = mapped_column(Float, nullable=True)
    # The prescription of the athlete's newest assessment report (`Prescription.as_dict()` as
    # JSON): kept on the athlete so it follows them to another platform (api.federation).
    prescription_json: Mapped[str | None] = mapped_column(Text, nullable=True)
    # Archived: out of the athlete lists, every stored set kept; None while active.
    archived_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    # Depth guard (fusion.live.depth_guard): cue loaded sets before the prescribed ceiling;
    # the margin above it in deg (None: the default). Per athlete: it is the coach's call
    # for this lifter, and the gateway needs it when a set starts from any client.
    depth_guard_on: Mapped[bool] = mapped_column(Boolean, default=True, server_default=sa_true())
    depth_guard_margin_deg: Mapped[float | None] = mapped_column(Float, nullable=True)

    @property
    def prescription(self) -> dict[str, float | None] | None:
        return None if self.prescription_json is None else json.loads(self.prescription_json)


class Sensor(Base):
    __tablename__ = "sensors"
    __table_args__ = ({"sqlite_autoincrement": True},)  # never reuse an id (migration 0018)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    address: Mapped[str] = mapped_column(String(64), unique=True)
    kind: Mapped[str] = mapped_column(String(32))
    placement: Mapped[str | None] = mapped_column(String(16), nullable=True)
    athlete_id: Mapped[int | None] = mapped_column(
        ForeignKey("athletes.id", ondelete="SET NULL"), nullable=True, index=True
    )
    name: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utc_now)
    # The gateway that streams the sensor (the one it was assigned through); None: none yet.
    # Several gateways may share a database: each connects only to its own sensors.
    gateway_id: Mapped[str | None] = mapped_column(String(200), nullable=True)


class TrainingSession(Base):
    __tablename__ = "sessions"
    __table_args__ = ({"sqlite_autoincrement": True},)  # never reuse an id (migration 0018)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    athlete_id: Mapped[int] = mapped_column(ForeignKey("athletes.id"), index=True)
    gateway_id: Mapped[str] = mapped_column(String(200), default="")
    started_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utc_now)
    ended_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    notes: Mapped[str] = mapped_column(Text, default="")


# An athlete records on one platform (gateway) at a time: at most one set `recording` per
# athlete, enforced by the database so that two gateways racing cannot both start one.
RECORDING_SET_PER_ATHLETE_INDEX = "uq_sets_one_recording_per_athlete"
_RECORDING = text("status = 'recording'")


class ExerciseSet(Base):
    __tablename__ = "sets"
    __table_args__ = (
        Index(
            RECORDING_SET_PER_ATHLETE_INDEX,
            "athlete_id",
            unique=True,
            sqlite_where=_RECORDING,
            postgresql_where=_RECORDING,
        ),
        {"sqlite_autoincrement": True},
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    # The gateway's key of the set (sensor_gateway.events.SetInfo.set_key).
    set_key: Mapped[str] = mapped_column(String(64), unique=True)
    session_id: Mapped[int] = mapped_column(ForeignKey("sessions.id"), index=True)
    athlete_id: Mapped[int] = mapped_column(ForeignKey("athletes.id"), index=True)
    variant: Mapped[str] = mapped_column(String(32))
    load_kg: Mapped[float | None] = mapped_column(Float, nullable=True)
    notes: Mapped[str] = mapped_column(Text, default="")
    status: Mapped[str] = mapped_column(String(16), index=True)
    gateway_id: Mapped[str] = mapped_column(String(200), default="")
    started_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utc_now)
    ended_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    # Seconds of raw data safely stored (set-relative end of the last committed chunk).
    recorded_s: Mapped[float] = mapped_column(Float, default=0.0)
    reps_source: Mapped[str] = mapped_column(String(16), default="live")
    # JSON list of {"code", "message", "sensor", "rep"} quality findings of the last analysis.
    findings_json: Mapped[str] = mapped_column(Text, default="[]")
    # A set may be a step of an assessment (fusion.assessment.STEP_KINDS).
    assessment_id: Mapped[int | None] = mapped_column(
        ForeignKey("assessments.id", name="fk_sets_assessment_id"), nullable=True, index=True
    )
    step_kind: Mapped[str | None] = mapped_column(String(16), nullable=True)
    # Started with the override although these placements were not streaming ("thigh",
    # "sacrum,thigh"); None: both streamed when it started.
    missing_sensors: Mapped[str | None] = mapped_column(String(32), nullable=True)


class Assessment(Base):
    """A test battery of one athlete: its steps are sets with a step kind."""

    __tablename__ = "assessments"
    __table_args__ = ({"sqlite_autoincrement": True},)  # never reuse an id (migration 0018)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    athlete_id: Mapped[int] = mapped_column(ForeignKey("athletes.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utc_now)
    notes: Mapped[str] = mapped_column(Text, default="")
    # The sensor-to-segment calibration every step uses (AssessmentCalibration.as_dict(), from
    # the baseline), and the last report computed (JSON), shown as history later.
    calibration_json: Mapped[str | None] = mapped_column(Text, nullable=True)
    report_json: Mapped[str | None] = mapped_column(Text, nullable=True)
    # The steps the coach skipped on purpose, comma-separated in the battery's order
    # ("goblet,supported"; "" none): apart from steps merely not recorded. Recording a step
    # takes it off.
    skipped_steps: Mapped[str] = mapped_column(String(128), default="", server_default="")


class Rep(Base):
    """One rep: every `winkwatch analyze` column, plus ids and when it happened."""

    __tablename__ = "reps"
    __table_args__ = (
        Index("ix_reps_athlete_performed", "athlete_id", "performed_at"),
        # Rep lists are one athlete's reps newest first (ORDER BY id DESC): walking this
        # index backwards needs no sort, however many reps the athlete has.
        Index("ix_reps_athlete_id", "athlete_id", "id"),
        # An athlete's flagged reps of one variant, newest first: without it PostgreSQL walks
        # the primary key and filters ~23,000 rows a page at 1M reps (migration 0015).
        Index("ix_reps_athlete_variant_flag_id", "athlete_id", "variant", "butt_wink", "id"),
        Index("ix_reps_set_rep", "set_id", "rep"),
        {"sqlite_autoincrement": True},
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    set_id: Mapped[int] = mapped_column(ForeignKey("sets.id", ondelete="CASCADE"))
    # Copied from the set so the rep list filters on one table (kept in sync on set edits).
    athlete_id: Mapped[int] = mapped_column(ForeignKey("athletes.id"))
    variant: Mapped[str] = mapped_column(String(32), index=True)
    performed_at: Mapped[datetime] = mapped_column(UtcDateTime)
    rep: Mapped[int] = mapped_column(Integer)
    start_s: Mapped[float] = mapped_column(Float)
    bottom_s: Mapped[float] = mapped_column(Float)
    end_s: Mapped[float] = mapped_column(Float)
    depth_deg: Mapped[float] = mapped_column(Float)
    hip_flexion_max_deg: Mapped[float] = mapped_column(Float)
    pelvic_tilt_peak_deg: Mapped[float] = mapped_column(Float)
    pelvic_tilt_bottom_deg: Mapped[float] = mapped_column(Float)
    wink_deg: Mapped[float] = mapped_column(Float)
    wink_onset_depth_deg: Mapped[float | None] = mapped_column(Float, nullable=True)
    butt_wink: Mapped[bool] = mapped_column(Boolean, index=True)
    load_kg: Mapped[float | None] = mapped_column(Float, nullable=True)
    loaded_wink: Mapped[bool] = mapped_column(Boolean)
    wink_onset_s: Mapped[float | None] = mapped_column(Float, nullable=True)
    descent_s: Mapped[float] = mapped_column(Float)
    ascent_s: Mapped[float] = mapped_column(Float)
    quality: Mapped[str] = mapped_column(Text, default="")  # codes joined by ";"
    # Threshold the flag was decided against, its source and grade (fusion.baseline).
    wink_threshold_deg: Mapped[float] = mapped_column(Float, default=5.0)
    threshold_source: Mapped[str] = mapped_column(String(16), default="default")
    baseline_reps: Mapped[int] = mapped_column(Integer, default=0)
    wink_grade: Mapped[str] = mapped_column(String(16), default="none")
    # The u the grade was taken with (RepMetrics); NULL where an old rep's is not known (0016).
    wink_uncertainty_deg: Mapped[float | None] = mapped_column(Float, nullable=True)
    rhythm_lag_deg: Mapped[float | None] = mapped_column(Float, nullable=True)


class Calibration(Base):
    __tablename__ = "calibrations"
    __table_args__ = ({"sqlite_autoincrement": True},)  # never reuse an id (migration 0018)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    athlete_id: Mapped[int] = mapped_column(ForeignKey("athletes.id"), index=True)
    set_id: Mapped[int | None] = mapped_column(
        ForeignKey("sets.id", ondelete="CASCADE"), nullable=True, index=True
    )
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utc_now)
    ok: Mapped[bool] = mapped_column(Boolean)
    message: Mapped[str] = mapped_column(Text, default="")


class RawChunk(Base):
    """A compressed block of one sensor's raw samples of one set."""

    __tablename__ = "raw_chunks"
    __table_args__ = (
        Index("ix_raw_chunks_set_placement", "set_id", "placement", "chunk_index"),
        {"sqlite_autoincrement": True},
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    set_id: Mapped[int] = mapped_column(ForeignKey("sets.id", ondelete="CASCADE"))
    placement: Mapped[str] = mapped_column(String(16))
    address: Mapped[str] = mapped_column(String(64), default="")
    chunk_index: Mapped[int] = mapped_column(Integer)
    n_samples: Mapped[int] = mapped_column(Integer)
    t_first_s: Mapped[float] = mapped_column(Float)
    t_last_s: Mapped[float] = mapped_column(Float)
    codec: Mapped[str] = mapped_column(String(32))
    payload: Mapped[bytes] = mapped_column(LargeBinary)


class SetAngleSeries(Base):
    """A set's angles through time as the offline analysis of its raw samples gives them
    (`api.dashboard.series`), kept so that a rep's detail does not analyse the set again.

    Derived data: valid while the set holds `raw_samples` samples (more may arrive later, e.g.
    from an edge catching up); never replicated.
    """

    __tablename__ = "set_angle_series"

    set_id: Mapped[int] = mapped_column(
        ForeignKey("sets.id", ondelete="CASCADE"), primary_key=True, autoincrement=False
    )
    raw_samples: Mapped[int] = mapped_column(Integer)
    payload: Mapped[bytes] = mapped_column(LargeBinary)  # numpy .npz (see api.dashboard.series)
    findings_json: Mapped[str] = mapped_column(Text, default="[]")
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utc_now)


class ApiToken(Base):
    """A bearer token; only the SHA-256 of the secret is stored."""

    __tablename__ = "api_tokens"
    __table_args__ = ({"sqlite_autoincrement": True},)  # never reuse an id (migration 0018)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(16))
    secret_sha256: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utc_now)
    revoked_at: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)


# -- federation (api.federation): edge outbox and central inbox ----------------------------------


class FederationChange(Base):
    """Edge outbox: one row per change of a replicated row, written by SQLite triggers in the
    same transaction as the change itself, deleted once the central server acknowledged it."""

    __tablename__ = "federation_changes"
    __table_args__ = ({"sqlite_autoincrement": True},)  # never reuse a sequence number

    seq: Mapped[int] = mapped_column(Integer, primary_key=True)
    table_name: Mapped[str] = mapped_column(String(64))
    row_id: Mapped[int] = mapped_column(Integer)
    op: Mapped[str] = mapped_column(String(8))  # insert / update / delete


class FederationMeta(Base):
    """Edge: small key/value facts, e.g. this database's origin id and the acknowledged seq."""

    __tablename__ = "federation_meta"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(Text)


class FederationInbox(Base):
    """Central: the last change applied from each edge database (`origin`), for exactly-once."""

    __tablename__ = "federation_inbox"

    origin: Mapped[str] = mapped_column(String(32), primary_key=True)
    gateway_id: Mapped[str] = mapped_column(String(200), index=True)
    last_seq: Mapped[int] = mapped_column(Integer, default=0)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utc_now)


class FederationRow(Base):
    """Central: which central row an edge row became (ids are only unique per edge database)."""

    __tablename__ = "federation_rows"

    origin: Mapped[str] = mapped_column(String(32), primary_key=True)
    table_name: Mapped[str] = mapped_column(String(64), primary_key=True)
    local_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    central_id: Mapped[int] = mapped_column(Integer)


class AthleteTombstone(Base):
    """Central: an athlete deleted on the central server, by uid (a random id, no personal
    data), kept for good: a late change from an edge never brings her back
    (api.federation.tombstones)."""

    __tablename__ = "federation_tombstones"

    uid: Mapped[str] = mapped_column(String(32), primary_key=True)
    delete_sets: Mapped[bool] = mapped_column(Boolean)
    deleted_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utc_now)


class TombstoneCopy(Base):
    """Central: an edge copy of a deleted athlete (that edge database's local id) that has not
    been deleted there yet; removed when the edge's own delete of it is stored."""

    __tablename__ = "federation_tombstone_copies"

    origin: Mapped[str] = mapped_column(String(32), primary_key=True)
    local_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    uid: Mapped[str] = mapped_column(
        ForeignKey("federation_tombstones.uid", ondelete="CASCADE"), index=True
    )
    gateway_id: Mapped[str] = mapped_column(String(200))


class GatewayStatus(Base):
    """Central: each gateway's last retained status (`up/status`, last will when it vanished)."""

    __tablename__ = "federation_gateways"

    gateway_id: Mapped[str] = mapped_column(String(200), primary_key=True)
    online: Mapped[bool] = mapped_column(Boolean)
    origin: Mapped[str | None] = mapped_column(String(32), nullable=True)
    since_utc: Mapped[datetime | None] = mapped_column(UtcDateTime, nullable=True)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utc_now)


class SensorStatus(Base):
    """Central: the link status of every sensor of a gateway, as that gateway last reported it
    (`up/sensors`, retained): link state, battery, signal, gaps, clock drift."""

    __tablename__ = "federation_sensor_status"

    gateway_id: Mapped[str] = mapped_column(String(200), primary_key=True)
    address: Mapped[str] = mapped_column(String(64), primary_key=True)
    kind: Mapped[str] = mapped_column(String(32))
    athlete_uid: Mapped[str | None] = mapped_column(String(32), nullable=True)
    placement: Mapped[str | None] = mapped_column(String(16), nullable=True)
    state: Mapped[str] = mapped_column(String(16))
    battery_pct: Mapped[int | None] = mapped_column(Integer, nullable=True)
    rssi_dbm: Mapped[int | None] = mapped_column(Integer, nullable=True)
    samples: Mapped[int] = mapped_column(Integer, default=0)
    gaps: Mapped[int] = mapped_column(Integer, default=0)
    samples_missing: Mapped[int] = mapped_column(Integer, default=0)
    drift_ppm: Mapped[float] = mapped_column(Float, default=0.0)
    last_received_s: Mapped[float] = mapped_column(Float, default=0.0)
    reported_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utc_now)


class AthleteExplanation(Base):
    """An admin's change to one explanation (api.explanations) for one athlete: their own
    text (None: the default text) and whether it is shown at all."""

    __tablename__ = "athlete_explanations"

    athlete_id: Mapped[int] = mapped_column(
        ForeignKey("athletes.id", ondelete="CASCADE"), primary_key=True
    )
    key: Mapped[str] = mapped_column(String(32), primary_key=True)
    text: Mapped[str | None] = mapped_column(Text, nullable=True)
    shown: Mapped[bool] = mapped_column(Boolean, default=True)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utc_now, onupdate=utc_now)
