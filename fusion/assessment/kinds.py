"""The steps of an assessment (the coaches' test battery) and the verdict fields.

Each step is one recorded set with a kind. `baseline` is required and comes first: its
standing still period and squats calibrate the sensors for every later step. The
instructions are what the product tells the lifter before the step.
"""

from __future__ import annotations

STEP_KINDS: tuple[str, ...] = (
    "baseline",
    "rock_back",
    "goblet",
    "supported",
    "post_stretch",
    "loaded",
    "box",
)
STANDING_KINDS: frozenset[str] = frozenset(STEP_KINDS) - {"rock_back"}
VERDICT_FIELDS: tuple[str, ...] = ("structural", "soft_tissue", "stability", "motor_control")
VERDICT_VALUES: tuple[str, ...] = ("yes", "no", "inconclusive", "not_tested")

# Fewest reps per step to measure a spread (the battery asks for >= 5 in the first two).
MIN_REPS: dict[str, int] = dict.fromkeys(STEP_KINDS, 3) | {"baseline": 5, "rock_back": 5}

INSTRUCTIONS: dict[str, str] = {
    "baseline": (
        "Stand still for 2 seconds, then do at least 5 bodyweight squats to the deepest depth "
        "that feels comfortable, and stand still at the end."
    ),
    "rock_back": (
        "Kneel on all fours, hands under the shoulders and knees under the hips. Stay still for "
        "2 seconds, then rock the hips back towards the heels and forward again, at least 5 "
        "times, keeping the back as it is."
    ),
    "goblet": (
        "Hold a weight against the chest. Stand still for 2 seconds, then squat as deep as is "
        "comfortable, at least 5 times."
    ),
    "supported": (
        "Hold on to a rack, strap or post in front of you. Stand still for 2 seconds, then squat "
        "as deep as is comfortable, at least 5 times."
    ),
    "post_stretch": (
        "After your stretching block (hamstrings, hips): stand still for 2 seconds and repeat the "
        "baseline squats, at least 5, to the same comfortable depth."
    ),
    "loaded": (
        "With your working load on the back: stand still for 2 seconds, then squat at least 5 "
        "times to your usual depth."
    ),
    "box": (
        "Set a box at the prescribed height. Stand still for 2 seconds, then squat until you "
        "touch the box, at least 5 times."
    ),
}
