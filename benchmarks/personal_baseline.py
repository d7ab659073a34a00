"""Personal baselines and sensor checks on simulated lifters (fusion.simulator.lifters).

Each lifter (own rhythm, depth, tempo, onset, sacrum skin artefact and soft-tissue wobble =
their noise floor, own sensors) does a baseline set of 8 reps that do not wink (truth 0-1.5
deg), then two sets of
clear winks (6-15 deg), two with none (0-1.5 deg) and one in between (1.5-6 deg), 5 reps
each. Reported:
- wink detection (truth >= 6 vs <= 1.5 deg), with and without the skin artefact, with the
  default threshold and with the personal baseline, for k and the spread floor (threshold =
  centre + k x sqrt(spread^2 + floor^2)), the number of baseline reps used, and a baseline
  with one winking rep among its first five; grade `borderline` vs the truth's distance to
  the threshold;
- sensor placement checks: recordings with the sensors in place, swapped, and the sacrum
  sensor on the thigh; share found (and false alarms on the ones in place).

Usage: python benchmarks/personal_baseline.py [LIFTERS] [FIRST_SEED] [PLACEMENT_RECORDINGS]
"""

from __future__ import annotations

import sys
from dataclasses import replace

import numpy as np

from fusion.baseline import K_SPREAD, MIN_BASELINE_REPS, SPREAD_FLOOR_DEG, PersonalBaseline
from fusion.lifter_evaluation import LifterRecord, score_lifters, simulate_lifter
from fusion.pipeline import analyze_recordings
from fusion.simulator.lifters import FAULT_KINDS, lifter_set, random_lifter, simulate_faulty_set
from fusion.simulator.simulate import simulate_set


def _row(name: str, score) -> str:
    return (
        f"| {name} | {score.personal_thresholds} | {score.sensitivity:.3f} "
        f"| {score.false_flag_share:.1%} | {score.balanced_accuracy:.3f} "
        f"| {score.borderline_reps} | {score.borderline_far_from_truth} "
        f"| {score.borderline_far_on_truth_scale} "
        f"| {score.borderline_outside_stated_band} | {score.borderline_band_median_deg:.2f} |"
    )


def _contaminated(records: list[LifterRecord], reps: int, extra_deg: float) -> list[LifterRecord]:
    """The first baseline rep of each lifter raised by `extra_deg` (a rep that did wink)."""
    out = []
    for r in records:
        base = list(r.baseline_wink_deg[:reps])
        base[0] += extra_deg
        out.append(replace(r, baseline_wink_deg=tuple(base)))
    return out


def _mean_and_sd(wink_deg) -> PersonalBaseline:
    """The non-robust alternative: sample mean and standard deviation."""
    values = np.asarray(wink_deg, dtype=float)
    return PersonalBaseline(float(np.mean(values)), float(np.std(values, ddof=1)), values.size)


def wink_tables(records: list[LifterRecord]) -> None:
    reps = sum(len(r.wink_deg) for r in records)
    print(f"## Wink detection, {len(records)} simulated lifters, {reps} test reps\n")
    floors = np.array([np.median(r.baseline_wink_deg) for r in records])
    print(
        "baseline-set median wink per lifter (their noise floor): "
        f"median {np.median(floors):.2f} deg, range {floors.min():.2f}-{floors.max():.2f}\n"
    )
    print(
        "threshold = max(5 deg, centre + k x sqrt(spread^2 + floor^2)); shipped: "
        f"k = {K_SPREAD}, floor = {SPREAD_FLOOR_DEG} deg, at least {MIN_BASELINE_REPS} reps\n"
    )
    print(
        "| threshold | lifters with a personal threshold | sensitivity (truth >= 6) "
        "| false flags (truth <= 1.5) | balanced accuracy | borderline reps "
        "| borderline with truth > 1 deg from the threshold "
        "| ... from the threshold on the truth's scale "
        "| ... outside the band the grade states (truth's scale) | stated band, median deg |"
    )
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    print(_row("default 5 deg, no baseline", score_lifters(records, use_baseline=False)))
    print(
        _row(
            "before: k = 3.0, no floor, first 5 reps",
            score_lifters(records, k_spread=3.0, spread_floor_deg=0.0, baseline_reps=5),
        )
    )
    for floor in (0.0, 1.0, 1.5, 2.0, 2.5):
        for k in (1.5, 2.0, 2.5, 3.0):
            for n in (MIN_BASELINE_REPS, 8):
                score = score_lifters(records, k_spread=k, spread_floor_deg=floor, baseline_reps=n)
                print(_row(f"k = {k}, floor {floor} deg, first {n} reps", score))
    for n in (3, 4, MIN_BASELINE_REPS, 6, 8):
        print(_row(f"shipped, first {n} reps", score_lifters(records, baseline_reps=n)))
    n = MIN_BASELINE_REPS
    print(
        _row(
            f"mean and SD for centre and spread, first {n} reps",
            score_lifters(records, baseline_reps=n, make_baseline=_mean_and_sd),
        )
    )
    for extra in (6.0, 10.0):
        winking = _contaminated(records, n, extra)
        print(
            _row(
                f"shipped, first {n} reps, one of them winking (+{extra:.0f} deg)",
                score_lifters(winking, baseline_reps=n),
            )
        )
        print(
            _row(
                f"mean and SD, first {n} reps, one of them winking (+{extra:.0f} deg)",
                score_lifters(winking, baseline_reps=n, make_baseline=_mean_and_sd),
            )
        )


def _best_balanced_accuracy(positive: np.ndarray, negative: np.ndarray) -> tuple[float, float]:
    """In-sample best threshold and its balanced accuracy (an upper bound for a measure)."""
    values = np.unique(np.concatenate([positive, negative]))
    best = (-1.0, float("nan"))
    for c in values:
        ba = 0.5 * (float(np.mean(positive >= c)) + float(np.mean(negative < c)))
        best = max(best, (ba, float(c)))
    return best[1], best[0]


def lag_table(records: list[LifterRecord]) -> None:
    truth = np.concatenate([r.true_wink_deg for r in records])
    wink = np.concatenate([r.wink_deg for r in records])
    lag = np.nan_to_num(np.concatenate([r.rhythm_lag_deg for r in records]), nan=-np.inf)
    clear, none = truth >= 6.0, truth <= 1.5
    print("\nSeparation of winking (truth >= 6) from non-winking (<= 1.5) reps, one threshold")
    print("for all lifters chosen in-sample (an upper bound):\n")
    print(
        "| measure | median, winking | median, not winking | best threshold | balanced accuracy |"
    )
    print("| --- | --- | --- | --- | --- |")
    for name, values in (("wink_deg", wink), ("rhythm_lag_deg", lag)):
        threshold, ba = _best_balanced_accuracy(values[clear], values[none])
        print(
            f"| {name} | {np.median(values[clear]):.1f} | {np.median(values[none]):.1f} "
            f"| {threshold:.1f} | {ba:.3f} |"
        )


def placement_table(count: int, first_seed: int) -> None:
    found = dict.fromkeys(("in place", *FAULT_KINDS), 0)
    ratios: dict[str, list[float]] = {kind: [] for kind in found}
    for seed in range(first_seed, first_seed + count):
        rng = np.random.default_rng(seed)
        lifter = random_lifter(rng)
        spec = lifter_set(lifter, rng, wink_deg=float(rng.choice([0.0, rng.uniform(0, 15)])))
        sim = simulate_set(spec, seed=seed)
        cases = {"in place": (sim.sacrum, sim.thigh)}
        cases.update({kind: simulate_faulty_set(spec, kind, seed=seed) for kind in FAULT_KINDS})
        for kind, (sacrum, thigh) in cases.items():
            fault = analyze_recordings(sacrum, thigh).sensor_fault
            found[kind] += fault is not None
            if fault is not None:
                ratios[kind].append(fault.ratio)
    print(f"\n## Sensor placement, {count} simulated recordings of each kind\n")
    print("| sensors | recordings with a placement fault found |")
    print("| --- | --- |")
    for kind, hits in found.items():
        label = "in place (false alarms)" if kind == "in place" else kind
        print(f"| {label} | {hits}/{count} ({hits / count:.1%}) |")


def main(argv: list[str]) -> int:
    lifters = int(argv[1]) if len(argv) > 1 else 40
    first_seed = int(argv[2]) if len(argv) > 2 else 1
    placements = int(argv[3]) if len(argv) > 3 else 100
    for skin in (True, False):
        records = [
            simulate_lifter(seed, skin_artefact=skin)
            for seed in range(first_seed, first_seed + lifters)
        ]
        print("\n# " + ("with" if skin else "without") + " the sacrum skin artefact\n")
        wink_tables(records)
        lag_table(records)
    if placements > 0:
        placement_table(placements, 10_000 + first_seed)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
