"""Does the baseline's movement check tell a squat from a rock-back recorded as the baseline?

`fusion.assessment.movement.vertical_share` (the sacrum's vertical over horizontal linear
acceleration within the reps) on simulated lifters' baselines and on their rock-backs
analysed as if they were the baseline (`random_lifter`: every sensor flaw the assessment
benchmark draws), and on the real squat sets of ../shared/data/squat_posture (every class:
each is a standing squat set, none may be refused).

Usage: python benchmarks/baseline_movement.py [LIFTERS] [FIRST_SEED] [SHARED_DATA_DIR]
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import numpy as np

from fusion.assessment import steps
from fusion.assessment.movement import MIN_SQUAT_VERTICAL_SHARE, vertical_share
from fusion.assessment.steps import StepError, analyse_step, raw_rest_acc_mps2
from fusion.pipeline import AnalysisConfig, analyze_recordings, common_grid, fuse_sensor
from fusion.reps import RepWindow
from fusion.simulator.assessment import random_lifter, simulate_assessment
from fusion.types import ImuRecording

REPO_DIR = Path(__file__).resolve().parent.parent


def baseline_share(kind: str, sacrum: ImuRecording, thigh: ImuRecording) -> float | str | None:
    """The share the baseline check measures, or the StepError reason another check gave."""
    measured: list[float | None] = []
    check = steps._check_squat_movement

    def measure(*args: object) -> float | None:
        steps.MIN_SQUAT_VERTICAL_SHARE = 0.0  # measure every share; the threshold is applied below
        try:
            measured.append(check(*args))  # type: ignore[arg-type]
        finally:
            steps.MIN_SQUAT_VERTICAL_SHARE = MIN_SQUAT_VERTICAL_SHARE
        return measured[-1]

    steps._check_squat_movement = measure  # type: ignore[assignment]
    try:
        analyse_step("baseline", sacrum, thigh, None)
    except StepError as exc:
        if not measured:
            return exc.reason  # refused before the movement check (no still start...)
    finally:
        steps._check_squat_movement = check  # type: ignore[assignment]
    return measured[0] if measured else None


def real_share(sacrum: ImuRecording, thigh: ImuRecording) -> float | None:
    config = AnalysisConfig()
    result = analyze_recordings(sacrum, thigh, config=config)
    grid = common_grid(sacrum, thigh, config.grid_rate_hz)
    trace = fuse_sensor(sacrum, "sacrum", grid, config)
    windows = [
        RepWindow(
            int(np.searchsorted(grid, rep.start_s)),
            int(np.searchsorted(grid, rep.bottom_s)),
            int(np.searchsorted(grid, rep.end_s)),
        )
        for rep in result.reps
    ]
    return vertical_share(sacrum, trace, windows, raw_rest_acc_mps2(sacrum, trace))


def describe(values: list[float]) -> str:
    if not values:
        return "none"
    return f"{len(values)}: min {min(values):.2f}, median {np.median(values):.2f}, max {max(values):.2f}"


def main(argv: list[str]) -> int:
    lifters = int(argv[1]) if len(argv) > 1 else 200
    first_seed = int(argv[2]) if len(argv) > 2 else 7000
    shares: dict[str, list[float]] = {"baseline": [], "rock_back": []}
    other: dict[str, list[str]] = {"baseline": [], "rock_back": []}
    seeds: dict[str, list[tuple[float, int]]] = {"baseline": [], "rock_back": []}
    for seed in range(first_seed, first_seed + lifters):
        lifter = random_lifter(np.random.default_rng(seed), steps=("baseline", "rock_back"))
        sim = simulate_assessment(lifter, seed)
        for kind in ("baseline", "rock_back"):
            step = sim.steps[kind].simulated
            share = baseline_share(kind, step.sacrum, step.thigh)
            if isinstance(share, float):
                shares[kind].append(share)
                seeds[kind].append((share, seed))
            else:
                other[kind].append(f"{seed}:{share}")
    print(f"threshold {MIN_SQUAT_VERTICAL_SHARE}")
    for kind, label in (("baseline", "baselines"), ("rock_back", "rock-backs as the baseline")):
        refused = sum(s < MIN_SQUAT_VERTICAL_SHARE for s in shares[kind])
        print(f"simulated {label}: {describe(shares[kind])}; below the threshold {refused}")
        print(f"  refused by another check or not measured: {len(other[kind])} {other[kind][:12]}")
        closest = sorted(seeds[kind], reverse=kind == "rock_back")[:5]
        print(
            "  closest to the threshold (share, seed): "
            + ", ".join(f"{v:.2f} {k}" for v, k in closest)
        )
    root = Path(
        argv[3]
        if len(argv) > 3
        else os.environ.get("WINKWATCH_SHARED_DATA", REPO_DIR.parent / "shared" / "data")
    )
    sys.path.insert(0, str(REPO_DIR / "benchmarks"))
    from squat_posture_eval import load_sets

    real = []
    for labelled in load_sets(root / "squat_posture"):
        share = real_share(labelled.sacrum, labelled.thigh)
        if share is not None:
            real.append(share)
    refused = sum(s < MIN_SQUAT_VERTICAL_SHARE for s in real)
    print(f"real squat sets: {describe(real)}; below the threshold {refused}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv))
