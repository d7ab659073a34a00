"""Reps: the measurement uncertainty u their wink grade was taken with (wink_uncertainty_deg).

Reps stored before get u where the stored columns pin it down and their stored grade agrees
with it (the grade's band changed twice before this column existed: 0.5 deg, then the spread
capped at 0.75 deg, then u), else NULL:
- no usable baseline (fewer than 5 baseline reps): u = 1 deg;
- a personal threshold the athlete's current baseline reproduces (same rep count, threshold
  within 1e-9 deg): u = hypot(1.2 x its spread, 0.32 deg);
- anything else (a default threshold above a usable baseline, a baseline since replaced):
  NULL, the spread it was graded with is not stored on the rep.

The rule's numbers are written out here, not imported from fusion.baseline: a migration does
what it did when it was written, whatever the rule becomes.

Revision ID: 0016
Revises: 0015
"""

import math

import sqlalchemy as sa
from alembic import op

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None

MIN_BASELINE_REPS = 5
DEFAULT_UNCERTAINTY_DEG = 1.0
SMALL_SAMPLE_SPREAD_FACTOR = 1.2
WINK_MEASUREMENT_SD_DEG = 0.32
K_SPREAD = 1.5
SPREAD_FLOOR_DEG = 2.0
SAME_THRESHOLD_DEG = 1e-9

# The grade a rep would have with u = :u (fusion.baseline.grade_wink): u is only written
# where the stored grade is this one.
_GRADE_AGREES = (
    "wink_grade = CASE WHEN wink_deg >= wink_threshold_deg + :u THEN 'clear' "
    "WHEN wink_deg > wink_threshold_deg - :u THEN 'borderline' ELSE 'none' END"
)


def upgrade() -> None:
    with op.batch_alter_table("reps", schema=None) as batch_op:
        batch_op.add_column(sa.Column("wink_uncertainty_deg", sa.Float(), nullable=True))
    connection = op.get_bind()
    connection.execute(
        sa.text(
            f"UPDATE reps SET wink_uncertainty_deg = :u "
            f"WHERE baseline_reps < :min_reps AND {_GRADE_AGREES}"
        ),
        {"u": DEFAULT_UNCERTAINTY_DEG, "min_reps": MIN_BASELINE_REPS},
    )
    baselines = connection.execute(
        sa.text(
            "SELECT id, baseline_centre_deg, baseline_spread_deg, baseline_reps FROM athletes "
            "WHERE baseline_reps >= :min_reps AND baseline_centre_deg IS NOT NULL "
            "AND baseline_spread_deg IS NOT NULL"
        ),
        {"min_reps": MIN_BASELINE_REPS},
    ).all()
    for athlete_id, centre_deg, spread_deg, reps in baselines:
        threshold_deg = centre_deg + K_SPREAD * math.hypot(spread_deg, SPREAD_FLOOR_DEG)
        u_deg = math.hypot(SMALL_SAMPLE_SPREAD_FACTOR * spread_deg, WINK_MEASUREMENT_SD_DEG)
        connection.execute(
            sa.text(
                f"UPDATE reps SET wink_uncertainty_deg = :u "
                f"WHERE athlete_id = :athlete AND threshold_source = 'personal' "
                f"AND baseline_reps = :reps AND wink_threshold_deg > :low "
                f"AND wink_threshold_deg < :high AND {_GRADE_AGREES}"
            ),
            {
                "u": u_deg,
                "athlete": athlete_id,
                "reps": reps,
                "low": threshold_deg - SAME_THRESHOLD_DEG,
                "high": threshold_deg + SAME_THRESHOLD_DEG,
            },
        )


def downgrade() -> None:
    with op.batch_alter_table("reps", schema=None) as batch_op:
        batch_op.drop_column("wink_uncertainty_deg")
