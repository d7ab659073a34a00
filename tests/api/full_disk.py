"""A SQLite database whose disk is "full" on demand, without filling a real disk.

`PRAGMA max_page_count` set to the file's current size makes every write that needs a new
page fail as a full disk does (SQLITE_FULL, "database or disk is full"); raising it again is
freeing space. The limit is per connection, so it is set at every checkout from the pool.

In this process: `FullDisk(engine)`, then `.fill()` / `.free()`. For `winkwatch serve` in a
subprocess: `python -m tests.api.full_disk FLAG serve ...` runs the command with the disk
full while the file FLAG exists.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

from sqlalchemy import event
from sqlalchemy.engine import Engine

NO_LIMIT_PAGES = 1_073_741_823  # SQLite's default max_page_count


class FullDisk:
    def __init__(self, engine: Engine, is_full: Callable[[], bool] | None = None) -> None:
        self.full = False
        self._is_full = is_full or (lambda: self.full)
        event.listen(engine, "checkout", self._limit)

    def fill(self) -> None:
        self.full = True

    def free(self) -> None:
        self.full = False

    def _limit(self, dbapi_connection, _record, _proxy) -> None:
        # Below the file's size SQLite keeps the size: nothing more can be added.
        pages = 1 if self._is_full() else NO_LIMIT_PAGES
        cursor = dbapi_connection.cursor()
        cursor.execute(f"PRAGMA max_page_count={pages}")
        cursor.close()


def main() -> None:
    """`python -m tests.api.full_disk FLAG winkwatch-arguments...`"""
    import api.storage.db as db
    from api.cli.main import run

    flag = Path(sys.argv[1])
    create = db.create_db_engine

    def create_db_engine(*args, **kwargs) -> Engine:
        engine = create(*args, **kwargs)
        FullDisk(engine, flag.exists)
        return engine

    db.create_db_engine = create_db_engine  # type: ignore[assignment]
    sys.argv = ["winkwatch", *sys.argv[2:]]
    run()


if __name__ == "__main__":
    main()
