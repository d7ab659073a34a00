"""An id no row can have (beyond a 64-bit integer) is "does not exist" (exit 2), as any other
unknown id: SQLite's driver raised OverflowError for it, a traceback and exit 1 in every
command that looks an id up (found by the probe)."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from api.cli.main import app

HUGE = "99999999999999999999"  # > 2**63 - 1


@pytest.mark.parametrize(
    ("args", "said"),
    [
        (["export", "--set", HUGE], f"set {HUGE} does not exist"),
        (["export", "--session", HUGE], f"session {HUGE} does not exist"),
        (["export", "--athlete", f"-{HUGE}"], f"athlete -{HUGE} does not exist"),
        (["reanalyze", HUGE], f"set {HUGE} does not exist"),
        (["token", "revoke", HUGE], f"token {HUGE} does not exist"),
        (["sets", "--athlete", HUGE], f"athlete {HUGE} does not exist"),
        (["plot", "--set", HUGE, "--out", "never.png"], f"set {HUGE} does not exist"),
    ],
)
def test_an_id_beyond_64_bits_does_not_exist(db_target, database, monkeypatch, args, said):
    monkeypatch.setenv("WINKWATCH_DATABASE_URL", db_target.url)
    if db_target.schema:
        monkeypatch.setenv("WINKWATCH_DATABASE_SCHEMA", db_target.schema)
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 2, result.output
    assert said in result.output and "Traceback" not in result.output
