"""A database this WinkWatch cannot upgrade is refused before anything in it is changed:
one written by a newer WinkWatch (a schema revision this one does not know), and another
application's database (tables, no WinkWatch schema). SQLite and PostgreSQL."""

from __future__ import annotations

import pytest
from sqlalchemy import create_engine, inspect, text

from api.errors import StorageError
from api.storage.db import open_database
from tests.api.conftest import DbTarget


def _raw_engine(db_target: DbTarget):
    """An engine on the target's database with its schema created, migrations not run."""
    if db_target.schema is None:
        return create_engine(db_target.url)
    engine = create_engine(
        db_target.url, connect_args={"options": f"-csearch_path={db_target.schema}"}
    )
    with engine.begin() as connection:
        connection.execute(text(f'CREATE SCHEMA IF NOT EXISTS "{db_target.schema}"'))
    return engine


def _tables_and_rows(engine) -> dict[str, list]:
    with engine.connect() as connection:
        return {
            name: sorted(connection.execute(text(f'SELECT * FROM "{name}"')).all())
            for name in inspect(connection).get_table_names()
        }


def test_a_database_of_a_newer_winkwatch_is_refused_unchanged(db_target: DbTarget) -> None:
    """Going back to an older WinkWatch: its database says so, where Alembic's CommandError
    "Can't locate revision identified by '0099'" ended `winkwatch serve` with a traceback."""
    open_database(db_target.url, db_target.schema).dispose()
    engine = _raw_engine(db_target)
    with engine.begin() as connection:
        connection.execute(text("UPDATE alembic_version SET version_num = '0099'"))
        connection.execute(
            text(
                "INSERT INTO athletes (uid, name, notes, created_at) "
                "VALUES ('a1', 'Ann', '', '2026-01-01 00:00:00')"
            )
        )
    before = _tables_and_rows(engine)
    with pytest.raises(StorageError, match=r"revision 0099, which this WinkWatch does not know"):
        open_database(db_target.url, db_target.schema)
    assert _tables_and_rows(engine) == before
    engine.dispose()


def test_another_applications_database_is_refused_unchanged(db_target: DbTarget) -> None:
    """WinkWatch added its tables to such a database; with a table name of its own
    (`athletes`) the first migration failed half-way, leaving `alembic_version` and
    `api_tokens` behind in the other application's database."""
    engine = _raw_engine(db_target)
    with engine.begin() as connection:
        connection.execute(text("CREATE TABLE users (id integer PRIMARY KEY, name text)"))
        connection.execute(text("INSERT INTO users VALUES (1, 'x')"))
        connection.execute(text("CREATE TABLE athletes (id integer PRIMARY KEY, foo text)"))
    before = _tables_and_rows(engine)
    with pytest.raises(StorageError, match=r"not WinkWatch's \(athletes, users\).*Nothing was"):
        open_database(db_target.url, db_target.schema)
    assert _tables_and_rows(engine) == before
    engine.dispose()


def test_an_empty_database_and_a_winkwatch_one_are_opened(db_target: DbTarget) -> None:
    open_database(db_target.url, db_target.schema).dispose()
    open_database(db_target.url, db_target.schema).dispose()


def test_a_sqlite_path_that_cannot_be_written_is_an_error_saying_so(tmp_path) -> None:
    """A file in the way of the database's folder, and a folder in the way of its lock file,
    were OSError tracebacks (FileExistsError from mkdir, IsADirectoryError from open) for
    every command opening the database."""
    (tmp_path / "a-file").write_text("not a folder")
    with pytest.raises(StorageError, match="a part of the path is a file, not a folder"):
        open_database(f"sqlite:///{tmp_path / 'a-file' / 'w.db'}")
    (tmp_path / "w.db.migrate.lock").mkdir()
    with pytest.raises(StorageError, match=r"cannot write beside the SQLite database .*Is a dir"):
        open_database(f"sqlite:///{tmp_path / 'w.db'}")


def test_a_sqlite_database_on_a_read_only_file_system_is_an_error_saying_so(tmp_path) -> None:
    """`winkwatch serve`, `sets`, `token list`... on a database whose file system was
    remounted read-only ended with "OSError: [Errno 30] Read-only file system: '...
    w.db.migrate.lock'" and a traceback. Needs root and mount; skipped elsewhere."""
    import shutil
    import subprocess

    if shutil.which("mount") is None:
        pytest.skip("no mount command")
    mount_point = tmp_path / "ro"
    mount_point.mkdir()
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", str(mount_point)],
        capture_output=True,
        check=False,
    )
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.decode(errors='replace').strip()}")
    try:
        url = f"sqlite:///{mount_point / 'w.db'}"
        open_database(url).dispose()
        subprocess.run(["mount", "-o", "remount,ro", str(mount_point)], check=True)
        with pytest.raises(StorageError, match="Read-only file system.*Is the folder or its file"):
            open_database(url)
        with pytest.raises(StorageError, match="cannot create the folder .*Read-only file system"):
            open_database(f"sqlite:///{mount_point / 'sub' / 'w.db'}")
    finally:
        subprocess.run(["umount", "-l", str(mount_point)], check=False)


def test_winkwatch_tables_without_a_revision_are_said_to_be_a_cut_short_first_start(
    db_target: DbTarget,
) -> None:
    """What an older WinkWatch left when its first start failed half-way (SQLite committed
    the first migration's tables on their own) is not called another application's."""
    engine = _raw_engine(db_target)
    with engine.begin() as connection:
        connection.execute(text("CREATE TABLE athletes (id integer PRIMARY KEY, name text)"))
        connection.execute(text("CREATE TABLE api_tokens (id integer PRIMARY KEY, name text)"))
        connection.execute(text("CREATE TABLE alembic_version (version_num varchar(32))"))
    before = _tables_and_rows(engine)
    with pytest.raises(StorageError, match=r"WinkWatch tables \(2\) but no schema revision"):
        open_database(db_target.url, db_target.schema)
    assert _tables_and_rows(engine) == before
    engine.dispose()
