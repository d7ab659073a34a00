"""Where the offline pipeline's time goes outside `vqf.offlineVQF` (issue 13).

The set of `pipeline_speed.py` (two sensors, 200 Hz, 10 reps) on one core. Each run of the
pipeline replays the filter's result from a cache (so only the code around the filter is
timed); the stages called from `fusion.pipeline` are timed per run and their medians
printed, with the whole run's min and median. Then, with the real filter: the filter's own
time inside the pipeline vs the floor's (`vqf.offlineVQF` alone on the same arrays) and the
pipeline's, best of each, alternately, which shows what the rest costs after the filter has
been through the cache.

Usage: python benchmarks/pipeline_stages.py [RUNS]
"""

from __future__ import annotations

import os
import sys
import time
from collections import defaultdict
from collections.abc import Callable
from typing import Any

import vqf

import fusion.pipeline as pipeline
from fusion.simulator import SensorSpec, SquatSetSpec, simulate_set

STAGES = (
    "common_grid",
    "resample_to_grid",
    "clipping_mask",
    "gap_findings",
    "find_still_window",
    "stretches_between_gaps",
    "up_across_gaps",
    "calibrate_segment",
    "segment_angles",
    "segment_reps",
    "placement_check",
    "mirrored_axis",
    "_per_rep_codes",
    "reps_metrics",
)


def main(argv: list[str]) -> int:
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})  # one core
    runs = int(argv[1]) if len(argv) > 1 else 300
    print(f"load average: {os.getloadavg()[0]:.1f}")
    spec = SquatSetSpec(reps=10, sacrum=SensorSpec(rate_hz=200.0), thigh=SensorSpec(rate_hz=200.0))
    sim = simulate_set(spec, seed=1)
    real = vqf.offlineVQF
    cache: dict[tuple[Any, ...], Any] = {}

    def replay(gyr, acc, mag, ts):  # type: ignore[no-untyped-def]
        key = (gyr.shape, gyr[:, 0].tobytes(), acc[:, 2].tobytes())
        if key not in cache:
            cache[key] = real(gyr, acc, mag, ts)
        return cache[key]

    spent: dict[str, float] = defaultdict(float)
    originals = {name: getattr(pipeline, name) for name in STAGES}
    for name, function in originals.items():
        setattr(pipeline, name, _timed(name, function, spent))
    per_stage: dict[str, list[float]] = defaultdict(list)
    totals = []
    vqf.offlineVQF = replay
    try:
        pipeline.analyze_recordings(sim.sacrum, sim.thigh)  # fills the cache
        for _ in range(runs):
            spent.clear()
            start = time.perf_counter()
            pipeline.analyze_recordings(sim.sacrum, sim.thigh)
            totals.append(time.perf_counter() - start)
            for name, seconds in spent.items():
                per_stage[name].append(seconds)
    finally:
        vqf.offlineVQF = real
        for name, function in originals.items():
            setattr(pipeline, name, function)
    print(f"\n## Outside the filter (replayed), median of {runs} runs (wall, one core)\n")
    print("| stage (both sensors) | ms |")
    print("| --- | ---: |")
    for name in STAGES:
        print(f"| {name} | {_median(per_stage[name]) * 1e3:.3f} |")
    print(f"| whole run, min / median | {min(totals) * 1e3:.3f} / {_median(totals) * 1e3:.3f} |")
    _filter_inside(sim, real, max(runs // 10, 5))
    return 0


def _timed(name: str, function: Callable[..., Any], spent: dict[str, float]) -> Callable[..., Any]:
    def timed(*args: Any, **kwargs: Any) -> Any:
        start = time.perf_counter()
        try:
            return function(*args, **kwargs)
        finally:
            spent[name] += time.perf_counter() - start

    return timed


def _filter_inside(sim: Any, real: Callable[..., Any], runs: int) -> None:
    sys.path.insert(0, os.path.dirname(__file__))
    from pipeline_speed import _offline_vqf_floor

    floor = _offline_vqf_floor(sim)
    calls: list[float] = []

    def timed(*args: Any) -> Any:
        start = time.perf_counter()
        result = real(*args)
        calls.append(time.perf_counter() - start)
        return result

    floors, totals = [], []
    for _ in range(runs):
        floors.append(floor())
        vqf.offlineVQF = timed
        try:
            start = time.perf_counter()
            pipeline.analyze_recordings(sim.sacrum, sim.thigh)
            totals.append(time.perf_counter() - start)
        finally:
            vqf.offlineVQF = real
    inside = min(a + b for a, b in zip(calls[::2], calls[1::2]))
    print(
        f"\nbest of {runs}, alternately: floor {min(floors) * 1e3:.2f} ms (CPU); the filter "
        f"inside the pipeline {inside * 1e3:.2f} ms; the pipeline {min(totals) * 1e3:.2f} ms, "
        f"so {(min(totals) - inside) * 1e3:.2f} ms outside the filter"
    )


def _median(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[len(ordered) // 2] if ordered else float("nan")


if __name__ == "__main__":
    sys.exit(main(sys.argv))
