"""Open the database: engine with the right pragmas, schema upgraded by Alembic, sessions.

SQLite runs in WAL mode with synchronous=NORMAL: a committed transaction survives the
process being killed (kill -9); only an OS crash or power cut may lose the last commits,
never corrupt the file. PostgreSQL is selected by a postgresql+psycopg:// URL.
"""

from __future__ import annotations

import fcntl
import select
import sqlite3
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, TYPE_CHECKING, TypeVar

from sqlalchemy import Connection, Engine, create_engine, event, inspect, text
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError, DisconnectionError, SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import PoolProxiedConnection

from api.errors import NotFoundError, StorageError

if TYPE_CHECKING:
    from alembic.script import ScriptDirectory

RowT = TypeVar("RowT")

SQLITE_BUSY_TIMEOUT_MS = 10_000  # several writers (server + CLI) wait rather than fail


@dataclass(frozen=True)
class Database:
    engine: Engine
    sessions: sessionmaker[Session]
    # Called (newest first) by `dispose` before the engine goes: what was held on this
    # database for the process's lifetime, e.g. the gateway's lease (api.storage.gateway_lease).
    on_dispose: list[Callable[[], None]] = field(default_factory=list)

    def dispose(self) -> None:
        while self.on_dispose:
            self.on_dispose.pop()()
        self.engine.dispose()


def parse_database_url(url: str) -> URL:
    """`url` parsed; `StorageError` saying what a valid one looks like."""
    try:
        return make_url(url)
    except Exception as exc:  # sqlalchemy raises ArgumentError and ValueError variants
        raise _invalid_url(url) from exc


def _invalid_url(url: str) -> StorageError:
    return StorageError(
        f"database URL {url!r} is not valid; use sqlite:///PATH or "
        "postgresql+psycopg://USER@HOST:PORT/DB in WINKWATCH_DATABASE_URL"
    )


def create_db_engine(url: str, schema: str | None = None) -> Engine:
    """Engine for `url`; for PostgreSQL, `schema` becomes the search_path of every connection."""
    parsed = parse_database_url(url)
    if parsed.get_backend_name() == "sqlite":
        try:
            return _sqlite_engine(parsed)
        except ArgumentError as exc:  # e.g. a user or host, which a SQLite URL cannot have
            raise _invalid_url(url) from exc
    if parsed.get_backend_name() == "postgresql":
        if schema is not None and not schema.replace("_", "").isalnum():
            raise StorageError(f"schema name {schema!r} must be letters, digits and underscores")
        # Sessions in UTC: psycopg then returns timestamptz values already in UTC. Every
        # commit waits for its WAL flush (synchronous_commit=on) whatever the database's or
        # role's default: an acknowledged write must survive a server crash, and `off`
        # (a common tuning tip) lets a crash lose the last ~0.6 s of commits already answered.
        options = "-cTimeZone=UTC -csynchronous_commit=on" + (
            f" -csearch_path={schema}" if schema else ""
        )
        engine = create_engine(parsed, connect_args={"options": options})
        event.listen(engine, "checkout", _drop_if_disconnected)
        engine.winkwatch_schema = schema  # type: ignore[attr-defined]
        return engine
    raise StorageError(
        f"database {parsed.get_backend_name()!r} is not supported; use SQLite or PostgreSQL"
    )


def _drop_if_disconnected(dbapi_connection, _record, _proxy) -> None:
    """A pooled PostgreSQL connection is checked before use without a round trip (pool
    pre-ping's `SELECT 1` cost ~0.1 ms of CPU per rep page): an idle connection has nothing
    to read, so a readable socket means the server wrote something, usually its goodbye
    after a restart or `pg_terminate_backend` (then EOF). Only then is it pinged; a dead one
    raises DisconnectionError, and the pool replaces it with a fresh connection."""
    if dbapi_connection.closed or dbapi_connection.broken:
        raise DisconnectionError("the pooled connection is closed")
    readable, _, _ = select.select([dbapi_connection.fileno()], [], [], 0)
    if not readable:
        return
    try:  # a notice or parameter change also wakes the socket: the ping reads it
        with dbapi_connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        dbapi_connection.rollback()
    except dbapi_connection.OperationalError as exc:
        raise DisconnectionError(f"the pooled connection was closed by the server: {exc}") from exc


def _sqlite_engine(parsed) -> Engine:
    database = parsed.database
    if database and database != ":memory:" and not database.startswith("file:"):
        folder = Path(database).expanduser().parent
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:  # a read-only file system, a file in the way, no permission
            in_the_way = isinstance(exc, FileExistsError | NotADirectoryError)
            reason = "a part of the path is a file, not a folder" if in_the_way else exc.strerror
            raise StorageError(
                f"cannot create the folder {str(folder)!r} for the SQLite database "
                f"{database!r}: {reason or exc}. Choose a writable place with "
                "WINKWATCH_DATABASE_URL=sqlite:///PATH. Nothing was changed"
            ) from exc
    engine = create_engine(parsed, connect_args={"check_same_thread": False})
    kept: list[PoolProxiedConnection] = []
    engine.winkwatch_read_connections = kept  # type: ignore[attr-defined]

    @event.listens_for(engine, "engine_disposed")
    def _close_kept(_engine) -> None:
        while kept:
            kept.pop().invalidate()  # closes the driver's connection now

    @event.listens_for(engine, "connect")
    def _pragmas(dbapi_connection, _record) -> None:
        # pysqlite's own transaction handling would defer BEGIN; SQLAlchemy manages it.
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cursor.close()

    return engine


# SQLite: driver connections that single-statement reads (the rep list's pages) keep checked
# out of the engine's pool between uses, newest first. Checking one out and in again (the
# pool's bookkeeping and the ROLLBACK of its reset) cost ~0.1 ms a page, a third of fetching
# the page itself. A connection is kept only outside a transaction (SQLite then takes a new
# snapshot for every SELECT, so a kept connection sees every commit), only while it is
# valid and of the engine's current pool, at most this many; `Engine.dispose` closes them.
KEPT_READ_CONNECTIONS = 2  # the rep pages run on at most 2 threads (PAGE_THREADS)


def take_read_connection(engine: Engine) -> PoolProxiedConnection:
    """A pooled connection for one read statement: a kept one (SQLite) or the pool's."""
    kept: list[PoolProxiedConnection] | None = getattr(engine, "winkwatch_read_connections", None)
    if kept:
        try:
            return kept.pop()
        except IndexError:  # another thread took the last one
            pass
    return engine.raw_connection()


def give_back_read_connection(engine: Engine, connection: PoolProxiedConnection) -> None:
    """Keep `connection` for the next read where it can be (see KEPT_READ_CONNECTIONS), else
    return it to the pool."""
    kept: list[PoolProxiedConnection] | None = getattr(engine, "winkwatch_read_connections", None)
    if (
        kept is not None
        and len(kept) < KEPT_READ_CONNECTIONS
        and connection.is_valid
        and connection._pool is engine.pool
        and not getattr(connection.dbapi_connection, "in_transaction", True)
    ):
        kept.append(connection)
    else:
        connection.close()


# Alembic's `op`/`context` are module-global proxies: one upgrade at a time per process.
_UPGRADE_IN_PROCESS = threading.Lock()


def read_one_snapshot(db: Session) -> None:
    """Make every statement of `db`'s transaction, from this call until it ends, read the
    database as it was at the first one: an export reads a set in many statements, and a
    deletion committed meanwhile must not cut it short. Call it before `db` has run anything.
    PostgreSQL: a REPEATABLE READ transaction. SQLite: an explicit BEGIN (pysqlite begins no
    transaction for reads, so each SELECT would take a new snapshot); WAL lets writers commit
    meanwhile."""
    if db.get_bind().dialect.name == "sqlite":
        db.connection().exec_driver_sql("BEGIN")
    else:
        db.connection(execution_options={"isolation_level": "REPEATABLE READ"})


def upgrade_schema(engine: Engine, revision: str = "head") -> None:
    """Create or upgrade the schema to the newest Alembic revision (or to `revision`).

    Serialized across processes, so gateways starting at once do not race to create the
    same tables: on PostgreSQL by a transaction-scoped advisory lock (per schema) taken
    before anything else; on SQLite, which lives on one host, by an exclusive lock on a file
    next to the database.
    """
    from alembic import command
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    config = Config()
    config.set_main_option(
        "script_location", str(Path(__file__).resolve().parent.parent / "migrations")
    )
    script = ScriptDirectory.from_config(config)
    target = script.get_current_head() if revision == "head" else revision
    try:
        with (
            _UPGRADE_IN_PROCESS,
            _sqlite_file_lock(engine),
            migration_transaction(engine, target) as connection,
        ):
            schema = search_path_schema(engine)
            if connection.dialect.name == "postgresql":
                connection.execute(
                    text("SELECT pg_advisory_xact_lock(hashtext(:key))"),
                    {"key": f"winkwatch-migrations:{schema or ''}"},
                )
            if schema:
                connection.execute(text(f'CREATE SCHEMA IF NOT EXISTS "{schema}"'))
            _refuse_unknown_database(connection, script, schema, engine)
            config.attributes["connection"] = connection
            command.upgrade(config, revision)
    except SQLAlchemyError as exc:
        raise StorageError(
            f"cannot create or upgrade the database schema at {engine.url!r}: {exc.__class__.__name__}: "
            f"{exc}. {_open_advice(engine)}"
        ) from exc


def _open_advice(engine: Engine) -> str:
    if engine.dialect.name == "sqlite":
        return (
            "Check WINKWATCH_DATABASE_URL: it must name a WinkWatch SQLite file (or a new one) "
            "that this user can read and write, in a folder it can write to; a damaged file "
            "is left as it is: restore it from a backup or choose another path"
        )
    return "Check WINKWATCH_DATABASE_URL and that the database server is running"


def _refuse_unknown_database(
    connection: Connection, script: ScriptDirectory, schema: str | None, engine: Engine
) -> None:
    """StorageError, before any migration runs, for a database this WinkWatch cannot upgrade:
    one at a schema revision it does not know (made by a newer WinkWatch: downgrading is not
    supported; or by another program's Alembic), or one with tables but no WinkWatch schema
    revision (another application's database, whose tables WinkWatch would add its own to
    or clash with)."""
    from alembic.migration import MigrationContext

    shown = engine.url.render_as_string(hide_password=True)
    where = f"{shown} (schema {schema})" if schema else shown
    known = {revision.revision for revision in script.walk_revisions()}
    current = MigrationContext.configure(connection).get_current_heads()
    unknown = sorted(set(current) - known)
    if unknown:
        raise StorageError(
            f"the database at {where} is at schema revision {', '.join(unknown)}, which this "
            f"WinkWatch does not know (its newest is {script.get_current_head()}): it was "
            "written by a newer WinkWatch, or by another program. Run the newest WinkWatch "
            "on it (going back to an older version is not supported), or point "
            "WINKWATCH_DATABASE_URL at another database. Nothing was changed"
        )
    if current:
        return
    tables = sorted(
        name for name in inspect(connection).get_table_names() if name != "alembic_version"
    )
    if tables and set(tables) <= _winkwatch_table_names():
        raise StorageError(
            f"the database at {where} holds WinkWatch tables ({len(tables)}) but no schema "
            "revision: its first start was cut short by an older WinkWatch, which committed "
            "the first tables on their own, so which migrations ran is not known. If it holds "
            "nothing you need, delete it (or point WINKWATCH_DATABASE_URL at a new database) "
            "and start again; otherwise restore a backup. Nothing was changed"
        )
    if tables:
        listed = ", ".join(tables[:5]) + (f" and {len(tables) - 5} more" if len(tables) > 5 else "")
        own_schema = (
            " or set WINKWATCH_DATABASE_SCHEMA to a schema of WinkWatch's own"
            if connection.dialect.name == "postgresql" and not schema
            else ""
        )
        raise StorageError(
            f"the database at {where} holds tables that are not WinkWatch's ({listed}) and no "
            "WinkWatch schema: it looks like another application's database. Point "
            f"WINKWATCH_DATABASE_URL at an empty database or a WinkWatch one{own_schema}. "
            "Nothing was changed"
        )


def _winkwatch_table_names() -> set[str]:
    from api.storage.models import Base

    return set(Base.metadata.tables) | {"sqlite_sequence"}


@contextmanager
def migration_transaction(engine: Engine, target: str | None = None) -> Iterator[Connection]:
    """A connection in a transaction for the migrations to `target` (committed when the
    block ends).

    On SQLite, foreign keys are off inside it: a migration that rebuilds a table (Alembic's
    batch mode: a new table, the rows copied, the old one dropped, the new one renamed) would
    otherwise have the DROP delete or null every reference to the old table's rows (ON DELETE
    CASCADE / SET NULL), or fail on them. When the schema is not at `target` yet, what the
    migrations did must break no foreign key that held before (`PRAGMA foreign_key_check`),
    else nothing is committed. The pragma only changes outside a transaction: it is set
    first, and restored before the connection goes back to the pool.

    On SQLite the whole block is one `BEGIN IMMEDIATE` transaction, DDL included: Python's
    sqlite3 driver begins a transaction only before INSERT, UPDATE or DELETE, so a
    migration's CREATE, ALTER or DROP ran on its own, committed at once, and a migration
    failing (or the process killed) half-way left a half-upgraded schema that the next start
    could not upgrade ("table ... already exists"). The driver's own transaction handling is
    switched off for the block and restored after it.
    """
    with engine.connect() as connection:
        if connection.dialect.name != "sqlite":
            with connection.begin():
                yield connection
            return
        connection.exec_driver_sql("PRAGMA foreign_keys=OFF")
        connection.commit()
        driver_connection: sqlite3.Connection = connection.connection.driver_connection  # type: ignore[assignment]
        isolation_level = driver_connection.isolation_level
        driver_connection.isolation_level = None  # no implicit BEGIN / COMMIT by the driver
        try:
            with connection.begin():
                connection.exec_driver_sql("BEGIN IMMEDIATE")
                if connection.exec_driver_sql("PRAGMA foreign_keys").scalar():
                    raise StorageError("SQLite foreign keys could not be turned off to migrate")
                current = _alembic_revision(connection)
                check = current != target
                broken_before = _foreign_key_violations(connection) if check and current else set()
                yield connection
                if check and _alembic_revision(connection) != current:
                    broken = _foreign_key_violations(connection) - broken_before
                    if broken:
                        raise StorageError(
                            "the schema upgrade would break foreign keys (table, rowid, "
                            f"parent): {sorted(broken, key=str)[:10]}; nothing was changed"
                        )
        finally:
            try:
                driver_connection.isolation_level = isolation_level
                connection.exec_driver_sql("PRAGMA foreign_keys=ON")
                connection.commit()
            except (SQLAlchemyError, sqlite3.Error):  # never pooled without its foreign keys
                connection.invalidate()


def _alembic_revision(connection: Connection) -> str | None:
    from alembic.migration import MigrationContext

    return MigrationContext.configure(connection).get_current_revision()


def _foreign_key_violations(connection: Connection) -> set[tuple[str, int | None, str]]:
    """SQLite: the rows whose foreign keys point at no row (none while they are enforced)."""
    rows = connection.exec_driver_sql("PRAGMA foreign_key_check").all()
    return {(table, rowid, parent) for table, rowid, parent, _ in rows}


@contextmanager
def _sqlite_file_lock(engine: Engine) -> Iterator[None]:
    """Exclusive flock on `<database>.migrate.lock` (SQLite files only; else nothing)."""
    database = engine.url.database if engine.dialect.name == "sqlite" else None
    if not database or database == ":memory:" or database.startswith("file:"):
        yield
        return
    lock_path = Path(database).expanduser().with_name(Path(database).name + ".migrate.lock")
    with open_lock_file(lock_path, database) as handle:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


def open_lock_file(lock_path: Path, database: str) -> IO[str]:
    """`lock_path` (beside the SQLite file `database`) opened for a flock; StorageError when
    it cannot be: SQLite must write beside its file too (the WAL and its index), so a
    read-only folder or file system is said as such, where OSError's traceback ended every
    command."""
    try:
        return lock_path.open("a")
    except OSError as exc:
        raise StorageError(
            f"cannot write beside the SQLite database {database!r} ({str(lock_path)!r}: "
            f"{exc.strerror or exc}): WinkWatch needs to write to the database's folder (its "
            "lock files, and SQLite's write-ahead log). Is the folder or its file system "
            "read-only? Make it writable for this user, or copy the database to a writable "
            "place and point WINKWATCH_DATABASE_URL=sqlite:///PATH at it. Nothing was changed"
        ) from exc


def search_path_schema(engine: Engine) -> str | None:
    """The schema `create_db_engine` put on the search path (PostgreSQL), or None."""
    return getattr(engine, "winkwatch_schema", None)


def open_database(url: str, schema: str | None = None, *, upgrade: bool = True) -> Database:
    """Engine + session factory, with the schema brought up to date first."""
    engine = create_db_engine(url, schema)
    if upgrade:
        upgrade_schema(engine)
    else:
        try:
            with engine.connect() as connection:
                connection.execute(text("SELECT 1"))
        except SQLAlchemyError as exc:
            raise StorageError(f"cannot reach the database at {engine.url!r}: {exc}") from exc
    return Database(engine=engine, sessions=sessionmaker(engine, expire_on_commit=False))


# How SQLite and PostgreSQL say that the disk holding the database is full.
DISK_FULL_MARKERS = ("disk is full", "no space left", "could not extend file", "disk full")


def is_disk_full(exc: BaseException) -> bool:
    """Whether a database error says the disk holding the database is full (SQLITE_FULL,
    PostgreSQL's "could not extend file ... No space left on device")."""
    return any(marker in str(exc).lower() for marker in DISK_FULL_MARKERS)


# SQLite's primary result codes for a file that is damaged or no database at all.
_SQLITE_DAMAGED_CODES = (sqlite3.SQLITE_CORRUPT, sqlite3.SQLITE_NOTADB)


def damaged_sqlite_detail(exc: BaseException, database_url: str) -> str | None:
    """What to do about a SQLite file that is damaged ("database disk image is malformed")
    when `exc` (or what it was raised from) says so; None for any other error."""
    while exc is not None:
        code = getattr(exc, "sqlite_errorcode", None)
        if isinstance(exc, sqlite3.DatabaseError) and code is not None:
            if code & 0xFF not in _SQLITE_DAMAGED_CODES:
                return None
            try:
                path = parse_database_url(database_url).database or database_url
            except StorageError:
                path = database_url
            return (
                f"the SQLite database {path} is damaged ({exc}). Stop every WinkWatch "
                "process using it and keep a copy of the file "
                "(with its -wal file), then restore a backup (`winkwatch restore BACKUP`), "
                "or rescue what is readable "
                f"(`sqlite3 {path} .recover | sqlite3 recovered.db`) and point "
                "WINKWATCH_DATABASE_URL=sqlite:///PATH at the recovered file"
            )
        exc = exc.__cause__ or getattr(exc, "orig", None)  # type: ignore[assignment]
    return None


MAX_ROW_ID = 2**63 - 1  # the largest integer SQLite and PostgreSQL's bigint store


def get_or_not_found(db: Session, model: type[RowT], row_id: int, what: str) -> RowT:
    """The row of `model` with primary key `row_id`; NotFoundError naming `what` when absent
    (an id beyond a 64-bit integer, which no database row has, too: SQLite's driver raised
    OverflowError for it, e.g. `winkwatch export --set 99999999999999999999`)."""
    if not -MAX_ROW_ID <= row_id <= MAX_ROW_ID:
        raise NotFoundError(what, row_id)
    row = db.get(model, row_id)
    if row is None:
        raise NotFoundError(what, row_id)
    return row
