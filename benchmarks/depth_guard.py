"""Depth guard: how long before the true wink onset the lifter is cued, and how often it misses.

Simulated athletes who wink at a known depth (onset thigh angle 60-95 deg, rep-to-rep sd
1-3 deg, squatting 10-25 deg past it at 100-160 deg/s, any strap-on orientation, 50-200 Hz
sensors with drift and packet loss). Each athlete is first assessed the way the product does
it: a bodyweight baseline set analysed by `fusion.assessment.assess`, whose prescription
gives the depth ceiling (the measured onsets' median minus max(3 deg, 2 robust sd)). Then
loaded sets stream through the whole gateway (WinkWatch GATT encoding, BLE-like latency) on a
virtual clock with that ceiling and the default margin. Per true winking rep:

- lead = true wink onset (simulator) - arrival of the packet that triggered the cue (gateway
  clock); a miss is a winking rep without a cue before its onset (lead <= 0 or none);
- for comparison, the existing wink-onset cue's delay = arrival of its packet - true onset;
- shallow sets (every 4th: bottoming out 10, 20, 30 or 40 deg above the cue level, e.g. box squats
  set above the ceiling) count cues that were not needed, by how far above they stayed.

    python benchmarks/depth_guard.py                 # 60 athletes x 3 loaded sets
    python benchmarks/depth_guard.py --quick
    python benchmarks/depth_guard.py --margin-deg 0  # the guard with another margin
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from fusion.assessment import assess
from fusion.errors import FusionError
from fusion.live.depth_guard import DEFAULT_MARGIN_DEG, DepthGuard
from fusion.simulator import SquatSetSpec, random_sensor_spec, simulate_set
from sensor_gateway.config import Assignments, GatewaySettings
from sensor_gateway.events import DepthCeilingNear, SetStarted, WinkOnset
from sensor_gateway.gateway import Gateway
from sensor_gateway.pubsub import EventBus
from sensor_gateway.sink import MemorySink
from sensor_gateway.sources.simulated import PlayedSet, SimulatedAthlete, SimulatedSource

LOAD_KG = 80.0
SHALLOW_EVERY = 4  # every 4th loaded set bottoms out above the cue level
SHALLOW_ABOVE_DEG = (10.0, 20.0, 30.0, 40.0)  # by this much (lifter by lifter, in turn)


@dataclass(frozen=True)
class Lifter:
    name: str
    movement: SquatSetSpec  # loaded sets: deep, winking
    ceiling_thigh_deg: float | None  # from the baseline's assessment
    true_onset_deg: float


class _TimedBus(EventBus):
    """Records each cue, wink onset and set start with the arrival of its triggering packet."""

    def __init__(self) -> None:
        super().__init__()
        self.packet_received_s = float("nan")
        self.records: list[tuple[object, float]] = []

    def publish(self, event) -> None:
        if isinstance(event, (DepthCeilingNear, WinkOnset, SetStarted)):
            self.records.append((event, self.packet_received_s))
        super().publish(event)


def _lifter(i: int, rng: np.random.Generator) -> Lifter:
    onset_deg = float(rng.uniform(60.0, 95.0))
    spec = SquatSetSpec(
        reps=5,
        depth_deg=onset_deg + float(rng.uniform(10.0, 25.0)),
        depth_jitter_deg=float(rng.uniform(0.0, 3.0)),
        rhythm_k=float(rng.uniform(0.25, 0.4)),
        wink_deg=float(rng.uniform(6.0, 15.0)),
        wink_jitter_deg=float(rng.uniform(0.0, 1.0)),
        wink_onset_deg=onset_deg,
        wink_onset_jitter_deg=float(rng.uniform(1.0, 3.0)),
        descent_peak_speed_degps=float(rng.uniform(100.0, 160.0)),
        tempo_jitter=float(rng.uniform(0.0, 0.1)),
        bottom_pause_s=(0.0, float(rng.uniform(0.0, 0.4))),
        standing_s=float(rng.uniform(1.5, 3.0)),
        sacrum=random_sensor_spec(rng),
        thigh=random_sensor_spec(rng),
    )
    baseline = simulate_set(replace(spec, reps=8), seed=int(rng.integers(2**31)))
    try:
        report = assess({"baseline": (baseline.sacrum, baseline.thigh)})
        ceiling = report.prescription.depth_ceiling_thigh_deg
    except FusionError:
        ceiling = None
    return Lifter(f"lifter{i}", spec, ceiling, onset_deg)


def _loaded_sets(lifter: Lifter, sets: int, margin_deg: float, k_lifter: int) -> list[SquatSetSpec]:
    specs = []
    for k in range(sets):
        spec = lifter.movement
        if k % SHALLOW_EVERY == SHALLOW_EVERY - 1 and lifter.ceiling_thigh_deg is not None:
            above_deg = SHALLOW_ABOVE_DEG[(k_lifter + k // SHALLOW_EVERY) % len(SHALLOW_ABOVE_DEG)]
            depth = lifter.ceiling_thigh_deg - margin_deg - above_deg
            spec = replace(spec, depth_deg=max(depth, 25.0), depth_jitter_deg=0.0, wink_deg=0.0)
        specs.append(spec)
    return specs


def run(count: int, sets: int, seed: int, margin_deg: float) -> dict[str, object]:
    rng = np.random.default_rng(seed)
    started = time.perf_counter()
    lifters = [_lifter(i, rng) for i in range(count)]
    assessed_s = time.perf_counter() - started
    guarded = [lf for lf in lifters if lf.ceiling_thigh_deg is not None]
    workdir = Path(tempfile.mkdtemp(prefix="winkwatch-depth-guard-"))
    settings = GatewaySettings(config_file=workdir / "g.json")
    store = Assignments()
    athletes = []
    guards = {}
    for k, lf in enumerate(guarded):
        athlete = SimulatedAthlete(
            lf.name, sets=_loaded_sets(lf, sets, margin_deg, k), seed=seed + k, load_kg=LOAD_KG
        )
        store.assign(athlete.sacrum_address, "winkwatch", athlete.athlete_id, "sacrum")
        store.assign(athlete.thigh_address, "winkwatch", athlete.athlete_id, "thigh")
        assert lf.ceiling_thigh_deg is not None
        guards[lf.name] = DepthGuard(lf.ceiling_thigh_deg, margin_deg)
        athletes.append(athlete)
    bus = _TimedBus()
    gateway = Gateway(settings, store, sink=MemorySink(), bus=bus)
    source = SimulatedSource(
        athletes,
        realtime=False,
        encoding="winkwatch",
        on_set_start=lambda a, p: gateway.start_set(
            a.athlete_id,
            a.variant,
            a.load_kg,
            now_s=p.first_received_s - 1e-3,
            depth_guard=guards[a.athlete_id],
        ),
        on_set_end=lambda a, p: gateway.stop_set(a.athlete_id, now_s=p.last_received_s + 1e-3),
    )
    source.prepare()

    def on_batch(batch):
        bus.packet_received_s = batch.received_s
        gateway.on_batch(batch)

    asyncio.run(source.run(on_batch, gateway.on_status))
    gateway.shutdown()
    return _score(bus.records, source.played, lifters, assessed_s, margin_deg)


def _played_set(played: list[PlayedSet], athlete_id: str, t_s: float) -> PlayedSet | None:
    mine = [p for p in played if p.athlete_id == athlete_id]
    inside = [p for p in mine if p.first_received_s - 0.1 <= t_s <= p.last_received_s + 0.1]
    return inside[0] if inside else None


def _score(
    records, played: list[PlayedSet], lifters: list[Lifter], assessed_s: float, margin_deg: float
):
    cues: dict[tuple[str, int], list[tuple[float, float]]] = {}  # (athlete, set) -> (t_s, arrival)
    wink_delay = []
    for event, arrival_s in records:
        if isinstance(event, SetStarted):
            continue
        p = _played_set(played, event.athlete_id, event.t_s)
        if p is None:
            continue
        if isinstance(event, DepthCeilingNear):
            cues.setdefault((p.athlete_id, p.index), []).append((event.t_s, arrival_s))
        elif isinstance(event, WinkOnset):
            true = [r for r in p.simulated.reps if r.wink_onset_s is not None]
            if true:
                nearest = min(true, key=lambda r: abs(p.base_s + r.wink_onset_s - event.t_s))
                wink_delay.append(arrival_s - (p.base_s + nearest.wink_onset_s))
    leads, misses, winking = [], 0, 0
    shallow: dict[float, list[bool]] = {}  # deg above the cue level -> cued per rep
    guard_of = {lf.name: lf for lf in lifters}
    for p in played:
        set_cues = cues.get((p.athlete_id, p.index), [])
        for rep in p.simulated.reps:
            start_s, bottom_s = p.base_s + rep.start_s, p.base_s + rep.bottom_s
            in_rep = [arrival for t, arrival in set_cues if start_s - 0.3 <= t <= bottom_s]
            if p.index % SHALLOW_EVERY == SHALLOW_EVERY - 1:
                ceiling = guard_of[p.athlete_id].ceiling_thigh_deg
                assert ceiling is not None
                above = round((ceiling - margin_deg - rep.depth_deg) / 10.0) * 10.0
                shallow.setdefault(above, []).append(bool(in_rep))
                continue
            if rep.wink_onset_s is None:
                continue  # a deep set's rep that happened not to pass its onset
            winking += 1
            lead = (p.base_s + rep.wink_onset_s - min(in_rep)) if in_rep else None
            if lead is None or lead <= 0:
                misses += 1
            if lead is not None:
                leads.append(lead)
    ceilings = [lf.ceiling_thigh_deg - lf.true_onset_deg for lf in lifters if lf.ceiling_thigh_deg]
    return {
        "lifters": len(lifters),
        "guarded": sum(lf.ceiling_thigh_deg is not None for lf in lifters),
        "assessed_s": assessed_s,
        "ceiling_below_onset_deg": -np.asarray(ceilings),
        "lead_s": np.asarray(leads),
        "winking_reps": winking,
        "misses": misses,
        "wink_delay_s": np.asarray(wink_delay),
        "shallow": shallow,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--margin-deg", type=float, default=DEFAULT_MARGIN_DEG)
    args = parser.parse_args()
    count, sets = (8, 4) if args.quick else (60, 4)
    r = run(count, sets, args.seed, args.margin_deg)
    below = r["ceiling_below_onset_deg"]
    lead_ms = 1e3 * r["lead_s"]
    delay_ms = 1e3 * r["wink_delay_s"]
    print(
        f"{r['lifters']} simulated lifters, {r['guarded']} with a prescribed ceiling "
        f"(each assessed from a baseline set, {r['assessed_s']:.0f} s for all); ceiling below the "
        f"true onset by median {np.median(below):.1f} deg (min {below.min():.1f}); margin "
        f"{args.margin_deg:g} deg, look-ahead {DepthGuard(90.0).lookahead_s:g} s"
    )
    winking, misses = r["winking_reps"], r["misses"]
    print(
        f"depth guard: {winking} winking loaded reps, lead before the true onset p50 "
        f"{np.percentile(lead_ms, 50):.0f} ms, p5 {np.percentile(lead_ms, 5):.0f} ms, "
        f"min {lead_ms.min():.0f} ms; misses {misses} ({100 * misses / max(winking, 1):.2f} %)"
    )
    print(
        f"wink-onset cue (existing): {delay_ms.size} onsets, after the true onset p50 "
        f"{np.percentile(delay_ms, 50):.0f} ms, p95 {np.percentile(delay_ms, 95):.0f} ms"
    )
    for above, cued in sorted(r["shallow"].items()):
        print(
            f"reps bottoming out ~{above:.0f} deg above the cue level (no wink): "
            f"{sum(cued)} of {len(cued)} cued ({100 * sum(cued) / len(cued):.0f} %)"
        )


if __name__ == "__main__":
    main()
