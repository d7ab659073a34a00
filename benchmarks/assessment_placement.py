"""The placement check (`fusion.sensor_checks.placement_check`) on assessment steps.

Each step of simulated lifters (`random_lifter`, every step recorded, every sensor flaw the
assessment benchmark draws), with the sensors in place and with the two files exchanged:
the ratio of the sacrum's to the thigh's rotation path per step kind, and how many steps
the check calls swapped or misplaced.

Usage: python benchmarks/assessment_placement.py [LIFTERS] [FIRST_SEED]
"""

from __future__ import annotations

import sys
from collections import defaultdict

import numpy as np

from fusion.assessment.kinds import STEP_KINDS
from fusion.pipeline import AnalysisConfig, common_grid, fuse_sensor
from fusion.sensor_checks import placement_check, rotation_path_deg
from fusion.simulator.assessment import random_lifter, simulate_assessment
from fusion.types import ImuRecording


def ratio_and_fault(sacrum: ImuRecording, thigh: ImuRecording) -> tuple[float, str]:
    config = AnalysisConfig()
    grid = common_grid(sacrum, thigh, config.grid_rate_hz)
    pelvis = fuse_sensor(sacrum, "sacrum", grid, config)
    femur = fuse_sensor(thigh, "thigh", grid, config)
    rate = pelvis.rate_hz
    ratio = rotation_path_deg(pelvis.gyr_radps, rate) / rotation_path_deg(femur.gyr_radps, rate)
    fault = placement_check(pelvis.gyr_radps, femur.gyr_radps, rate)
    return ratio, fault.code if fault else "in_place"


def main(argv: list[str]) -> int:
    lifters = int(argv[1]) if len(argv) > 1 else 100
    first_seed = int(argv[2]) if len(argv) > 2 else 7000
    ratios: dict[tuple[str, str], list[float]] = defaultdict(list)
    verdicts: dict[tuple[str, str], list[str]] = defaultdict(list)
    for seed in range(first_seed, first_seed + lifters):
        lifter = random_lifter(np.random.default_rng(seed), steps=STEP_KINDS)
        sim = simulate_assessment(lifter, seed)
        for kind, step in sim.steps.items():
            s, t = step.simulated.sacrum, step.simulated.thigh
            for placed, pair in (("in place", (s, t)), ("swapped", (t, s))):
                ratio, verdict = ratio_and_fault(*pair)
                ratios[(kind, placed)].append(ratio)
                verdicts[(kind, placed)].append(verdict)
    print(f"{lifters} lifters, seeds {first_seed}..{first_seed + lifters - 1}\n")
    print(
        "| step | sensors | ratio min | median | max | in_place | sensor_misplaced | sensors_swapped |"
    )
    print("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |")
    for kind in STEP_KINDS:
        for placed in ("in place", "swapped"):
            r = ratios[(kind, placed)]
            v = verdicts[(kind, placed)]
            counts = [v.count(c) for c in ("in_place", "sensor_misplaced", "sensors_swapped")]
            print(
                f"| {kind} | {placed} | {min(r):.2f} | {np.median(r):.2f} | {max(r):.2f} | "
                + " | ".join(str(c) for c in counts)
                + " |"
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv))
