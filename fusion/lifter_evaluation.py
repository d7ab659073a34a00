"""Score personal baselines and sensor checks on simulated lifters (ground truth known).

Pure: simulated sets in, numbers out. Used by the tests (a few fixed seeds, bars asserted)
and by benchmarks/personal_baseline.py (many lifters, numbers reported).

Per lifter: one baseline set of reps that do not wink (truth within `NO_WINK_RANGE_DEG`, as
a warm-up or an assessment's steps at their working depth would be), then test sets with clear winks (`CLEAR_WINK_RANGE_DEG`), none
(`NO_WINK_RANGE_DEG`) and in between. Every set is analysed once; the flag for a threshold
is wink_deg >= threshold, exactly as `rep_metrics` decides it, so thresholds built from the
baseline with different k and minimum rep counts can be compared on the same measurements.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

import numpy as np

from fusion.baseline import (
    DEFAULT_WINK_THRESHOLD_DEG,
    K_SPREAD,
    SPREAD_FLOOR_DEG,
    PersonalBaseline,
    grade_wink,
    personal_baseline,
    wink_threshold,
)
from fusion.pipeline import AnalysisResult, analyze_recordings
from fusion.simulator.lifters import lifter_set, random_lifter, with_skin_artefact
from fusion.simulator.simulate import SimulatedSet, simulate_set

CLEAR_WINK_DEG = 6.0  # truth at or above: a rep that winks (the bar)
NO_WINK_DEG = 1.5  # truth at or below: a rep that does not
CLEAR_WINK_RANGE_DEG = (6.0, 15.0)
NO_WINK_RANGE_DEG = (0.0, 1.5)
BETWEEN_RANGE_DEG = (1.5, 6.0)
BORDERLINE_TRUTH_TOLERANCE_DEG = 1.0
MATCH_TOLERANCE_S = 1.0


@dataclass(frozen=True)
class LifterRecord:
    """One simulated lifter: measured winks of the baseline reps, and (true, measured) per test rep."""

    seed: int
    baseline_wink_deg: tuple[float, ...]
    true_wink_deg: tuple[float, ...]
    wink_deg: tuple[float, ...]
    rhythm_lag_deg: tuple[float, ...] = ()  # per test rep, NaN where not measurable


def _matched_winks(sim: SimulatedSet, result: AnalysisResult) -> list[tuple[float, float, float]]:
    """(true wink, measured wink, rhythm lag) of each found rep matched to a true one."""
    pairs = []
    for rep in result.reps:
        nearest = min(sim.reps, key=lambda r: abs(r.bottom_s - rep.bottom_s))
        if abs(nearest.bottom_s - rep.bottom_s) <= MATCH_TOLERANCE_S:
            lag = float("nan") if rep.rhythm_lag_deg is None else rep.rhythm_lag_deg
            pairs.append((nearest.wink_deg, rep.wink_deg, lag))
    return pairs


def simulate_lifter(
    seed: int,
    baseline_reps: int = 8,
    reps_per_set: int = 5,
    sets_per_kind: int = 2,
    *,
    skin_artefact: bool = True,
) -> LifterRecord:
    """Draw a lifter from `seed`, simulate their baseline set and test sets, analyse them.

    The baseline set's reps do not wink in the same sense as the scored ones: a true
    posterior rotation within `NO_WINK_RANGE_DEG`. `skin_artefact` False leaves out the
    sacrum skin artefact (the lifter's slow noise floor), keeping wobble and sensor errors.
    """
    rng = np.random.default_rng(seed)
    lifter = random_lifter(rng)
    if not skin_artefact:
        lifter = replace(lifter, sacrum_skin_deg=0.0)
    baseline_spec = lifter_set(
        lifter, rng, wink_deg=float(rng.uniform(*NO_WINK_RANGE_DEG)), reps=baseline_reps
    )
    baseline_sim = simulate_set(baseline_spec, seed=seed * 100)
    baseline_result = analyze_recordings(
        with_skin_artefact(baseline_sim, lifter, rng), baseline_sim.thigh
    )
    kinds = [CLEAR_WINK_RANGE_DEG, NO_WINK_RANGE_DEG] * sets_per_kind + [BETWEEN_RANGE_DEG]
    pairs: list[tuple[float, float, float]] = []
    for k, (low, high) in enumerate(kinds):
        wink = float(rng.uniform(low, high))
        spec = lifter_set(lifter, rng, wink_deg=wink, reps=reps_per_set)
        sim = simulate_set(spec, seed=seed * 100 + k + 1)
        sacrum = with_skin_artefact(sim, lifter, rng)
        pairs += _matched_winks(sim, analyze_recordings(sacrum, sim.thigh))
    return LifterRecord(
        seed,
        tuple(r.wink_deg for r in baseline_result.reps),
        tuple(p[0] for p in pairs),
        tuple(p[1] for p in pairs),
        tuple(p[2] for p in pairs),
    )


@dataclass(frozen=True)
class BaselineScore:
    """Wink detection over lifters for one way of setting the threshold."""

    clear_reps: int
    no_wink_reps: int
    sensitivity: float  # share of reps with truth >= CLEAR_WINK_DEG flagged
    false_flag_share: float  # share of reps with truth <= NO_WINK_DEG flagged
    balanced_accuracy: float
    borderline_reps: int
    borderline_far_from_truth: int  # graded borderline with truth > 1 deg from the threshold
    personal_thresholds: int  # lifters whose threshold came from their baseline
    # ... from the threshold on the truth's scale (`truth_scale_threshold_deg`)
    borderline_far_on_truth_scale: int = 0
    # ... outside the band the grade claims (`WinkThreshold.truth_band_deg`), on the truth's scale
    borderline_outside_stated_band: int = 0
    borderline_band_median_deg: float = float("nan")  # median claimed band of borderline reps


def truth_scale_threshold_deg(record: LifterRecord, threshold_deg: float) -> float:
    """The true wink at which this lifter's measured reversal is expected to reach the threshold.

    A lifter's measured reversal is their skin artefact plus (part of) the true wink, so a
    personal threshold of 8 deg on the measurement may stand for a true wink of 3 deg. Fitted
    per lifter over their test reps (measured = a + b x truth, truth 0-15 deg, known only to
    the simulator) and inverted at the threshold.
    """
    slope, intercept = np.polyfit(record.true_wink_deg, record.wink_deg, 1)
    return float((threshold_deg - intercept) / slope) if slope > 0 else float("nan")


def score_lifters(
    records: list[LifterRecord],
    *,
    use_baseline: bool = True,
    k_spread: float = K_SPREAD,
    baseline_reps: int | None = None,
    default_deg: float = DEFAULT_WINK_THRESHOLD_DEG,
    spread_floor_deg: float = SPREAD_FLOOR_DEG,
    make_baseline: Callable[[Sequence[float]], PersonalBaseline] = personal_baseline,
) -> BaselineScore:
    """Flags and grades of every test rep with (or without) each lifter's baseline.

    `baseline_reps`: use only the first n baseline reps (None: all of them). `make_baseline`:
    how the baseline is estimated from those reps (another estimator can be compared).
    """
    clear, none, borderline, far, far_truth_scale, personal = [], [], 0, 0, 0, 0
    outside_band, bands = 0, []
    for record in records:
        base = (
            record.baseline_wink_deg[:baseline_reps] if baseline_reps else record.baseline_wink_deg
        )
        baseline = make_baseline(base) if use_baseline else None
        threshold = wink_threshold(default_deg, baseline, k_spread, spread_floor_deg)
        personal += threshold.source == "personal"
        truth_scale_deg = truth_scale_threshold_deg(record, threshold.threshold_deg)
        for truth, measured in zip(record.true_wink_deg, record.wink_deg):
            flagged = measured >= threshold.threshold_deg
            if truth >= CLEAR_WINK_DEG:
                clear.append(flagged)
            elif truth <= NO_WINK_DEG:
                none.append(flagged)
            if grade_wink(measured, threshold) == "borderline":
                borderline += 1
                far += abs(truth - threshold.threshold_deg) > BORDERLINE_TRUTH_TOLERANCE_DEG
                far_truth_scale += not (
                    abs(truth - truth_scale_deg) <= BORDERLINE_TRUTH_TOLERANCE_DEG
                )
                outside_band += not (abs(truth - truth_scale_deg) <= threshold.truth_band_deg)
                bands.append(threshold.truth_band_deg)
    sensitivity = float(np.mean(clear)) if clear else float("nan")
    false_flags = float(np.mean(none)) if none else float("nan")
    return BaselineScore(
        clear_reps=len(clear),
        no_wink_reps=len(none),
        sensitivity=sensitivity,
        false_flag_share=false_flags,
        balanced_accuracy=0.5 * (sensitivity + 1.0 - false_flags),
        borderline_reps=borderline,
        borderline_far_from_truth=far,
        personal_thresholds=personal,
        borderline_far_on_truth_scale=far_truth_scale,
        borderline_outside_stated_band=outside_band,
        borderline_band_median_deg=float(np.median(bands)) if bands else float("nan"),
    )
