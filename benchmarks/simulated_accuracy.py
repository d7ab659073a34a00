"""Accuracy of the offline pipeline (and the live analyser) on randomised simulated sets.

Ground truth comes from the simulator (fusion.simulator): per-sample angles and per-rep
depth and wink. Also reports the measured wink amplitude of reps that truly do not wink,
the noise floor that the default butt-wink threshold must clear.

Usage: python benchmarks/simulated_accuracy.py [RECORDINGS] [FIRST_SEED]
"""

from __future__ import annotations

import sys

import numpy as np

from fusion.evaluation import NO_WINK_DEG, score_set, summarise
from fusion.live import LiveSquatAnalyzer, RepCompleted
from fusion.pipeline import WINK_THRESHOLD_DEG, analyze_recordings
from fusion.simulator import random_spec, simulate_set


def live_reps(sim, chunk_s: float = 0.05):
    analyzer = LiveSquatAnalyzer()
    reps = []
    start = min(sim.sacrum.t_s[0], sim.thigh.t_s[0])
    stop = max(sim.sacrum.t_s[-1], sim.thigh.t_s[-1]) + chunk_s
    for a in np.arange(start, stop, chunk_s):
        for placement, rec in (("sacrum", sim.sacrum), ("thigh", sim.thigh)):
            m = (rec.t_s >= a) & (rec.t_s < a + chunk_s)
            if m.any():
                events = analyzer.push(placement, rec.t_s[m], rec.acc_mps2[m], rec.gyr_radps[m])
                reps += [e.metrics for e in events if isinstance(e, RepCompleted)]
    return reps


def main(argv: list[str]) -> int:
    recordings = int(argv[1]) if len(argv) > 1 else 60
    first_seed = int(argv[2]) if len(argv) > 2 else 5000
    scores, no_wink_measured, live_exact, live_depth, live_wink = [], [], 0, [], []
    for seed in range(first_seed, first_seed + recordings):
        sim = simulate_set(random_spec(np.random.default_rng(seed)), seed=seed)
        result = analyze_recordings(sim.sacrum, sim.thigh)
        truth = [(r.bottom_s, r.depth_deg, r.wink_deg) for r in sim.reps]
        scores.append(
            score_set(result, sim.truth.t_s, sim.truth.thigh_deg, sim.truth.pelvic_tilt_deg, truth)
        )
        for rep in result.reps:
            nearest = min(sim.reps, key=lambda r: abs(r.bottom_s - rep.bottom_s))
            if nearest.wink_deg <= NO_WINK_DEG:
                no_wink_measured.append(rep.wink_deg)
        reps = live_reps(sim)
        live_exact += len(reps) == len(sim.reps)
        for rep in reps:
            nearest = min(sim.reps, key=lambda r: abs(r.bottom_s - rep.bottom_s))
            live_depth.append(rep.depth_deg - nearest.depth_deg)
            live_wink.append(rep.wink_deg - nearest.wink_deg)
    s = summarise(scores)
    rms = lambda v: float(np.sqrt(np.mean(np.square(v))))  # noqa: E731
    print(
        f"## Simulated sets: {s.recordings} recordings (seeds {first_seed}..{first_seed + recordings - 1})\n"
    )
    print("| measure | offline | goal |")
    print("| --- | --- | --- |")
    print(f"| rep count exact | {s.count_exact_share:.0%} | >= 98% |")
    print(f"| depth RMSE (per rep) | {s.depth_rmse_deg:.2f} deg | <= 2 |")
    print(f"| thigh angle RMSE (per sample) | {s.thigh_rmse_deg:.2f} deg | |")
    print(f"| pelvic tilt RMSE (per sample) | {s.tilt_rmse_deg:.2f} deg | <= 1.5 |")
    print(f"| hip flexion RMSE (per sample) | {s.hip_rmse_deg:.2f} deg | <= 2.5 |")
    print(f"| wink amplitude RMSE (per rep) | {s.wink_rmse_deg:.2f} deg | <= 2 |")
    print(
        f"| wink detection balanced accuracy ({s.clear_wink_reps} reps >= 8 deg vs {s.no_wink_reps} <= 2 deg) "
        f"| {s.wink_balanced_accuracy:.3f} | >= 0.95 |"
    )
    print(
        f"\nlive analyser: rep count exact {live_exact}/{recordings}, depth RMSE {rms(live_depth):.2f} deg, "
        f"wink RMSE {rms(live_wink):.2f} deg"
    )
    floor = np.array(no_wink_measured)
    print(
        f"\nmeasured wink of {floor.size} reps whose true wink is <= {NO_WINK_DEG:.0f} deg: median {np.median(floor):.2f}, "
        f"99th percentile {np.percentile(floor, 99):.2f}, max {floor.max():.2f} deg "
        f"(default threshold {WINK_THRESHOLD_DEG:.1f} deg)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
