"""Initial schema: athletes, sensors, sessions, sets, reps, calibrations, raw chunks, tokens.

Revision ID: 0001
Revises: (none)
Create Date: 2026-11-21 07:47:55.715978
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "api_tokens",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("secret_sha256", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("secret_sha256"),
    )
    op.create_table(
        "athletes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("notes", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_table(
        "sensors",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("address", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("placement", sa.String(length=16), nullable=True),
        sa.Column("athlete_id", sa.Integer(), nullable=True),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["athlete_id"], ["athletes.id"], ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("address"),
    )
    with op.batch_alter_table("sensors", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_sensors_athlete_id"), ["athlete_id"], unique=False)

    op.create_table(
        "sessions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("athlete_id", sa.Integer(), nullable=False),
        sa.Column("gateway_id", sa.String(length=200), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("notes", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["athlete_id"],
            ["athletes.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("sessions", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_sessions_athlete_id"), ["athlete_id"], unique=False)

    op.create_table(
        "sets",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("set_key", sa.String(length=64), nullable=False),
        sa.Column("session_id", sa.Integer(), nullable=False),
        sa.Column("athlete_id", sa.Integer(), nullable=False),
        sa.Column("variant", sa.String(length=32), nullable=False),
        sa.Column("load_kg", sa.Float(), nullable=True),
        sa.Column("notes", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("gateway_id", sa.String(length=200), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("recorded_s", sa.Float(), nullable=False),
        sa.Column("reps_source", sa.String(length=16), nullable=False),
        sa.Column("findings_json", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["athlete_id"],
            ["athletes.id"],
        ),
        sa.ForeignKeyConstraint(
            ["session_id"],
            ["sessions.id"],
        ),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("set_key"),
    )
    with op.batch_alter_table("sets", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_sets_athlete_id"), ["athlete_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_sets_session_id"), ["session_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_sets_status"), ["status"], unique=False)

    op.create_table(
        "calibrations",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("athlete_id", sa.Integer(), nullable=False),
        sa.Column("set_id", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ok", sa.Boolean(), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["athlete_id"],
            ["athletes.id"],
        ),
        sa.ForeignKeyConstraint(["set_id"], ["sets.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("calibrations", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_calibrations_athlete_id"), ["athlete_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_calibrations_set_id"), ["set_id"], unique=False)

    op.create_table(
        "raw_chunks",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("set_id", sa.Integer(), nullable=False),
        sa.Column("placement", sa.String(length=16), nullable=False),
        sa.Column("address", sa.String(length=64), nullable=False),
        sa.Column("chunk_index", sa.Integer(), nullable=False),
        sa.Column("n_samples", sa.Integer(), nullable=False),
        sa.Column("t_first_s", sa.Float(), nullable=False),
        sa.Column("t_last_s", sa.Float(), nullable=False),
        sa.Column("codec", sa.String(length=32), nullable=False),
        sa.Column("payload", sa.LargeBinary(), nullable=False),
        sa.ForeignKeyConstraint(["set_id"], ["sets.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("raw_chunks", schema=None) as batch_op:
        batch_op.create_index(
            "ix_raw_chunks_set_placement", ["set_id", "placement", "chunk_index"], unique=False
        )

    op.create_table(
        "reps",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("set_id", sa.Integer(), nullable=False),
        sa.Column("athlete_id", sa.Integer(), nullable=False),
        sa.Column("variant", sa.String(length=32), nullable=False),
        sa.Column("performed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("rep", sa.Integer(), nullable=False),
        sa.Column("start_s", sa.Float(), nullable=False),
        sa.Column("bottom_s", sa.Float(), nullable=False),
        sa.Column("end_s", sa.Float(), nullable=False),
        sa.Column("depth_deg", sa.Float(), nullable=False),
        sa.Column("hip_flexion_max_deg", sa.Float(), nullable=False),
        sa.Column("pelvic_tilt_peak_deg", sa.Float(), nullable=False),
        sa.Column("pelvic_tilt_bottom_deg", sa.Float(), nullable=False),
        sa.Column("wink_deg", sa.Float(), nullable=False),
        sa.Column("wink_onset_depth_deg", sa.Float(), nullable=True),
        sa.Column("butt_wink", sa.Boolean(), nullable=False),
        sa.Column("load_kg", sa.Float(), nullable=True),
        sa.Column("loaded_wink", sa.Boolean(), nullable=False),
        sa.Column("wink_onset_s", sa.Float(), nullable=True),
        sa.Column("descent_s", sa.Float(), nullable=False),
        sa.Column("ascent_s", sa.Float(), nullable=False),
        sa.Column("quality", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["athlete_id"],
            ["athletes.id"],
        ),
        sa.ForeignKeyConstraint(["set_id"], ["sets.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("reps", schema=None) as batch_op:
        batch_op.create_index(
            "ix_reps_athlete_performed", ["athlete_id", "performed_at"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_reps_butt_wink"), ["butt_wink"], unique=False)
        batch_op.create_index("ix_reps_set_rep", ["set_id", "rep"], unique=False)
        batch_op.create_index(batch_op.f("ix_reps_variant"), ["variant"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("reps", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_reps_variant"))
        batch_op.drop_index("ix_reps_set_rep")
        batch_op.drop_index(batch_op.f("ix_reps_butt_wink"))
        batch_op.drop_index("ix_reps_athlete_performed")

    op.drop_table("reps")
    with op.batch_alter_table("raw_chunks", schema=None) as batch_op:
        batch_op.drop_index("ix_raw_chunks_set_placement")

    op.drop_table("raw_chunks")
    with op.batch_alter_table("calibrations", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_calibrations_set_id"))
        batch_op.drop_index(batch_op.f("ix_calibrations_athlete_id"))

    op.drop_table("calibrations")
    with op.batch_alter_table("sets", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_sets_status"))
        batch_op.drop_index(batch_op.f("ix_sets_session_id"))
        batch_op.drop_index(batch_op.f("ix_sets_athlete_id"))

    op.drop_table("sets")
    with op.batch_alter_table("sessions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_sessions_athlete_id"))

    op.drop_table("sessions")
    with op.batch_alter_table("sensors", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_sensors_athlete_id"))

    op.drop_table("sensors")
    op.drop_table("athletes")
    op.drop_table("api_tokens")
