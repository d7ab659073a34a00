"""Assessments: a test battery per athlete whose steps are sets with a step kind.

The assessment keeps the sensor-to-segment calibration its steps use (taken from its
baseline, `fusion.assessment.AssessmentCalibration.as_dict()` as JSON) and the last
report computed (JSON), which later assessments show as history.
"""

from __future__ import annotations

import json

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from api.errors import ConflictError, InvalidInputError
from api.storage import catalog
from api.storage.db import get_or_not_found
from api.storage.models import Assessment, ExerciseSet
from api.vocab import SetStatus


def create_assessment(db: Session, athlete_id: int, notes: str = "") -> Assessment:
    catalog.refuse_if_archived(db, athlete_id, "creating an assessment")
    assessment = Assessment(athlete_id=athlete_id, notes=notes)
    db.add(assessment)
    db.flush()
    return assessment


def get_assessment(db: Session, assessment_id: int) -> Assessment:
    return get_or_not_found(db, Assessment, assessment_id, "assessment")


def list_assessments(db: Session, athlete_id: int | None = None) -> list[Assessment]:
    query = select(Assessment).order_by(Assessment.id.desc())
    if athlete_id is not None:
        query = query.where(Assessment.athlete_id == athlete_id)
    return list(db.scalars(query))


def earlier_assessments(db: Session, assessment: Assessment) -> list[Assessment]:
    """The same athlete's assessments before this one, oldest first."""
    return list(
        db.scalars(
            select(Assessment)
            .where(Assessment.athlete_id == assessment.athlete_id, Assessment.id < assessment.id)
            .order_by(Assessment.id)
        )
    )


def attach_step(db: Session, assessment_id: int, set_id: int, kind: str) -> ExerciseSet:
    """Make set `set_id` the assessment's step `kind` (a later set of a kind replaces an earlier)."""
    from fusion.assessment import STEP_KINDS

    if kind not in STEP_KINDS:
        raise InvalidInputError(f"step kind {kind!r}: use one of {', '.join(STEP_KINDS)}")
    assessment = get_assessment(db, assessment_id)
    row = db.get(ExerciseSet, set_id)
    if row is None:
        raise InvalidInputError(f"set {set_id} does not exist")
    if row.athlete_id != assessment.athlete_id:
        raise ConflictError(
            f"set {set_id} belongs to athlete {row.athlete_id}, the assessment to "
            f"{assessment.athlete_id}"
        )
    row.assessment_id = assessment_id
    row.step_kind = kind
    _set_skipped(assessment, set(skipped_steps(assessment)) - {kind})  # recorded after all
    db.flush()
    if kind == "baseline":  # a new baseline calibrates the assessment again
        # One UPDATE even when there is no calibration yet: it waits for a report or a
        # calibration being stored (save_results, save_calibration), which then sees this step.
        db.execute(
            update(Assessment).where(Assessment.id == assessment_id).values(calibration_json=None)
        )
    return row


def skipped_steps(assessment: Assessment) -> tuple[str, ...]:
    """The steps skipped on purpose, in the battery's order."""
    return tuple(kind for kind in assessment.skipped_steps.split(",") if kind)


def _set_skipped(assessment: Assessment, kinds: set[str]) -> None:
    from fusion.assessment import STEP_KINDS

    joined = ",".join(kind for kind in STEP_KINDS if kind in kinds)
    if assessment.skipped_steps != joined:
        assessment.skipped_steps = joined


def skip_step(db: Session, assessment_id: int, kind: str) -> Assessment:
    """Mark step `kind` skipped on purpose. The baseline cannot be skipped (it calibrates
    every other step); a step with a recording (or recording now) cannot either."""
    from fusion.assessment import STEP_KINDS

    if kind not in STEP_KINDS:
        raise InvalidInputError(f"step kind {kind!r}: use one of {', '.join(STEP_KINDS)}")
    if kind == "baseline":
        raise InvalidInputError(
            "the baseline cannot be skipped: it is required and calibrates the sensors for "
            "every other step"
        )
    assessment = get_assessment(db, assessment_id)
    recorded = db.scalar(
        select(ExerciseSet.id)
        .where(ExerciseSet.assessment_id == assessment_id, ExerciseSet.step_kind == kind)
        .order_by(ExerciseSet.id.desc())
        .limit(1)
    )
    if recorded is not None:
        raise ConflictError(
            f"the {kind} step of assessment {assessment_id} is recorded (set {recorded}), so "
            "the report uses it; record it again instead of skipping it"
        )
    _set_skipped(assessment, set(skipped_steps(assessment)) | {kind})
    db.flush()
    return assessment


def unskip_step(db: Session, assessment_id: int, kind: str) -> Assessment:
    """Take step `kind` off the skipped steps (nothing to do when it is not skipped)."""
    assessment = get_assessment(db, assessment_id)
    _set_skipped(assessment, set(skipped_steps(assessment)) - {kind})
    db.flush()
    return assessment


def step_sets(db: Session, assessment_id: int) -> dict[str, ExerciseSet]:
    """The latest finished set of each step kind."""
    rows = db.scalars(
        select(ExerciseSet)
        .where(
            ExerciseSet.assessment_id == assessment_id,
            ExerciseSet.status != SetStatus.RECORDING.value,
        )
        .order_by(ExerciseSet.id)
    )
    return {row.step_kind: row for row in rows if row.step_kind}


class StepsChangedError(ConflictError):
    """The assessment's steps changed while they were analysed (a step recorded again
    meanwhile): what was computed from the replaced ones is not stored."""


def attached_step_ids(db: Session, assessment_id: int) -> dict[str, int]:
    """The newest set attached as each step kind, finished or still recording (a step being
    recorded again replaces what `step_sets` gives once it stops)."""
    rows = db.execute(
        select(ExerciseSet.step_kind, ExerciseSet.id)
        .where(ExerciseSet.assessment_id == assessment_id)
        .order_by(ExerciseSet.id)
    )
    return {kind: set_id for kind, set_id in rows if kind}


def _refuse_if_changed(db: Session, assessment_id: int, step_ids: dict[str, int]) -> None:
    """StepsChangedError unless `step_ids` (sets of `step_sets`) are still the assessment's
    newest steps: none recorded again since, or being recorded again. Called after this
    transaction's writes to the assessment: from then on, a baseline attached (which writes
    the same row) waits for this transaction to end (SQLite: every writer does)."""
    current = attached_step_ids(db, assessment_id)
    if current != step_ids:
        raise StepsChangedError(
            f"the steps of assessment {assessment_id} changed while they were analysed "
            f"(sets {step_ids}, now {current}); ask again for the report of the new steps"
        )


def save_results(
    db: Session,
    assessment_id: int,
    step_ids: dict[str, int],
    calibration: dict[str, object],
    report: dict[str, object],
) -> None:
    """Store the report computed from the steps `step_ids`; the newest assessment's
    prescription is also kept on the athlete (it follows them to other platforms, see
    api.federation). StepsChangedError when those are no longer its steps: a calibration
    from a replaced baseline would be used for every later report."""
    assessment = get_assessment(db, assessment_id)
    assessment.calibration_json = json.dumps(calibration)
    assessment.report_json = json.dumps(report)
    newer = db.scalar(
        select(Assessment.id).where(
            Assessment.athlete_id == assessment.athlete_id, Assessment.id > assessment.id
        )
    )
    if newer is None and "prescription" in report:
        athlete = catalog.get_athlete(db, assessment.athlete_id)
        prescription = json.dumps(report["prescription"], sort_keys=True)
        if athlete.prescription_json != prescription:
            athlete.prescription_json = prescription
    db.flush()
    _refuse_if_changed(db, assessment_id, step_ids)


def save_calibration(
    db: Session, assessment_id: int, baseline_set_id: int, calibration: dict[str, object]
) -> None:
    """Store the calibration the assessment's later steps use, taken from its baseline set
    `baseline_set_id`; StepsChangedError when that is no longer its baseline (another is
    recorded, or being recorded)."""
    get_assessment(db, assessment_id).calibration_json = json.dumps(calibration)
    db.flush()
    baseline = attached_step_ids(db, assessment_id).get("baseline")
    if baseline != baseline_set_id:
        raise StepsChangedError(
            f"the baseline of assessment {assessment_id} was recorded again (set {baseline}) "
            f"while set {baseline_set_id} calibrated the sensors"
        )
