"""CSV export of 100k reps: rows/s and peak Python memory, SQLite and PostgreSQL.

Streams `api.rep_export.iter_reps_csv` (what GET /export/reps.csv and `winkwatch export`
send) into a byte counter. Rate from an untraced pass; peak memory from a second pass under
tracemalloc (allocations made while exporting, so independent of what the fill left).
Floor, same run: the export's own method on every rep at once (one COPY of the whole query on
PostgreSQL, one fetch + format of every row on SQLite; no keyset batches), so the ratio is
what batching costs. Reference: the earlier method (the same rows fetched by the driver and
written by `csv.writer`). Wall time and this process's CPU time, best of 3 (on PostgreSQL the
server's share is in its own process). Goal: >= 100k rows/s.

    python benchmarks/api_export.py [--db sqlite|postgres|both] [--reps 100000]
"""

from __future__ import annotations

import argparse
import csv
import io
import os
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from api.rep_export import batch_writer, iter_reps_csv
from api.rep_export_sql import csv_float, export_columns, export_select
from api.storage.models import Rep
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


def _timed(work) -> tuple[float, float]:
    """(wall, CPU) seconds of `work()`, best of REPEATS."""
    wall = cpu = float("inf")
    for _ in range(REPEATS):
        started, started_cpu = time.perf_counter(), time.process_time()
        work()
        wall = min(wall, time.perf_counter() - started)
        cpu = min(cpu, time.process_time() - started_cpu)
    return wall, cpu


def _whole_query(floats_as_text: bool = True):
    table = Rep.__table__
    columns = [
        c if floats_as_text or not isinstance(c, csv_float) else next(iter(c.clauses))
        for c in export_columns()
    ]
    return export_select().with_only_columns(*columns).order_by(table.c.id)


def _floor(database) -> None:
    """The export's batch writer on the whole query at once."""
    with database.sessions() as db:
        batch_writer(db)(db, _whole_query())


def _csv_writer_reference(database) -> None:
    """The earlier method: the same rows (floats as floats) by the driver, csv.writer."""
    raw = database.engine.raw_connection()
    try:
        cursor = raw.cursor()
        cursor.execute(str(_whole_query(floats_as_text=False).compile(database.engine)))
        out = io.StringIO()
        csv.writer(out, lineterminator="\n").writerows(cursor.fetchall())
        cursor.close()
    finally:
        raw.close()


def run(label: str, url: str, schema: str | None, n_reps: int) -> None:
    database = fresh_database(url, schema)
    fill_reps(database, n_reps)
    try:
        rows, size = _export(database)
        assert rows == n_reps, (rows, n_reps)
        floor_s, floor_cpu_s = _timed(lambda: _floor(database))
        elapsed, cpu_s = _timed(lambda: _export(database))
        reference_s, reference_cpu_s = _timed(lambda: _csv_writer_reference(database))
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
        f"{rows / floor_cpu_s:,.0f} rows/s (ratio {cpu_s / floor_cpu_s:.2f}); csv.writer "
        f"reference wall {rows / reference_s:,.0f} rows/s, CPU {rows / reference_cpu_s:,.0f} "
        f"rows/s;  "
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
