"""What each number on the dashboard means, in the product's words, adjustable per athlete.

Every number the dashboard shows carries a short explanation (thigh angle, pelvic tilt, hip
flexion, wink amplitude, wink onset, the threshold in use). An admin may, per athlete, put
an explanation in their own words (a cue the athlete understands: "90 = your box") or hide
one the athlete does not need; the default text comes back when the override is removed.
The threshold's text names the value in use for that athlete (default or personal baseline).
"""

from __future__ import annotations

from dataclasses import dataclass

from fusion.baseline import WinkThreshold


@dataclass(frozen=True)
class Explanation:
    key: str
    label: str
    text: str  # may contain {threshold}: the athlete's threshold in use, in words


EXPLANATIONS: tuple[Explanation, ...] = (
    Explanation(
        "thigh",
        "Thigh angle",
        "How far the thigh has turned from standing: 0° standing upright (thigh vertical), 90° "
        "thigh parallel to the floor, more than 90° below parallel. The depth of a rep is its "
        "largest thigh angle.",
    ),
    Explanation(
        "pelvic_tilt",
        "Pelvic tilt",
        "How far the pelvis has tipped from its standing position: positive = tipped forward "
        "(anterior, the normal way down), negative = tucked under (posterior). A butt wink shows "
        "as the tilt turning back down near the bottom.",
    ),
    Explanation(
        "hip_flexion",
        "Hip flexion",
        "The angle between pelvis and thigh: thigh angle plus pelvic tilt. It is what the "
        "assessment compares across steps (on all fours the thigh angle says little).",
    ),
    Explanation(
        "wink",
        "Wink amplitude",
        "How far the pelvis tucked under near the bottom of the rep: the drop of the pelvic tilt "
        "from its peak on the way down to the bottom, in degrees. 0° means no tuck at all.",
    ),
    Explanation(
        "onset",
        "Wink onset",
        "The thigh angle where the tuck began (the pelvic tilt's peak). Staying above it, e.g. "
        "with a box, avoids the wink.",
    ),
    Explanation(
        "threshold",
        "Threshold",
        "A rep is flagged WINK when its wink amplitude is above {threshold}; within the athlete's "
        "own rep-to-rep noise of it the flag says wink? or ok? (borderline).",
    ),
)
EXPLANATION_KEYS = tuple(e.key for e in EXPLANATIONS)


def threshold_words(threshold: WinkThreshold) -> str:
    """The threshold in use, in words: "5.0° (the default)" or "6.3° (personal baseline of 12 reps)"."""
    if threshold.source == "personal":
        return (
            f"{threshold.threshold_deg:.1f}° (personal baseline of {threshold.baseline_reps} reps)"
        )
    if threshold.baseline_reps:
        return (
            f"{threshold.threshold_deg:.1f}° (the default; the personal baseline of "
            f"{threshold.baseline_reps} reps is lower)"
        )
    return f"{threshold.threshold_deg:.1f}° (the default; no personal baseline yet)"


def default_text(explanation: Explanation, threshold: WinkThreshold) -> str:
    return explanation.text.replace("{threshold}", threshold_words(threshold))
