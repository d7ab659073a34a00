"""Rep-list latency (p50/p99) and requests/s with 100k stored reps, SQLite and PostgreSQL.

The API runs in its own process (uvicorn, one worker); this process is the load generator
(httpx, CONCURRENCY requests in flight) on loopback. Query mix: the newest page of all reps,
an athlete's flagged reps of one variant, an athlete's reps in a 30-day window, and the
second page of an athlete's reps (cursor).

    python benchmarks/api_rep_list.py [--db sqlite|postgres|both] [--reps 100000] [--seconds 10]
    python benchmarks/api_rep_list.py --db sqlite --concurrency 50   # 50 HTTP clients
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
from pathlib import Path

import httpx
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from api.auth import create_token
from api.vocab import TokenRole
from benchmarks.api_data import drop_schema, fill_reps, fresh_database, targets

CONCURRENCY = 8


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


async def _load(base: str, token: str, seconds: float) -> list[float]:
    latencies: list[float] = []
    queries = _queries()
    deadline = time.perf_counter() + seconds

    async def worker(index: int, client: httpx.AsyncClient) -> None:
        k = index
        while time.perf_counter() < deadline:
            path = queries[k % len(queries)]
            k += 1
            started = time.perf_counter()
            response = await client.get(path)
            latencies.append(time.perf_counter() - started)
            if response.status_code != 200:
                raise RuntimeError(f"{path}: {response.status_code} {response.text[:200]}")

    limits = httpx.Limits(max_connections=CONCURRENCY)
    async with httpx.AsyncClient(
        base_url=base, headers={"Authorization": f"Bearer {token}"}, limits=limits, timeout=30
    ) as client:
        await client.get("/reps?limit=1")  # warm up
        await asyncio.gather(*(worker(i, client) for i in range(CONCURRENCY)))
    return latencies


def run(label: str, url: str, schema: str | None, n_reps: int, seconds: float) -> None:
    database = fresh_database(url, schema)
    fill_s = fill_reps(database, n_reps)
    with database.sessions.begin() as db:
        _, token = create_token(db, "bench", TokenRole.READ)
    database.dispose()
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
                httpx.get(base + "/health", timeout=1)
                break
            except httpx.TransportError:
                time.sleep(0.1)
        started = time.perf_counter()
        latencies = np.asarray(asyncio.run(_load(base, token, seconds)))
        elapsed = time.perf_counter() - started
    finally:
        server.terminate()
        server.wait(timeout=20)
        if schema:
            drop_schema(url, schema)
    print(
        f"{label:9s} reps={n_reps} (stored in {fill_s:.1f} s)  requests={latencies.size}  "
        f"p50={np.percentile(latencies, 50) * 1e3:.1f} ms  p99={np.percentile(latencies, 99) * 1e3:.1f} ms  "
        f"throughput={latencies.size / elapsed:.0f} req/s  (concurrency {CONCURRENCY}, page 100)"
    )


def main() -> None:
    global CONCURRENCY
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", choices=["sqlite", "postgres", "both"], default="both")
    parser.add_argument("--reps", type=int, default=100_000)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument(
        "--concurrency", type=int, default=CONCURRENCY, help="HTTP clients (requests in flight)"
    )
    args = parser.parse_args()
    CONCURRENCY = args.concurrency
    with tempfile.TemporaryDirectory() as tmp:
        for label, url, schema in targets(tmp, args.db):
            run(label, url, schema, args.reps, args.seconds)


if __name__ == "__main__":
    main()
