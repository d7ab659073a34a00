"""How soon the gateway tells: rep completed after lockout, wink onset after it starts.

Simulated athletes (random realistic sets from `fusion.simulator.random_spec`, 200 Hz
sensors with loss, drift and one-sided BLE-like latency) streamed through the whole gateway
as fast as possible on a virtual clock. For each event, with the simulator's truth:

- processing: wall time from the start of handling the packet that triggered the event to
  the event's publication (decode + mapping + analysis + events + sink);
- data delay: arrival time of that packet minus an instant in the data: for a rep, its
  last sample as the analyser delimits it (`metrics.end_s`, the lockout) and the
  simulator's true end (thigh back at exactly 0 deg, usually later than the analyser's
  end, hence negative); for a wink, the true onset (`wink_onset_s`). It is how much data
  the decision needed plus the radio latency. A user experiences data delay + processing.

    python benchmarks/gateway_latency.py             # 12 athletes x 3 sets
    python benchmarks/gateway_latency.py --quick
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from pathlib import Path

import numpy as np

from fusion.simulator import SensorSpec, random_spec
from sensor_gateway.config import Assignments, GatewaySettings
from sensor_gateway.events import RepCompleted, SetStarted, WinkOnset
from sensor_gateway.gateway import Gateway
from sensor_gateway.pubsub import EventBus
from sensor_gateway.sink import MemorySink
from sensor_gateway.sources.simulated import SimulatedAthlete, SimulatedSource

RATE_HZ = 200.0


class _TimedBus(EventBus):
    """Records, for rep and wink events, the handling context at publication."""

    def __init__(self) -> None:
        super().__init__()
        self.packet_received_s = float("nan")
        self.packet_started = float("nan")
        self.records: list[tuple[object, float, float]] = []  # event, arrival, processing_s

    def publish(self, event) -> None:
        if isinstance(event, (RepCompleted, WinkOnset, SetStarted)):
            self.records.append(
                (event, self.packet_received_s, time.perf_counter() - self.packet_started)
            )
        super().publish(event)


def _athletes(count: int, sets: int, seed: int) -> list[SimulatedAthlete]:
    rng = np.random.default_rng(seed)
    sensor = SensorSpec(rate_hz=RATE_HZ, samples_per_packet=4, loss_probability=0.01)
    athletes = []
    for i in range(count):
        specs = []
        for _ in range(sets):
            spec = random_spec(rng)
            specs.append(type(spec)(**{**spec.__dict__, "sacrum": sensor, "thigh": sensor}))
        athletes.append(SimulatedAthlete(f"a{i}", sets=specs, seed=seed + i))
    return athletes


def run(count: int, sets: int, seed: int) -> dict[str, np.ndarray]:
    workdir = Path(tempfile.mkdtemp(prefix="winkwatch-latency-"))
    settings = GatewaySettings(config_file=workdir / "g.json")
    store = Assignments()
    athletes = _athletes(count, sets, seed)
    for a in athletes:
        store.assign(a.sacrum_address, "winkwatch", a.athlete_id, "sacrum")
        store.assign(a.thigh_address, "winkwatch", a.athlete_id, "thigh")
    bus = _TimedBus()
    gateway = Gateway(settings, store, sink=MemorySink(), bus=bus)
    source = SimulatedSource(
        athletes,
        realtime=False,
        encoding="winkwatch",
        on_set_start=lambda a, p: gateway.start_set(
            a.athlete_id, a.variant, a.load_kg, now_s=p.first_received_s - 1e-3
        ),
        on_set_end=lambda a, p: gateway.stop_set(a.athlete_id, now_s=p.last_received_s + 1e-3),
    )
    source.prepare()

    def on_batch(batch):
        bus.packet_received_s = batch.received_s
        bus.packet_started = time.perf_counter()
        gateway.on_batch(batch)

    asyncio.run(source.run(on_batch, gateway.on_status))
    gateway.shutdown()

    # Which played set does each event belong to: the set started by the same athlete
    # closest before it.
    starts = {}
    set_started_s = {}  # set key -> its start, gateway clock (rep times are set-relative)
    for event, _, _ in bus.records:
        if isinstance(event, SetStarted):
            played = min(
                (p for p in source.played if p.athlete_id == event.athlete_id),
                key=lambda p: abs(p.first_received_s - event.t_s),
            )
            starts[event.set.set_key] = played
            set_started_s[event.set.set_key] = event.set.started_s
    rep_processing, rep_delay, rep_delay_truth, wink_processing, wink_delay = [], [], [], [], []
    matched = unmatched = 0
    for event, arrival_s, processing_s in bus.records:
        if isinstance(event, SetStarted):
            continue
        played = starts[event.set_key]
        truth = played.simulated.reps
        number = event.metrics.rep if isinstance(event, RepCompleted) else event.rep
        if not 1 <= number <= len(truth):
            unmatched += 1
            continue
        true = truth[number - 1]
        if isinstance(event, RepCompleted):
            bottom_s = event.metrics.bottom_s + set_started_s[event.set_key]  # gateway clock
            if abs(bottom_s - (played.base_s + true.bottom_s)) > 0.5:
                unmatched += 1  # not the same rep (a missed or extra detection before it)
                continue
            rep_processing.append(processing_s)
            rep_delay.append(arrival_s - event.t_s)  # t_s: the rep's end, gateway clock
            rep_delay_truth.append(arrival_s - (played.base_s + true.end_s))
        else:
            if true.wink_onset_s is None:
                unmatched += 1
                continue
            wink_processing.append(processing_s)
            wink_delay.append(arrival_s - (played.base_s + true.wink_onset_s))
        matched += 1
    truth_reps = sum(len(p.simulated.reps) for p in source.played)
    return {
        "rep_processing_s": np.asarray(rep_processing),
        "rep_delay_s": np.asarray(rep_delay),
        "rep_delay_truth_s": np.asarray(rep_delay_truth),
        "wink_processing_s": np.asarray(wink_processing),
        "wink_delay_s": np.asarray(wink_delay),
        "truth_reps": truth_reps,
        "unmatched": unmatched,
    }


def _row(name: str, values_s: np.ndarray) -> str:
    if values_s.size == 0:
        return f"{name:<36} (none)"
    p50, p90, p99 = (1e3 * np.percentile(values_s, q) for q in (50, 90, 99))
    return f"{name:<36} {values_s.size:>5} {p50:>9.2f} {p90:>9.2f} {p99:>9.2f} {1e3 * values_s.max():>9.2f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    count, sets = (4, 1) if args.quick else (12, 3)
    r = run(count, sets, args.seed)
    print(
        f"{count} athletes x {sets} random sets, {RATE_HZ:.0f} Hz, WinkWatch decode in path; "
        f"{r['truth_reps']} true reps, {r['unmatched']} events not matched to a true rep"
    )
    print(f"{'':<36} {'n':>5} {'p50 ms':>9} {'p90 ms':>9} {'p99 ms':>9} {'max ms':>9}")
    print(_row("rep completed: processing", r["rep_processing_s"]))
    print(_row("rep completed: after its end sample", r["rep_delay_s"]))
    print(_row("rep completed: after true end", r["rep_delay_truth_s"]))
    print(_row("wink onset: processing", r["wink_processing_s"]))
    print(_row("wink onset: after true onset", r["wink_delay_s"]))


if __name__ == "__main__":
    main()
