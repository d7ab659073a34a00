"""The storage benchmarks behind README's figures store what they measure: their
athletes exist (the gateway knows athletes by database id), so no set or sample is dropped."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(
    "command",
    [
        ["benchmarks/api_ingest.py", "--db", "sqlite", "--seconds", "2"],
        ["benchmarks/rep_stored_latency.py", "--db", "sqlite", "--reps", "3"],
    ],
    ids=["api_ingest", "rep_stored_latency"],
)
def test_a_storage_benchmark_stores_everything_it_sends(command: list[str]) -> None:
    result = subprocess.run(
        [sys.executable, *command], cwd=ROOT, capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stderr[-2000:]
    for dropped in ("not stored", "cannot be stored", "does not exist"):
        assert dropped not in result.stderr, result.stderr[-2000:]
    assert "sqlite" in result.stdout
