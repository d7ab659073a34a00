"""Real labelled squats (../shared/data/squat_posture): rep counts and butt-wink detection.

Each labelled set (classK/subjectS_setJ_window*.csv, one rep per window, windows contiguous)
is concatenated into one recording: s0 (lower back) = sacrum, s1 = thigh, time from the
`millis` column. The whole pipeline runs on it exactly as `winkwatch analyze` would; labels
are used for nothing but scoring and, where said, choosing a threshold.

Reported:
- complete reps found per set vs labelled windows;
- per-rep wink amplitude and flag rate per class at the default threshold;
- leave-one-subject-out (tune on one subject, score on the other), butt wink (class 2) vs
  correct (class 0) reps, balanced accuracy, for
  (a) a fixed threshold in degrees, and
  (b) a threshold relative to the lifter's own baseline: the lifter's first correct set
      (class0 set1) gives median m and robust spread s (1.4826 x MAD); a rep is flagged when
      wink >= m + k*s, with k tuned on the other subject; the baseline set is left out of
      the scoring.

Usage: python benchmarks/squat_posture_eval.py [DATA_DIR]
DATA_DIR holds squat_posture/ (default $WINKWATCH_SHARED_DATA, else ../shared/data).
"""

from __future__ import annotations

import csv
import os
import re
import sys
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import numpy as np

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
        for path in paths:
            with path.open(newline="") as handle:
                for row in csv.DictReader(handle):
                    rows[int(row["seq"])] = [float(row["millis"]) / 1000.0] + [
                        float(row[f"s{s}_{q}"])
                        for s in (0, 1)
                        for q in ("ax", "ay", "az", "gx", "gy", "gz")
                    ]
        data = np.array([rows[k] for k in sorted(rows)])
        keep = np.concatenate(([True], np.diff(data[:, 0]) > 0))
        data = data[keep]
        sacrum = ImuRecording(data[:, 0], data[:, 1:4], data[:, 4:7])
        thigh = ImuRecording(data[:, 0], data[:, 7:10], data[:, 10:13])
        sets.append(LabelledSet(label, subject, set_number, len(paths), sacrum, thigh))
    return sets


def balanced_accuracy(flag_positive: np.ndarray, flag_negative: np.ndarray) -> float:
    return 0.5 * (float(np.mean(flag_positive)) + float(np.mean(~flag_negative)))


def best_threshold(positive: np.ndarray, negative: np.ndarray) -> float:
    """Threshold maximising balanced accuracy (midpoint between neighbouring values)."""
    values = np.unique(np.concatenate([positive, negative]))
    candidates = np.concatenate([(values[:-1] + values[1:]) / 2, [values[0] - 1e-6]])
    scores = [balanced_accuracy(positive >= c, negative >= c) for c in candidates]
    return float(candidates[int(np.argmax(scores))])


def main(argv: list[str]) -> int:
    root = _shared_data_dir(argv) / "squat_posture"
    if not root.is_dir():
        print(f"no labelled squat data at {root}; nothing to evaluate")
        return 0
    sets = load_sets(root)
    winks: dict[tuple[int, int, int], np.ndarray] = {}
    print("## Rep counts (complete reps found vs labelled windows)\n")
    print("| class | subject | set | windows | reps found | incomplete |")
    print("| --- | --- | --- | --- | --- | --- |")
    exact = 0
    for s in sets:
        result = analyze_recordings(s.sacrum, s.thigh)
        incomplete = sum(f.code == "incomplete_reps" for f in result.findings)
        winks[(s.label, s.subject, s.set_number)] = np.array([r.wink_deg for r in result.reps])
        exact += len(result.reps) == s.windows
        note = next(
            (f.message.split(" ")[0] for f in result.findings if f.code == "incomplete_reps"), "0"
        )
        print(
            f"| {s.label} {CLASS_NAMES[s.label]} | {s.subject} | {s.set_number} | {s.windows} "
            f"| {len(result.reps)} | {note if incomplete else 0} |"
        )
    print(f"\nexact count in {exact}/{len(sets)} sets\n")

    print(f"## Wink per class (default threshold {WINK_THRESHOLD_DEG:.1f} deg)\n")
    print("| class | reps | wink median deg | IQR deg | flagged |")
    print("| --- | --- | --- | --- | --- |")
    for label, name in CLASS_NAMES.items():
        values = np.concatenate([v for k, v in winks.items() if k[0] == label])
        q1, q2, q3 = np.percentile(values, [25, 50, 75])
        print(
            f"| {label} {name} | {values.size} | {q2:.1f} | {q1:.1f}-{q3:.1f} "
            f"| {np.mean(values >= WINK_THRESHOLD_DEG):.0%} |"
        )

    subjects = sorted({s.subject for s in sets})

    def reps_of(subject: int, label: int, skip_baseline: bool = False) -> np.ndarray:
        parts = [
            v
            for (lab, sub, num), v in winks.items()
            if lab == label and sub == subject and not (skip_baseline and label == 0 and num == 1)
        ]
        return np.concatenate(parts) if parts else np.empty(0)

    def baseline(subject: int) -> tuple[float, float]:
        base = winks[(0, subject, 1)]
        spread = 1.4826 * float(np.median(np.abs(base - np.median(base))))
        return float(np.median(base)), max(spread, 0.1)

    print("\n## Leave-one-subject-out: butt wink (class 2) vs correct (class 0) reps\n")
    print(
        "| method | tuned on | threshold | scored on | wink reps flagged | correct reps flagged | balanced accuracy |"
    )
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for method in ("fixed", "baseline-relative"):
        scores = []
        for tune, score in ((a, b) for a in subjects for b in subjects if a != b):
            relative = method == "baseline-relative"

            def transform(
                values: np.ndarray, subject: int, relative: bool = relative
            ) -> np.ndarray:
                if not relative:
                    return values
                median, spread = baseline(subject)
                return (values - median) / spread

            threshold = best_threshold(
                transform(reps_of(tune, 2), tune), transform(reps_of(tune, 0, relative), tune)
            )
            pos = transform(reps_of(score, 2), score) >= threshold
            neg = transform(reps_of(score, 0, relative), score) >= threshold
            ba = balanced_accuracy(pos, neg)
            scores.append(ba)
            unit = "k" if relative else "deg"
            print(
                f"| {method} | {tune} | {threshold:.2f} {unit} | {score} | {pos.mean():.0%} "
                f"| {neg.mean():.0%} | {ba:.2f} |"
            )
        print(f"| {method} | | | mean | | | {np.mean(scores):.2f} |")
    default_pos = np.concatenate([reps_of(s, 2) for s in subjects]) >= WINK_THRESHOLD_DEG
    default_neg = np.concatenate([reps_of(s, 0) for s in subjects]) >= WINK_THRESHOLD_DEG
    print(
        f"\ndefault threshold {WINK_THRESHOLD_DEG:.1f} deg on both subjects: balanced accuracy "
        f"{balanced_accuracy(default_pos, default_neg):.2f}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
