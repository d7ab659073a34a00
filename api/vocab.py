"""Closed vocabularies shared by storage, HTTP schemas and the CLI (stored as their values)."""

from __future__ import annotations

from enum import Enum

from sensor_gateway.events import Placement, SetVariant

__all__ = [
    "SET_VARIANT_LABELS",
    "STEP_LABELS",
    "VALUE_WORDS",
    "VERDICT_LABELS",
    "Placement",
    "RepSource",
    "SetStatus",
    "SetVariant",
    "SkippableStepKind",
    "StepKind",
    "TokenRole",
]

# How people call each variant (the dashboard shows these; GET /vocabulary serves them).
SET_VARIANT_LABELS: dict[SetVariant, str] = {
    SetVariant.BACK_SQUAT: "Back squat",
    SetVariant.FRONT_SQUAT: "Front squat",
    SetVariant.GOBLET_SQUAT: "Goblet squat",
    SetVariant.BOX_SQUAT: "Box squat",
    SetVariant.BODYWEIGHT_SQUAT: "Bodyweight squat",
    SetVariant.QUADRUPED_ROCK_BACK: "Quadruped rock-back",
}


class SetStatus(str, Enum):
    RECORDING = "recording"
    COMPLETED = "completed"
    INTERRUPTED = "interrupted"  # the gateway stopped (crash, power loss) while recording


class TokenRole(str, Enum):
    READ = "read"  # dashboards: GET endpoints and live streams
    ADMIN = "admin"  # everything, including changes


class RepSource(str, Enum):
    LIVE = "live"  # reps emitted by the live analyser while recording
    REANALYSIS = "reanalysis"  # reps from `winkwatch reanalyze` on the stored raw samples


class StepKind(str, Enum):
    """The steps of an assessment (same values as fusion.assessment.STEP_KINDS)."""

    BASELINE = "baseline"
    ROCK_BACK = "rock_back"
    GOBLET = "goblet"
    SUPPORTED = "supported"
    POST_STRETCH = "post_stretch"
    LOADED = "loaded"
    BOX = "box"


class SkippableStepKind(str, Enum):
    """The steps a coach may skip: every `StepKind` but the baseline (required: it calibrates
    every other step)."""

    ROCK_BACK = StepKind.ROCK_BACK.value
    GOBLET = StepKind.GOBLET.value
    SUPPORTED = StepKind.SUPPORTED.value
    POST_STRETCH = StepKind.POST_STRETCH.value
    LOADED = StepKind.LOADED.value
    BOX = StepKind.BOX.value


# How the report and the dashboard name the steps, the verdict's fields and its values.
STEP_LABELS = {
    "baseline": "Baseline squat",
    "rock_back": "Quadruped rock-back",
    "goblet": "Goblet squat",
    "supported": "Supported squat",
    "post_stretch": "Squat after stretching",
    "loaded": "Loaded squat",
    "box": "Box squat",
}
VERDICT_LABELS = {
    "structural": "Hip structure (bony range limit)",
    "soft_tissue": "Soft tissue (tightness that stretching changes)",
    "stability": "Stability (better with a weight in front or a support)",
    "motor_control": "Motor control (range exists, depth needs practice)",
}
VALUE_WORDS = {
    "yes": "Yes",
    "no": "No",
    "inconclusive": "Inconclusive",
    "not_tested": "Not tested",
}
