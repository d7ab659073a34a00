"""An athlete records on one platform at a time: at most one `recording` set per athlete.

Sets that an older version left recording side by side (two gateways on one athlete) are
closed first: all but the newest become `interrupted`.

Revision ID: 0004
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

INDEX = "uq_sets_one_recording_per_athlete"


def upgrade() -> None:
    sets = sa.table(
        "sets",
        sa.column("id", sa.Integer),
        sa.column("athlete_id", sa.Integer),
        sa.column("status", sa.String),
    )
    newer = sets.alias("newer")
    op.execute(
        sets.update()
        .where(
            sets.c.status == "recording",
            sa.exists().where(
                newer.c.athlete_id == sets.c.athlete_id,
                newer.c.status == "recording",
                newer.c.id > sets.c.id,
            ),
        )
        .values(status="interrupted")
    )
    with op.batch_alter_table("sets", schema=None) as batch_op:
        batch_op.create_index(
            INDEX,
            ["athlete_id"],
            unique=True,
            sqlite_where=sa.text("status = 'recording'"),
            postgresql_where=sa.text("status = 'recording'"),
        )


def downgrade() -> None:
    with op.batch_alter_table("sets", schema=None) as batch_op:
        batch_op.drop_index(INDEX)
