"""A SQLite file whose pages were overwritten (a failing SD card, a copy taken mid-write) is
said to be damaged, with what to do, by the API (503) and the command line (exit 2), where
both gave a traceback (the API a 500)."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from pathlib import Path

from fastapi.testclient import TestClient

from api.auth import create_token
from api.http import create_app
from api.settings import Settings
from api.storage.db import open_database
from api.storage.models import Athlete
from api.vocab import TokenRole

PAGE_BYTES = 4096


def _damaged_database(tmp_path: Path) -> tuple[str, str, Path]:
    """A database whose athletes table's root page is garbage; tokens still readable."""
    path = tmp_path / "w.db"
    url = f"sqlite:///{path}"
    database = open_database(url)
    with database.sessions.begin() as db:
        _, admin = create_token(db, "coach", TokenRole.ADMIN)
        db.add_all(Athlete(name=f"a{index}", notes="n" * 2000) for index in range(300))
    database.dispose()
    with sqlite3.connect(path) as connection:
        connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        root = connection.execute(
            "SELECT rootpage FROM sqlite_master WHERE name = 'athletes'"
        ).fetchone()[0]
        assert connection.execute("PRAGMA page_size").fetchone()[0] == PAGE_BYTES
    with path.open("r+b") as handle:
        handle.seek((root - 1) * PAGE_BYTES)
        handle.write(bytes(range(256)) * (PAGE_BYTES // 256))
    return url, admin, path


def test_the_api_answers_503_saying_the_sqlite_file_is_damaged(tmp_path: Path) -> None:
    url, admin, path = _damaged_database(tmp_path)
    settings = Settings(database_url=url, gateway_id="gw-test")
    with TestClient(create_app(settings), raise_server_exceptions=False) as client:
        response = client.get("/athletes", headers={"Authorization": f"Bearer {admin}"})
    assert response.status_code == 503, response.text
    detail = response.json()["detail"]
    assert f"the SQLite database {path} is damaged" in detail
    assert "restore a backup" in detail and ".recover" in detail


def test_a_command_on_a_damaged_sqlite_file_exits_2_with_advice(tmp_path: Path) -> None:
    url, _, path = _damaged_database(tmp_path)
    damaged = path.read_bytes()
    result = subprocess.run(
        [sys.executable, "-m", "api.cli.main", "export", "--athlete", "1", "-o", "-"],
        env=dict(os.environ, WINKWATCH_DATABASE_URL=url),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    assert f"error: the SQLite database {path} is damaged" in result.stderr
    assert path.read_bytes() == damaged
