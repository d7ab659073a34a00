"""Federation: athlete uid across gateways, edge outbox (changes, meta), central inbox and id map.

Revision ID: 0005
Revises: 0004
"""

import uuid

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("athletes", schema=None) as batch_op:
        batch_op.add_column(sa.Column("uid", sa.String(length=32), nullable=True))
    athletes = sa.table("athletes", sa.column("id", sa.Integer), sa.column("uid", sa.String))
    connection = op.get_bind()
    for (athlete_id,) in connection.execute(sa.select(athletes.c.id)).all():
        connection.execute(
            athletes.update().where(athletes.c.id == athlete_id).values(uid=uuid.uuid4().hex)
        )
    with op.batch_alter_table("athletes", schema=None) as batch_op:
        batch_op.alter_column("uid", existing_type=sa.String(length=32), nullable=False)
        batch_op.create_unique_constraint("uq_athletes_uid", ["uid"])

    op.create_table(
        "federation_changes",
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("table_name", sa.String(length=64), nullable=False),
        sa.Column("row_id", sa.Integer(), nullable=False),
        sa.Column("op", sa.String(length=8), nullable=False),
        sa.PrimaryKeyConstraint("seq"),
        sqlite_autoincrement=True,
    )
    op.create_table(
        "federation_meta",
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("value", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("key"),
    )
    op.create_table(
        "federation_inbox",
        sa.Column("origin", sa.String(length=32), nullable=False),
        sa.Column("gateway_id", sa.String(length=200), nullable=False),
        sa.Column("last_seq", sa.Integer(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("origin"),
    )
    with op.batch_alter_table("federation_inbox", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_federation_inbox_gateway_id"), ["gateway_id"], unique=False
        )
    op.create_table(
        "federation_rows",
        sa.Column("origin", sa.String(length=32), nullable=False),
        sa.Column("table_name", sa.String(length=64), nullable=False),
        sa.Column("local_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("central_id", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("origin", "table_name", "local_id"),
    )


def downgrade() -> None:
    op.drop_table("federation_rows")
    with op.batch_alter_table("federation_inbox", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_federation_inbox_gateway_id"))
    op.drop_table("federation_inbox")
    op.drop_table("federation_meta")
    op.drop_table("federation_changes")
    with op.batch_alter_table("athletes", schema=None) as batch_op:
        batch_op.drop_constraint("uq_athletes_uid", type_="unique")
        batch_op.drop_column("uid")
