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
"""

from __future__ import annotations

import fcntl
import re
from collections.abc import Callable
from pathlib import Path

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
