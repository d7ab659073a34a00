"""Assessment: run the coaches' test battery with the two sensors and say why a lifter winks.

Pure numpy, like the rest of `fusion`: recordings in, a report out. One calibration per
assessment (`calibration`), one analysis per step (`steps`), bootstrap statistics (`stats`),
the decision rules (`verdict`) and the depth prescription (`prescription`); `assess` runs
them all.
"""

from fusion.assessment.assess import AssessmentReport, StepSummary, assess, summarise
from fusion.assessment.calibration import AssessmentCalibration
from fusion.assessment.kinds import INSTRUCTIONS, STEP_KINDS, VERDICT_FIELDS, VERDICT_VALUES
from fusion.assessment.prescription import Prescription, box_height_cm
from fusion.assessment.steps import StepAnalysis, StepError, analyse_step
from fusion.assessment.verdict import Verdict

__all__ = [
    "INSTRUCTIONS",
    "STEP_KINDS",
    "VERDICT_FIELDS",
    "VERDICT_VALUES",
    "AssessmentCalibration",
    "AssessmentReport",
    "Prescription",
    "StepAnalysis",
    "StepError",
    "StepSummary",
    "Verdict",
    "analyse_step",
    "assess",
    "box_height_cm",
    "summarise",
]
