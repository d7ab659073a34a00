"""Live stream under many WebSocket subscribers: latency of live angles, handshakes, shutdown.

`winkwatch serve --simulate 1` runs in its own process (uvicorn, one worker, SQLite in a
temporary folder); this process opens N WebSocket clients on loopback, all following the
simulated athlete, and for every `live_angles` message measures

    latency = time received - the sample's instant (`wall_utc`)

i.e. analysis + fan-out + delivery, what a phone sees. Clients ask for `batch=true` as the
dashboard does (each frame a JSON array of what was queued for that client; `--no-batch`:
one message per frame); messages are counted inside frames. The same is measured first with one
subscriber (the floor, same run), so the report gives p50/p90/p99 for both and the ratio. Each
of the two gets a fresh server and measures the same window after its start (`--window-at`):
the simulated athlete's sets are seeded, so both windows hold the same samples, with the same
packet cadence (4-10 samples a packet at 50-200 Hz: a packet's first sample is up to 180 ms old
when it arrives) and the same radio gaps. Measured one after the other on one server, the two
windows held different sets, and the difference in their cadence and gaps was reported as the
cost of the subscribers. Also reported: the fan-out spread (a client's latency minus the
earliest client's for the same sample) and this process's own loop lag, which bounds how late
it timestamps a frame. Then the server is stopped with SIGTERM while the N clients are connected, and the
time to exit is reported. Every loop is bounded (`--seconds`, connect timeouts).

    python benchmarks/live_subscribers.py                  # 500 subscribers, 15 s
    python benchmarks/live_subscribers.py --subscribers 100 --seconds 8
    python benchmarks/live_subscribers.py --no-batch     # one message per frame
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

import httpx2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from api.auth import create_token
from api.storage.db import open_database
from api.vocab import TokenRole

CONNECT_BATCH = 50  # handshakes in flight at once
CONNECT_TIMEOUT_S = 20.0
START_TIMEOUT_S = 60.0
GOAL_P99_S = 0.150
LAG_PROBE_S = 0.005
WINDOW_AT_S = 8.0  # the athlete is calibrated and squatting; 500 handshakes are done
QUIET_PATH = "/live/ws?athlete_id=999999"
WALL_UTC = re.compile(rb'"wall_utc": "([^"]+)"')
SET_KEY = re.compile(rb'"set_key": "([^"]+)"')
GAP = re.compile(rb'"gap": \{"start_s": ([-+0-9.eE]+), "end_s": ([-+0-9.eE]+)')


class _Received:
    """What all clients received: each live angle's (set, sample instant, latency) and each
    set's calibration instant.

    Live angles of a set start only once the analyser has calibrated on the standing posture;
    it then publishes the angles of the samples it buffered while calibrating, up to ~3 s old
    when published. Those catch-up messages are late by construction (like a rep, which is
    complete only once the thigh is back), so they are counted apart: the live figures are the
    angles of samples after the set's calibration instant.
    """

    def __init__(self) -> None:
        self.angles: list[tuple[bytes, float, float]] = []
        self.calibrated_at: dict[bytes, float] = {}
        self.gaps: set[tuple[float, float]] = set()  # radio gaps, (start, end) wall clock

    def clear(self) -> None:
        self.angles.clear()

    def latencies_s(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(live, catch-up) latencies in s, and for each live one whether its sample lies in a
        radio gap of a sensor (it can only be computed once the sensor's data resumes)."""
        live, catch_up, in_gap = [], [], []
        for set_key, wall_s, latency_s in self.angles:
            calibrated_s = self.calibrated_at.get(set_key)
            if calibrated_s is not None and wall_s <= calibrated_s:
                catch_up.append(latency_s)
                continue
            live.append(latency_s)
            in_gap.append(any(start <= wall_s <= end for start, end in self.gaps))
        return np.array(live), np.array(catch_up), np.array(in_gap, dtype=bool)

    def spread_s(self) -> np.ndarray:
        """For every live angle received: its latency minus the earliest client's for the same
        sample, i.e. what delivering to many clients adds (fan-out + this process's loop)."""
        first: dict[tuple[bytes, float], float] = {}
        for set_key, wall_s, latency_s in self.angles:
            key = (set_key, wall_s)
            first[key] = min(first.get(key, latency_s), latency_s)
        return np.array([lat - first[(k, w)] for k, w, lat in self.angles])


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _start_server(root: Path) -> tuple[subprocess.Popen, int, str, float]:
    """A fresh server: (process, port, read token, monotonic time it first answered)."""
    root.mkdir()
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
            if httpx2.get(f"http://127.0.0.1:{port}/health", timeout=2).status_code == 200:
                return process, port, token, time.monotonic()
        except httpx2.TransportError:
            time.sleep(0.3)
    process.kill()
    raise SystemExit("the server did not start")


def _stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.kill()
        process.wait()


def _athlete_id(port: int, token: str) -> int:
    headers = {"Authorization": f"Bearer {token}"}
    athletes = httpx2.get(f"http://127.0.0.1:{port}/athletes", headers=headers).json()["items"]
    return athletes[0]["id"]


class _Subscriber(asyncio.Protocol):
    """A minimal WebSocket client (handshake, unmasked server frames, pongs), so that 500 of them
    in one process cost little CPU and the measurement shows the server, not this client.
    Latency is taken from each `live_angles` message's `wall_utc`."""

    def __init__(self, request: bytes, received: _Received) -> None:
        self._request = request
        self._received = received
        self._buffer = bytearray()
        self.upgraded = asyncio.get_running_loop().create_future()
        self.received = 0  # messages
        self.frames = 0
        self.closed = False
        self.close_reason = ""  # the server's close frame (code and reason), if it sent one
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport) -> None:
        self.transport = transport
        transport.write(self._request)

    def connection_lost(self, exc) -> None:
        self.closed = True
        if not self.upgraded.done():
            self.upgraded.set_exception(ConnectionError("closed during the handshake"))

    def data_received(self, data: bytes) -> None:
        self._buffer += data
        if not self.upgraded.done():
            end = self._buffer.find(b"\r\n\r\n")
            if end < 0:
                return
            status = bytes(self._buffer[:12])
            del self._buffer[: end + 4]
            if b" 101" not in status:
                self.upgraded.set_exception(ConnectionError(status.decode()))
                return
            self.upgraded.set_result(None)
        self._frames()

    def _frames(self) -> None:
        buffer = self._buffer
        while len(buffer) >= 2:
            opcode, length, offset = buffer[0] & 0x0F, buffer[1] & 0x7F, 2
            if length == 126:
                if len(buffer) < 4:
                    return
                length, offset = int.from_bytes(buffer[2:4], "big"), 4
            elif length == 127:
                if len(buffer) < 10:
                    return
                length, offset = int.from_bytes(buffer[2:10], "big"), 10
            if len(buffer) < offset + length:
                return
            payload = bytes(buffer[offset : offset + length])
            del buffer[: offset + length]
            if opcode == 0x9:  # ping: answer (uvicorn closes a client silent for 20 s, 1011)
                self._pong(payload)
                continue
            if opcode == 0x8:  # close: a 2-byte code, then the reason
                self.closed = True
                self.close_reason = (
                    f"{int.from_bytes(payload[:2], 'big')} {payload[2:].decode(errors='replace')}"
                )
                return
            self.frames += 1
            # A batched frame is a JSON array of messages, each starting with its type.
            for message in payload.split(b'{"type": ')[1:] if payload[:1] == b"[" else [payload]:
                self._message(message)

    def _pong(self, payload: bytes) -> None:
        """A pong frame with the ping's payload (<= 125 bytes), masked as a client's must be."""
        if self.transport is None:
            return
        mask = os.urandom(4)
        masked = bytes(byte ^ mask[i % 4] for i, byte in enumerate(payload))
        self.transport.write(bytes([0x8A, 0x80 | len(payload)]) + mask + masked)

    def _message(self, payload: bytes) -> None:
        self.received += 1
        if b'"live_angles"' in payload:
            now = time.time()
            wall, set_key = WALL_UTC.search(payload), SET_KEY.search(payload)
            if wall and set_key:
                sent = datetime.fromisoformat(wall.group(1).decode()).timestamp()
                self._received.angles.append((set_key.group(1), sent, now - sent))
        elif b'"sensor_status_changed"' in payload:
            wall, gap = WALL_UTC.search(payload), GAP.search(payload)
            if wall and gap:
                end_s = datetime.fromisoformat(wall.group(1).decode()).timestamp()
                length_s = float(gap.group(2)) - float(gap.group(1))
                self._received.gaps.add((round(end_s - length_s, 3), round(end_s, 3)))
        elif b'"calibrated"' in payload:
            wall, set_key = WALL_UTC.search(payload), SET_KEY.search(payload)
            if wall and set_key:
                at_s = datetime.fromisoformat(wall.group(1).decode()).timestamp()
                self._received.calibrated_at[set_key.group(1)] = at_s

    def close(self) -> None:
        if self.transport is not None:
            self.transport.close()


async def _connect(port: int, path: str, token: str, count: int, received: _Received):
    loop = asyncio.get_running_loop()
    request = (
        f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\n"
        "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
        f"Sec-WebSocket-Version: 13\r\nAuthorization: Bearer {token}\r\n\r\n"
    ).encode()
    clients, handshakes_s = [], []

    async def one():
        started = time.perf_counter()
        _, client = await asyncio.wait_for(
            loop.create_connection(lambda: _Subscriber(request, received), "127.0.0.1", port),
            CONNECT_TIMEOUT_S,
        )
        await asyncio.wait_for(client.upgraded, CONNECT_TIMEOUT_S)
        handshakes_s.append(time.perf_counter() - started)
        return client

    for first in range(0, count, CONNECT_BATCH):
        batch = min(CONNECT_BATCH, count - first)
        clients += await asyncio.gather(*(one() for _ in range(batch)))
    return clients, handshakes_s


def _cpu_s(pid: int) -> float:
    """User + system CPU seconds of process `pid` so far (/proc/<pid>/stat)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def _loop_lag(lags_s: list[float]) -> None:
    """How late this process's loop runs a 5 ms timer: how late it may timestamp a frame."""
    while True:
        started = time.perf_counter()
        await asyncio.sleep(LAG_PROBE_S)
        lags_s.append(time.perf_counter() - started - LAG_PROBE_S)


async def _measure(
    server_pid: int,
    port: int,
    path: str,
    token: str,
    subscribers: int,
    seconds: float,
    window_at_s: float,
) -> dict:
    """Connect `subscribers` clients and measure from `window_at_s` (monotonic) on, so that
    runs against servers started the same way see the same simulated samples."""
    seen = _Received()
    clients, handshakes_s = await _connect(port, path, token, subscribers, seen)
    wait_s = window_at_s - time.monotonic()
    if wait_s < 1.0:
        raise SystemExit(
            f"connecting took too long: the window would start {-wait_s:.1f} s late; "
            "raise --window-at"
        )
    await asyncio.sleep(wait_s)
    seen.clear()
    lags_s: list[float] = []
    lag_probe = asyncio.create_task(_loop_lag(lags_s))
    received_before = [c.received for c in clients]
    frames_before = sum(c.frames for c in clients)
    server_cpu_before_s, client_cpu_before_s = _cpu_s(server_pid), time.process_time()
    await asyncio.sleep(seconds)
    lag_probe.cancel()
    server_cpu_s = _cpu_s(server_pid) - server_cpu_before_s
    client_cpu_s = time.process_time() - client_cpu_before_s
    received = [c.received - before for c, before in zip(clients, received_before)]
    frames = sum(c.frames for c in clients) - frames_before
    dropped = sum(1 for c in clients if c.closed)
    reasons = sorted({c.close_reason or "connection lost" for c in clients if c.closed})
    for client in clients:
        client.close()
    lat, catch_up, in_gap = seen.latencies_s()
    outside = lat[~in_gap] if lat.size else lat
    spread = seen.spread_s()
    return dict(
        subscribers=subscribers,
        messages_per_s=sum(received) / seconds,
        frames_per_s=frames / seconds,
        p50_ms=float(np.percentile(lat, 50) * 1e3) if lat.size else float("nan"),
        p90_ms=float(np.percentile(lat, 90) * 1e3) if lat.size else float("nan"),
        p99_ms=float(np.percentile(lat, 99) * 1e3) if lat.size else float("nan"),
        p99_outside_gaps_ms=float(np.percentile(outside, 99) * 1e3)
        if outside.size
        else float("nan"),
        in_gap=int(in_gap.sum()),
        handshake_p99_ms=float(np.percentile(handshakes_s, 99) * 1e3),
        dropped=dropped,
        dropped_reasons=reasons,
        catch_up=catch_up.size,
        catch_up_p99_ms=float(np.percentile(catch_up, 99) * 1e3) if catch_up.size else float("nan"),
        spread_p50_ms=float(np.percentile(spread, 50) * 1e3) if spread.size else float("nan"),
        spread_p99_ms=float(np.percentile(spread, 99) * 1e3) if spread.size else float("nan"),
        loop_lag_p99_ms=float(np.percentile(lags_s, 99) * 1e3) if lags_s else float("nan"),
        server_cpu_share=server_cpu_s / seconds,
        client_cpu_share=client_cpu_s / seconds,
    )


def _rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


async def _connect_close_cycles(port: int, token: str, cycles: int) -> None:
    """Quiet clients (an athlete with no events) that connect and go away, 50 at a time."""
    for first in range(0, cycles, CONNECT_BATCH):
        clients, _ = await _connect(
            port, QUIET_PATH, token, min(CONNECT_BATCH, cycles - first), _Received()
        )
        for client in clients:
            client.close()
    await asyncio.sleep(2.0)


async def _stop_with_clients(process, port: int, path: str, token: str, count: int) -> float:
    clients, _ = await _connect(port, path, token, count, _Received())
    started = time.monotonic()
    process.send_signal(signal.SIGTERM)
    while process.poll() is None and time.monotonic() - started < 30:
        await asyncio.sleep(0.05)
    stopped_after_s = time.monotonic() - started
    for client in clients:
        client.close()
    return stopped_after_s


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--subscribers", type=int, default=500)
    parser.add_argument("--seconds", type=float, default=15.0)
    parser.add_argument("--cycles", type=int, default=2000, help="quiet connect-close cycles")
    parser.add_argument(
        "--window-at",
        type=float,
        default=WINDOW_AT_S,
        help="s after the server answers at which both measurement windows start",
    )
    parser.add_argument(
        "--no-batch", action="store_true", help="one message per frame (no batch=true)"
    )
    args = parser.parse_args()
    print(f"load average before: {os.getloadavg()[0]:.1f}")
    with tempfile.TemporaryDirectory(prefix="ww-bench-live-") as folder:
        # The floor and the loaded run each get a fresh server and measure the same window
        # after its start: the simulated athlete performs the same seeded sets, so both see
        # the same samples (packet cadence, radio gaps), and only the subscriber count differs.
        process, port, token, started_s = _start_server(Path(folder) / "floor")
        try:
            path = f"/live/ws?athlete_id={_athlete_id(port, token)}"
            if not args.no_batch:
                path += "&batch=true"
            floor = asyncio.run(
                _measure(
                    process.pid, port, path, token, 1, args.seconds, started_s + args.window_at
                )
            )
            rss_before_mb = _rss_mb(process.pid)
            asyncio.run(_connect_close_cycles(port, token, args.cycles))
            rss_after_mb = _rss_mb(process.pid)
        finally:
            _stop(process)
        process, port, token, started_s = _start_server(Path(folder) / "loaded")
        try:
            loaded = asyncio.run(
                _measure(
                    process.pid,
                    port,
                    path,
                    token,
                    args.subscribers,
                    args.seconds,
                    started_s + args.window_at,
                )
            )
            stop_s = asyncio.run(_stop_with_clients(process, port, path, token, args.subscribers))
        finally:
            _stop(process)
    print(f"frames: {'one message each' if args.no_batch else 'batch=true (arrays)'}")
    print(
        f"{'subscribers':>11} {'msg/s':>8} {'frames/s':>8} {'p50 ms':>7} {'p90 ms':>7} {'p99 ms':>7} "
        f"{'p99 no gap':>10} {'in gap':>6} {'handshake p99 ms':>16} {'dropped':>7} {'server CPU':>10} {'client CPU':>10} "
        f"{'catch-up n':>10} {'catch-up p99 ms':>15}"
    )
    for row in (floor, loaded):
        print(
            f"{row['subscribers']:>11} {row['messages_per_s']:>8.0f} {row['frames_per_s']:>8.0f} "
            f"{row['p50_ms']:>7.1f} "
            f"{row['p90_ms']:>7.1f} {row['p99_ms']:>7.1f} {row['p99_outside_gaps_ms']:>10.1f} "
            f"{row['in_gap']:>6} {row['handshake_p99_ms']:>16.1f} "
            f"{row['dropped']:>7} {row['server_cpu_share']:>10.0%} {row['client_cpu_share']:>10.0%} "
            f"{row['catch_up']:>10} {row['catch_up_p99_ms']:>15.1f}"
        )
    print(
        "(p50-p99: live angles of samples after their set's calibration; catch-up: the angles a "
        "set's calibration releases at once, late by construction; p99 no gap: without the "
        "angles of samples inside a sensor's radio gap, which wait for its data to resume; "
        "in gap: how many those are)"
    )
    for row in (floor, loaded):
        if row["dropped"]:
            reasons = "; ".join(row["dropped_reasons"])
            print(f"closed by the server ({row['subscribers']} subscribers): {reasons}")
    print(
        f"same samples in both windows (fresh server each, window from {args.window_at:.0f} s "
        f"after start): p50 ratio {loaded['p50_ms'] / floor['p50_ms']:.2f}, "
        f"p99 ratio to the 1-subscriber floor: {loaded['p99_ms'] / floor['p99_ms']:.2f}"
    )
    print(
        f"fan-out spread with {args.subscribers} (a client's latency minus the earliest client's "
        f"for the same sample): p50 {loaded['spread_p50_ms']:.1f} ms, "
        f"p99 {loaded['spread_p99_ms']:.1f} ms; this process's loop lag (5 ms timer) p99: "
        f"{loaded['loop_lag_p99_ms']:.1f} ms with {args.subscribers}, "
        f"{floor['loop_lag_p99_ms']:.1f} ms with 1"
    )
    extra_cpu = loaded["server_cpu_share"] - floor["server_cpu_share"]
    extra_messages = loaded["messages_per_s"] - floor["messages_per_s"]
    print(
        f"server CPU per extra delivered message: {extra_cpu / extra_messages * 1e6:.1f} us "
        "(above the 1-subscriber floor)"
    )
    print(
        f"server CPU share: {loaded['server_cpu_share']:.0%} with {args.subscribers}, "
        f"{loaded['server_cpu_share'] / floor['server_cpu_share']:.1f}x the 1-subscriber floor's "
        f"(which is the analysis and simulation); {loaded['messages_per_s'] / loaded['frames_per_s']:.2f} "
        "messages per frame"
    )
    print(
        "p99 outside radio gaps, ratio to the floor's: "
        f"{loaded['p99_outside_gaps_ms'] / floor['p99_outside_gaps_ms']:.2f}"
    )
    verdict = "meets" if loaded["p99_ms"] <= GOAL_P99_S * 1e3 else "misses"
    print(f"goal p99 <= {GOAL_P99_S * 1e3:.0f} ms with {args.subscribers} subscribers: {verdict}")
    print(
        f"server RSS over {args.cycles} quiet connect-close cycles: "
        f"{rss_before_mb:.0f} -> {rss_after_mb:.0f} MB"
    )
    print(f"SIGTERM with {args.subscribers} clients connected: exited after {stop_s:.2f} s")
    print(f"load average after: {os.getloadavg()[0]:.1f} (CPU: share of one core, measured window)")


if __name__ == "__main__":
    main()
