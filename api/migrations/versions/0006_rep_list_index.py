"""Rep lists: index (athlete_id, id) so an athlete's reps come newest first without a sort.

Revision ID: 0006
Revises: 0005
"""

from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("reps", schema=None) as batch_op:
        batch_op.create_index("ix_reps_athlete_id", ["athlete_id", "id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("reps", schema=None) as batch_op:
        batch_op.drop_index("ix_reps_athlete_id")
