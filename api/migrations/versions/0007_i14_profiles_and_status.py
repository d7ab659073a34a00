"""Federation: the athlete's prescription (follows them to other platforms), gateway and
sensor status stored on the central server.

Revision ID: 0007
Revises: 0006
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("athletes", schema=None) as batch_op:
        batch_op.add_column(sa.Column("prescription_json", sa.Text(), nullable=True))
    op.create_table(
        "federation_gateways",
        sa.Column("gateway_id", sa.String(length=200), nullable=False),
        sa.Column("online", sa.Boolean(), nullable=False),
        sa.Column("origin", sa.String(length=32), nullable=True),
        sa.Column("since_utc", sa.DateTime(timezone=True), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("gateway_id"),
    )
    op.create_table(
        "federation_sensor_status",
        sa.Column("gateway_id", sa.String(length=200), nullable=False),
        sa.Column("address", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("athlete_uid", sa.String(length=32), nullable=True),
        sa.Column("placement", sa.String(length=16), nullable=True),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("battery_pct", sa.Integer(), nullable=True),
        sa.Column("rssi_dbm", sa.Integer(), nullable=True),
        sa.Column("samples", sa.Integer(), nullable=False),
        sa.Column("gaps", sa.Integer(), nullable=False),
        sa.Column("samples_missing", sa.Integer(), nullable=False),
        sa.Column("drift_ppm", sa.Float(), nullable=False),
        sa.Column("last_received_s", sa.Float(), nullable=False),
        sa.Column("reported_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("gateway_id", "address"),
    )


def downgrade() -> None:
    op.drop_table("federation_sensor_status")
    op.drop_table("federation_gateways")
    with op.batch_alter_table("athletes", schema=None) as batch_op:
        batch_op.drop_column("prescription_json")
