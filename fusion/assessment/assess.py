"""A whole assessment: analyse every step with one calibration, compare, prescribe.

`assess(recordings)` takes step kind -> (sacrum, thigh) recordings, analyses the baseline
first (it calibrates the sensors, unless a stored `calibration` is given), then every other
step with that calibration. A step that cannot be analysed (too few reps, wrong movement
for its kind, sensor moved) is left out of the comparisons and reported in `problems`; the
verdict is drawn from the rest. Per step: reps, winking reps, and median + bootstrap 95 % CI
of the onset hip flexion, deepest hip flexion, wink amplitude and onset thigh angle.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from fusion.assessment.calibration import AssessmentCalibration
from fusion.assessment.kinds import STEP_KINDS
from fusion.assessment.prescription import NO_PRESCRIPTION, Prescription, prescribe
from fusion.assessment.stats import Estimate, median_ci
from fusion.assessment.steps import StepAnalysis, StepError, analyse_step
from fusion.assessment.verdict import SYSTEMATIC_SD_DEG, StepEvidence, Verdict, decide
from fusion.pipeline import AnalysisConfig
from fusion.types import ImuRecording


@dataclass(frozen=True)
class StepSummary:
    """The contract's numbers for one step (deg)."""

    kind: str
    reps: int
    wink_reps: int
    onset_hip_flexion: Estimate | None
    max_hip_flexion: Estimate
    wink: Estimate
    onset_thigh: Estimate | None

    @property
    def winks(self) -> bool:
        """The step shows a wink: at least half of its reps wink."""
        return self.wink_reps > 0 and 2 * self.wink_reps >= self.reps


@dataclass(frozen=True)
class AssessmentReport:
    steps: dict[str, StepSummary]
    analyses: dict[str, StepAnalysis]
    verdict: Verdict
    prescription: Prescription
    problems: tuple[StepError, ...]
    calibration: AssessmentCalibration

    def as_dict(self) -> dict[str, object]:
        """The report in the contract's JSON shape."""
        return {
            "steps": {kind: _summary_dict(summary) for kind, summary in self.steps.items()},
            "verdict": self.verdict.as_dict(),
            "prescription": self.prescription.as_dict(),
        }


def _estimate_dict(estimate: Estimate | None) -> dict[str, object]:
    if estimate is None:
        return {"median": None, "ci95": None}
    return {
        "median": round(estimate.median, 2),
        "ci95": [round(estimate.low, 2), round(estimate.high, 2)],
    }


def _summary_dict(summary: StepSummary) -> dict[str, object]:
    return {
        "reps": summary.reps,
        "wink_reps": summary.wink_reps,
        "onset_hip_flexion_deg": _estimate_dict(summary.onset_hip_flexion),
        "max_hip_flexion_deg": _estimate_dict(summary.max_hip_flexion),
        "wink_deg": _estimate_dict(summary.wink),
        "onset_thigh_deg": _estimate_dict(
            None if summary.kind == "rock_back" else summary.onset_thigh
        ),
    }


def _onsets(analysis: StepAnalysis) -> tuple[np.ndarray, np.ndarray]:
    """Onsets (hip flexion, thigh angle; deg) of the winking reps whose onset was measured."""
    winking = [rep for rep in analysis.reps if rep.winks and rep.onset_hip_flexion_deg is not None]
    hip = np.array([rep.onset_hip_flexion_deg for rep in winking], dtype=float)
    thigh = np.array([rep.onset_thigh_deg for rep in winking], dtype=float)
    return hip, thigh


def summarise(analysis: StepAnalysis) -> StepSummary:
    """Medians and bootstrap CIs of one analysed step."""
    hip, thigh = _onsets(analysis)
    return StepSummary(
        kind=analysis.kind,
        reps=len(analysis.reps),
        wink_reps=analysis.wink_reps,
        onset_hip_flexion=median_ci(hip) if hip.size else None,
        max_hip_flexion=median_ci(np.array([r.max_hip_flexion_deg for r in analysis.reps])),
        wink=median_ci(np.array([r.wink_deg for r in analysis.reps])),
        onset_thigh=median_ci(thigh) if thigh.size else None,
    )


def evidence(analysis: StepAnalysis, summary: StepSummary) -> StepEvidence:
    hip, _ = _onsets(analysis)
    posture = "standing" if analysis.kind != "rock_back" else "rock_back"
    if not analysis.posture_reliable:
        posture = "uncalibrated"
    return StepEvidence(
        onset_hip_flexion_deg=hip,
        max_hip_flexion_deg=np.array([r.max_hip_flexion_deg for r in analysis.reps]),
        winks=summary.winks,
        systematic_sd_deg=SYSTEMATIC_SD_DEG[posture],
    )


def assess(
    recordings: Mapping[str, tuple[ImuRecording, ImuRecording]],
    *,
    femur_cm: float | None = None,
    shank_cm: float | None = None,
    calibration: AssessmentCalibration | None = None,
    config: AnalysisConfig | None = None,
    skipped: Sequence[str] = (),
) -> AssessmentReport:
    """Analyse an assessment. Raises `StepError` when the baseline itself cannot be used.

    `skipped`: the steps the coach skipped on purpose; the verdict's summary names them and
    what they leave open (`fusion.assessment.verdict.decide`)."""
    unknown = [kind for kind in recordings if kind not in STEP_KINDS]
    if unknown:
        raise StepError(unknown[0], "not_analysable", f"unknown step kind; use {STEP_KINDS}")
    if "baseline" not in recordings:
        raise StepError("baseline", "not_analysable", "missing: the baseline is required")
    analyses: dict[str, StepAnalysis] = {}
    problems: list[StepError] = []
    sacrum, thigh = recordings["baseline"]
    analyses["baseline"], calibration = analyse_step("baseline", sacrum, thigh, calibration, config)
    for kind in STEP_KINDS[1:]:
        if kind not in recordings:
            continue
        sacrum, thigh = recordings[kind]
        try:
            analyses[kind], _ = analyse_step(kind, sacrum, thigh, calibration, config)
        except StepError as exc:
            problems.append(exc)
    summaries = {kind: summarise(analysis) for kind, analysis in analyses.items()}
    verdict = decide({kind: evidence(analyses[kind], s) for kind, s in summaries.items()}, skipped)
    prescription = NO_PRESCRIPTION
    if verdict.winks:
        prescription = prescribe(
            {kind: _onsets(analyses[kind]) for kind, s in summaries.items() if s.winks},
            femur_cm,
            shank_cm,
        )
    return AssessmentReport(
        summaries, analyses, verdict, prescription, tuple(problems), calibration
    )
