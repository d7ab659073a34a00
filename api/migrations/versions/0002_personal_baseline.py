"""Personal baselines: the athlete's noise floor; per rep the threshold used, its source,
the grade and the lumbopelvic-rhythm lag.

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("athletes") as batch:
        batch.add_column(sa.Column("baseline_centre_deg", sa.Float(), nullable=True))
        batch.add_column(sa.Column("baseline_spread_deg", sa.Float(), nullable=True))
        batch.add_column(sa.Column("baseline_reps", sa.Integer(), nullable=True))
    with op.batch_alter_table("reps") as batch:
        batch.add_column(
            sa.Column("wink_threshold_deg", sa.Float(), nullable=False, server_default="5.0")
        )
        batch.add_column(
            sa.Column(
                "threshold_source", sa.String(length=16), nullable=False, server_default="default"
            )
        )
        batch.add_column(
            sa.Column("baseline_reps", sa.Integer(), nullable=False, server_default="0")
        )
        batch.add_column(
            sa.Column("wink_grade", sa.String(length=16), nullable=False, server_default="none")
        )
        batch.add_column(sa.Column("rhythm_lag_deg", sa.Float(), nullable=True))
    # Reps stored before: graded against the default 5-deg threshold and its 0.5-deg band.
    op.execute(
        "UPDATE reps SET wink_grade = CASE WHEN wink_deg >= 5.5 THEN 'clear' "
        "WHEN wink_deg > 4.5 THEN 'borderline' ELSE 'none' END"
    )


def downgrade() -> None:
    with op.batch_alter_table("reps") as batch:
        for column in (
            "rhythm_lag_deg",
            "wink_grade",
            "baseline_reps",
            "threshold_source",
            "wink_threshold_deg",
        ):
            batch.drop_column(column)
    with op.batch_alter_table("athletes") as batch:
        for column in ("baseline_reps", "baseline_spread_deg", "baseline_centre_deg"):
            batch.drop_column(column)
