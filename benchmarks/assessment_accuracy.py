"""Accuracy of `winkwatch assess` on random simulated lifters with a known cause.

Each lifter (fusion.simulator.assessment.random_lifter): a random cause, hip range limit,
rep-to-rep onset spread 0.8-5 deg, effects 8-25 deg, random mounting (kept across the
steps), sensor noise, rates 50-200 Hz, clock drift and packet loss, 5-8 reps per step, each
optional step missing with probability 0.25; one lifter in ten has the sacrum sensor
slipped by 25 deg in one step (which must be flagged, not scored).

Reports verdict accuracy on the decisive fields where the effect is >= 2x the spread (goal
>= 95 %), wrong confident answers over every field (goal <= 2 %), the onset hip-flexion
RMSE per rep in squats and in the rock-back (goal <= 2 deg), sensor-slip detection, and
how often the prescribed depth ceiling is deeper than a true onset.

Usage: python benchmarks/assessment_accuracy.py [LIFTERS] [FIRST_SEED]
"""

from __future__ import annotations

import sys
import time
from collections import Counter
from dataclasses import replace

import numpy as np

from fusion.assessment import assess
from fusion.assessment.evaluation import LifterScore, score_lifter, summarise
from fusion.simulator.assessment import random_lifter, simulate_assessment

MOVED_SHARE = 0.1


def run_lifter(seed: int) -> LifterScore:
    rng = np.random.default_rng(seed)
    lifter = random_lifter(rng)
    if rng.random() < MOVED_SHARE and len(lifter.steps) > 1:
        lifter = replace(lifter, moved_step=str(rng.choice(lifter.steps[1:])))
    sim = simulate_assessment(lifter, seed)
    report = assess(
        {kind: (s.simulated.sacrum, s.simulated.thigh) for kind, s in sim.steps.items()},
        femur_cm=lifter.femur_cm,
        shank_cm=lifter.shank_cm,
    )
    return score_lifter(sim, report)


def main(argv: list[str]) -> int:
    lifters = int(argv[1]) if len(argv) > 1 else 200
    first_seed = int(argv[2]) if len(argv) > 2 else 7000
    started = time.perf_counter()
    scores = [run_lifter(seed) for seed in range(first_seed, first_seed + lifters)]
    elapsed = time.perf_counter() - started
    s = summarise(scores)
    print(
        f"## Assessment accuracy: {s.lifters} simulated lifters (seeds {first_seed}..{first_seed + lifters - 1}, {elapsed:.0f} s)\n"
    )
    print("| measure | value | goal |")
    print("| --- | --- | --- |")
    print(
        f"| decisive-field accuracy, effect >= 2x spread ({s.decisive_fields_clear} fields) | {100 * s.decisive_accuracy_clear:.1f}% | >= 95% |"
    )
    print(f"| decisive-field accuracy, all effects | {100 * s.decisive_accuracy_all:.1f}% | |")
    print(
        f"| wrong confident answers ({s.fields_total} fields) | {100 * s.wrong_confident_share:.2f}% | <= 2% |"
    )
    print(
        f"| onset hip flexion RMSE, squats ({s.squat_onsets} reps) | {s.squat_onset_rmse_deg:.2f} deg | <= 2 |"
    )
    print(
        f"| onset hip flexion RMSE, rock-back ({s.rock_onsets} reps) | {s.rock_onset_rmse_deg:.2f} deg | <= 2 |"
    )
    print(
        f"| onset hip flexion RMSE, rock-back, sacrum accelerometer not flagged uncalibrated | {s.rock_onset_rmse_calibrated_deg:.2f} deg | |"
    )
    print(f"| slipped sensor flagged | {s.moved_detected}/{s.moved_simulated} | all |")
    print(
        f"| slipped sensor not noticed (step scored; not in the RMSEs) | {s.slipped_scored} | 0 |"
    )
    print(f"| steps wrongly flagged as moved | {s.false_moved} | 0 |")
    exceeded = [x.ceiling_exceeded_share for x in scores if x.ceiling_exceeded_share is not None]
    print(
        f"| baseline reps whose true onset is above the prescribed ceiling | {100 * float(np.mean(exceeded)):.1f}% | |"
    )
    print()
    print(
        "Per cause (effect >= 2x spread / all): decisive accuracy, wrong confident fields, answers"
    )
    for cause in ("structural", "soft_tissue", "stability", "motor_control", "none"):
        group = [x for x in scores if x.cause == cause]
        clear = [x for x in group if x.effect_ratio >= 2]
        acc = lambda g: sum(len(x.correct) for x in g) / max(sum(len(x.decisive) for x in g), 1)  # noqa: E731
        answers = Counter(f"{k}={v}" for x in group for k, v in x.answered.items() if k == cause)
        print(
            f"- {cause}: {len(clear)}/{len(group)} lifters clear; accuracy {100 * acc(clear):.0f}% / {100 * acc(group):.0f}%; wrong confident {sum(len(x.wrong_confident) for x in group)}; {dict(answers)}"
        )
    problems = Counter(p.split(":")[1] for x in scores for p in x.problems)
    print(f"\nSteps not scored, by reason: {dict(problems)}")
    wrong = [
        (x.cause, round(x.effect_ratio, 1), x.wrong_confident, x.answered)
        for x in scores
        if x.wrong_confident
    ]
    for item in wrong:
        print(f"  wrong: {item}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
