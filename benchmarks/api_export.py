"""CSV export of 100k reps: rows/s and peak Python memory, SQLite and PostgreSQL.

Streams `api.export.iter_reps_csv` (what GET /export/reps.csv and `winkwatch export` send)
into a byte counter. Rate from an untraced pass; peak memory from a second pass under
tracemalloc (allocations made while exporting, so independent of what the fill left).

    python benchmarks/api_export.py [--db sqlite|postgres|both] [--reps 100000]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from api.export import iter_reps_csv
from api.storage.reps import RepFilter
from benchmarks.api_data import drop_schema, fill_reps, fresh_database, targets


def _export(database) -> tuple[int, int]:
    rows = size = 0
    with database.sessions() as db:
        for chunk in iter_reps_csv(db, RepFilter()):
            rows += chunk.count("\n")
            size += len(chunk)
    return rows - 1, size


def run(label: str, url: str, schema: str | None, n_reps: int) -> None:
    database = fresh_database(url, schema)
    fill_reps(database, n_reps)
    try:
        started = time.perf_counter()
        rows, size = _export(database)
        elapsed = time.perf_counter() - started
        assert rows == n_reps, (rows, n_reps)
        tracemalloc.start()
        _export(database)
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
    finally:
        database.dispose()
        if schema:
            drop_schema(url, schema)
    print(
        f"{label:9s} rows={rows}  {elapsed:.2f} s  {rows / elapsed:,.0f} rows/s  "
        f"csv={size / 1e6:.1f} MB  peak traced memory={peak / 1e6:.1f} MB"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", choices=["sqlite", "postgres", "both"], default="both")
    parser.add_argument("--reps", type=int, default=100_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        for label, url, schema in targets(tmp, args.db):
            run(label, url, schema, args.reps)


if __name__ == "__main__":
    main()
