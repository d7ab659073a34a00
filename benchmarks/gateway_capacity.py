"""How many 200-Hz sensors one core of this machine sustains through the whole live gateway.

End to end per sample: WinkWatch packet decode (the BLE path's decoder), clock mapping,
live analysis (causal fusion, calibration, angles, reps, wink), events, pub/sub (one
subscriber per athlete reading everything, like a phone), and the in-memory sink.

Two measurements:
1. cost: simulated athletes streamed as fast as possible (virtual clock, sets prepared
   before timing); process CPU time per sample -> sensors per core = 1 / (cost * 200 Hz).
   CPU time, not wall time, so other processes on the machine do not inflate it (they still
   slow it through shared caches and cores: compare with the floor). The floor, same run,
   same packets, none of the gateway's code: the bare numpy decode of each packet's int16
   samples plus the causal VQF filter over each sensor's whole stream in one call (the least
   any live path does per sample).
2. sustain: the same in real time for the sensor counts given (default 2, 7 and 50):
   CPU share of one core, and how late packets were handled relative to their arrival
   time (p99 lag; a backlog would show as a growing lag).

    python benchmarks/gateway_capacity.py                 # full run (~2 min)
    python benchmarks/gateway_capacity.py --quick         # smaller, for a smoke test
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import tempfile
import time
from pathlib import Path

import numpy as np

from fusion.simulator import SensorSpec, SquatSetSpec
from sensor_gateway.config import Assignments, GatewaySettings
from sensor_gateway.gateway import Gateway
from sensor_gateway.sink import MemorySink
from sensor_gateway.sources.simulated import SimulatedAthlete, SimulatedSource

RATE_HZ = 200.0


def _spec(reps: int) -> SquatSetSpec:
    sensor = SensorSpec(rate_hz=RATE_HZ, samples_per_packet=4)
    return SquatSetSpec(reps=reps, wink_deg=10.0, sacrum=sensor, thigh=sensor)


def _setup(sensors: int, reps: int, realtime: bool, workdir: Path):
    athletes_needed = (sensors + 1) // 2
    settings = GatewaySettings(config_file=workdir / f"g{sensors}{realtime}.json")
    store = Assignments()
    athletes = [
        SimulatedAthlete(f"a{i}", sets=[_spec(reps)], seed=100 + i) for i in range(athletes_needed)
    ]
    # An odd count: the last athlete wears only a sacrum sensor (its thigh never streams).
    silent = {athletes[-1].thigh_address} if sensors % 2 else set()
    for a in athletes:
        store.assign(a.sacrum_address, "winkwatch", a.athlete_id, "sacrum")
        if a.thigh_address not in silent:
            store.assign(a.thigh_address, "winkwatch", a.athlete_id, "thigh")
    gateway = Gateway(settings, store, sink=MemorySink())
    source = SimulatedSource(
        athletes,
        realtime=realtime,
        encoding="winkwatch",
        on_set_start=lambda a, p: gateway.start_set(
            a.athlete_id, a.variant, a.load_kg, now_s=p.first_received_s - 1e-3
        ),
        on_set_end=lambda a, p: gateway.stop_set(a.athlete_id, now_s=p.last_received_s + 1e-3),
    )
    return gateway, source, athletes, silent


async def _stream(gateway, source, athletes, silent, realtime: bool):
    lag_s: list[float] = []

    def on_batch(batch):
        if batch.address in silent:
            return
        if realtime:
            lag_s.append(time.monotonic() - batch.received_s)
        gateway.on_batch(batch)

    subs = [gateway.bus.subscribe(athlete_id=a.athlete_id) for a in athletes]

    async def phone(sub):
        async for _ in sub:
            pass

    readers = [asyncio.create_task(phone(s)) for s in subs]
    cpu0, wall0 = time.process_time(), time.perf_counter()
    await source.run(on_batch, gateway.on_status)
    cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
    gateway.shutdown()
    await asyncio.gather(*readers)
    return cpu, wall, np.asarray(lag_s)


def measure_cost(sensors: int, reps: int, workdir: Path) -> dict[str, float]:
    gateway, source, athletes, silent = _setup(sensors, reps, realtime=False, workdir=workdir)
    source.prepare()
    gc.collect()
    cpu, wall, _ = asyncio.run(_stream(gateway, source, athletes, silent, realtime=False))
    samples = gateway.stats.samples
    reps_done = gateway.stats.events.get("RepCompleted", 0)
    return {
        "sensors": sensors,
        "samples": samples,
        "cpu_s": cpu,
        "wall_s": wall,
        "us_per_sample": 1e6 * cpu / samples,
        "reps": reps_done,
    }


def measure_floor(sensors: int, reps: int, workdir: Path) -> float:
    """CPU us per sample of a bare decode of the same packets and one causal VQF pass per
    sensor (no gateway code: the floor)."""
    import vqf

    from sensor_gateway.protocols.winkwatch import HEADER_SIZE

    _, source, _, silent = _setup(sensors, reps, realtime=False, workdir=workdir)
    source.prepare()
    packets = [
        p
        for sets in source._prepared or []
        for _, set_packets in sets
        for p in set_packets
        if p.address not in silent
    ]
    gc.collect()
    cpu0 = time.process_time()
    scale = np.array([16 / 32768 * 9.80665] * 3 + [np.deg2rad(2000 / 32768)] * 3)
    streams: dict[str, list] = {}
    for p in packets:
        raw = np.frombuffer(p.payload, dtype="<i2", offset=HEADER_SIZE).reshape(-1, 6)
        streams.setdefault(p.address, []).append(raw * scale)
    samples = 0
    for chunks in streams.values():
        values = np.concatenate(chunks)
        gyr, acc = np.ascontiguousarray(values[:, 3:]), np.ascontiguousarray(values[:, :3])
        vqf.VQF(1.0 / RATE_HZ).updateBatch(gyr, acc)
        samples += gyr.shape[0]
    return 1e6 * (time.process_time() - cpu0) / samples


def measure_sustain(sensors: int, reps: int, workdir: Path) -> dict[str, float]:
    gateway, source, athletes, silent = _setup(sensors, reps, realtime=True, workdir=workdir)
    source.prepare()
    gc.collect()
    cpu, wall, lag = asyncio.run(_stream(gateway, source, athletes, silent, realtime=True))
    # Lag over the second half vs the first: a backlog grows, a sustained load does not.
    half = lag.size // 2
    return {
        "sensors": sensors,
        "samples": gateway.stats.samples,
        "cpu_share_pct": 100 * cpu / wall,
        "wall_s": wall,
        "lag_p50_ms": 1e3 * float(np.percentile(lag, 50)),
        "lag_p99_ms": 1e3 * float(np.percentile(lag, 99)),
        "lag_p99_late_half_ms": 1e3 * float(np.percentile(lag[half:], 99)),
        "reps": gateway.stats.events.get("RepCompleted", 0),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes (smoke test)")
    parser.add_argument(
        "--sustain",
        type=int,
        nargs="*",
        default=None,
        help="sensor counts to run in real time (default 2 7 50)",
    )
    args = parser.parse_args()
    reps = 2 if args.quick else 5
    cost_counts = [2, 10] if args.quick else [2, 7, 20, 50]
    sustain_counts = (
        args.sustain if args.sustain is not None else ([2] if args.quick else [2, 7, 50])
    )
    workdir = Path(tempfile.mkdtemp(prefix="winkwatch-bench-"))

    print(
        f"cost, as fast as possible ({RATE_HZ:.0f} Hz sensors, {reps}-rep sets, WinkWatch decode in path)"
    )
    print(
        f"{'sensors':>8} {'samples':>9} {'cpu_s':>7} {'us/sample':>10} {'sensors/core':>13} "
        f"{'reps':>5} {'floor us':>9} {'x floor':>8}"
    )
    for n in cost_counts:
        r = measure_cost(n, reps, workdir)
        floor = measure_floor(n, reps, workdir)
        per_core = 1e6 / (r["us_per_sample"] * RATE_HZ)
        print(
            f"{n:>8} {r['samples']:>9} {r['cpu_s']:>7.2f} {r['us_per_sample']:>10.1f} "
            f"{per_core:>13.0f} {r['reps']:>5} {floor:>9.2f} {r['us_per_sample'] / floor:>8.1f}"
        )
    print("(floor: bare numpy decode of the same packets + one causal VQF pass per sensor)")

    print("\nsustained in real time (lag = handling time - packet arrival time)")
    print(
        f"{'sensors':>8} {'wall_s':>7} {'cpu %':>6} {'lag p50 ms':>11} {'lag p99 ms':>11} "
        f"{'p99 2nd half':>13} {'reps':>5}"
    )
    for n in sustain_counts:
        r = measure_sustain(n, reps, workdir)
        print(
            f"{n:>8} {r['wall_s']:>7.1f} {r['cpu_share_pct']:>6.1f} {r['lag_p50_ms']:>11.2f} "
            f"{r['lag_p99_ms']:>11.2f} {r['lag_p99_late_half_ms']:>13.2f} {r['reps']:>5}"
        )


if __name__ == "__main__":
    main()
