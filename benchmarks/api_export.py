"""CSV export of 100k reps: rows/s and peak Python memory, SQLite and PostgreSQL.

In process: streams `api.rep_export.iter_reps_csv` (what GET /export/reps.csv and
`winkwatch export` send) into a byte counter. Rate from an untraced pass; peak memory from a
second pass under tracemalloc (allocations made while exporting, so independent of what the
fill left) and the growth of this process's peak RSS over the export. Floor, same run: the
export's own method on every rep at once (one COPY of the whole query on PostgreSQL, one
fetch + plain_rows_csv of every row on SQLite; no keyset batches), so the ratio is what batching
costs. Reference: the earlier method (the same rows fetched by the driver and written by
`csv.writer`). Wall time and this process's CPU time, best of 3 (on PostgreSQL the server's
share is in its own process). Served: the whole path, GET /export/reps.csv from the API in
its own process (uvicorn, --port) read by httpx, best of 3, wall. Goal: >= 100k rows/s.

    python benchmarks/api_export.py [--db sqlite|postgres|both] [--reps 100000] [--port N]
"""

from __future__ import annotations

import argparse
import csv
import io
import os
import socket
import subprocess
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

import httpx2

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from api.auth import create_token
from api.rep_export import copy_connection, copy_csv, iter_reps_csv, plain_rows_csv
from api.rep_export_sql import csv_float, export_columns, export_select, sqlite_plain_columns
from api.storage.models import Rep
from api.storage.reps import RepFilter
from api.vocab import TokenRole
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


def _whole_query(columns):
    return export_select(columns).order_by(Rep.__table__.c.id)


def _floor(database) -> None:
    """The export's own method on the whole query at once."""
    engine = database.engine
    if engine.dialect.name == "postgresql":
        with copy_connection(engine) as connection:
            compiled = _whole_query(export_columns()).compile(connection)
            copy_csv(connection, compiled, compiled.params)
        return
    with engine.connect() as connection:
        result = connection.execute(_whole_query(sqlite_plain_columns()))
        assert plain_rows_csv(result.cursor.fetchall()) is not None
        result.close()


def _csv_writer_reference(database) -> None:
    """The earlier method: the same rows (floats as floats) by the driver, csv.writer."""
    raw = database.engine.raw_connection()
    try:
        cursor = raw.cursor()
        floats = [
            next(iter(c.clauses)) if isinstance(c, csv_float) else c for c in export_columns()
        ]
        cursor.execute(str(_whole_query(floats).compile(database.engine)))
        out = io.StringIO()
        csv.writer(out, lineterminator="\n").writerows(cursor.fetchall())
        cursor.close()
    finally:
        raw.close()


def _served(url: str, schema: str | None, token: str, port: int, n_reps: int) -> dict:
    """GET /export/reps.csv from uvicorn in its own process, best of REPEATS: wall seconds,
    the server's and this client's CPU seconds in that request, and how far the server's
    peak RSS rose over all of them (MB)."""
    env = dict(os.environ, WINKWATCH_DATABASE_URL=url, WINKWATCH_GATEWAY_ID="bench")
    if schema:
        env["WINKWATCH_DATABASE_SCHEMA"] = schema
    command = [sys.executable, "-m", "uvicorn", "--factory", "api.http:create_app"]
    command += ["--port", str(port), "--log-level", "warning", "--no-access-log"]
    server = subprocess.Popen(command, env=env)
    base = f"http://127.0.0.1:{port}"
    headers = {"Authorization": f"Bearer {token}"}
    try:
        for _ in range(200):
            try:
                httpx2.get(base + "/health", timeout=1)
                break
            except httpx2.TransportError:
                time.sleep(0.1)
        httpx2.get(base + "/export/reps.csv?athlete_id=999999", headers=headers)  # warm
        peak_before = _peak_rss_mb(server.pid)
        best = {"wall_s": float("inf")}
        for _ in range(REPEATS):
            server_cpu_s, client_cpu_s = _cpu_s(server.pid), time.process_time()
            started, lines = time.perf_counter(), 0
            with httpx2.stream("GET", base + "/export/reps.csv", headers=headers) as response:
                response.raise_for_status()
                for chunk in response.iter_bytes():
                    lines += chunk.count(b"\n")
            wall_s = time.perf_counter() - started
            assert lines == n_reps + 1, (lines, n_reps)
            if wall_s < best["wall_s"]:
                best = {
                    "wall_s": wall_s,
                    "server_cpu_s": _cpu_s(server.pid) - server_cpu_s,
                    "client_cpu_s": time.process_time() - client_cpu_s,
                }
        best["rss_growth_mb"] = _peak_rss_mb(server.pid) - peak_before
    finally:
        server.terminate()
        server.wait(timeout=20)
    return best


def _cpu_s(pid: int) -> float:
    """CPU seconds (user + system) a process has used so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _peak_rss_mb(pid: int) -> float:
    """A process's peak resident memory so far (Linux /proc: VmHWM), MB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmHWM in /proc/<pid>/status")


def run(label: str, url: str, schema: str | None, n_reps: int, port: int) -> None:
    database = fresh_database(url, schema)
    fill_reps(database, n_reps)
    with database.sessions.begin() as db:
        _, token = create_token(db, "bench", TokenRole.READ)
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
        served = _served(url, schema, token, port, n_reps)
    finally:
        database.dispose()
        if schema:
            drop_schema(url, schema)
    print(
        f"{label:9s} rows={rows}  load {os.getloadavg()[0]:.1f}  served wall {served['wall_s']:.2f} s = "
        f"{rows / served['wall_s']:,.0f} rows/s (server CPU {served['server_cpu_s']:.2f} s, client "
        f"{served['client_cpu_s']:.2f} s, server peak RSS +{served['rss_growth_mb']:.1f} MB);  "
        f"in process wall {elapsed:.2f} s = {rows / elapsed:,.0f} rows/s, "
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
    parser.add_argument("--port", type=int, default=0, help="the served API's (default: free)")
    args = parser.parse_args()
    print(f"load average: {os.getloadavg()[0]:.1f}")
    with tempfile.TemporaryDirectory() as tmp:
        for label, url, schema in targets(tmp, args.db):
            run(label, url, schema, args.reps, args.port or _free_port())


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


if __name__ == "__main__":
    main()
