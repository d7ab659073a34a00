"""Sensors: which gateway streams each one (the database is the one source of truth of the
sensor assignments; gateway.json is imported once and no longer written).

Revision ID: 0009
Revises: 0008
"""

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("sensors") as batch:
        batch.add_column(sa.Column("gateway_id", sa.String(200), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("sensors") as batch:
        batch.drop_column("gateway_id")
