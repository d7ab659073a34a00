"""Federation: tombstones of athletes deleted on the central server (by uid) and the edge
copies of them not yet deleted there.

Revision ID: 0017
Revises: 0016
"""

import sqlalchemy as sa
from alembic import op

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "federation_tombstones",
        sa.Column("uid", sa.String(length=32), nullable=False),
        sa.Column("delete_sets", sa.Boolean(), nullable=False),
        sa.Column("deleted_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("uid"),
    )
    op.create_table(
        "federation_tombstone_copies",
        sa.Column("origin", sa.String(length=32), nullable=False),
        sa.Column("local_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("uid", sa.String(length=32), nullable=False),
        sa.Column("gateway_id", sa.String(length=200), nullable=False),
        sa.ForeignKeyConstraint(["uid"], ["federation_tombstones.uid"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("origin", "local_id"),
    )
    with op.batch_alter_table("federation_tombstone_copies", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_federation_tombstone_copies_uid"), ["uid"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("federation_tombstone_copies", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_federation_tombstone_copies_uid"))
    op.drop_table("federation_tombstone_copies")
    op.drop_table("federation_tombstones")
