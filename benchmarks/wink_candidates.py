"""What the two sensors see in butt-wink reps that the reversal misses: candidate measures.

On the real labelled squats (../shared/data/squat_posture, loaded as in
benchmarks/squat_posture_eval.py) every rep gets, besides `wink_deg`, a few other measures
of its pelvis and thigh, each computed from the analysis' angle traces only (0.1-s smoothed
tilt, as `fusion.wink` does):

- `wink_wide`: the reversal with the bottom window widened from 3 to 10 deg of thigh angle;
- `wink_ascent`: the reversal from the descent's peak to the lowest tilt anywhere before the
  thigh is back halfway up (more of the ascent's normal un-tilting counted);
- `rhythm_lag`: the rep's `rhythm_lag_deg` (tilt expected from its early-descent rhythm minus
  the tilt measured, near the bottom);
- `lag_vs_own_rhythm`: the same lag against the rhythm fitted to the lifter's own baseline
  set (one line for all their reps), not the rep's own early descent;
- `bottom_drop`: standing tilt minus tilt at the bottom (how far the pelvis is posterior of
  its standing posture at the deepest point; calibrated standing = 0);
- `late_slope_drop`: early-descent slope of tilt vs thigh (10-60 % of the excursion) minus
  the slope over the last 20 % before the bottom (a pelvis that stops tilting forward, or
  turns back, before the bottom; deg per deg x 10);
- `hip_share_drop`: the same on the tilt-vs-hip-flexion curve (share of hip flexion that
  comes from the pelvis, early minus late; x 10);
- `depth`: thigh angle at the bottom (not a wink measure: a confound to look at).

For each: the per-lifter median and spread in correct reps vs butt-wink reps, the in-sample
separation on each lifter alone (best threshold: an upper bound, not a result), and
leave-one-subject-out: a fixed threshold tuned on the other lifter; a personal threshold
(median + k x sd of the lifter's own baseline set, k tuned on the other lifter); and the
shipped wink flag OR the measure (the measure's personal k tuned on the other lifter).
Baseline set and scored reps as in squat_posture_eval: class 0 set 1 = baseline, class 0
set 2 = correct reps scored, class 2 sets = butt-wink reps scored.

Then the same measures on simulated lifters (fusion.simulator.lifters, the sets of
benchmarks/personal_baseline.py: a baseline set of 8 non-winking reps, test reps with true
winks 0-15 deg): winking (truth >= 6) vs non-winking (<= 1.5) reps, (a) one threshold for all
lifters and (b) a personal one, (value - baseline median) / baseline spread, both chosen
in-sample (upper bounds), and (c) the shipped flag rule applied to the reversal-type measures.

Usage: python benchmarks/wink_candidates.py [DATA_DIR] [SIMULATED_LIFTERS]
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.squat_posture_eval import _shared_data_dir, balanced_accuracy, load_sets
from fusion.baseline import personal_baseline, wink_threshold
from fusion.lifter_evaluation import (
    BETWEEN_RANGE_DEG,
    CLEAR_WINK_RANGE_DEG,
    MATCH_TOLERANCE_S,
    NO_WINK_RANGE_DEG,
)
from fusion.pipeline import WINK_THRESHOLD_DEG, AnalysisResult, analyze_recordings
from fusion.simulator.lifters import lifter_set, random_lifter, with_skin_artefact
from fusion.simulator.simulate import simulate_set
from fusion.wink import smoothed_tilt_deg

MEASURES = (
    "wink",
    "wink_wide",
    "wink_ascent",
    "rhythm_lag",
    "lag_vs_own_rhythm",
    "bottom_drop",
    "late_slope_drop",
    "hip_share_drop",
    "depth",
)


@dataclass
class RepTrace:
    subject: int
    label: int
    set_number: int
    thigh: np.ndarray  # deg, start..end of the rep
    tilt: np.ndarray  # deg, smoothed
    hip: np.ndarray
    bottom: int  # index within the rep
    edge: bool
    values: dict[str, float]


def _slope(x: np.ndarray, y: np.ndarray) -> float:
    if x.size < 5 or np.ptp(x) <= 0:
        return float("nan")
    return float(np.polyfit(x, y, 1)[0])


def _reversal(thigh: np.ndarray, tilt: np.ndarray, bottom: int, exit_deg: float) -> float:
    peak = int(np.argmax(tilt[: bottom + 1]))
    after = np.flatnonzero(thigh[bottom:] < thigh[bottom] - exit_deg)
    stop = bottom + (int(after[0]) if after.size else thigh.size - bottom)
    return float(tilt[peak] - tilt[peak:stop].min())


def rep_traces(result: AnalysisResult, subject: int, label: int, set_number: int):
    rate_hz = (result.t_s.size - 1) / float(result.t_s[-1] - result.t_s[0])
    out = []
    for rep in result.reps:
        a, b, z = np.searchsorted(result.t_s, [rep.start_s, rep.bottom_s, rep.end_s])
        span = slice(int(a), int(z) + 1)
        thigh = result.thigh_deg[span]
        tilt = smoothed_tilt_deg(result.pelvic_tilt_deg[span], rate_hz)
        hip = thigh + tilt
        bottom = int(b - a)
        standing = thigh[0]
        share = (thigh[: bottom + 1] - standing) / max(thigh[bottom] - standing, 1e-9)
        early = (share >= 0.1) & (share <= 0.6)
        late = share >= 0.8
        values = {
            "wink": rep.wink_deg,
            "wink_wide": _reversal(thigh, tilt, bottom, 10.0),
            "wink_ascent": _reversal(thigh, tilt, bottom, 0.5 * (thigh[bottom] - thigh[-1])),
            "rhythm_lag": np.nan if rep.rhythm_lag_deg is None else rep.rhythm_lag_deg,
            "bottom_drop": -float(tilt[bottom]),
            "late_slope_drop": 10
            * (
                _slope(thigh[: bottom + 1][early], tilt[: bottom + 1][early])
                - _slope(thigh[: bottom + 1][late], tilt[: bottom + 1][late])
            ),
            "hip_share_drop": 10
            * (
                _slope(hip[: bottom + 1][early], tilt[: bottom + 1][early])
                - _slope(hip[: bottom + 1][late], tilt[: bottom + 1][late])
            ),
            "depth": float(thigh[bottom]),
        }
        edge = any(q.startswith("edge") for q in rep.quality)
        out.append(RepTrace(subject, label, set_number, thigh, tilt, hip, bottom, edge, values))
    return out


def add_own_rhythm(reps: list[RepTrace]) -> None:
    """`lag_vs_own_rhythm`: one tilt-vs-thigh line per lifter from their baseline set's
    early descents; per rep the largest (expected - measured) from 80 % of the descent to
    3 deg up from the bottom."""
    for subject in {r.subject for r in reps}:
        xs, ys = [], []
        for r in reps:
            if r.subject == subject and r.label == 0 and r.set_number == 1 and not r.edge:
                standing = r.thigh[0]
                share = (r.thigh[: r.bottom + 1] - standing) / (r.thigh[r.bottom] - standing)
                fit = (share >= 0.1) & (share <= 0.6)
                xs.append(r.thigh[: r.bottom + 1][fit])
                ys.append(r.tilt[: r.bottom + 1][fit])
        slope, intercept = np.polyfit(np.concatenate(xs), np.concatenate(ys), 1)
        for r in reps:
            if r.subject != subject:
                continue
            standing = r.thigh[0]
            share = (r.thigh - standing) / max(r.thigh[r.bottom] - standing, 1e-9)
            first = int(np.flatnonzero(share[: r.bottom + 1] >= 0.8)[0])
            after = np.flatnonzero(r.thigh[r.bottom :] < r.thigh[r.bottom] - 3.0)
            stop = r.bottom + (int(after[0]) if after.size else r.thigh.size - r.bottom)
            expected = intercept + slope * r.thigh[first:stop]
            r.values["lag_vs_own_rhythm"] = float(np.max(expected - r.tilt[first:stop]))


def best_threshold(pos: np.ndarray, neg: np.ndarray) -> tuple[float, float]:
    values = np.unique(np.concatenate([pos, neg]))
    candidates = np.concatenate([(values[:-1] + values[1:]) / 2, [values[0] - 1e-6]])
    scores = [balanced_accuracy(pos >= c, neg >= c) for c in candidates]
    i = int(np.argmax(scores))
    return float(candidates[i]), float(scores[i])


def main(argv: list[str]) -> int:
    root = _shared_data_dir(argv) / "squat_posture"
    if not root.is_dir():
        print(f"no labelled squat data at {root}; nothing to evaluate")
        return 0
    reps: list[RepTrace] = []
    for s in load_sets(root):
        if s.label not in (0, 2):
            continue
        result = analyze_recordings(s.sacrum, s.thigh)
        reps += rep_traces(result, s.subject, s.label, s.set_number)
    add_own_rhythm(reps)
    subjects = sorted({r.subject for r in reps})

    def pick(subject: int, name: str, which: str) -> np.ndarray:
        keep: Callable[[RepTrace], bool] = {
            "baseline": lambda r: r.label == 0 and r.set_number == 1,
            "correct": lambda r: r.label == 0 and r.set_number == 2,
            "wink": lambda r: r.label == 2,
        }[which]
        v = np.array([r.values[name] for r in reps if r.subject == subject and keep(r)])
        return np.nan_to_num(v, nan=-np.inf)

    print("## Per lifter: median [IQR] of each measure, and in-sample separation\n")
    print(
        "| measure | lifter | correct reps (both sets) | butt-wink reps "
        "| in-sample best threshold | in-sample balanced accuracy |"
    )
    print("| --- | --- | --- | --- | --- | --- |")
    for name in MEASURES:
        for subject in subjects:
            neg = np.concatenate([pick(subject, name, "baseline"), pick(subject, name, "correct")])
            pos = pick(subject, name, "wink")
            t, ba = best_threshold(pos, neg)
            q = lambda v: "{:.1f} [{:.1f}-{:.1f}]".format(  # noqa: E731
                *np.percentile(v[np.isfinite(v)], [50, 25, 75])
            )
            print(f"| {name} | {subject} | {q(neg)} | {q(pos)} | {t:.2f} | {ba:.2f} |")

    print("\n## Leave-one-subject-out (tuned on the other lifter, scored on the held-out one)\n")
    print(
        "| measure | rule | held-out lifter | wink reps flagged | correct reps flagged "
        "| balanced accuracy |"
    )
    print("| --- | --- | --- | --- | --- | --- |")
    ks = np.arange(0.0, 8.01, 0.25)

    def personal(subject: int, name: str, k: float) -> float:
        base = pick(subject, name, "baseline")
        base = base[np.isfinite(base)]
        b = personal_baseline(base)
        return b.centre_deg + k * b.spread_deg

    def wink_flags(subject: int, which: str) -> np.ndarray:
        b = personal_baseline(pick(subject, "wink", "baseline"))
        t = wink_threshold(WINK_THRESHOLD_DEG, b).threshold_deg
        return pick(subject, "wink", which) >= t

    means: dict[str, list[float]] = {}
    for name in MEASURES:
        for held in subjects:
            tune = next(s for s in subjects if s != held)
            pos, neg = pick(held, name, "wink"), pick(held, name, "correct")
            tpos, tneg = pick(tune, name, "wink"), pick(tune, name, "correct")
            fixed, _ = best_threshold(tpos, tneg)

            def tuned_k(score: Callable[[float], float]) -> float:
                values = [score(k) for k in ks]
                return float(ks[int(np.argmax(values))])

            def alone(k: float, tune=tune, name=name, tpos=tpos, tneg=tneg) -> float:
                return balanced_accuracy(
                    tpos >= personal(tune, name, k), tneg >= personal(tune, name, k)
                )

            def with_wink(k: float, tune=tune, name=name, tpos=tpos, tneg=tneg) -> float:
                return balanced_accuracy(
                    wink_flags(tune, "wink") | (tpos >= personal(tune, name, k)),
                    wink_flags(tune, "correct") | (tneg >= personal(tune, name, k)),
                )

            k, k_or = tuned_k(alone), tuned_k(with_wink)
            rules = (
                (f"fixed {fixed:.2f}", pos >= fixed, neg >= fixed),
                (
                    f"personal, k = {k:.2f}",
                    pos >= personal(held, name, k),
                    neg >= personal(held, name, k),
                ),
                (
                    f"shipped wink flag OR personal (k = {k_or:.2f})",
                    wink_flags(held, "wink") | (pos >= personal(held, name, k_or)),
                    wink_flags(held, "correct") | (neg >= personal(held, name, k_or)),
                ),
            )
            for rule, p, n in rules:
                ba = balanced_accuracy(p, n)
                means.setdefault(f"{name}: {rule.split(' ')[0]}", []).append(ba)
                print(
                    f"| {name} | {rule} | {held} | {np.mean(p):.0%} | {np.mean(n):.0%} | {ba:.2f} |"
                )
    print("\nmean held-out balanced accuracy (lifters 1 and 2):\n")
    for key, values in means.items():
        print(f"- {key}: {np.mean(values):.3f} ({' / '.join(f'{v:.2f}' for v in values)})")
    width_loso(reps, subjects)
    simulator_check(int(argv[2]) if len(argv) > 2 else 40)
    return 0


def simulated_lifter_reps(seed: int) -> tuple[list[RepTrace], list[float]]:
    """Baseline reps (label 0, set 1) and test reps (label -1) of simulated lifter `seed`,
    drawn as fusion.lifter_evaluation.simulate_lifter draws them; true wink per test rep."""
    rng = np.random.default_rng(seed)
    lifter = random_lifter(rng)
    spec = lifter_set(lifter, rng, wink_deg=float(rng.uniform(*NO_WINK_RANGE_DEG)), reps=8)
    sim = simulate_set(spec, seed=seed * 100)
    result = analyze_recordings(with_skin_artefact(sim, lifter, rng), sim.thigh)
    reps = rep_traces(result, seed, 0, 1)
    truths: list[float] = []
    kinds = [CLEAR_WINK_RANGE_DEG, NO_WINK_RANGE_DEG] * 2 + [BETWEEN_RANGE_DEG]
    for k, (low, high) in enumerate(kinds):
        spec = lifter_set(lifter, rng, wink_deg=float(rng.uniform(low, high)), reps=5)
        sim = simulate_set(spec, seed=seed * 100 + k + 1)
        result = analyze_recordings(with_skin_artefact(sim, lifter, rng), sim.thigh)
        for rep, trace in zip(result.reps, rep_traces(result, seed, -1, 0)):
            nearest = min(sim.reps, key=lambda r: abs(r.bottom_s - rep.bottom_s))
            if abs(nearest.bottom_s - rep.bottom_s) <= MATCH_TOLERANCE_S:
                reps.append(trace)
                truths.append(nearest.wink_deg)
    return reps, truths


def simulator_check(lifters: int) -> None:
    if lifters <= 0:
        return
    per_lifter = []
    for seed in range(1, lifters + 1):
        reps, truths = simulated_lifter_reps(seed)
        add_own_rhythm(reps)
        per_lifter.append((reps, np.array(truths)))
    print(f"\n## Simulated lifters (seeds 1-{lifters}): winking (truth >= 6) vs not (<= 1.5)\n")
    print(
        "| measure | one threshold, in-sample | personal (value - centre) / spread, in-sample "
        "| shipped flag rule |"
    )
    print("| --- | --- | --- | --- |")
    for name in MEASURES:
        raw, z, flags, truth = [], [], [], []
        for reps, truths in per_lifter:
            base = np.array([r.values[name] for r in reps if r.label == 0])
            b = personal_baseline(base[np.isfinite(base)])
            t = wink_threshold(WINK_THRESHOLD_DEG, b).threshold_deg
            v = np.nan_to_num(
                np.array([r.values[name] for r in reps if r.label == -1]), nan=-np.inf
            )
            raw.append(v)
            z.append((v - b.centre_deg) / max(b.spread_deg, 1e-9))
            flags.append(v >= t)
            truth.append(truths)
        tr = np.concatenate(truth)
        pos, neg = tr >= 6.0, tr <= 1.5
        r_all, z_all, f_all = np.concatenate(raw), np.concatenate(z), np.concatenate(flags)
        _, ba_raw = best_threshold(r_all[pos], r_all[neg])
        _, ba_z = best_threshold(z_all[pos], z_all[neg])
        shipped = (
            f"{balanced_accuracy(f_all[pos], f_all[neg]):.3f} (false flags {np.mean(f_all[neg]):.1%})"
            if name.startswith("wink")
            else "-"
        )
        print(f"| {name} | {ba_raw:.3f} | {ba_z:.3f} | {shipped} |")


WIDTHS_DEG = (3.0, 5.0, 7.0, 10.0, 15.0)


def width_loso(reps: list[RepTrace], subjects: list[int]) -> None:
    """The bottom window's width chosen on one lifter (shipped flag rule, ties to the
    shipped 3 deg), scored on the other: the fair held-out test of a wider window."""
    print("\n## Bottom window width chosen on the other lifter (shipped threshold rule)\n")
    print("| width | lifter | wink reps flagged | correct reps flagged | balanced accuracy |")
    print("| --- | --- | --- | --- | --- |")
    score: dict[tuple[float, int], float] = {}
    for width in WIDTHS_DEG:
        for subject in subjects:

            def values(
                which: Callable[[RepTrace], bool], width: float = width, subject: int = subject
            ) -> np.ndarray:
                return np.array(
                    [
                        _reversal(r.thigh, r.tilt, r.bottom, width)
                        for r in reps
                        if r.subject == subject and which(r)
                    ]
                )

            base = values(lambda r: r.label == 0 and r.set_number == 1)
            t = wink_threshold(WINK_THRESHOLD_DEG, personal_baseline(base)).threshold_deg
            pos = values(lambda r: r.label == 2) >= t
            neg = values(lambda r: r.label == 0 and r.set_number == 2) >= t
            score[(width, subject)] = balanced_accuracy(pos, neg)
            print(
                f"| {width:.0f} deg | {subject} | {np.mean(pos):.0%} | {np.mean(neg):.0%} "
                f"| {score[(width, subject)]:.2f} |"
            )
    held_out = []
    for held in subjects:
        tune = next(s for s in subjects if s != held)
        best = max(score[(w, tune)] for w in WIDTHS_DEG)
        width = min(w for w in WIDTHS_DEG if score[(w, tune)] == best)
        held_out.append(score[(width, held)])
        print(
            f"\nheld-out lifter {held}: width chosen on lifter {tune} = {width:.0f} deg -> "
            f"balanced accuracy {score[(width, held)]:.2f}"
        )
    print(
        f"mean: {np.mean(held_out):.3f} (shipped 3 deg: "
        f"{np.mean([score[(3.0, s)] for s in subjects]):.3f})"
    )


if __name__ == "__main__":
    sys.exit(main(sys.argv))
