"""Assessments: a test battery per athlete; sets as its steps; athlete femur/shank lengths.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-01 10:40:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "assessments",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("athlete_id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("notes", sa.Text(), nullable=False),
        sa.Column("calibration_json", sa.Text(), nullable=True),
        sa.Column("report_json", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(["athlete_id"], ["athletes.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("assessments", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_assessments_athlete_id"), ["athlete_id"], unique=False)
    with op.batch_alter_table("athletes", schema=None) as batch_op:
        batch_op.add_column(sa.Column("femur_cm", sa.Float(), nullable=True))
        batch_op.add_column(sa.Column("shank_cm", sa.Float(), nullable=True))
    with op.batch_alter_table("sets", schema=None) as batch_op:
        batch_op.add_column(sa.Column("assessment_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("step_kind", sa.String(length=16), nullable=True))
        batch_op.create_index(batch_op.f("ix_sets_assessment_id"), ["assessment_id"], unique=False)
        batch_op.create_foreign_key(
            "fk_sets_assessment_id", "assessments", ["assessment_id"], ["id"]
        )


def downgrade() -> None:
    with op.batch_alter_table("sets", schema=None) as batch_op:
        batch_op.drop_constraint("fk_sets_assessment_id", type_="foreignkey")
        batch_op.drop_index(batch_op.f("ix_sets_assessment_id"))
        batch_op.drop_column("step_kind")
        batch_op.drop_column("assessment_id")
    with op.batch_alter_table("athletes", schema=None) as batch_op:
        batch_op.drop_column("shank_cm")
        batch_op.drop_column("femur_cm")
    with op.batch_alter_table("assessments", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_assessments_athlete_id"))
    op.drop_table("assessments")
