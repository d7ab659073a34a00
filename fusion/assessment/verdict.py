"""The verdict: why the lifter winks, from the comparisons between steps.

Every comparison is against the baseline's wink onset (hip flexion, deg, per rep) and
carries the uncertainty of the lifter's own rep-to-rep spread (`stats.shift_ci`) plus the
measurement's offset between two recordings, which that spread does not show
(`StepEvidence.systematic_sd_deg`, added in quadrature, `stats.with_systematic`):
- LATER ("clearly later"): the 95 % CI of the shift of the median onset lies above
  `CLEAR_MIN_DEG`; or the step does not wink in most reps although it reaches clearly more
  hip flexion than the baseline onset (95 % CI of its deepest hip flexion minus the baseline
  onset above `CLEAR_MIN_DEG`): the wink is gone at equal or greater depth;
- SAME ("about the same", "no change"): a one-sided test at 5 % (the upper end of the 90 %
  CI) rules out a later shift of `EQUIVALENCE_DEG` or more. The question is one-sided: a
  range limit, a stretch or a support matters only if it lets the lifter go deeper, so an
  onset that comes earlier is no evidence for any cause (it counts as no change);
- UNCLEAR: neither (too few winking reps, too much spread, a shift in between);
- UNTESTED: the step was not recorded (or could not be analysed).

The rules (the contract, in this order):
1. `winks` is false when no step winks in most of its reps: no cause to find; every field
   is "no" and no ceiling is needed.
2. The rock-back decides whether the hip range exists. LATER (it goes clearly deeper than
   the baseline onset before tucking, or without a tuck): structural no, soft_tissue no.
   SAME: the range is missing, and post_stretch decides: LATER -> soft_tissue yes,
   structural no; SAME -> structural yes, soft_tissue no; not recorded -> structural
   inconclusive, soft_tissue not_tested. A post_stretch onset clearly later also says
   soft_tissue yes and structural no when the rock-back is unclear or missing (a bony limit
   does not move with stretching).
3. stability: yes when goblet or supported is LATER; no when every one of them recorded is
   SAME; not_tested when neither was recorded; else inconclusive.
4. motor_control: yes when the range exists (rock-back LATER) and neither stability (no) nor
   stretching (not LATER) explains the wink; no when another cause is yes or the range is
   missing; not_tested without a rock-back; else inconclusive.

Steps the coach skipped on purpose (`decide(..., skipped=...)`) count as not recorded in the
rules; the summary names them and what that leaves open (`_skipped_words`), so a verdict
drawn from part of the battery does not read as if it were complete.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import Enum

import numpy as np

from fusion.assessment.stats import Estimate, shift_ci, with_systematic

CLEAR_MIN_DEG = 1.0  # a "clearly later" shift must also be at least this large (deg)
# A later shift below 7 deg of hip flexion counts as "no change": below the smallest shift a
# cause produces in the simulator (8 deg). The recordings' offsets are in the CI itself
# (`SYSTEMATIC_SD_DEG`), so the margin no longer needs room for them (it was 6 before).
EQUIVALENCE_DEG = 7.0
MIN_ONSETS = 3  # winking reps needed in a step to compare its onset
# The sd (deg of hip flexion) of the offset between a step's onsets and the baseline's that
# comes from the measurement, not the lifter: each recording's accelerometer bias and gain
# error turn into an angle offset (README, "Measured (assessment)": simulated, seeds
# 9000-9199, per-step median onset error minus the baseline's). Standing steps 0.7-1.2;
# the rock-back, the pelvis turned ~80 deg, 1.4-1.6; with an uncalibrated sacrum
# accelerometer (per-axis gains 1.1-1.35) 2.5-3.1, up to 9 deg.
SYSTEMATIC_SD_DEG = {"standing": 1.0, "rock_back": 1.5, "uncalibrated": 3.5}


class Shift(Enum):
    LATER = "later"
    SAME = "same"
    UNCLEAR = "unclear"
    UNTESTED = "untested"


@dataclass(frozen=True)
class StepEvidence:
    """What a step offers the comparison: per-rep onsets of its winking reps and per-rep
    deepest hip flexion (deg), and whether most of its reps wink."""

    onset_hip_flexion_deg: np.ndarray
    max_hip_flexion_deg: np.ndarray
    winks: bool
    # sd of its measurement offset against the baseline (deg; `SYSTEMATIC_SD_DEG`)
    systematic_sd_deg: float = SYSTEMATIC_SD_DEG["standing"]


@dataclass(frozen=True)
class Comparison:
    """One step against the baseline: the verdict word and the numbers behind it (deg)."""

    kind: str
    shift: Shift
    estimate: Estimate | None
    basis: str  # "onset", "uncalibrated" (onset, wide offset), "depth_without_wink" or ""


@dataclass(frozen=True)
class Verdict:
    structural: str
    soft_tissue: str
    stability: str
    motor_control: str
    winks: bool
    summary: str
    comparisons: tuple[Comparison, ...]

    def as_dict(self) -> dict[str, object]:
        return {
            "structural": self.structural,
            "soft_tissue": self.soft_tissue,
            "stability": self.stability,
            "motor_control": self.motor_control,
            "winks": self.winks,
            "summary": self.summary,
        }


def compare(kind: str, step: StepEvidence | None, baseline: StepEvidence) -> Comparison:
    """Shift of `step` against `baseline` (`step` None: not recorded)."""
    if step is None:
        return Comparison(kind, Shift.UNTESTED, None, "")
    base = baseline.onset_hip_flexion_deg
    if base.size < MIN_ONSETS:
        return Comparison(kind, Shift.UNCLEAR, None, "")
    sd = step.systematic_sd_deg
    basis = "uncalibrated" if sd >= SYSTEMATIC_SD_DEG["uncalibrated"] else ""
    if step.winks and step.onset_hip_flexion_deg.size >= MIN_ONSETS:
        clear = with_systematic(shift_ci(step.onset_hip_flexion_deg, base, 0.95), sd, 0.95)
        if clear.low > CLEAR_MIN_DEG:
            return Comparison(kind, Shift.LATER, clear, basis or "onset")
        same = with_systematic(shift_ci(step.onset_hip_flexion_deg, base, 0.90), sd, 0.90)
        if same.high < EQUIVALENCE_DEG:
            return Comparison(kind, Shift.SAME, same, basis or "onset")
        return Comparison(kind, Shift.UNCLEAR, clear, basis or "onset")
    if not step.winks and step.max_hip_flexion_deg.size >= MIN_ONSETS:
        deeper = with_systematic(shift_ci(step.max_hip_flexion_deg, base, 0.95), sd, 0.95)
        if deeper.low > CLEAR_MIN_DEG:
            return Comparison(kind, Shift.LATER, deeper, "depth_without_wink")
        return Comparison(kind, Shift.UNCLEAR, deeper, "depth_without_wink")
    return Comparison(kind, Shift.UNCLEAR, None, "")


def _stability(goblet: Comparison, supported: Comparison) -> Shift:
    tested = [c.shift for c in (goblet, supported) if c.shift is not Shift.UNTESTED]
    if not tested:
        return Shift.UNTESTED
    if Shift.LATER in tested:
        return Shift.LATER
    if all(shift is Shift.SAME for shift in tested):
        return Shift.SAME
    return Shift.UNCLEAR


_WORD = {
    Shift.LATER: "yes",
    Shift.SAME: "no",
    Shift.UNTESTED: "not_tested",
    Shift.UNCLEAR: "inconclusive",
}


def decide(steps: dict[str, StepEvidence], skipped: Sequence[str] = ()) -> Verdict:
    """Apply the rules to the analysed steps (kind -> evidence; `baseline` required).

    `skipped`: the step kinds the coach skipped on purpose (none of them in `steps`); the
    rules treat them as not recorded, the summary says so and what it leaves open."""
    skipped = tuple(kind for kind in skipped if kind not in steps)
    winking = [kind for kind, step in steps.items() if step.winks]
    if not winking:
        deepest = max(float(np.max(s.max_hip_flexion_deg, initial=0.0)) for s in steps.values())
        summary = (
            f"No wink at any tested depth (up to {deepest:.0f} deg of hip flexion): nothing to "
            "explain, and no depth limit is needed."
        )
        return Verdict(
            "no", "no", "no", "no", False, _with_skipped(summary, skipped, {}, winks=False), ()
        )
    baseline = steps["baseline"]
    rock, stretch, goblet, supported = (
        compare(kind, steps.get(kind), baseline)
        for kind in ("rock_back", "post_stretch", "goblet", "supported")
    )
    stability = _stability(goblet, supported)
    if rock.shift is Shift.LATER:
        structural, soft = "no", "no"
    elif stretch.shift is Shift.LATER:
        structural, soft = "no", "yes"
    elif rock.shift is Shift.SAME:
        structural = {Shift.SAME: "yes", Shift.UNTESTED: "inconclusive"}.get(
            stretch.shift, "inconclusive"
        )
        soft = {Shift.SAME: "no", Shift.UNTESTED: "not_tested"}.get(stretch.shift, "inconclusive")
    else:
        structural = "not_tested" if rock.shift is Shift.UNTESTED else "inconclusive"
        soft = {Shift.SAME: "no", Shift.UNTESTED: "not_tested"}.get(stretch.shift, "inconclusive")
    stability_word = _WORD[stability]
    if "yes" in (structural, soft, stability_word) or rock.shift is Shift.SAME:
        motor = "no"
    elif rock.shift is Shift.UNTESTED:
        motor = "not_tested"
    elif rock.shift is Shift.LATER and stability is Shift.SAME and stretch.shift is not Shift.LATER:
        motor = "yes"
    else:
        motor = "inconclusive"
    comparisons = (rock, stretch, goblet, supported)
    summary = _summary(structural, soft, stability_word, motor, baseline, comparisons)
    words = {
        "structural": structural,
        "soft_tissue": soft,
        "stability": stability_word,
        "motor_control": motor,
    }
    summary = _with_skipped(summary, skipped, words, winks=True)
    return Verdict(structural, soft, stability_word, motor, True, summary, comparisons)


_EXPLAIN = {
    "structural": "the hip runs out of range (structural: hip anatomy), not tight tissue",
    "soft_tissue": "tight soft tissue: stretching moved the wink deeper",
    "stability": "stability: holding a weight in front or a support moved the wink deeper",
    "motor_control": "motor control: the hip has the range, and neither support nor stretching "
    "changed the wink, so the depth needs practice",
}
_STEP_WORDS = {
    "rock_back": "the rock-back",
    "post_stretch": "the squat after stretching",
    "goblet": "the goblet squat",
    "supported": "the supported squat",
    "loaded": "the loaded squat",
    "box": "the box squat",
}
# The verdict fields each compared step bears on (the rules in the module docstring).
_STEP_FIELDS = {
    "rock_back": ("structural", "motor_control"),
    "post_stretch": ("soft_tissue", "structural"),
    "goblet": ("stability", "motor_control"),
    "supported": ("stability", "motor_control"),
}
_FIELD_WORDS = {
    "structural": "hip structure",
    "soft_tissue": "soft tissue",
    "stability": "stability",
    "motor_control": "motor control",
}


def _summary(
    structural: str,
    soft: str,
    stability: str,
    motor: str,
    baseline: StepEvidence,
    comparisons: tuple[Comparison, ...],
) -> str:
    onset = (
        float(np.median(baseline.onset_hip_flexion_deg))
        if baseline.onset_hip_flexion_deg.size
        else None
    )
    parts = []
    if onset is not None:
        parts.append(f"The baseline wink starts at {onset:.0f} deg of hip flexion (median).")
    causes = [
        name
        for name, word in (
            ("structural", structural),
            ("soft_tissue", soft),
            ("stability", stability),
            ("motor_control", motor),
        )
        if word == "yes"
    ]
    if causes:
        parts.append("Most likely cause: " + "; ".join(_EXPLAIN[c] for c in causes) + ".")
    else:
        parts.append("No single cause is clear from the steps recorded.")
    for comparison in comparisons:
        words = _STEP_WORDS[comparison.kind]
        estimate = comparison.estimate
        if comparison.shift is Shift.UNTESTED:
            continue
        if comparison.basis == "uncalibrated":
            parts.append(
                f"In {words} the sacrum accelerometer is uncalibrated (its axes' gains differ), "
                "so its angles carry a wider uncertainty."
            )
        if estimate is None:
            parts.append(f"In {words} too few reps winked to compare.")
            continue
        shift = f"{estimate.median:+.1f} deg (CI {estimate.low:+.1f} to {estimate.high:+.1f})"
        if comparison.basis == "depth_without_wink":
            text = "reached" if comparison.shift is Shift.LATER else "only reached"
            parts.append(
                f"In {words} there was no wink; it {text} {shift} beyond the baseline onset."
            )
        elif comparison.shift is Shift.LATER:
            parts.append(f"In {words} the wink started clearly later: {shift}.")
        elif comparison.shift is Shift.SAME:
            parts.append(f"In {words} the wink started at about the same hip flexion: {shift}.")
        else:
            parts.append(f"In {words} the change is within the rep-to-rep spread: {shift}.")
    unresolved = [
        name
        for name, word in (
            ("structural", structural),
            ("soft_tissue", soft),
            ("stability", stability),
            ("motor_control", motor),
        )
        if word in ("inconclusive", "not_tested")
    ]
    if unresolved:
        parts.append(
            "Undecided: "
            + ", ".join(unresolved).replace("_", " ")
            + " (more reps or the missing steps would settle it)."
        )
    return " ".join(parts)


def _with_skipped(
    summary: str, skipped: Sequence[str], words: dict[str, str], *, winks: bool
) -> str:
    """`summary` followed by what the steps skipped on purpose leave open (nothing skipped:
    `summary` as it is)."""
    if not skipped:
        return summary
    return f"{summary} {_skipped_words(skipped, words, winks=winks)}"


def _skipped_words(skipped: Sequence[str], words: dict[str, str], *, winks: bool) -> str:
    """Which steps were skipped on purpose and what that means for the verdict's confidence."""
    parts = [f"Skipped on purpose: {_joined([_STEP_WORDS.get(k, k) for k in skipped])}."]
    compared = [kind for kind in skipped if kind in _STEP_FIELDS]
    names = _joined([_STEP_WORDS[kind] for kind in compared])
    steps, it = ("step", "it") if len(compared) == 1 else ("steps", "them")
    open_fields = dict.fromkeys(
        field
        for kind in compared
        for field in _STEP_FIELDS[kind]
        if words.get(field) in ("inconclusive", "not_tested")
    )
    open_words = _joined([_FIELD_WORDS[field] for field in open_fields])
    if compared and not winks:
        parts.append(f"With no wink to explain, the verdict does not need {names}.")
    elif open_words and "yes" in words.values():
        parts.append(
            f"Without {names}, {open_words} stayed untested or undecided: the cause named is "
            f"the most likely of those tested, not checked against what the skipped {steps} "
            "would have shown."
        )
    elif open_words:
        parts.append(
            f"Without {names}, {open_words} stayed untested or undecided, so the verdict is "
            f"less certain than a full battery's: the skipped {steps} could have named the cause."
        )
    elif compared:
        tested = dict.fromkeys(field for kind in compared for field in _STEP_FIELDS[kind])
        fields = _joined([_FIELD_WORDS[field] for field in tested])
        parts.append(f"What {names} would test ({fields}) the steps recorded settle without {it}.")
    elif winks:
        these = "this step" if len(skipped) == 1 else "these steps"
        parts.append(f"The verdict's cause comparisons do not use {these}.")
    if "loaded" in skipped:
        parts.append(
            "Without the loaded squat the depth limit comes from the baseline alone."
            if winks
            else "A wink that shows only under load is not ruled out."
        )
    if "box" in skipped and winks:
        parts.append("Without the box squat the box height is not confirmed on a box.")
    return " ".join(parts)


def _joined(items: Sequence[str]) -> str:
    """ "", "a", "a and b", "a, b and c"."""
    if len(items) < 2:
        return "".join(items)
    return ", ".join(items[:-1]) + " and " + items[-1]
