"""CSV export of 100k reps: rows/s and peak Python memory, SQLite and PostgreSQL.

Streams `api.export.iter_reps_csv` (what GET /export/reps.csv and `winkwatch export` send)
into a byte counter. Rate from an untraced pass; peak memory from a second pass under
tracemalloc (allocations made while exporting, so independent of what the fill left).
Floor, same run: the export's SQL on the driver's own connection, every row fetched in one
go and written by `csv.writer` (no keyset batches). Wall time and this process's CPU time
(best of 3; on PostgreSQL the server's share is in its own process). Goal: >= 100k rows/s;
on a shared machine read the CPU rate and the ratio to the floor.

    python benchmarks/api_export.py [--db sqlite|postgres|both] [--reps 100000]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

from sqlalchemy import select

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from api.export import iter_reps_csv
from api.storage.reps import RepFilter
from benchmarks.api_data import drop_schema, fill_reps, fresh_database, targets

REPEATS = 3  # best of, for the export and for its floor


def _export(database) -> tuple[int, int]:
    rows = size = 0
    with database.sessions() as db:
        for chunk in iter_reps_csv(db, RepFilter()):
            rows += chunk.count("\n")
            size += len(chunk)
    return rows - 1, size


def _floor(database) -> tuple[float, float]:
    """(wall, CPU) seconds for the bare driver fetch + csv.writer of the same rows."""
    import csv
    import io

    from api.export import _export_columns
    from api.storage.models import ExerciseSet, Rep

    query = (
        select(*_export_columns())
        .join(ExerciseSet, ExerciseSet.id == Rep.__table__.c.set_id)
        .order_by(Rep.__table__.c.id)
    )
    sql = str(query.compile(database.engine))
    raw = database.engine.raw_connection()
    try:
        started, started_cpu = time.perf_counter(), time.process_time()
        cursor = raw.cursor()
        cursor.execute(sql)
        out = io.StringIO()
        csv.writer(out, lineterminator="\n").writerows(cursor.fetchall())
        cursor.close()
        return time.perf_counter() - started, time.process_time() - started_cpu
    finally:
        raw.close()


def run(label: str, url: str, schema: str | None, n_reps: int) -> None:
    database = fresh_database(url, schema)
    fill_reps(database, n_reps)
    try:
        floors = [_floor(database) for _ in range(REPEATS)]
        floor_s, floor_cpu_s = min(f[0] for f in floors), min(f[1] for f in floors)
        elapsed = cpu_s = float("inf")
        for _ in range(REPEATS):
            started, started_cpu = time.perf_counter(), time.process_time()
            rows, size = _export(database)
            elapsed = min(elapsed, time.perf_counter() - started)
            cpu_s = min(cpu_s, time.process_time() - started_cpu)
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
        f"{label:9s} rows={rows}  wall {elapsed:.2f} s = {rows / elapsed:,.0f} rows/s, "
        f"floor {rows / floor_s:,.0f} rows/s (export / floor time {elapsed / floor_s:.2f}); "
        f"this process's CPU {cpu_s:.2f} s = {rows / cpu_s:,.0f} rows/s, floor "
        f"{rows / floor_cpu_s:,.0f} rows/s (ratio {cpu_s / floor_cpu_s:.2f});  "
        f"csv={size / 1e6:.1f} MB  peak traced memory={peak / 1e6:.1f} MB"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", choices=["sqlite", "postgres", "both"], default="both")
    parser.add_argument("--reps", type=int, default=100_000)
    args = parser.parse_args()
    print(f"load average: {os.getloadavg()[0]:.1f}")
    with tempfile.TemporaryDirectory() as tmp:
        for label, url, schema in targets(tmp, args.db):
            run(label, url, schema, args.reps)


if __name__ == "__main__":
    main()
