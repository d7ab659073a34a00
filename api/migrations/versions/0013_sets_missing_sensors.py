"""The sensors a set was started without (the ready check's override).

Revision ID: 0013
Revises: 0012
"""

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("sets") as batch_op:
        batch_op.add_column(sa.Column("missing_sensors", sa.String(32), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("sets") as batch_op:
        batch_op.drop_column("missing_sensors")
