"""`winkwatch backup` / `restore`: a consistent copy while a writer commits, the way back,
and every bad path refused with nothing changed."""

from __future__ import annotations

import fcntl
import os
import queue
import sqlite3
import subprocess
import sys
import threading
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from api.cli.main import app
from api.storage.db import open_database
from api.storage.gateway_lease import take_gateway_lease
from api.storage.recorder import DatabaseSink
from api.vocab import Placement
from sensor_gateway.events import RepCompleted, SetStarted, SetStopped, StopReason
from tests.api.helpers import athlete_key, metrics, raw_samples, set_info

runner = CliRunner()
BATCH = 5  # athletes the writer commits in each transaction
WAIT_S = 120.0  # generous: the machine may be loaded


def _recorded_database(path: Path) -> None:
    """A database holding one stopped set of Ana: 1 rep, 600 raw samples per sensor."""
    database = open_database(f"sqlite:///{path}")
    sink = DatabaseSink(database, gateway_id="gw", start_thread=False)
    info = set_info(athlete_key(database, "Ana"), started_s=500.0)
    common = dict(athlete_id=info.athlete_id, t_s=info.started_s, wall_utc=info.started_utc)
    sink.record_event(SetStarted(set=info, **common))
    t_s = 500.0 + np.arange(600) / 200.0
    for seed, placement in enumerate(Placement):
        sink.write_samples(raw_samples(info, placement, t_s, seed=seed))
    rep = replace(metrics(1, start_s=1.0), wink_onset_s=2.0)
    sink.record_event(RepCompleted(set_key=info.set_key, metrics=rep, **common))
    sink.record_event(SetStopped(set=info, reason=StopReason.REQUESTED, rep_count=1, **common))
    assert sink.flush()
    sink.close()
    database.dispose()


WRITER = f"""
import sys
from api.storage import catalog
from api.storage.db import open_database
database = open_database(sys.argv[1])
batch = 0
while True:
    with database.sessions.begin() as db:
        for k in range({BATCH}):
            catalog.create_athlete(db, f"batch-{{batch}}-{{k}}", "")
    print(batch, flush=True)
    batch += 1
"""


class Writer:
    """A process committing BATCH athletes per transaction until stopped."""

    def __init__(self, url: str) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-c", WRITER, url], stdout=subprocess.PIPE, text=True
        )
        self.lines: queue.Queue[str] = queue.Queue()
        self.committed = -1
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.put(line)

    def wait_for(self, batches: int) -> None:
        deadline = time.monotonic() + WAIT_S
        while self.committed < batches:
            assert self.process.poll() is None, "the writer died"
            try:
                self.committed = int(self.lines.get(timeout=max(deadline - time.monotonic(), 0)))
            except queue.Empty:
                pytest.fail(f"the writer committed {self.committed} batches in {WAIT_S} s")

    def stop(self) -> None:
        self.process.kill()
        self.process.wait(timeout=30)


def _cli(*args: str, url: str):
    return runner.invoke(app, list(args), env={"WINKWATCH_DATABASE_URL": url})


def _athlete_names(path: Path) -> list[str]:
    connection = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        return [row[0] for row in connection.execute("SELECT name FROM athletes")]
    finally:
        connection.close()


def test_a_backup_while_a_writer_commits_is_consistent_and_restores(tmp_path: Path) -> None:
    path = tmp_path / "gym" / "winkwatch.db"
    path.parent.mkdir()
    _recorded_database(path)
    url = f"sqlite:///{path}"
    target = tmp_path / "usb" / "backup.db"
    target.parent.mkdir()
    writer = Writer(url)
    try:
        writer.wait_for(20)
        result = _cli("backup", str(target), url=url)
        assert result.exit_code == 0, result.output
        at_backup = writer.committed
        writer.wait_for(at_backup + 10)  # the writer was never held up for long

        # The copy opens on its own (one file, no -wal beside it), is sound, and holds
        # whole transactions only: every batch of athletes complete.
        assert not Path(f"{target}-wal").exists()
        copy = sqlite3.connect(f"file:{target}?mode=ro", uri=True)
        try:
            assert copy.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
            assert copy.execute("PRAGMA journal_mode").fetchone()[0] == "delete"
            assert copy.execute("SELECT version_num FROM alembic_version").fetchone()[0]
        finally:
            copy.close()
        names = _athlete_names(target)
        batches: dict[str, int] = {}
        for name in names:
            if name.startswith("batch-"):
                key = name.rsplit("-", 1)[0]
                batches[key] = batches.get(key, 0) + 1
        assert len(batches) >= 20
        assert set(batches.values()) == {BATCH}, batches
        assert f"athletes     {len(names)}\n" in result.output
        assert "sets         1\n" in result.output and "reps         1\n" in result.output
        assert "raw samples  1,200\n" in result.output
        assert f"({target.stat().st_size:,} bytes)" in result.output
        assert "integrity ok" in result.output and "schema revision 0018" in result.output

        # The writer's pooled connection has the database open: a restore is refused.
        refused = _cli("restore", str(target), url=url)
        assert refused.exit_code == 2
        assert "in use: another process has it open" in refused.output
        assert "Nothing was changed" in refused.output
    finally:
        writer.stop()
    before = len(_athlete_names(path))
    assert before > len(names)

    restored = _cli("restore", str(target), url=url)
    assert restored.exit_code == 0, restored.output
    kept = [p for p in path.parent.iterdir() if ".before-restore-" in p.name]
    assert len(kept) == 1 and f"kept as {kept[0]}" in restored.output
    assert len(_athlete_names(kept[0])) == before  # nothing of what it replaced is lost
    assert not Path(f"{path}-wal").exists() or Path(f"{path}-wal").stat().st_size == 0
    database = open_database(url)  # what the next serve does: opens and upgrades it
    try:
        with database.engine.connect() as connection:
            assert connection.exec_driver_sql("SELECT count(*) FROM athletes").scalar() == len(
                names
            )
            assert connection.exec_driver_sql("PRAGMA integrity_check").scalar() == "ok"
    finally:
        database.dispose()
    # And back again, from the kept copy.
    again = _cli("restore", str(kept[0]), url=url)
    assert again.exit_code == 0, again.output
    assert len(_athlete_names(path)) == before


def test_bad_backup_targets_are_refused_and_nothing_is_written(tmp_path: Path) -> None:
    path = tmp_path / "winkwatch.db"
    _recorded_database(path)
    url = f"sqlite:///{path}"
    existing = tmp_path / "old-backup.db"
    existing.write_bytes(b"an older backup")
    cases = {
        str(existing): "exists: choose another name, or add --force",
        str(tmp_path): "is a folder: give the backup's file name",
        str(tmp_path / "nowhere" / "b.db"): "does not exist: create it first",
        "/proc/winkwatch-backup.db": "cannot write in /proc",
        str(path): "is the WinkWatch database",
        # Whether the -wal exists yet or not (a reader may have left it): refused.
        f"{path}-wal": "a file of the",
    }
    for target, said in cases.items():
        result = _cli("backup", target, url=url)
        assert result.exit_code == 2, (target, result.output)
        assert said in result.output, (target, result.output)
        assert "Traceback" not in result.output
    assert existing.read_bytes() == b"an older backup"
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".partial")]
    assert _athlete_names(path) == ["Ana"]

    replaced = _cli("backup", str(existing), "--force", url=url)
    assert replaced.exit_code == 0, replaced.output
    assert _athlete_names(existing) == ["Ana"]

    missing = tmp_path / "none" / "winkwatch.db"
    result = _cli("backup", str(tmp_path / "b.db"), url=f"sqlite:///{missing}")
    assert result.exit_code == 2 and "there is no SQLite database at" in result.output
    assert not missing.parent.exists()  # a backup creates no database


def test_a_restore_is_refused_while_a_server_runs_or_starts(tmp_path: Path) -> None:
    path = tmp_path / "winkwatch.db"
    _recorded_database(path)
    url = f"sqlite:///{path}"
    backup = tmp_path / "backup.db"
    assert _cli("backup", str(backup), url=url).exit_code == 0
    original = path.read_bytes()

    server = open_database(url)
    take_gateway_lease(server, "gym-pi")
    try:
        result = _cli("restore", str(backup), url=url)
        assert result.exit_code == 2
        assert "gateway 'gym-pi' is running on it" in result.output
    finally:
        server.dispose()
    with (tmp_path / "winkwatch.db.migrate.lock").open("a") as lock:
        fcntl.flock(lock.fileno(), fcntl.LOCK_EX)
        result = _cli("restore", str(backup), url=url)
        assert result.exit_code == 2 and "starting on it or upgrading it" in result.output
    assert path.read_bytes() == original
    assert not [p for p in tmp_path.iterdir() if "before-restore" in p.name]


def test_backups_that_cannot_be_restored_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "winkwatch.db"
    _recorded_database(path)
    url = f"sqlite:///{path}"
    junk = tmp_path / "junk.db"
    junk.write_bytes(b"not a database at all" * 100)
    newer = tmp_path / "newer.db"
    assert _cli("backup", str(newer), url=url).exit_code == 0
    connection = sqlite3.connect(newer)
    connection.execute("UPDATE alembic_version SET version_num = '9999_future'")
    connection.commit()
    connection.close()
    foreign = tmp_path / "foreign.db"
    connection = sqlite3.connect(foreign)
    connection.execute("CREATE TABLE notes (text TEXT)")
    connection.close()
    cases = {
        str(junk): "cannot be read as a SQLite database",
        str(newer): "schema revision 9999_future, which this WinkWatch does not know",
        str(foreign): "is no WinkWatch database",
        str(tmp_path / "missing.db"): "there is no backup at",
        str(path): "is the database itself",
    }
    for backup, said in cases.items():
        result = _cli("restore", backup, url=url)
        assert result.exit_code == 2, (backup, result.output)
        assert said in result.output and "Traceback" not in result.output, result.output
    assert _athlete_names(path) == ["Ana"]
    assert not [p for p in tmp_path.iterdir() if "before-restore" in p.name]


def test_a_restore_replaces_a_damaged_database(tmp_path: Path) -> None:
    """The usual reason to restore: the file on the card is damaged (here: overwritten)."""
    path = tmp_path / "winkwatch.db"
    _recorded_database(path)
    url = f"sqlite:///{path}"
    backup = tmp_path / "backup.db"
    assert _cli("backup", str(backup), url=url).exit_code == 0
    path.write_bytes(b"\0" * 8192)
    Path(f"{path}-wal").write_bytes(b"stale")
    result = _cli("restore", str(backup), url=url)
    assert result.exit_code == 0, result.output
    assert _athlete_names(path) == ["Ana"]
    assert not Path(f"{path}-wal").exists()  # the stale -wal went with the damaged file
    assert any(p.name.endswith("-wal") and "before-restore" in p.name for p in tmp_path.iterdir())


def test_postgres_says_pg_dump_with_the_password_masked() -> None:
    url = "postgresql+psycopg://coach:s3cret@db.local:5433/gym"
    env = {"WINKWATCH_DATABASE_URL": url, "WINKWATCH_DATABASE_SCHEMA": "edge1"}
    result = runner.invoke(app, ["backup", "/tmp/gym.dump"], env=env)
    assert result.exit_code == 2
    assert (
        "pg_dump --format=custom --schema=edge1 --file=/tmp/gym.dump "
        "'postgresql://coach:***@db.local:5433/gym'" in result.output
    )
    result = runner.invoke(app, ["restore", "/tmp/gym.dump"], env=env)
    assert result.exit_code == 2
    assert "pg_restore --clean --if-exists --schema=edge1" in result.output
    assert "s3cret" not in result.output
    assert not os.path.exists("/tmp/gym.dump")


def test_an_older_backup_restores_into_a_new_place_and_is_upgraded_at_start(tmp_path) -> None:
    from api.storage.db import create_db_engine, upgrade_schema

    old = tmp_path / "old.db"
    engine = create_db_engine(f"sqlite:///{old}")
    upgrade_schema(engine, "0017")
    engine.dispose()
    path = tmp_path / "new" / "winkwatch.db"  # no database there yet, nor its folder
    url = f"sqlite:///{path}"
    result = _cli("restore", str(old), url=url)
    assert result.exit_code == 0, result.output
    assert "schema revision 0017 (older: upgraded when a server starts on it)" in result.output
    assert "upgrades its schema from 0017 to 0018" in result.output
    assert "kept as" not in result.output
    database = open_database(url)
    try:
        with database.engine.connect() as connection:
            assert connection.exec_driver_sql("SELECT version_num FROM alembic_version").scalar()
    finally:
        database.dispose()
    backup = tmp_path / "again.db"
    assert "schema revision 0018" in _cli("backup", str(backup), url=url).output


def test_a_backup_is_never_named_as_the_database_s_write_ahead_log(tmp_path: Path) -> None:
    from api.errors import StorageError
    from api.storage.backup import check_target

    path = tmp_path / "winkwatch.db"
    for suffix in ("-wal", "-shm", "-journal"):
        with pytest.raises(StorageError, match="named as a file of the database"):
            check_target(Path(f"{path}{suffix}"), force=True, database=path)
