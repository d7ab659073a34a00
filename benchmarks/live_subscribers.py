"""Live stream under many WebSocket subscribers: latency of live angles, handshakes, shutdown.

`winkwatch serve --simulate 1` runs in its own process (uvicorn, one worker, SQLite in a
temporary folder); this process opens N WebSocket clients on loopback, all following the
simulated athlete, and for every `live_angles` message measures

    latency = time received - the sample's instant (`wall_utc`)

i.e. analysis + fan-out + delivery, what a phone sees. The same is measured first with one
subscriber (the floor, same run, same server), so the report gives p50/p90/p99 for both and
the ratio. Then the server is stopped with SIGTERM while the N clients are connected, and the
time to exit is reported. Every loop is bounded (`--seconds`, connect timeouts).

    python benchmarks/live_subscribers.py                  # 500 subscribers, 15 s
    python benchmarks/live_subscribers.py --subscribers 100 --seconds 8
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

import httpx
import numpy as np
import websockets

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from api.auth import create_token
from api.storage.db import open_database
from api.vocab import TokenRole

CONNECT_BATCH = 50  # handshakes in flight at once
CONNECT_TIMEOUT_S = 20.0
START_TIMEOUT_S = 60.0
GOAL_P99_S = 0.150


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _start_server(root: Path) -> tuple[subprocess.Popen, int, str]:
    url = f"sqlite:///{root / 'ww.db'}"
    database = open_database(url)
    with database.sessions.begin() as db:
        _, token = create_token(db, "benchmark", TokenRole.READ)
    database.dispose()
    port = _free_port()
    env = dict(
        os.environ,
        WINKWATCH_DATABASE_URL=url,
        WINKWATCH_GATEWAY_ID="bench-live",
        WINKWATCH_GATEWAY_CONFIG_FILE=str(root / "gateway.json"),
    )
    command = [sys.executable, "-m", "api.cli.main", "serve", "--simulate", "1"]
    process = subprocess.Popen(
        [*command, "--port", str(port), "--log-level", "warning"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/health", timeout=2).status_code == 200:
                return process, port, token
        except httpx.TransportError:
            time.sleep(0.3)
    process.kill()
    raise SystemExit("the server did not start")


def _athlete_id(port: int, token: str) -> int:
    headers = {"Authorization": f"Bearer {token}"}
    athletes = httpx.get(f"http://127.0.0.1:{port}/athletes", headers=headers).json()["items"]
    return athletes[0]["id"]


async def _connect(uri: str, token: str, count: int) -> tuple[list, list[float]]:
    headers = {"Authorization": f"Bearer {token}"}
    sockets, handshakes_s = [], []

    async def one():
        started = time.perf_counter()
        ws = await asyncio.wait_for(
            websockets.connect(uri, additional_headers=headers, compression=None),
            CONNECT_TIMEOUT_S,
        )
        handshakes_s.append(time.perf_counter() - started)
        return ws

    for first in range(0, count, CONNECT_BATCH):
        batch = min(CONNECT_BATCH, count - first)
        sockets += await asyncio.gather(*(one() for _ in range(batch)))
    return sockets, handshakes_s


async def _listen(ws, until_s: float, latencies_s: list[float]) -> int:
    received = 0
    try:
        while (remaining := until_s - time.monotonic()) > 0:
            text = await asyncio.wait_for(ws.recv(), remaining)
            now = time.time()
            received += 1
            if '"live_angles"' in text:
                sent = datetime.fromisoformat(json.loads(text)["wall_utc"]).timestamp()
                latencies_s.append(now - sent)
    except (TimeoutError, websockets.ConnectionClosed):
        pass
    return received


async def _measure(uri: str, token: str, subscribers: int, seconds: float) -> dict:
    sockets, handshakes_s = await _connect(uri, token, subscribers)
    latencies_s: list[float] = []
    until_s = time.monotonic() + seconds
    received = await asyncio.gather(*(_listen(ws, until_s, latencies_s) for ws in sockets))
    await asyncio.gather(*(ws.close() for ws in sockets), return_exceptions=True)
    lat = np.array(latencies_s)
    return dict(
        subscribers=subscribers,
        messages_per_s=sum(received) / seconds,
        p50_ms=float(np.percentile(lat, 50) * 1e3) if lat.size else float("nan"),
        p90_ms=float(np.percentile(lat, 90) * 1e3) if lat.size else float("nan"),
        p99_ms=float(np.percentile(lat, 99) * 1e3) if lat.size else float("nan"),
        handshake_p99_ms=float(np.percentile(handshakes_s, 99) * 1e3),
        silent_clients=sum(1 for r in received if r == 0),
    )


async def _stop_with_clients(process, uri: str, token: str, subscribers: int) -> float:
    sockets, _ = await _connect(uri, token, subscribers)
    started = time.monotonic()
    process.send_signal(signal.SIGTERM)
    while process.poll() is None and time.monotonic() - started < 30:
        await asyncio.sleep(0.05)
    stopped_after_s = time.monotonic() - started
    await asyncio.gather(*(ws.close() for ws in sockets), return_exceptions=True)
    return stopped_after_s


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--subscribers", type=int, default=500)
    parser.add_argument("--seconds", type=float, default=15.0)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="ww-bench-live-") as folder:
        process, port, token = _start_server(Path(folder))
        try:
            uri = f"ws://127.0.0.1:{port}/live/ws?athlete_id={_athlete_id(port, token)}"
            time.sleep(3.0)  # the simulated athlete is calibrated and squatting
            floor = asyncio.run(_measure(uri, token, 1, args.seconds))
            loaded = asyncio.run(_measure(uri, token, args.subscribers, args.seconds))
            stop_s = asyncio.run(_stop_with_clients(process, uri, token, args.subscribers))
        finally:
            if process.poll() is None:
                process.kill()
                process.wait()
    print(
        f"{'subscribers':>11} {'msg/s':>8} {'p50 ms':>7} {'p90 ms':>7} {'p99 ms':>7} "
        f"{'handshake p99 ms':>16} {'silent':>6}"
    )
    for row in (floor, loaded):
        print(
            f"{row['subscribers']:>11} {row['messages_per_s']:>8.0f} {row['p50_ms']:>7.1f} "
            f"{row['p90_ms']:>7.1f} {row['p99_ms']:>7.1f} {row['handshake_p99_ms']:>16.1f} "
            f"{row['silent_clients']:>6}"
        )
    print(f"p99 ratio to the 1-subscriber floor: {loaded['p99_ms'] / floor['p99_ms']:.2f}")
    verdict = "meets" if loaded["p99_ms"] <= GOAL_P99_S * 1e3 else "misses"
    print(f"goal p99 <= {GOAL_P99_S * 1e3:.0f} ms with {args.subscribers} subscribers: {verdict}")
    print(f"SIGTERM with {args.subscribers} clients connected: exited after {stop_s:.2f} s")


if __name__ == "__main__":
    main()
