"""Real labelled squats (../shared/data/squat_posture): rep counts, butt-wink detection,
personal baselines, the rhythm-lag measure and sensor checks.

Each labelled set (classK/subjectS_setJ_window*.csv, one rep per window, windows contiguous)
is concatenated into one recording: s0 (lower back) = sacrum, s1 = thigh, time from the
`millis` column. The whole pipeline runs on it exactly as `winkwatch analyze` would; labels
are used for nothing but scoring and, where said, choosing a threshold.

Reported:
- per set: reps found (complete + edge) vs labelled windows, and whether every labelled
  window holds a found rep's bottom ("every labelled rep found");
- per class: wink amplitude and rhythm lag, flag rate at the default threshold;
- sensor checks: placement faults with the files as labelled (false alarms) and swapped;
  per-rep sensor codes;
- leave-one-subject-out, butt wink (class 2) vs correct reps: the lifter's first correct set
  (class0 set1) is their baseline set (reps that do not wink), the second correct set and
  both butt-wink sets are scored; per held-out lifter: wink reps flagged, correct reps
  flagged, balanced accuracy for
  (a) the default threshold (no baseline),
  (b) a fixed threshold tuned on the other lifter,
  (c) the personal baseline as shipped, threshold max(default, centre + k x sqrt(spread^2 +
      floor^2)) (fusion.baseline: k, floor); (c0) the rule before it, centre + 3 x spread;
  (d) the same with k tuned on the other lifter,
  (e) the rhythm lag alone, threshold tuned on the other lifter,
  (f) wink (personal threshold) OR rhythm lag (tuned on the other lifter).

Usage: python benchmarks/squat_posture_eval.py [DATA_DIR]
DATA_DIR holds squat_posture/ (default $WINKWATCH_SHARED_DATA, else ../shared/data).
"""

from __future__ import annotations

import csv
import os
import re
import sys
from collections import Counter, defaultdict
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from fusion.baseline import (
    K_SPREAD,
    SPREAD_FLOOR_DEG,
    grade_wink,
    personal_baseline,
    wink_threshold,
)
from fusion.pipeline import WINK_THRESHOLD_DEG, analyze_recordings
from fusion.types import ImuRecording

REPO_DIR = Path(__file__).resolve().parent.parent
CLASS_NAMES = {0: "correct", 1: "knee valgus", 2: "butt wink", 3: "excessive lean", 4: "partial"}
WINDOW_FILE = re.compile(r"subject(\d+)_set(\d+)_window(\d+)\.csv$")


@dataclass(frozen=True)
class LabelledSet:
    label: int
    subject: int
    set_number: int
    windows: int
    sacrum: ImuRecording
    thigh: ImuRecording
    window_bounds_s: tuple[tuple[float, float], ...]  # first and last sample time per window


def _shared_data_dir(argv: list[str]) -> Path:
    if len(argv) > 1:
        return Path(argv[1])
    return Path(os.environ.get("WINKWATCH_SHARED_DATA", REPO_DIR.parent / "shared" / "data"))


def load_sets(root: Path) -> list[LabelledSet]:
    """Concatenate each set's windows (deduplicated by sequence number) into two recordings."""
    grouped: dict[tuple[int, int, int], list[Path]] = defaultdict(list)
    for path in root.glob("class*/subject*_set*_window*.csv"):
        match = WINDOW_FILE.search(path.name)
        label = int(path.parent.name.removeprefix("class"))
        grouped[(label, int(match[1]), int(match[2]))].append(path)
    sets = []
    for (label, subject, set_number), paths in sorted(grouped.items()):
        rows: dict[int, list[float]] = {}
        bounds = []
        for path in sorted(paths, key=lambda p: int(WINDOW_FILE.search(p.name)[3])):
            times = []
            with path.open(newline="") as handle:
                for row in csv.DictReader(handle):
                    times.append(float(row["millis"]) / 1000.0)
                    rows[int(row["seq"])] = [float(row["millis"]) / 1000.0] + [
                        float(row[f"s{s}_{q}"])
                        for s in (0, 1)
                        for q in ("ax", "ay", "az", "gx", "gy", "gz")
                    ]
            bounds.append((min(times), max(times)))
        data = np.array([rows[k] for k in sorted(rows)])
        keep = np.concatenate(([True], np.diff(data[:, 0]) > 0))
        data = data[keep]
        sacrum = ImuRecording(data[:, 0], data[:, 1:4], data[:, 4:7])
        thigh = ImuRecording(data[:, 0], data[:, 7:10], data[:, 10:13])
        sets.append(
            LabelledSet(label, subject, set_number, len(paths), sacrum, thigh, tuple(bounds))
        )
    return sets


def balanced_accuracy(flag_positive: np.ndarray, flag_negative: np.ndarray) -> float:
    return 0.5 * (float(np.mean(flag_positive)) + float(np.mean(~flag_negative)))


def best_threshold(positive: np.ndarray, negative: np.ndarray) -> float:
    """Threshold maximising balanced accuracy (midpoint between neighbouring values)."""
    values = np.unique(np.concatenate([positive, negative]))
    candidates = np.concatenate([(values[:-1] + values[1:]) / 2, [values[0] - 1e-6]])
    scores = [balanced_accuracy(positive >= c, negative >= c) for c in candidates]
    return float(candidates[int(np.argmax(scores))])


WINDOW_MATCH_TOLERANCE_S = 0.15


def every_window_found(s: LabelledSet, bottoms_s: list[float]) -> bool:
    """Each labelled window holds the bottom of a found rep (windows may start mid-rep)."""
    return all(
        any(a - WINDOW_MATCH_TOLERANCE_S <= b <= z + WINDOW_MATCH_TOLERANCE_S for b in bottoms_s)
        for a, z in s.window_bounds_s
    )


@dataclass
class SetResult:
    labelled: LabelledSet
    winks: np.ndarray
    lags: np.ndarray  # NaN where not measurable
    fault: str | None
    swapped_fault: str | None
    rep_codes: list[str]


def analyse(s: LabelledSet) -> tuple[SetResult, str]:
    result = analyze_recordings(s.sacrum, s.thigh)
    swapped = analyze_recordings(s.thigh, s.sacrum)
    edges = sum(any(q.startswith("edge") for q in r.quality) for r in result.reps)
    found = every_window_found(s, [r.bottom_s for r in result.reps])
    line = (
        f"| {s.label} {CLASS_NAMES[s.label]} | {s.subject} | {s.set_number} | {s.windows} "
        f"| {len(result.reps)} | {edges} | {'yes' if found else 'no'} |"
    )
    codes = [q for r in result.reps for q in r.quality if q not in ("gap", "clipping")]
    lags = np.array([np.nan if r.rhythm_lag_deg is None else r.rhythm_lag_deg for r in result.reps])
    return (
        SetResult(
            s,
            np.array([r.wink_deg for r in result.reps]),
            lags,
            result.sensor_fault.code if result.sensor_fault else None,
            swapped.sensor_fault.code if swapped.sensor_fault else None,
            codes,
        ),
        line + ("found" if found else ""),
    )


def main(argv: list[str]) -> int:
    root = _shared_data_dir(argv) / "squat_posture"
    if not root.is_dir():
        print(f"no labelled squat data at {root}; nothing to evaluate")
        return 0
    sets = load_sets(root)
    print("## Rep counts (reps found vs labelled windows)\n")
    print(
        "| class | subject | set | windows | reps found | of them at an edge | every labelled rep found |"
    )
    print("| --- | --- | --- | --- | --- | --- | --- |")
    results: list[SetResult] = []
    every = 0
    for s in sets:
        res, line = analyse(s)
        every += line.endswith("found")
        print(line.removesuffix("found"))
        results.append(res)
    exact = sum(len(r.winks) == r.labelled.windows for r in results)
    print(
        f"\nevery labelled rep found in {every}/{len(sets)} recordings ({every / len(sets):.0%}); "
        f"rep count equal to the windows in {exact}/{len(sets)}\n"
    )

    print(f"## Wink and rhythm lag per class (default threshold {WINK_THRESHOLD_DEG:.1f} deg)\n")
    print(
        "| class | reps | wink median deg | IQR deg | flagged | rhythm lag median deg | IQR deg |"
    )
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for label, name in CLASS_NAMES.items():
        values = np.concatenate([r.winks for r in results if r.labelled.label == label])
        lags = np.concatenate([r.lags for r in results if r.labelled.label == label])
        lags = lags[np.isfinite(lags)]
        q1, q2, q3 = np.percentile(values, [25, 50, 75])
        l1, l2, l3 = np.percentile(lags, [25, 50, 75])
        print(
            f"| {label} {name} | {values.size} | {q2:.1f} | {q1:.1f}-{q3:.1f} "
            f"| {np.mean(values >= WINK_THRESHOLD_DEG):.0%} | {l2:.1f} | {l1:.1f}-{l3:.1f} |"
        )

    print("\n## Sensor checks\n")
    alarms = sum(r.fault is not None for r in results)
    swapped = sum(r.swapped_fault is not None for r in results)
    codes = Counter(c for r in results for c in r.rep_codes)
    reps = sum(len(r.winks) for r in results)
    print(f"- placement fault with the files as labelled: {alarms}/{len(results)} recordings")
    print(
        f"- files swapped: fault found in {swapped}/{len(results)} "
        f"({Counter(r.swapped_fault for r in results)})"
    )
    print(f"- per-rep codes over {reps} reps: {dict(sorted(codes.items())) or 'none'}")

    loso(results)
    return 0


def _scores(pos: np.ndarray, neg: np.ndarray) -> tuple[float, float, float]:
    return float(np.mean(pos)), float(np.mean(neg)), balanced_accuracy(pos, neg)


def loso(results: list[SetResult]) -> None:
    subjects = sorted({r.labelled.subject for r in results})

    def pick(subject: int, label: int, set_number: int | None = None, lag: bool = False):
        parts = [
            r.lags if lag else r.winks
            for r in results
            if r.labelled.subject == subject
            and r.labelled.label == label
            and (set_number is None or r.labelled.set_number == set_number)
        ]
        return np.concatenate(parts)

    def data(subject: int, lag: bool = False):
        """(baseline reps, wink reps, correct reps scored) of one lifter."""
        return pick(subject, 0, 1, lag), pick(subject, 2, None, lag), pick(subject, 0, 2, lag)

    def personal_threshold(subject: int, k: float, floor_deg: float = SPREAD_FLOOR_DEG) -> float:
        baseline = personal_baseline(data(subject)[0])
        return wink_threshold(WINK_THRESHOLD_DEG, baseline, k, floor_deg).threshold_deg

    def best_k(subject: int) -> float:
        _, pos, neg = data(subject)
        grid = np.arange(0.5, 6.01, 0.25)
        scores = [
            balanced_accuracy(
                pos >= personal_threshold(subject, k), neg >= personal_threshold(subject, k)
            )
            for k in grid
        ]
        best = max(scores)  # ties: the k closest to the shipped one
        return float(
            min((k for k, v in zip(grid, scores) if v == best), key=lambda k: abs(k - K_SPREAD))
        )

    print("\n## Leave-one-subject-out: butt wink (class 2) vs correct reps (class 0 set 2)\n")
    print("Baseline set: the held-out lifter's class 0 set 1 (10 reps that do not wink).\n")
    print(
        "| method | scored on | threshold | wink reps flagged | correct reps flagged | balanced accuracy |"
    )
    print("| --- | --- | --- | --- | --- | --- |")
    means: dict[str, list[float]] = defaultdict(list)
    for score in subjects:
        tune = next(s for s in subjects if s != score)
        _, pos, neg = data(score)
        _, tpos, tneg = data(tune)
        rows = []
        rows.append(
            ("(a) default, no baseline", f"{WINK_THRESHOLD_DEG:.2f} deg", WINK_THRESHOLD_DEG)
        )
        rows.append(("(b) fixed, tuned on the other lifter", None, best_threshold(tpos, tneg)))
        rows.append(
            (
                "(c0) personal baseline before: k = 3, no floor",
                None,
                personal_threshold(score, 3.0, 0.0),
            )
        )
        rows.append(
            (
                f"(c) personal baseline, k = {K_SPREAD}, floor {SPREAD_FLOOR_DEG} deg",
                None,
                personal_threshold(score, K_SPREAD),
            )
        )
        k_tuned = best_k(tune)
        rows.append(
            (
                f"(d) personal baseline, k tuned on the other lifter ({k_tuned:.1f})",
                None,
                personal_threshold(score, k_tuned),
            )
        )
        for name, text, threshold in rows:
            p, n, ba = _scores(pos >= threshold, neg >= threshold)
            means[name.split(",")[0] if name.startswith("(d)") else name].append(ba)
            print(
                f"| {name} | {score} | {text or f'{threshold:.2f} deg'} | {p:.0%} | {n:.0%} | {ba:.2f} |"
            )
        _, lpos, lneg = data(score, lag=True)
        _, tlpos, tlneg = data(tune, lag=True)
        finite = lambda v: np.nan_to_num(v, nan=-np.inf)  # noqa: E731
        lag_threshold = best_threshold(finite(tlpos), finite(tlneg))
        p, n, ba = _scores(finite(lpos) >= lag_threshold, finite(lneg) >= lag_threshold)
        means["(e) rhythm lag"].append(ba)
        print(
            f"| (e) rhythm lag, tuned on the other lifter | {score} | {lag_threshold:.2f} deg lag | {p:.0%} | {n:.0%} | {ba:.2f} |"
        )
        wink_t = personal_threshold(score, K_SPREAD)
        tune_wink_t = personal_threshold(tune, K_SPREAD)
        # lag threshold for the OR rule tuned on the other lifter given its wink threshold
        candidates = np.unique(np.concatenate([finite(tlpos), finite(tlneg)]))
        best_or = max(
            candidates,
            key=lambda c: balanced_accuracy(
                (tpos >= tune_wink_t) | (finite(tlpos) >= c),
                (tneg >= tune_wink_t) | (finite(tlneg) >= c),
            ),
        )
        p, n, ba = _scores(
            (pos >= wink_t) | (finite(lpos) >= best_or), (neg >= wink_t) | (finite(lneg) >= best_or)
        )
        means["(f) wink or lag"].append(ba)
        print(
            f"| (f) personal wink or lag >= {best_or:.2f} (tuned on the other lifter) | {score} | {wink_t:.2f} deg | {p:.0%} | {n:.0%} | {ba:.2f} |"
        )
    print("\nmean balanced accuracy over the two held-out lifters:")
    for name, values in means.items():
        print(f"- {name}: {np.mean(values):.2f}")

    print("\nGrades with the personal baseline (shipped rule) of the scored reps:\n")
    print("| lifter | threshold | band u | reps | clear | borderline | none |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for subject in subjects:
        base, pos, neg = data(subject)
        threshold = wink_threshold(WINK_THRESHOLD_DEG, personal_baseline(base))
        for name, values in (("butt wink", pos), ("correct", neg)):
            grades = Counter(grade_wink(float(v), threshold) for v in values)
            print(
                f"| {subject} | {threshold.threshold_deg:.2f} deg | "
                f"{threshold.borderline_deg:.2f} deg | {name} {values.size} "
                f"| {grades['clear']} | {grades['borderline']} | {grades['none']} |"
            )


if __name__ == "__main__":
    sys.exit(main(sys.argv))
