"""Alembic environment: runs on the connection `api.storage.db.upgrade_schema` passes in.

For `alembic` on the command line, set WINKWATCH_DATABASE_URL (and optionally
WINKWATCH_DATABASE_SCHEMA) and run `alembic -c api/migrations/alembic.ini upgrade head`.
"""

from __future__ import annotations

from alembic import context

from api.storage.models import Base

target_metadata = Base.metadata


def run_migrations_online() -> None:
    connection = context.config.attributes.get("connection")
    if connection is None:
        from api.settings import Settings
        from api.storage.db import create_db_engine, migration_transaction

        settings = Settings()
        engine = create_db_engine(settings.database_url, settings.database_schema)
        with migration_transaction(engine) as connection:  # SQLite: foreign keys off
            _run(connection)
        engine.dispose()
        return
    _run(connection)


def _run(connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


run_migrations_online()
