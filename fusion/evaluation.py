"""Score an analysis against ground truth (simulated sets): what the accuracy bars measure.

Pure: results and truth in, numbers out. Used by the tests (fixed seeds, bars asserted)
and by benchmarks/simulated_accuracy.py (larger sweeps, numbers reported).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from fusion.pipeline import AnalysisResult

CLEAR_WINK_DEG = 8.0  # truth at or above: a rep that winks
NO_WINK_DEG = 2.0  # truth at or below: a rep that does not
MATCH_TOLERANCE_S = 1.0


@dataclass(frozen=True)
class RepComparison:
    """One detected rep matched to its true rep (deg)."""

    depth_error_deg: float
    wink_error_deg: float
    true_wink_deg: float
    flagged: bool


@dataclass(frozen=True)
class SetScore:
    true_reps: int
    found_reps: int
    thigh_sq_errors: np.ndarray  # per sample, deg^2
    tilt_sq_errors: np.ndarray
    hip_sq_errors: np.ndarray
    reps: tuple[RepComparison, ...]

    @property
    def count_exact(self) -> bool:
        return self.true_reps == self.found_reps


def score_set(
    result: AnalysisResult,
    truth_t_s: np.ndarray,
    truth_thigh_deg: np.ndarray,
    truth_tilt_deg: np.ndarray,
    truth_reps: list[tuple[float, float, float]],
) -> SetScore:
    """Compare `result` to truth traces (on their own grid) and true reps (bottom_s, depth_deg, wink_deg).

    Per-sample errors leave out samples inside gaps (no data there: the analysis reports them).
    """
    valid = ~result.in_gap
    thigh = np.interp(result.t_s, truth_t_s, truth_thigh_deg)
    tilt = np.interp(result.t_s, truth_t_s, truth_tilt_deg)
    comparisons = []
    for rep in result.reps:
        distances = [abs(rep.bottom_s - bottom_s) for bottom_s, _, _ in truth_reps]
        if not distances or min(distances) > MATCH_TOLERANCE_S:
            continue
        _, depth_deg, wink_deg = truth_reps[int(np.argmin(distances))]
        comparisons.append(
            RepComparison(
                rep.depth_deg - depth_deg, rep.wink_deg - wink_deg, wink_deg, rep.butt_wink
            )
        )
    return SetScore(
        true_reps=len(truth_reps),
        found_reps=len(result.reps),
        thigh_sq_errors=((result.thigh_deg - thigh) ** 2)[valid],
        tilt_sq_errors=((result.pelvic_tilt_deg - tilt) ** 2)[valid],
        hip_sq_errors=((result.hip_flexion_deg - (thigh + tilt)) ** 2)[valid],
        reps=tuple(comparisons),
    )


@dataclass(frozen=True)
class SweepSummary:
    recordings: int
    count_exact_share: float
    depth_rmse_deg: float
    thigh_rmse_deg: float
    tilt_rmse_deg: float
    hip_rmse_deg: float
    wink_rmse_deg: float
    wink_balanced_accuracy: float
    clear_wink_reps: int
    no_wink_reps: int


def summarise(scores: list[SetScore]) -> SweepSummary:
    reps = [r for s in scores for r in s.reps]
    clear = [r.flagged for r in reps if r.true_wink_deg >= CLEAR_WINK_DEG]
    none = [r.flagged for r in reps if r.true_wink_deg <= NO_WINK_DEG]
    sensitivity = float(np.mean(clear)) if clear else float("nan")
    specificity = 1.0 - float(np.mean(none)) if none else float("nan")

    def rms(values: Iterable[float]) -> float:
        array = np.asarray(list(values), dtype=float)
        return float(np.sqrt(np.mean(array**2))) if array.size else float("nan")

    def rms_samples(name: str) -> float:
        return float(np.sqrt(np.mean(np.concatenate([getattr(s, name) for s in scores]))))

    return SweepSummary(
        recordings=len(scores),
        count_exact_share=float(np.mean([s.count_exact for s in scores])),
        depth_rmse_deg=rms(r.depth_error_deg for r in reps),
        thigh_rmse_deg=rms_samples("thigh_sq_errors"),
        tilt_rmse_deg=rms_samples("tilt_sq_errors"),
        hip_rmse_deg=rms_samples("hip_sq_errors"),
        wink_rmse_deg=rms(r.wink_error_deg for r in reps),
        wink_balanced_accuracy=0.5 * (sensitivity + specificity),
        clear_wink_reps=len(clear),
        no_wink_reps=len(none),
    )
