"""Depth guard per athlete: on/off and the margin above the prescribed ceiling.

Revision ID: 0012
Revises: 0011
"""

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("athletes") as batch_op:
        batch_op.add_column(
            sa.Column("depth_guard_on", sa.Boolean(), nullable=False, server_default=sa.true())
        )
        batch_op.add_column(sa.Column("depth_guard_margin_deg", sa.Float(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("athletes") as batch_op:
        batch_op.drop_column("depth_guard_margin_deg")
        batch_op.drop_column("depth_guard_on")
