"""Do two versions of the live gateway emit the same events? (for pure speed changes)

Streams simulated athletes through the whole gateway on a virtual clock (WinkWatch encode /
decode, clock mapping, gaps from packet loss, depth guard on loaded sets, 4-9 samples per
packet, 200 Hz and 100 Hz sensors) and records every published event, with each analyser's
raw per-sample angles. `record` writes them to a file; `compare` reports the largest
difference between two recordings (set keys and wall-clock times, which differ from run to
run, are left out).

    python benchmarks/live_equivalence.py record /tmp/after.pkl
    PYTHONPATH=/path/to/old/checkout python benchmarks/live_equivalence.py record /tmp/before.pkl
    python benchmarks/live_equivalence.py compare /tmp/before.pkl /tmp/after.pkl
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import math
import pickle
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from fusion.live.depth_guard import DepthGuard
from fusion.simulator import random_spec
from sensor_gateway.athlete_pipeline import LiveSetup, default_analyzer_factory
from sensor_gateway.config import Assignments, GatewaySettings
from sensor_gateway.events import event_to_dict
from sensor_gateway.gateway import Gateway
from sensor_gateway.sink import MemorySink
from sensor_gateway.sources.simulated import SimulatedAthlete, SimulatedSource

IGNORED = {"set_key", "wall_utc", "started_utc", "stopped_utc"}


def _specs(athlete: int, sets: int) -> list[Any]:
    rng = np.random.default_rng(4200 + athlete)
    specs = []
    for k in range(sets):
        spec = random_spec(rng)
        rate_hz = 200.0 if (athlete + k) % 3 else 100.0
        per_packet = 4 + (athlete + 2 * k) % 6  # 4..9
        loss = (0.0, 0.01, 0.03)[(athlete + k) % 3]
        sensor = dataclasses.replace(
            spec.sacrum, rate_hz=rate_hz, samples_per_packet=per_packet, loss_probability=loss
        )
        thigh = dataclasses.replace(
            spec.thigh, rate_hz=rate_hz, samples_per_packet=per_packet, loss_probability=loss
        )
        specs.append(dataclasses.replace(spec, sacrum=sensor, thigh=thigh))
    return specs


class _Recorder:
    def __init__(self) -> None:
        self.angles: list[tuple[str, np.ndarray]] = []

    def factory(self, setup: LiveSetup) -> Any:
        analyzer = default_analyzer_factory(setup)
        push = analyzer.push
        angles = self.angles

        def recording_push(placement: str, t_s: Any, acc: Any, gyr: Any) -> list[Any]:
            out = push(placement, t_s, acc, gyr)
            for event in out:
                if type(event).__name__ == "LiveAngles":
                    rows = np.column_stack(
                        [event.t_s, event.thigh_deg, event.pelvic_tilt_deg, event.hip_flexion_deg]
                    )
                    angles.append((placement, rows))
            return list(out)

        analyzer.push = recording_push  # type: ignore[method-assign]
        return analyzer


def record(athletes: int, sets: int) -> dict[str, Any]:
    workdir = Path(tempfile.mkdtemp(prefix="winkwatch-equiv-"))
    recorder = _Recorder()
    store = Assignments()
    sim = [
        SimulatedAthlete(f"e{i}", sets=_specs(i, sets), seed=300 + i, load_kg=(80.0, 0.0)[i % 2])
        for i in range(athletes)
    ]
    for a in sim:
        store.assign(a.sacrum_address, "winkwatch", a.athlete_id, "sacrum")
        store.assign(a.thigh_address, "winkwatch", a.athlete_id, "thigh")
    gateway = Gateway(
        GatewaySettings(config_file=workdir / "g.json"),
        store,
        sink=MemorySink(),
        analyzer_factory=recorder.factory,
    )
    published: list[dict[str, Any]] = []
    publish = gateway.bus.publish

    def recording_publish(event: Any) -> None:
        published.append(event_to_dict(event))
        publish(event)

    gateway.bus.publish = recording_publish  # type: ignore[method-assign]
    guards = {a.athlete_id: DepthGuard(55.0 + 5 * i) for i, a in enumerate(sim) if i % 2 == 0}
    source = SimulatedSource(
        sim,
        realtime=False,
        encoding="winkwatch",
        start_s=1000.0,  # a fixed virtual clock: the same times (and 20-Hz angle bins) each run
        on_set_start=lambda a, p: gateway.start_set(
            a.athlete_id,
            a.variant,
            a.load_kg,
            now_s=p.first_received_s - 1e-3,
            depth_guard=guards.get(a.athlete_id),
        ),
        on_set_end=lambda a, p: gateway.stop_set(a.athlete_id, now_s=p.last_received_s + 1e-3),
    )
    asyncio.run(source.run(gateway.on_batch, gateway.on_status))
    gateway.shutdown()
    return {"events": published, "angles": recorder.angles}


def _strip(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _strip(v) for k, v in value.items() if k not in IGNORED}
    if isinstance(value, list | tuple):
        return [_strip(v) for v in value]
    return value


def _largest_difference(a: Any, b: Any, where: str) -> float:
    """The largest absolute difference of the numbers in a and b; raises if they differ in
    structure or in anything that is not a number."""
    if isinstance(a, dict) and isinstance(b, dict):
        if a.keys() != b.keys():
            raise AssertionError(f"{where}: keys {sorted(a.keys() ^ b.keys())} differ")
        return max((_largest_difference(a[k], b[k], f"{where}.{k}") for k in a), default=0.0)
    if isinstance(a, list) and isinstance(b, list):
        if len(a) != len(b):
            raise AssertionError(f"{where}: {len(a)} vs {len(b)} items")
        return max(
            (_largest_difference(x, y, f"{where}[{i}]") for i, (x, y) in enumerate(zip(a, b))),
            default=0.0,
        )
    if isinstance(a, bool) or isinstance(b, bool) or not isinstance(a, int | float):
        if a != b:
            raise AssertionError(f"{where}: {a!r} vs {b!r}")
        return 0.0
    if a is None or b is None or (math.isnan(a) and math.isnan(b)):
        return 0.0
    return abs(float(a) - float(b))


def compare(before: dict[str, Any], after: dict[str, Any]) -> tuple[int, int, float, float]:
    """(events, angle rows, largest event difference, largest angle difference)."""
    events_a, events_b = _strip(before["events"]), _strip(after["events"])
    event_diff = _largest_difference(events_a, events_b, "events")
    if [p for p, _ in before["angles"]] != [p for p, _ in after["angles"]]:
        raise AssertionError("the angle blocks came from different packets")
    angle_diff = 0.0
    rows = 0
    for (_, x), (_, y) in zip(before["angles"], after["angles"]):
        if x.shape != y.shape:
            raise AssertionError(f"angle block of {x.shape} vs {y.shape}")
        rows += x.shape[0]
        if x.size:
            angle_diff = max(angle_diff, float(np.max(np.abs(x - y))))
    return len(events_a), rows, event_diff, angle_diff


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    rec = sub.add_parser("record")
    rec.add_argument("out", type=Path)
    rec.add_argument("--athletes", type=int, default=8)
    rec.add_argument("--sets", type=int, default=2)
    cmp_ = sub.add_parser("compare")
    cmp_.add_argument("before", type=Path)
    cmp_.add_argument("after", type=Path)
    args = parser.parse_args()
    if args.command == "record":
        result = record(args.athletes, args.sets)
        args.out.write_bytes(pickle.dumps(result))
        kinds: dict[str, int] = {}
        for e in result["events"]:
            kinds[e["type"]] = kinds.get(e["type"], 0) + 1
        print(f"{len(result['events'])} events: {kinds}")
        return
    before = pickle.loads(args.before.read_bytes())
    after = pickle.loads(args.after.read_bytes())
    events, rows, event_diff, angle_diff = compare(before, after)
    print(
        f"same events: {events} events, {rows} angle rows; largest difference "
        f"{event_diff:.3g} in events, {angle_diff:.3g} deg in angles"
    )


if __name__ == "__main__":
    main()
