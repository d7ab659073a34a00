"""Rep-list latency (p50/p99) and requests/s with stored reps, SQLite and PostgreSQL.

The API runs in its own process (uvicorn, one worker); this process is the load generator
on loopback: CONCURRENCY keep-alive connections, one request in flight each, written with
asyncio streams (`--client httpx`: httpx, which needs 1-4 ms of CPU a request itself). Query mix: the newest page of all reps,
an athlete's flagged reps of one variant, an athlete's reps in a 30-day window, and the
second page of an athlete's reps (cursor). Goal: p99 <= 50 ms at 100k and 1M reps.

In process, per query shape: the whole request through the app (httpx's ASGI transport on
this thread's event loop: auth, routing, query, validation, JSON) against its floor, the bare fetch of the same rows (the
page's SQL on the driver's own connection, rows as tuples). Goal: request <= 3x bare fetch.

    python benchmarks/api_rep_list.py [--db sqlite|postgres|both] [--reps 100000 1000000] [--seconds 10]
    python benchmarks/api_rep_list.py --db sqlite --concurrency 50   # 50 HTTP clients
    python benchmarks/api_rep_list.py --db sqlite --reps 1000000 --keep-db /tmp/ww-bench
        # SQLite: keep the loaded file in that folder and reuse it next time (1M reps load
        # in ~45 s); a file with another number of reps is loaded anew
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import httpx2
import numpy as np
from sqlalchemy import text

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from api.auth import create_token
from api.storage.db import Database, open_database
from api.storage.reps import RepFilter, rep_page_query
from api.vocab import SetVariant, TokenRole
from benchmarks.api_data import drop_schema, fill_reps, fresh_database, targets

CONCURRENCY = 8
CLIENT = "raw"  # the served run's load generator: "raw" (asyncio streams) or "httpx"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _queries() -> list[str]:
    return [
        "/reps?limit=100",
        "/reps?athlete_id=3&variant=back_squat&flagged=true&limit=100",
        "/reps?athlete_id=5&since=2026-03-01T00:00:00Z&until=2026-03-31T00:00:00Z&limit=100",
        "/reps?athlete_id=7&limit=100&cursor=60000",
    ]


async def _load_raw(host: str, port: int, token: str, seconds: float) -> list[float]:
    """CONCURRENCY keep-alive HTTP/1.1 connections, each one request in flight, written and
    read with asyncio streams: ~0.1 ms of this process's CPU a request where httpx needs
    1-4 ms, which on a 2-core machine is taken from the server being measured."""
    latencies: list[float] = []
    queries = _queries()
    deadline = time.perf_counter() + seconds
    requests = [
        (
            f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\n"
            f"Authorization: Bearer {token}\r\nAccept: application/json\r\n\r\n"
        ).encode()
        for path in queries
    ]

    async def fetch(reader, writer, request: bytes) -> tuple[int, bytes]:
        writer.write(request)
        head = await reader.readuntil(b"\r\n\r\n")
        status = int(head.split(b" ", 2)[1])
        length = 0
        for line in head.split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value)
        return status, await reader.readexactly(length)

    async def worker(index: int) -> None:
        reader, writer = await asyncio.open_connection(host, port)
        try:
            await fetch(reader, writer, requests[0])  # warm up
            k = index
            while time.perf_counter() < deadline:
                request = requests[k % len(requests)]
                k += 1
                started = time.perf_counter()
                status, body = await fetch(reader, writer, request)
                latencies.append(time.perf_counter() - started)
                if status != 200:
                    raise RuntimeError(f"{request[:60]!r}: {status} {body[:200]!r}")
        finally:
            writer.close()

    await asyncio.gather(*(worker(i) for i in range(CONCURRENCY)))
    return latencies


async def _load(base: str, token: str, seconds: float) -> list[float]:
    latencies: list[float] = []
    queries = _queries()
    deadline = time.perf_counter() + seconds

    async def worker(index: int, client: httpx2.AsyncClient) -> None:
        k = index
        while time.perf_counter() < deadline:
            path = queries[k % len(queries)]
            k += 1
            started = time.perf_counter()
            response = await client.get(path)
            latencies.append(time.perf_counter() - started)
            if response.status_code != 200:
                raise RuntimeError(f"{path}: {response.status_code} {response.text[:200]}")

    limits = httpx2.Limits(max_connections=CONCURRENCY)
    async with httpx2.AsyncClient(
        base_url=base, headers={"Authorization": f"Bearer {token}"}, limits=limits, timeout=30
    ) as client:
        await client.get("/reps?limit=1")  # warm up
        await asyncio.gather(*(worker(i, client) for i in range(CONCURRENCY)))
    return latencies


def _query_filters() -> list[tuple[RepFilter, int | None]]:
    """The same four shapes as `_queries`, as storage filters (filter, cursor)."""
    return [
        (RepFilter(), None),
        (RepFilter(athlete_id=3, variant=SetVariant.BACK_SQUAT, butt_wink=True), None),
        (
            RepFilter(
                athlete_id=5,
                since=datetime(2026, 3, 1, tzinfo=UTC),
                until=datetime(2026, 3, 31, tzinfo=UTC),
            ),
            None,
        ),
        (RepFilter(athlete_id=7), 60000),
    ]


def _best_ms(call, repeats: int) -> float:
    """Best CPU time of `call` in ms (the process's CPU, all threads: on a shared machine
    wall time mostly measures waiting for a core)."""
    best = float("inf")
    for _ in range(repeats):
        started = time.process_time()
        call()
        best = min(best, time.process_time() - started)
    return best * 1e3


def in_process(database, url: str, schema: str | None, token: str, repeats: int = 100) -> float:
    """Whole request in process vs the bare fetch of the same page, per query shape; returns
    the bare fetch's CPU time averaged over the shapes (ms)."""
    from api.http import create_app
    from api.http.routes.reps import REP_PAGE_COLUMNS
    from api.settings import Settings

    settings = Settings(database_url=url, database_schema=schema, gateway_id="bench")
    app = create_app(settings, database=database)
    print(
        "| query | bare fetch (CPU) | app alone, ASGI (CPU) | ratio "
        "| request with httpx client (CPU) | ratio |"
    )
    print("| --- | ---: | ---: | ---: | ---: | ---: |")
    bare_all: list[float] = []
    for path, (where, cursor) in zip(_queries(), _query_filters()):
        statement = rep_page_query(where, cursor, 100, REP_PAGE_COLUMNS)
        compiled = statement.compile(database.engine)
        values = compiled.construct_params()
        for name, process in compiled._bind_processors.items():  # as SQLAlchemy binds
            values[name] = process(values[name])
        if database.engine.dialect.name == "sqlite":
            params = tuple(values[name] for name in compiled.positiontup)  # qmark style
        else:
            params = values
        raw = database.engine.raw_connection()

        def bare(raw=raw, sql=str(compiled), params=params) -> None:
            cursor_ = raw.cursor()
            cursor_.execute(sql, params)
            cursor_.fetchall()
            cursor_.close()

        try:
            bare()
            bare_ms = _best_ms(bare, repeats)
        finally:
            raw.close()
        bare_all.append(bare_ms)
        request_ms = asyncio.run(_request_ms(app, token, path, repeats))
        app_ms = asyncio.run(_asgi_ms(app, token, path, repeats))
        print(
            f"| `{path}` | {bare_ms:.2f} ms | {app_ms:.2f} ms | {app_ms / bare_ms:.1f} "
            f"| {request_ms:.2f} ms | {request_ms / bare_ms:.1f} |"
        )
    return sum(bare_all) / len(bare_all)


def _cpu_s(pid: int) -> float:
    """CPU seconds (user + system) a process has used so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def _asgi_ms(app, token: str, path: str, repeats: int) -> float:
    """Best CPU time of the app alone answering `path`: the ASGI call with a minimal scope,
    no HTTP client (what the server pays per request, without the load generator's side)."""
    route, _, query = path.partition("?")
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": route,
        "raw_path": route.encode(),
        "query_string": query.encode(),
        "root_path": "",
        "headers": [(b"host", b"app"), (b"authorization", f"Bearer {token}".encode())],
        "client": ("127.0.0.1", 50000),
        "server": ("app", 80),
        "state": {},
    }

    async def receive() -> dict:
        return {"type": "http.request", "body": b"", "more_body": False}

    status: list[int] = []

    async def send(message: dict) -> None:
        if message["type"] == "http.response.start":
            status.append(message["status"])

    best = float("inf")
    for _ in range(repeats + 1):
        started = time.process_time()
        await app(dict(scope), receive, send)
        best = min(best, time.process_time() - started)
    assert set(status) == {200}, status
    return best * 1e3


async def _request_ms(app, token: str, path: str, repeats: int) -> float:
    transport = httpx2.ASGITransport(app=app)
    headers = {"Authorization": f"Bearer {token}"}
    async with httpx2.AsyncClient(
        transport=transport, base_url="http://app", headers=headers
    ) as client:
        best = float("inf")
        for _ in range(repeats + 1):
            started = time.process_time()
            response = await client.get(path)
            best = min(best, time.process_time() - started)
            assert response.status_code == 200, response.text
    return best * 1e3


def _kept_sqlite(keep_dir: str, n_reps: int) -> tuple[str, Database | None]:
    """The kept SQLite file's URL for `n_reps` reps, and the database opened (schema
    upgraded) if that file holds exactly the reps `fill_reps` stores, else None."""
    path = Path(keep_dir) / f"bench-{n_reps}.db"
    url = f"sqlite:///{path}"
    if not path.exists():
        return url, None
    database = open_database(url)
    with database.engine.connect() as connection:
        stored, top = connection.execute(text("SELECT count(*), max(id) FROM reps")).one()
    if stored == n_reps and top == n_reps:
        return url, database
    database.dispose()
    return url, None


def run(
    label: str,
    url: str,
    schema: str | None,
    n_reps: int,
    seconds: float,
    in_process_only: bool,
    keep_dir: str | None = None,
) -> None:
    database = None
    if keep_dir and not schema:
        url, database = _kept_sqlite(keep_dir, n_reps)
    if database is not None:
        fill_s = 0.0
        print(f"\n(reusing {url})")
    else:
        database = fresh_database(url, schema)
        fill_s = fill_reps(database, n_reps)
    with database.sessions.begin() as db:
        _, token = create_token(db, "bench", TokenRole.READ)
    print(f"\n{label}, {n_reps} reps (bulk-loaded in {fill_s:.1f} s)\n")
    bare_ms = in_process(database, url, schema, token)
    database.dispose()
    if in_process_only:
        if schema:
            drop_schema(url, schema)
        return
    port = _free_port()
    env = dict(os.environ, WINKWATCH_DATABASE_URL=url, WINKWATCH_GATEWAY_ID="bench")
    if schema:
        env["WINKWATCH_DATABASE_SCHEMA"] = schema
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "uvicorn",
            "--factory",
            "api.http:create_app",
            "--port",
            str(port),
            "--log-level",
            "warning",
            "--no-access-log",
        ],
        env=env,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        for _ in range(100):
            try:
                httpx2.get(base + "/health", timeout=1)
                break
            except httpx2.TransportError:
                time.sleep(0.1)
        server_cpu_s, client_cpu_s = _cpu_s(server.pid), time.process_time()
        load_before = os.getloadavg()[0]
        started = time.perf_counter()
        if CLIENT == "httpx":
            latencies = np.asarray(asyncio.run(_load(base, token, seconds)))
        else:
            latencies = np.asarray(asyncio.run(_load_raw("127.0.0.1", port, token, seconds)))
        elapsed = time.perf_counter() - started
        server_cpu_s = _cpu_s(server.pid) - server_cpu_s
        client_cpu_s = time.process_time() - client_cpu_s
        load_after = os.getloadavg()[0]
    finally:
        server.terminate()
        server.wait(timeout=20)
        if schema:
            drop_schema(url, schema)
    print(
        f"{label:9s} reps={n_reps} (stored in {fill_s:.1f} s)  requests={latencies.size}  "
        f"p50={np.percentile(latencies, 50) * 1e3:.1f} ms  p99={np.percentile(latencies, 99) * 1e3:.1f} ms  "
        f"throughput={latencies.size / elapsed:.0f} req/s  (concurrency {CONCURRENCY}, "
        f"page 100, {CLIENT} client)\n"
        f"          server CPU per request {server_cpu_s / latencies.size * 1e3:.2f} ms "
        f"({server_cpu_s / latencies.size * 1e3 / bare_ms:.1f}x the bare fetch's "
        f"{bare_ms:.2f} ms), load generator {client_cpu_s / latencies.size * 1e3:.2f} ms; "
        f"load average {load_before:.1f} -> {load_after:.1f}"
    )


def main() -> None:
    global CONCURRENCY, CLIENT
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", choices=["sqlite", "postgres", "both"], default="both")
    parser.add_argument("--reps", type=int, nargs="+", default=[100_000])
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument(
        "--concurrency", type=int, default=CONCURRENCY, help="HTTP clients (requests in flight)"
    )
    parser.add_argument(
        "--client",
        choices=["raw", "httpx"],
        default=CLIENT,
        help="load generator of the served run (raw: keep-alive asyncio streams, light)",
    )
    parser.add_argument("--in-process-only", action="store_true", help="skip the served load test")
    parser.add_argument(
        "--keep-db",
        metavar="DIR",
        help="SQLite: keep the loaded file in DIR (bench-N.db) and reuse it when it holds N reps",
    )
    args = parser.parse_args()
    if args.keep_db:
        Path(args.keep_db).mkdir(parents=True, exist_ok=True)
    CONCURRENCY = args.concurrency
    CLIENT = args.client
    print(f"load average: {os.getloadavg()[0]:.1f}")
    with tempfile.TemporaryDirectory() as tmp:
        for n_reps in args.reps:
            for label, url, schema in targets(tmp, args.db):
                run(label, url, schema, n_reps, args.seconds, args.in_process_only, args.keep_db)


if __name__ == "__main__":
    main()
