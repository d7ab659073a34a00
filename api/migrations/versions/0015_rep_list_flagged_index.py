"""Rep lists: index (athlete_id, variant, butt_wink, id) for an athlete's flagged reps of one
variant, newest first, without filtering the athlete's other reps.

Revision ID: 0015
Revises: 0014
"""

from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("reps", schema=None) as batch_op:
        batch_op.create_index(
            "ix_reps_athlete_variant_flag_id",
            ["athlete_id", "variant", "butt_wink", "id"],
            unique=False,
        )


def downgrade() -> None:
    with op.batch_alter_table("reps", schema=None) as batch_op:
        batch_op.drop_index("ix_reps_athlete_variant_flag_id")
