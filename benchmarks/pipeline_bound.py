"""How close to the floor the offline pipeline could come if stages cost nothing (issue 13).

The set of `pipeline_speed.py` (two sensors, 200 Hz, 10 reps) on one core. Each row replays
the results of some of the stages called from `fusion.pipeline` from a first run (their
cost becomes a list lookup), cumulatively, largest stages first, and times the whole
pipeline with the real filter against the floor (`vqf.offlineVQF` alone on the same
arrays), best CPU time of each, alternately. A stage rewritten in compiled code costs more
than nothing, so each row's ratio is a lower bound of what replacing those stages can give:
a row above the goal (1.15) says that rewriting those stages alone cannot meet it. The
fusion stretches (`up_across_gaps`) run the filter itself and are never replayed.

Usage: python benchmarks/pipeline_bound.py [REPEATS]
"""

from __future__ import annotations

import os
import sys
import time
from collections import defaultdict
from collections.abc import Callable
from typing import Any

import fusion.pipeline as pipeline
from fusion.simulator import SensorSpec, SquatSetSpec, simulate_set

sys.path.insert(0, os.path.dirname(__file__))
from pipeline_speed import _offline_vqf_floor
from pipeline_stages import STAGES

NEVER_REPLAYED = "up_across_gaps"  # it runs the filter itself
_LARGEST = (  # cumulative, as measured by pipeline_stages.py: largest first
    (),
    ("resample_to_grid",),
    ("_per_rep_codes", "reps_metrics"),
    ("segment_angles", "calibrate_segment"),
    ("placement_check", "segment_reps"),
)
_NAMED = {name for group in _LARGEST for name in group} | {NEVER_REPLAYED}
GROUPS = _LARGEST + (tuple(name for name in STAGES if name not in _NAMED),)  # then the rest


def main(argv: list[str]) -> int:
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})  # one core
    repeats = int(argv[1]) if len(argv) > 1 else 25
    print(f"load average: {os.getloadavg()[0]:.1f}")
    spec = SquatSetSpec(reps=10, sacrum=SensorSpec(rate_hz=200.0), thigh=SensorSpec(rate_hz=200.0))
    sim = simulate_set(spec, seed=1)
    floor = _offline_vqf_floor(sim)
    originals = {name: getattr(pipeline, name) for name in STAGES}
    replayed: list[str] = []
    print("\n| stages replayed (cost nothing), cumulative | floor ms | pipeline ms | ratio |")
    print("| --- | ---: | ---: | ---: |")
    try:
        for group in GROUPS:
            replayed += group
            _replay(replayed, originals, sim)
            floor_s = pipeline_s = float("inf")
            for _ in range(repeats):
                floor_s = min(floor_s, floor())
                start = time.process_time()
                pipeline.analyze_recordings(sim.sacrum, sim.thigh)
                pipeline_s = min(pipeline_s, time.process_time() - start)
            label = ", ".join(group) if group else "none (the pipeline as it is)"
            print(
                f"| + {label} | {floor_s * 1e3:.2f} | {pipeline_s * 1e3:.2f} | "
                f"{pipeline_s / floor_s:.3f} |"
            )
    finally:
        for name, function in originals.items():
            setattr(pipeline, name, function)
    print("\ngoal: pipeline / floor <= 1.15")
    return 0


def _replay(names: list[str], originals: dict[str, Callable[..., Any]], sim: Any) -> None:
    """Record one real run's results of `names`, then make them replay in call order."""
    results: dict[str, list[Any]] = defaultdict(list)
    for name in names:
        setattr(pipeline, name, _recording(originals[name], results[name]))
    pipeline.analyze_recordings(sim.sacrum, sim.thigh)
    for name in names:
        setattr(pipeline, name, _replaying(results[name]))


def _recording(function: Callable[..., Any], into: list[Any]) -> Callable[..., Any]:
    def record(*args: Any, **kwargs: Any) -> Any:
        result = function(*args, **kwargs)
        into.append(result)
        return result

    return record


def _replaying(results: list[Any]) -> Callable[..., Any]:
    calls = iter(())

    def replay(*args: Any, **kwargs: Any) -> Any:
        nonlocal calls
        try:
            return next(calls)
        except StopIteration:  # a new run: the first call of the run again
            calls = iter(results)
            return next(calls)

    return replay


if __name__ == "__main__":
    sys.exit(main(sys.argv))
