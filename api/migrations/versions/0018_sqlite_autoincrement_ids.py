"""SQLite: ids are never reused (AUTOINCREMENT on every user-visible integer primary key).

Without AUTOINCREMENT SQLite gives a new row max(rowid) + 1, so deleting the newest athlete
(set, rep, ...) handed its id to the next one: bookmarks, exports, phone links, API clients
and an edge's federation references to the deleted row then pointed at someone else's data.
PostgreSQL sequences never go back: nothing to do there.

SQLite cannot add AUTOINCREMENT to a table: each table is rebuilt (batch recreate: a new
table, every row copied by INSERT ... SELECT, the old one dropped, the new one renamed),
keeping its columns, constraints and indexes. The copy seeds `sqlite_sequence` with the
table's largest id, so new ids continue above every id in use now. Foreign keys are off
for the whole upgrade (`api.storage.db.upgrade_schema`: dropping a parent table with them on
deletes, or nulls, its children's references) and checked before it commits. Triggers on a
table (the edge outbox's, `api.federation.outbox`) go with the old table: they are created
again, as they were, on the new one.

Revision ID: 0018
Revises: 0017
"""

import sqlalchemy as sa
from alembic import op

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None

# Every table with an integer surrogate key (federation_changes has had AUTOINCREMENT since
# 0005). Not: set_angle_series (keyed by its set), athlete_explanations and the federation
# id maps (composite keys), federation meta/inbox/tombstones/status (text keys).
TABLES = (
    "athletes",
    "sensors",
    "sessions",
    "assessments",
    "sets",
    "reps",
    "calibrations",
    "raw_chunks",
    "api_tokens",
)


def upgrade() -> None:
    connection = op.get_bind()
    if connection.dialect.name != "sqlite":
        return
    for table in TABLES:
        _rebuild(connection, table, autoincrement=True)


def downgrade() -> None:
    connection = op.get_bind()
    if connection.dialect.name != "sqlite":
        return
    for table in TABLES:
        _rebuild(connection, table, autoincrement=False)
        connection.execute(sa.text("DELETE FROM sqlite_sequence WHERE name = :t"), {"t": table})


def _rebuild(connection: sa.Connection, table: str, *, autoincrement: bool) -> None:
    """Rebuild `table` with or without AUTOINCREMENT: rows, columns, constraints and indexes
    kept (batch recreate copies them), its triggers created again as they were."""
    if connection.exec_driver_sql("PRAGMA foreign_keys").scalar():
        raise RuntimeError(
            "migration 0018 rebuilds tables: it must run with SQLite foreign keys off "
            "(api.storage.db.upgrade_schema does so), else dropping a parent table would "
            "delete or null its children's references"
        )
    triggers = list(
        connection.execute(
            sa.text("SELECT sql FROM sqlite_master WHERE type = 'trigger' AND tbl_name = :t"),
            {"t": table},
        ).scalars()
    )
    with op.batch_alter_table(
        table, recreate="always", table_kwargs={"sqlite_autoincrement": autoincrement}
    ):
        pass
    for sql in triggers:
        connection.exec_driver_sql(sql)
