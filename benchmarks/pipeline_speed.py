"""Offline analysis speed: whole pipeline, input samples per second on one core.

A two-sensor recording (sacrum + thigh, 200 Hz each, 10 reps) from the simulator is
analysed with every orientation engine that is fast enough to matter; samples/s counts the
samples of both sensors. Best CPU time (process_time) of several repeats: on a shared machine wall time mostly
measures waiting for a core. Goal: >= 500k/s
with the default engine.

Floor, same run: `vqf.offlineVQF` alone on the arrays the pipeline fuses (both sensors
resampled on the common grid), i.e. the default engine's own cost, timed alternately with
the pipeline (best of each) so both see the same load. Goal: the whole pipeline within
1.15x of it.

Usage: python benchmarks/pipeline_speed.py [REPEATS] [--default-only]
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable
from dataclasses import replace

from fusion.pipeline import AnalysisConfig, analyze_recordings
from fusion.simulator import SensorSpec, SquatSetSpec, simulate_set

ENGINES = ("vqf-offline", "vqf", "madgwick")


def main(argv: list[str]) -> int:
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})  # one core
    repeats = int(argv[1]) if len(argv) > 1 else 5
    engines = ENGINES if "--default-only" not in argv else ENGINES[:1]
    print(f"load average: {os.getloadavg()[0]:.1f}")
    spec = SquatSetSpec(reps=10, sacrum=SensorSpec(rate_hz=200.0), thigh=SensorSpec(rate_hz=200.0))
    sim = simulate_set(spec, seed=1)
    samples = len(sim.sacrum) + len(sim.thigh)
    print(f"recording: {samples} samples ({samples // 2} per sensor, {sim.sacrum.t_s[-1]:.0f} s)\n")
    print("| engine | best CPU time | samples/s |")
    print("| --- | --- | --- |")
    floor = _offline_vqf_floor(sim)
    floor_s = float("inf")
    for engine in engines:
        config = replace(AnalysisConfig(), engine=engine)
        best = float("inf")
        for _ in range(repeats if engine.startswith("vqf") else 1):
            if engine == "vqf-offline":  # floor and pipeline interleaved: the same load
                floor_s = min(floor_s, floor())
            start = time.process_time()
            analyze_recordings(sim.sacrum, sim.thigh, config=config)
            best = min(best, time.process_time() - start)
        print(f"| {engine} | {best * 1000:.1f} ms | {samples / best:,.0f} |")
        if engine == "vqf-offline":
            ratio = best / floor_s
    print(
        f"\nfloor: vqf.offlineVQF alone on the same arrays {floor_s * 1000:.1f} ms; "
        f"pipeline (vqf-offline) / floor = {ratio:.2f} (goal <= 1.15)"
    )
    return 0


def _offline_vqf_floor(sim) -> Callable[[], float]:
    """A function timing one `vqf.offlineVQF` call on each sensor's resampled arrays."""
    import numpy as np
    import vqf

    from fusion.pipeline import common_grid
    from fusion.resample import resample_to_grid

    grid = common_grid(sim.sacrum, sim.thigh, None)
    arrays = []
    for rec in (sim.sacrum, sim.thigh):
        samples = resample_to_grid(rec, grid)
        arrays.append(
            (
                np.ascontiguousarray(samples.gyr_radps),
                np.ascontiguousarray(samples.acc_mps2),
                1.0 / samples.rate_hz,
            )
        )

    def once() -> float:
        start = time.process_time()
        for gyr, acc, ts in arrays:
            vqf.offlineVQF(gyr, acc, None, ts)
        return time.process_time() - start

    return once


if __name__ == "__main__":
    sys.exit(main(sys.argv))
