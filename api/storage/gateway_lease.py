"""One running gateway per gateway id and database.

At start-up a gateway marks the sets it left `recording` as interrupted
(`api.storage.recorder.recover_after_restart`): right after a crash, but wrong while another
process with the same gateway id is still recording into that database (a second `serve`,
`demo` or `gateway` started by mistake, on another port). So the runtime first takes this
gateway id's lease and holds it until the database is disposed; a second process is refused
with a clear error before it touches anything.

- SQLite: an exclusive `flock` on `<database>.gateway-<id>.lock` beside the file, held by an
  open file; the kernel drops it when the process dies, however it dies.
- PostgreSQL: a session-level advisory lock on a connection of its own, detached from the
  pool; the server drops it when that connection or the process ends.

One process per simulated athlete, too (`take_simulation_lease`): a simulated athlete is
found by name ("Simulated athlete 1") and its sensors' addresses derive from its id
(`SIM-1-SACRUM`), so two `serve --simulate` processes with different gateway ids on one
database simulated the same athletes: the second took their sensors over (`sensors.gateway_id`)
and every set it started was refused (the athlete was recording on the first), so nothing it
showed was stored. The second is now refused before it changes anything.
"""

from __future__ import annotations

import fcntl
import os
import re
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import IO

from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from api.errors import StorageError
from api.storage.db import Database, open_lock_file, search_path_schema


def take_gateway_lease(database: Database, gateway_id: str) -> None:
    """Hold `gateway_id`'s lease on `database` until `database.dispose()`; StorageError if
    another process holds it. In-memory SQLite databases need none (one process each)."""
    engine = database.engine
    if engine.dialect.name == "postgresql":
        database.on_dispose.append(_postgres_lease(database, gateway_id))
        return
    path = engine.url.database
    if not path or path == ":memory:" or path.startswith("file:"):
        return
    database.on_dispose.append(_sqlite_lease(Path(path).expanduser(), gateway_id))


def _refused(gateway_id: str, where: str) -> StorageError:
    return StorageError(
        f"gateway id {gateway_id!r} is already running on {where} (another `winkwatch serve`, "
        "`demo` or `gateway` process): stop that one first, or give this one its own "
        "WINKWATCH_GATEWAY_ID. Nothing was changed"
    )


def _sqlite_lease(database_path: Path, gateway_id: str) -> Callable[[], None]:
    safe_id = re.sub(r"[^A-Za-z0-9_.-]", "_", gateway_id)
    lock_path = database_path.with_name(f"{database_path.name}.gateway-{safe_id}.lock")
    handle = open_lock_file(lock_path, str(database_path))
    try:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.close()
        raise _refused(gateway_id, str(database_path)) from None
    return handle.close  # closing the file drops the lock


def _postgres_lease(database: Database, gateway_id: str) -> Callable[[], None]:
    schema = search_path_schema(database.engine) or ""
    key = f"winkwatch-gateway:{schema}:{gateway_id}"
    try:
        connection = database.engine.connect()
        connection.detach()  # closing it closes the session (and the lock), not a pool return
        held = connection.scalar(text("SELECT pg_try_advisory_lock(hashtext(:key))"), {"key": key})
        connection.commit()  # the lock is the session's: no transaction left open
    except SQLAlchemyError as exc:
        raise StorageError(f"cannot take gateway {gateway_id!r}'s lease: {exc}") from exc
    if not held:
        connection.close()
        raise _refused(
            gateway_id, f"this PostgreSQL database{f' (schema {schema})' if schema else ''}"
        )
    return connection.close


def take_simulation_lease(
    database: Database, athletes: Sequence[tuple[int, str]], gateway_id: str
) -> None:
    """Hold, until `database.dispose()`, the right to simulate each of `athletes` (database id,
    name); StorageError naming the first one another process simulates on this database (and,
    on SQLite, which gateway and process). Nothing is held when it raises."""
    if not athletes:
        return
    engine = database.engine
    if engine.dialect.name == "postgresql":
        database.on_dispose.append(_postgres_simulation_lease(database, athletes, gateway_id))
        return
    path = engine.url.database
    if not path or path == ":memory:" or path.startswith("file:"):
        return
    database.on_dispose.append(
        _sqlite_simulation_lease(Path(path).expanduser(), athletes, gateway_id)
    )


def _simulated_elsewhere(athlete_id: int, name: str, holder: str, where: str) -> StorageError:
    return StorageError(
        f"simulated athlete {athlete_id} ({name!r}) is already simulated by {holder} on "
        f"{where}: a second simulation of the same athletes takes their simulated sensors "
        "over and every set it starts is refused (the athlete is recording on the other "
        "gateway), so nothing it shows would be stored. Stop that process, or run one "
        "`winkwatch serve --simulate N` with all the athletes you need, or give this one a "
        "database of its own (WINKWATCH_DATABASE_URL=sqlite:///OTHER.db). Nothing was changed"
    )


def _sqlite_simulation_lease(
    database_path: Path, athletes: Sequence[tuple[int, str]], gateway_id: str
) -> Callable[[], None]:
    held: list[IO[str]] = []

    def release() -> None:
        while held:
            held.pop().close()  # closing the file drops the lock

    for athlete_id, name in athletes:
        lock_path = database_path.with_name(
            f"{database_path.name}.simulated-athlete-{athlete_id}.lock"
        )
        handle = open_lock_file(lock_path, str(database_path))
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _read_holder(lock_path) or "another process"
            handle.close()
            release()
            raise _simulated_elsewhere(athlete_id, name, holder, str(database_path)) from None
        handle.seek(0)
        handle.truncate()
        handle.write(f"gateway {gateway_id!r} (process {os.getpid()})\n")
        handle.flush()
        held.append(handle)
    return release


def _read_holder(lock_path: Path) -> str:
    try:
        return lock_path.read_text(encoding="utf-8", errors="replace").strip()[:300]
    except OSError:
        return ""


def _postgres_simulation_lease(
    database: Database, athletes: Sequence[tuple[int, str]], gateway_id: str
) -> Callable[[], None]:
    schema = search_path_schema(database.engine) or ""
    try:
        connection = database.engine.connect()
        connection.detach()  # closing it ends the session and every lock it holds
    except SQLAlchemyError as exc:
        raise StorageError(f"cannot take the simulated athletes' lease: {exc}") from exc
    try:
        for athlete_id, name in athletes:
            key = f"winkwatch-simulated-athlete:{schema}:{athlete_id}"
            held = connection.scalar(
                text("SELECT pg_try_advisory_lock(hashtext(:key))"), {"key": key}
            )
            connection.commit()
            if not held:
                where = f"this PostgreSQL database{f' (schema {schema})' if schema else ''}"
                raise _simulated_elsewhere(athlete_id, name, "another process", where)
    except SQLAlchemyError as exc:
        connection.close()
        raise StorageError(f"cannot take the simulated athletes' lease: {exc}") from exc
    except StorageError:
        connection.close()
        raise
    return connection.close
