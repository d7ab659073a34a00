"""Edges -> broker -> central: catch-up after an outage, central ingest, live latency.

N edge gateways (each its own SQLite database and outbox, as on a Pi) with M sensors at
200 Hz, a private Mosquitto and the central store in PostgreSQL, all on this machine:

1. **floor**: the same raw chunks written straight into PostgreSQL (storage functions, one
   transaction per recorded second and gateway), the cost of storing without federation;
2. **catch-up**: every edge records `--backlog-s` seconds
   with no link (the outbox fills), then the links come back: time until every outbox is empty
   (all acknowledged) = catch-up rate, and the central ingest rate in samples/s;
3. **live**: `--live-s` seconds with every edge recording in real time (one commit per
   second) and publishing live angles at 20 Hz per athlete (M/2 athletes per edge): latency
   from the edge's publish to a gym-wide WebSocket client of the central server (p50/p99;
   the central server runs as `winkwatch serve --central` in its own process, the edges
   and the WebSocket client in this one),
   against a floor of the same message through the broker alone (MQTT publish -> receive).

    python benchmarks/federation.py [--gateways 3] [--sensors 4] [--backlog-s 60] [--live-s 20]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from api.auth import create_token
from api.federation.edge import EdgeForwarder
from api.federation.mqtt import MqttSettings
from api.storage import catalog
from api.storage import sets as set_store
from api.storage.db import Database, open_database
from api.vocab import Placement, SetStatus, SetVariant, TokenRole
from benchmarks.api_data import DEFAULT_POSTGRES_URL, drop_schema
from sensor_gateway.events import LiveAngles
from sensor_gateway.pubsub import EventBus
from tests.federation.infra import Mosquitto
from tests.federation.procs import central as served_central

RATE_HZ = 200
LIVE_RATE_HZ = 20
SCHEMA = "ww_bench_federation"


class EdgeRecorder:
    """One edge's recording: M sensors = M/2 athletes, each in a set, one chunk per sensor
    per recorded second committed together (what the gateway's sink does)."""

    def __init__(self, database: Database, gateway_id: str, sensors: int, seed: int) -> None:
        self.database = database
        self.rng = np.random.default_rng(seed)
        self.sets: list[tuple[int, Placement, str]] = []
        self.second = 0
        with database.sessions.begin() as db:
            for a in range((sensors + 1) // 2):
                athlete = catalog.create_athlete(db, f"{gateway_id} athlete {a}")
                row = set_store.start_set(
                    db, athlete.id, SetVariant.BACK_SQUAT, gateway_id=gateway_id
                )
                for placement in list(Placement)[: min(2, sensors - 2 * a)]:
                    self.sets.append((row.id, placement, f"{gateway_id}-{a}-{placement.value}"))
        self.athlete_keys = sorted({str(s[0]) for s in self.sets})

    def record_second(self) -> int:
        t_s = self.second + np.arange(RATE_HZ) / RATE_HZ
        with self.database.sessions.begin() as db:
            for set_id, placement, address in self.sets:
                set_store.add_raw_chunk(
                    db,
                    set_id,
                    placement,
                    address,
                    self.second,
                    t_s,
                    self.rng.normal(0, 1, (RATE_HZ, 3)),
                    self.rng.normal(0, 1, (RATE_HZ, 3)),
                )
        self.second += 1
        return len(self.sets) * RATE_HZ

    def finish(self) -> None:
        with self.database.sessions.begin() as db:
            for set_id in {s[0] for s in self.sets}:
                set_store.finish_set(db, set_id, SetStatus.COMPLETED)


def floor_rate(url: str, gateways: int, sensors: int, seconds: int) -> float:
    schema = SCHEMA + "_floor"
    drop_schema(url, schema)
    database = open_database(url, schema)
    recorders = [EdgeRecorder(database, f"floor{g}", sensors, g) for g in range(gateways)]
    started = time.perf_counter()
    samples = sum(r.record_second() for _ in range(seconds) for r in recorders)
    elapsed = time.perf_counter() - started
    database.dispose()
    drop_schema(url, schema)
    return samples / elapsed


def percentile_ms(values: list[float], q: float) -> float:
    return float(np.percentile(np.array(values) * 1000.0, q))


def broker_floor(broker: Mosquitto, settings: MqttSettings, payload: bytes, n: int = 400):
    import paho.mqtt.client as mqtt
    from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion

    lat: list[float] = []
    done = threading.Event()

    def on_message(_c, _u, message) -> None:
        lat.append(time.time() - json.loads(message.payload)["sent"])
        if len(lat) >= n:
            done.set()

    sub = mqtt.Client(CallbackAPIVersion.VERSION2, protocol=MQTTProtocolVersion.MQTTv5)
    sub.username_pw_set("central", broker.users["central"])
    sub.on_message = on_message
    sub.connect("127.0.0.1", broker.port)
    sub.subscribe("winkwatch/v1/gw/+/up/bench")
    sub.loop_start()
    pub = mqtt.Client(CallbackAPIVersion.VERSION2, protocol=MQTTProtocolVersion.MQTTv5)
    pub.username_pw_set("gw0", broker.users["gw0"])
    pub.connect("127.0.0.1", broker.port)
    pub.loop_start()
    time.sleep(0.5)
    padding = "x" * max(0, len(payload) - 30)
    for _ in range(n):
        pub.publish("winkwatch/v1/gw/gw0/up/bench", json.dumps({"sent": time.time(), "p": padding}))
        time.sleep(1.0 / 200)
    done.wait(10)
    for client in (pub, sub):
        client.loop_stop()
        client.disconnect()
    return lat


async def run(args) -> None:
    url = os.environ.get("WINKWATCH_TEST_POSTGRES_URL", DEFAULT_POSTGRES_URL)
    n_gw, n_sensors = args.gateways, args.sensors
    print(f"{n_gw} gateways x {n_sensors} sensors at {RATE_HZ} Hz; central store PostgreSQL")
    floor = floor_rate(url, n_gw, n_sensors, args.backlog_s)
    print(f"floor, direct PostgreSQL writes: {floor:,.0f} samples/s")

    tmp = Path(tempfile.mkdtemp(prefix="ww-bench-fed-"))
    users = {"central": "c", **{f"gw{g}": f"p{g}" for g in range(n_gw)}}
    broker = Mosquitto(tmp / "mosquitto", users).start()

    def mqtt(user: str) -> MqttSettings:
        return MqttSettings(host="127.0.0.1", port=broker.port, username=user, password=users[user])

    drop_schema(url, SCHEMA)
    store = open_database(url, SCHEMA)  # the central server's own process upgrades it too
    central = served_central(tmp, url, SCHEMA, broker.env("central"))
    edges = []
    for g in range(n_gw):
        database = open_database(f"sqlite:///{tmp / f'gw{g}.db'}")
        forwarder = EdgeForwarder(database, f"gw{g}", mqtt(f"gw{g}"))  # outbox from now on
        edges.append((database, EdgeRecorder(database, f"gw{g}", n_sensors, g), forwarder))

    central.start()  # `winkwatch serve --central` in its own process, as on a real server
    await asyncio.to_thread(central.wait_healthy)
    # -- catch-up: each edge's outbox filled while its link was down -----------------------------
    backlog = sum(r.record_second() for _ in range(args.backlog_s) for _, r, _ in edges)
    loop = asyncio.get_running_loop()
    started = time.perf_counter()
    for _, _, forwarder in edges:
        forwarder.start()
    while any(f.outbox.backlog() for _, _, f in edges):
        await asyncio.sleep(0.05)
    catch_up_s = time.perf_counter() - started
    recorded_s = args.backlog_s
    print(
        f"catch-up: {backlog:,} samples ({recorded_s} s x {n_gw} gateways) stored centrally in "
        f"{catch_up_s:.2f} s = {backlog / catch_up_s:,.0f} samples/s, "
        f"{recorded_s / catch_up_s:.1f}x real time, {backlog / catch_up_s / floor:.2f} of the floor"
    )

    # -- live: recording in real time + live angles to a central WebSocket ------------------------
    import websockets

    with store.sessions.begin() as db:
        _, token = create_token(db, "bench", TokenRole.READ)
    await asyncio.to_thread(central.wait_healthy)
    port = central.port
    buses = []
    for _, _, forwarder in edges:
        bus = EventBus()
        forwarder._loop = loop
        forwarder._live_task = loop.create_task(forwarder._relay_live(bus))
        buses.append(bus)
    latencies: list[float] = []
    received = 0

    async def listen() -> None:
        nonlocal received
        async with websockets.connect(f"ws://127.0.0.1:{port}/live/ws") as ws:
            await ws.send(json.dumps({"token": token}))
            async for message in ws:
                data = json.loads(message)
                if data["type"] == "live_angles":
                    sent = datetime.fromisoformat(data["wall_utc"]).timestamp()
                    latencies.append(time.time() - sent)
                    received += 1

    listener = asyncio.create_task(listen())
    await asyncio.sleep(0.5)
    stop = threading.Event()
    live_samples = [0]

    def record_live() -> None:
        next_s = time.monotonic()
        while not stop.is_set():
            for _, recorder, _ in edges:
                live_samples[0] += recorder.record_second()
            next_s += 1.0
            time.sleep(max(0.0, next_s - time.monotonic()))

    writer = threading.Thread(target=record_live, daemon=True)
    writer.start()
    sent = 0
    deadline = time.monotonic() + args.live_s
    while time.monotonic() < deadline:
        now = datetime.now(UTC)
        for bus, (_, recorder, _) in zip(buses, edges, strict=True):
            for key in recorder.athlete_keys:
                bus.publish(
                    LiveAngles(
                        athlete_id=key,
                        t_s=time.monotonic(),
                        wall_utc=now,
                        set_key="bench",
                        set_t_s=0.0,
                        thigh_deg=45.0,
                        pelvic_tilt_deg=5.0,
                        hip_flexion_deg=50.0,
                    )
                )
                sent += 1
        await asyncio.sleep(1.0 / LIVE_RATE_HZ)
    stop.set()
    writer.join()
    await asyncio.sleep(1.0)
    listener.cancel()
    lag_s = time.perf_counter()
    while any(f.outbox.backlog() for _, _, f in edges):
        await asyncio.sleep(0.05)
    drain_s = time.perf_counter() - lag_s
    floor_lat = broker_floor(broker, mqtt("central"), b"x" * 300)
    print(
        f"live: {sent} angle messages, {received} at the central WebSocket; latency p50 "
        f"{percentile_ms(latencies, 50):.1f} ms, p99 {percentile_ms(latencies, 99):.1f} ms "
        f"(broker alone: p50 {percentile_ms(floor_lat, 50):.1f} ms, p99 "
        f"{percentile_ms(floor_lat, 99):.1f} ms); {live_samples[0]:,} raw samples recorded "
        f"live, outbox empty {drain_s:.2f} s after the last commit"
    )
    for database, recorder, forwarder in edges:
        recorder.finish()
        forwarder.stop(drain_s=5.0)
        database.dispose()
    central.interrupt()
    store.dispose()
    broker.stop()
    drop_schema(url, SCHEMA)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--gateways", type=int, default=3)
    parser.add_argument("--sensors", type=int, default=4, help="per gateway")
    parser.add_argument("--backlog-s", type=int, default=60)
    parser.add_argument("--live-s", type=int, default=20)
    asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    main()
