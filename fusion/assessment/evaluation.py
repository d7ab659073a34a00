"""Score assessments of simulated lifters against their known cause (benchmark and tests).

Decisive fields: the verdict fields the contract's rules can settle from the steps the
lifter recorded (e.g. structural and soft_tissue need the rock-back and post_stretch for a
structural lifter; stability needs goblet or supported). `winks` is always decisive.
Effect ratio: the smallest true shift that the deciding comparisons must see, over the
lifter's rep-to-rep spread (sd). A comparison that must show "no change" has to rule out
the smallest shift any cause produces (`MIN_CAUSE_EFFECT_DEG`), so that is its effect.
Wrong confident answer: a "yes" or "no" (or `winks`) contradicting the truth.
Onset errors: per winking rep with a measured onset, against the true onset of the nearest
rep, in the steps recorded with the sensors in place (a step simulated with a slipped
sensor tests the detection, counted apart); the rock-back's also without the lifters whose
sacrum accelerometer the analysis flags as uncalibrated (`acc_gain_posture`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from fusion.assessment.assess import AssessmentReport
from fusion.assessment.kinds import VERDICT_FIELDS
from fusion.simulator.assessment import MIN_CAUSE_EFFECT_DEG, SimulatedAssessment


@dataclass(frozen=True)
class LifterScore:
    cause: str
    effect_ratio: float
    decisive: tuple[str, ...]
    correct: tuple[str, ...]  # decisive fields answered right
    wrong_confident: tuple[str, ...]  # any field answered yes/no (or winks) against the truth
    answered: dict[str, str]
    squat_onset_errors_deg: tuple[float, ...]
    rock_onset_errors_deg: tuple[float, ...]
    rock_flagged_uncalibrated: bool  # the rock-back's sacrum accelerometer was flagged
    slipped_step_scored: bool  # the simulated slip went unnoticed and the step was scored
    problems: tuple[str, ...]  # steps the analysis could not score, with the reason code
    moved_step: str | None
    ceiling_exceeded_share: float | None  # true baseline onsets (thigh) shallower than the ceiling


def decisive_fields(sim: SimulatedAssessment) -> tuple[str, ...]:
    lifter = sim.lifter
    steps = set(lifter.steps) - ({lifter.moved_step} if lifter.moved_step else set())
    rock = "rock_back" in steps
    stretch = "post_stretch" in steps
    support = bool(steps & {"goblet", "supported"})
    fields: set[str] = {"winks"}
    if (lifter.cause == "structural" and rock and stretch) or (
        lifter.cause == "soft_tissue" and stretch
    ):
        fields |= {"structural", "soft_tissue", "motor_control"}
    elif lifter.cause == "stability":
        fields |= {"stability", "motor_control"} if support else set()
        fields |= {"structural", "soft_tissue"} if rock else set()
    elif lifter.cause == "motor_control" and rock:
        fields |= {"structural", "soft_tissue"}
        fields |= {"stability", "motor_control"} if support else set()
    return tuple(sorted(fields))


def effect_ratio(sim: SimulatedAssessment) -> float:
    lifter = sim.lifter
    spread = lifter.onset_spread_deg
    rock_shift = (
        lifter.rock_reach_deg if lifter.range_excess_deg is None else lifter.range_excess_deg
    )
    shifts = {
        "structural": MIN_CAUSE_EFFECT_DEG,
        "soft_tissue": lifter.effect_deg,
        "stability": min(lifter.effect_deg, rock_shift),
        "motor_control": min(rock_shift, MIN_CAUSE_EFFECT_DEG),
        "none": math.inf,
    }
    return shifts[lifter.cause] / spread


def _onset_errors(
    sim: SimulatedAssessment, report: AssessmentReport, kinds: set[str]
) -> list[float]:
    errors = []
    for kind in (kinds & set(report.analyses)) - {sim.lifter.moved_step}:
        step = sim.steps[kind]
        truth_bottoms = np.array([rep.bottom_s for rep in step.reps])
        for rep in report.analyses[kind].reps:
            nearest = int(np.argmin(np.abs(truth_bottoms - rep.bottom_s)))
            truth = step.onset_hip_flexion_deg[nearest]
            if rep.winks and truth is not None and rep.onset_hip_flexion_deg is not None:
                errors.append(rep.onset_hip_flexion_deg - truth)
    return errors


def score_lifter(sim: SimulatedAssessment, report: AssessmentReport) -> LifterScore:
    lifter = sim.lifter
    truth = dict(lifter.truth_verdict)
    answered = {name: getattr(report.verdict, name) for name in VERDICT_FIELDS}
    winks_truth = lifter.cause != "none"
    decisive = decisive_fields(sim)
    correct = tuple(
        name
        for name in decisive
        if (
            report.verdict.winks == winks_truth
            if name == "winks"
            else answered[name] == truth[name]
        )
    )
    wrong = [
        name
        for name in VERDICT_FIELDS
        if answered[name] in ("yes", "no") and answered[name] != truth[name]
    ]
    if report.verdict.winks != winks_truth:
        wrong.append("winks")
    ceiling = report.prescription.depth_ceiling_thigh_deg
    true_onsets = [
        r.wink_onset_depth_deg for r in sim.steps["baseline"].reps if r.wink_onset_depth_deg
    ]
    exceeded = (
        float(np.mean(np.array(true_onsets) < ceiling))
        if ceiling is not None and true_onsets
        else None
    )
    standing = {kind for kind in sim.steps if kind != "rock_back"}
    return LifterScore(
        cause=lifter.cause,
        effect_ratio=effect_ratio(sim),
        decisive=decisive,
        correct=correct,
        wrong_confident=tuple(wrong),
        answered=answered | {"winks": str(report.verdict.winks).lower()},
        squat_onset_errors_deg=tuple(_onset_errors(sim, report, standing)),
        rock_onset_errors_deg=tuple(_onset_errors(sim, report, {"rock_back"})),
        rock_flagged_uncalibrated="rock_back" in report.analyses
        and not report.analyses["rock_back"].posture_reliable,
        slipped_step_scored=lifter.moved_step is not None and lifter.moved_step in report.analyses,
        problems=tuple(f"{p.kind}:{p.reason}" for p in report.problems),
        moved_step=lifter.moved_step,
        ceiling_exceeded_share=exceeded,
    )


@dataclass(frozen=True)
class Summary:
    lifters: int
    decisive_accuracy_clear: float  # effect >= 2x spread
    decisive_fields_clear: int
    decisive_accuracy_all: float
    wrong_confident_share: float  # over every answered field of every lifter
    fields_total: int
    squat_onset_rmse_deg: float
    rock_onset_rmse_deg: float
    rock_onset_rmse_calibrated_deg: float  # without the flagged uncalibrated sacrum sensors
    squat_onsets: int
    rock_onsets: int
    slipped_scored: int  # simulated slips that went unnoticed (their steps scored)
    moved_detected: int
    moved_simulated: int
    false_moved: int


def _rms(values: np.ndarray) -> float:
    return float(np.sqrt(np.mean(np.square(values)))) if values.size else float("nan")


def summarise(scores: list[LifterScore], clear_ratio: float = 2.0) -> Summary:
    clear = [s for s in scores if s.effect_ratio >= clear_ratio]
    decisive_clear = sum(len(s.decisive) for s in clear)
    decisive_all = sum(len(s.decisive) for s in scores)
    fields_total = 5 * len(scores)
    squat = np.concatenate([np.asarray(s.squat_onset_errors_deg) for s in scores] or [np.zeros(0)])
    rock = np.concatenate([np.asarray(s.rock_onset_errors_deg) for s in scores] or [np.zeros(0)])
    calibrated = np.concatenate(
        [np.asarray(s.rock_onset_errors_deg) for s in scores if not s.rock_flagged_uncalibrated]
        or [np.zeros(0)]
    )
    moved = [s for s in scores if s.moved_step]
    return Summary(
        lifters=len(scores),
        decisive_accuracy_clear=sum(len(s.correct) for s in clear) / max(decisive_clear, 1),
        decisive_fields_clear=decisive_clear,
        decisive_accuracy_all=sum(len(s.correct) for s in scores) / max(decisive_all, 1),
        wrong_confident_share=sum(len(s.wrong_confident) for s in scores) / max(fields_total, 1),
        fields_total=fields_total,
        squat_onset_rmse_deg=_rms(squat),
        rock_onset_rmse_deg=_rms(rock),
        rock_onset_rmse_calibrated_deg=_rms(calibrated),
        squat_onsets=int(squat.size),
        rock_onsets=int(rock.size),
        moved_detected=sum(f"{s.moved_step}:sensor_moved" in s.problems for s in moved),
        moved_simulated=len(moved),
        slipped_scored=sum(s.slipped_step_scored for s in moved),
        false_moved=sum(
            1
            for s in scores
            for p in s.problems
            if p.endswith(":sensor_moved") and p != f"{s.moved_step}:sensor_moved"
        ),
    )
