"""Back a SQLite database up while the server records, and restore one.

The copy is SQLite's own online backup (`sqlite3.Connection.backup`), in one step: one read
transaction, so the copy is the database as it was at one commit; in WAL mode the server's
writers go on committing meanwhile (a backup in several steps would start again after every
commit of another connection, and a server commits every second). The copy is written to a
temporary file beside the target, made a single self-contained file (rollback journal, no
-wal), verified (`PRAGMA integrity_check`, `PRAGMA foreign_key_check`, a schema revision),
and only then renamed onto the target: a failed or interrupted backup never leaves a half
file in the target's place.

A restore refuses a database that is in use: a WinkWatch starting or upgrading it (its
`.migrate.lock`, held for the whole restore, so none starts meanwhile), a gateway running on
it (its `.gateway-<id>.lock`, `api.storage.gateway_lease`), or any other connection (SQLite
lets a connection leave WAL mode only when it is the only one). The backup is copied (the
same online backup) and verified beside the database; the database it replaces is then
renamed, with its -wal and -shm files, to `<db>.before-restore-<UTC time>` (kept, never
deleted: a stale -wal beside the restored file would be replayed into it), and the copy
renamed into its place. A damaged database (the usual reason to restore) cannot be opened
to ask whether others use it: then only the locks are checked.

PostgreSQL has its own tools (pg_dump, pg_restore); `postgres_command` says how to call them.
"""

from __future__ import annotations

import fcntl
import os
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy.engine import URL

from api.errors import StorageError
from api.storage.db import SQLITE_BUSY_TIMEOUT_MS, open_lock_file


@dataclass(frozen=True)
class Contents:
    """What a WinkWatch SQLite file holds, as verified."""

    path: Path
    athletes: int
    sessions: int
    sets: int
    recording_sets: int  # left `recording` in the copy: interrupted at the next start
    reps: int
    raw_samples: int
    size_bytes: int
    revision: str
    revision_known: bool  # a revision this WinkWatch's migrations know
    newest_revision: str


@dataclass(frozen=True)
class Restored:
    contents: Contents
    kept: Path | None  # where the database it replaced went (None: there was none)


def sqlite_database_path(url: URL) -> Path | None:
    """The file of a SQLite URL (None: not SQLite, or in memory)."""
    name = url.database
    if url.get_backend_name() != "sqlite" or not name or name == ":memory:":
        return None
    if name.startswith("file:"):
        return None
    return Path(name).expanduser()


def postgres_command(url: URL, schema: str | None, path: str, *, restore: bool) -> str:
    """The pg_dump (or pg_restore) command for `url`, its password masked (***)."""
    shown = url.set(drivername="postgresql").render_as_string(hide_password=True)
    schema_option = f" --schema={schema}" if schema else ""
    if restore:
        return f"pg_restore --clean --if-exists{schema_option} --dbname='{shown}' {path}"
    return f"pg_dump --format=custom{schema_option} --file={path} '{shown}'"


def backup(database: Path, target: Path, *, force: bool = False) -> Contents:
    """Copy the SQLite database `database` to `target` (see the module docstring) and return
    what the verified copy holds. StorageError, with nothing written at `target`, when
    `database` is missing or not WinkWatch's, `target` exists (unless `force`), is a folder,
    or cannot be written."""
    if not database.is_file():
        raise StorageError(
            f"there is no SQLite database at {database}: nothing to back up. Is "
            "WINKWATCH_DATABASE_URL the gym's database (the one `winkwatch serve` uses)?"
        )
    check_target(target, force=force, database=database)
    source = _connect_read_only(database)
    try:
        source.execute("SELECT count(*) FROM sqlite_master").fetchone()
    except sqlite3.DatabaseError as exc:
        source.close()
        raise StorageError(f"cannot read the database {database}: {exc}") from exc
    with _partial_file(target, "backup") as partial:
        _copy(source, partial)
        contents = verify(partial)
        os.replace(partial, target)
    _sync_folder(target.parent)
    return _moved(contents, target)


def restore(backup_file: Path, database: Path) -> Restored:
    """Replace the SQLite database `database` with the backup `backup_file` (see the module
    docstring); StorageError, with nothing changed, when the backup is not a sound WinkWatch
    database this version can run, or `database` is in use."""
    if not backup_file.is_file():
        raise StorageError(
            f"there is no backup at {backup_file}"
            + (" (it is a folder)" if backup_file.is_dir() else "")
            + ": give the file `winkwatch backup` wrote"
        )
    if database.exists() and os.path.samefile(backup_file, database):
        raise StorageError(f"{backup_file} is the database itself: give a backup of it")
    try:
        found = verify(backup_file)
    except StorageError as exc:
        raise StorageError(f"{exc}. Nothing was changed") from exc
    if not found.revision_known:
        raise StorageError(
            f"the backup {backup_file} is at schema revision {found.revision}, which this "
            f"WinkWatch does not know (its newest is {found.newest_revision}): it was written "
            "by a newer WinkWatch. Restore it with that version. Nothing was changed"
        )
    database.parent.mkdir(parents=True, exist_ok=True)
    with _no_one_using(database):
        with _partial_file(database, "restore") as partial:
            _copy(_connect_read_only(backup_file), partial)
            contents = verify(partial)
            _take_mode_and_owner(partial, database)
            kept = _move_aside(database)
            os.replace(partial, database)
        _sync_folder(database.parent)
    return Restored(contents=_moved(contents, database), kept=kept)


def verify(path: Path) -> Contents:
    """What the SQLite file `path` holds; StorageError when it is damaged, breaks a foreign
    key or is no WinkWatch database (no schema revision)."""
    connection = _connect_read_only(path)
    try:
        integrity = [row[0] for row in connection.execute("PRAGMA integrity_check(5)")]
        if integrity != ["ok"]:
            raise StorageError(f"{path} is damaged: integrity check says {'; '.join(integrity)}")
        broken = connection.execute("PRAGMA foreign_key_check").fetchmany(5)
        if broken:
            raise StorageError(f"{path} has rows whose foreign keys point at nothing: {broken}")
        try:
            revisions = [
                row[0] for row in connection.execute("SELECT version_num FROM alembic_version")
            ]
        except sqlite3.OperationalError:
            revisions = []
        if len(revisions) != 1:
            raise StorageError(
                f"{path} is no WinkWatch database (no schema revision): is it the right file?"
            )

        def count(sql: str) -> int:
            return int(connection.execute(sql).fetchone()[0] or 0)

        known, newest = _known_revisions()
        return Contents(
            path=path,
            athletes=count("SELECT count(*) FROM athletes"),
            sessions=count("SELECT count(*) FROM sessions"),
            sets=count("SELECT count(*) FROM sets"),
            recording_sets=count("SELECT count(*) FROM sets WHERE status = 'recording'"),
            reps=count("SELECT count(*) FROM reps"),
            raw_samples=count("SELECT sum(n_samples) FROM raw_chunks"),
            size_bytes=path.stat().st_size,
            revision=revisions[0],
            revision_known=revisions[0] in known,
            newest_revision=newest,
        )
    except sqlite3.DatabaseError as exc:
        raise StorageError(f"{path} cannot be read as a SQLite database: {exc}") from exc
    finally:
        connection.close()


def _known_revisions() -> tuple[set[str], str]:
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    config = Config()
    config.set_main_option(
        "script_location", str(Path(__file__).resolve().parent.parent / "migrations")
    )
    script = ScriptDirectory.from_config(config)
    head = script.get_current_head()
    return {revision.revision for revision in script.walk_revisions()}, head or ""


def _moved(contents: Contents, path: Path) -> Contents:
    from dataclasses import replace

    return replace(contents, path=path)


def _connect_read_only(path: Path) -> sqlite3.Connection:
    try:
        return sqlite3.connect(
            f"{path.resolve().as_uri()}?mode=ro",
            uri=True,
            timeout=SQLITE_BUSY_TIMEOUT_MS / 1000,
            check_same_thread=False,
        )
    except sqlite3.Error as exc:
        raise StorageError(f"cannot open {path} as a SQLite database: {exc}") from exc


def _copy(source: sqlite3.Connection, partial: Path) -> None:
    """SQLite's online backup of `source` into the new file `partial`, in one step (one
    snapshot), then made a self-contained file (no -wal beside it) and synced to disk."""
    try:
        destination = sqlite3.connect(partial)
        try:
            source.backup(destination)  # pages=-1: everything in one step
            destination.execute("PRAGMA journal_mode=DELETE").fetchall()
        finally:
            destination.close()
    except sqlite3.DatabaseError as exc:
        full = getattr(exc, "sqlite_errorcode", 0) & 0xFF == sqlite3.SQLITE_FULL
        raise StorageError(
            f"the copy to {partial.parent} failed: {exc}"
            + (": free space there, or choose another place" if full else "")
        ) from exc
    finally:
        source.close()
    with partial.open("rb+") as handle:
        os.fsync(handle.fileno())


def check_target(
    target: Path, *, force: bool, database: Path | None = None, what: str = "backup"
) -> None:
    """StorageError when `target` is a folder, exists (unless `force`), has no folder, or is
    named as one of `database`'s files (a backup written as `winkwatch.db-wal` would be taken
    for the database's write-ahead log, and overwritten)."""
    if database is not None:
        own = {Path(f"{database.resolve()}{suffix}") for suffix in ("", "-wal", "-shm", "-journal")}
        if target.resolve() in own:
            raise StorageError(
                f"{target} is named as a file of the database {database}: SQLite would take "
                "it for one; choose another name"
            )
    if target.is_dir():
        raise StorageError(
            f"{target} is a folder: give the {what}'s file name, e.g. {target / 'winkwatch.db'}"
        )
    if target.exists() and not force:
        raise StorageError(
            f"{target} exists: choose another name, or add --force to replace it (it is "
            "replaced only once the new copy is verified)"
        )
    if not target.parent.is_dir():
        raise StorageError(f"the folder {target.parent} does not exist: create it first")


@contextmanager
def _partial_file(beside: Path, what: str) -> Iterator[Path]:
    """A new, empty temporary file in `beside`'s folder, removed unless renamed meanwhile."""
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
    partial = beside.with_name(f".{beside.name}.{what}-{stamp}-{os.getpid()}.partial")
    try:
        os.close(os.open(partial, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600))
    except OSError as exc:
        raise StorageError(
            f"cannot write in {beside.parent} ({exc.strerror or exc}): choose a place this "
            "user can write to (is the card or stick read-only, or full?). Nothing was written"
        ) from exc
    try:
        yield partial
    finally:
        for leftover in (partial, Path(f"{partial}-journal")):
            with suppress(FileNotFoundError):
                leftover.unlink()


@contextmanager
def _no_one_using(database: Path) -> Iterator[None]:
    """Hold the database's migration lock (a WinkWatch starting waits for it) and check that
    no gateway runs on it and no other connection has it open; StorageError otherwise."""
    with open_lock_file(database.with_name(database.name + ".migrate.lock"), str(database)) as lock:
        try:
            fcntl.flock(lock.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise _in_use(
                database, "a WinkWatch process is starting on it or upgrading it"
            ) from None
        for lease in sorted(database.parent.glob(f"{database.name}.gateway-*.lock")):
            gateway_id = lease.name[len(database.name) + len(".gateway-") : -len(".lock")]
            with open_lock_file(lease, str(database)) as handle:
                try:
                    fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
                except BlockingIOError:
                    raise _in_use(
                        database,
                        f"gateway {gateway_id!r} is running on it (a `winkwatch serve`, `demo` "
                        "or `gateway` process)",
                    ) from None
        if not database.exists():
            yield
            return
        try:
            connection = sqlite3.connect(
                f"{database.resolve().as_uri()}?mode=rw", uri=True, timeout=0, isolation_level=None
            )
        except sqlite3.Error as exc:
            raise StorageError(
                f"cannot open the database {database} to replace it ({exc}): this user must "
                "be able to write it and its folder. Nothing was changed"
            ) from exc
        try:
            try:
                # Only a connection that is the database's only one may leave WAL mode; its
                # exclusive transaction (no page written, so no journal) then keeps others
                # out until the swap is done.
                mode = connection.execute("PRAGMA journal_mode=DELETE").fetchone()[0]
                connection.execute("BEGIN EXCLUSIVE")
            except sqlite3.OperationalError as exc:
                code = getattr(exc, "sqlite_errorcode", 0) & 0xFF
                if code not in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED):
                    raise StorageError(
                        f"cannot open the database {database} to replace it ({exc}). Nothing "
                        "was changed"
                    ) from exc
                mode = "wal"
            except sqlite3.DatabaseError:  # damaged: only the locks above can tell
                mode = "delete"
            if mode != "delete":
                raise _in_use(
                    database,
                    "another process has it open (a `winkwatch` command, a sqlite3 shell, a "
                    "server started by an older WinkWatch)",
                )
            yield
        finally:
            with suppress(sqlite3.Error):
                if connection.in_transaction:
                    connection.execute("ROLLBACK")
            connection.close()


def _in_use(database: Path, why: str) -> StorageError:
    return StorageError(
        f"the database {database} is in use: {why}. Stop it first (Ctrl-C, or `systemctl stop "
        "winkwatch` on a Pi), then restore again. Nothing was changed"
    )


def _take_mode_and_owner(partial: Path, database: Path) -> None:
    """Give the restored file the permissions and owner of the one it replaces (a restore run
    with sudo must not leave the server a file it cannot write)."""
    try:
        old = database.stat()
    except FileNotFoundError:
        return
    os.chmod(partial, old.st_mode & 0o7777)
    with suppress(PermissionError):
        os.chown(partial, old.st_uid, old.st_gid)


def _move_aside(database: Path) -> Path | None:
    """Rename the database and its -wal, -shm and -journal files to
    `<db>.before-restore-<UTC time>[...]`; its name (None: there was no database)."""
    if not database.exists():
        return None
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    kept = database.with_name(f"{database.name}.before-restore-{stamp}")
    for suffix in ("-wal", "-shm", "-journal", ""):
        part = Path(f"{database}{suffix}")
        if part.exists():
            os.replace(part, Path(f"{kept}{suffix}"))
    return kept


def _sync_folder(folder: Path) -> None:
    """Make the renames in `folder` durable."""
    descriptor = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)
