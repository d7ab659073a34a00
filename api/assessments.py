"""Assessments in the product: run the battery's stored steps through `fusion.assessment`.

Each step is a stored set (recorded live through the gateway, or imported from files).
The report analyses every step's raw samples with the assessment's one calibration: the
stored one when the assessment has it, else the baseline's (which is then stored as the
calibration every later report uses). History: the athlete's earlier assessments and
whether the baseline onset moved since (Hodges-Lehmann shift with its bootstrap CI, the
same rule as the verdict's "clearly later").
"""

from __future__ import annotations

import json
import tempfile
import threading
import weakref
from collections import OrderedDict
from collections.abc import Hashable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from api.errors import ConflictError, InvalidInputError, NotFoundError
from api.storage import assessments as store
from api.storage import catalog
from api.storage import sets as set_store
from api.storage.db import Database
from api.storage.models import Assessment, Athlete, ExerciseSet
from api.vocab import Placement, SetStatus, SetVariant

if TYPE_CHECKING:
    from api.assessment_report import HistoryEntry
    from fusion.assessment import AssessmentCalibration, AssessmentReport
    from fusion.types import ImuRecording

# What each step is, for the set's variant.
STEP_VARIANTS: dict[str, SetVariant] = {
    "baseline": SetVariant.BODYWEIGHT_SQUAT,
    "rock_back": SetVariant.QUADRUPED_ROCK_BACK,
    "goblet": SetVariant.GOBLET_SQUAT,
    "supported": SetVariant.BODYWEIGHT_SQUAT,
    "post_stretch": SetVariant.BODYWEIGHT_SQUAT,
    "loaded": SetVariant.BACK_SQUAT,
    "box": SetVariant.BOX_SQUAT,
}
BASELINE_ONSETS_KEY = "baseline_onsets_hip_flexion_deg"


@dataclass(frozen=True)
class ComputedReport:
    report: AssessmentReport
    history: list[HistoryEntry]
    history_json: list[dict[str, Any]]
    assessment_id: int
    athlete_name: str
    created_at: str
    skipped: tuple[str, ...] = ()  # steps skipped on purpose (not in `report.steps`)

    def as_dict(self) -> dict[str, Any]:
        """The contract's JSON plus the problems, the instructions-free history, ids and the
        steps skipped on purpose (a battery step in none of `steps`, `problems` and `skipped`
        was not recorded)."""
        return self.report.as_dict() | {
            "assessment_id": self.assessment_id,
            "problems": [
                {"step": p.kind, "reason": p.reason, "message": str(p)}
                for p in self.report.problems
            ],
            "history": self.history_json,
            "skipped": list(self.skipped),
        }


def parse_step_csv(text: str, name: str) -> ImuRecording:
    """A raw-recording CSV given as text; InvalidInputError names `name`, line and problem."""
    from sensor_gateway.recording_csv import RecordingFormatError, read_recording_csv

    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "upload.csv"
        path.write_text(text, encoding="utf-8")
        try:
            return read_recording_csv(path)
        except RecordingFormatError as exc:
            where = f"{name}, line {exc.line}" if exc.line is not None else name
            raise InvalidInputError(f"{where}: {exc.problem}") from exc


def import_step(
    database: Database,
    assessment_id: int,
    kind: str,
    sacrum: ImuRecording,
    thigh: ImuRecording,
    load_kg: float | None,
    gateway_id: str,
) -> int:
    """Store a step recorded elsewhere as a completed set of the assessment; its id.

    A step its analysis refuses is refused here (InvalidInputError, 422) and nothing is stored:
    stored, a baseline that cannot be analysed (shorter than `MIN_RECORDING_S`, not overlapping,
    beyond any IMU's range, too few reps, no still start) would block every report read (409),
    and a later step would be left out of it, until the step was recorded again; the coach is
    told while the athlete is still there. The step is analysed as the report analyses it
    (`check_step`); a later step uploaded before any baseline is checked by the report."""
    from fusion.errors import AnalysisError
    from fusion.pipeline import AnalysisConfig, common_grid

    with database.sessions() as db:  # 404, then 409 for an archived athlete, before the analysis
        athlete_id = store.get_assessment(db, assessment_id).athlete_id
        catalog.refuse_if_archived(db, athlete_id, "importing a step")
    if kind not in STEP_VARIANTS:
        raise InvalidInputError(f"step kind {kind!r}: use one of {', '.join(STEP_VARIANTS)}")
    try:
        common_grid(sacrum, thigh, AnalysisConfig().grid_rate_hz)  # the quick part, first
    except AnalysisError as exc:
        raise InvalidInputError(f"the {kind} step cannot be analysed: {exc}") from exc
    check_step(database, assessment_id, kind, sacrum, thigh)
    with database.sessions.begin() as db:
        assessment = store.get_assessment(db, assessment_id)
        catalog.refuse_if_archived(db, assessment.athlete_id, "importing a step")  # meanwhile?
        row = set_store.start_set(
            db,
            assessment.athlete_id,
            STEP_VARIANTS[kind],
            load_kg=load_kg,
            notes=f"assessment {assessment_id}: {kind} (imported)",
            gateway_id=gateway_id,
        )
        start = min(sacrum.t_s[0], thigh.t_s[0])
        for placement, recording in ((Placement.SACRUM, sacrum), (Placement.THIGH, thigh)):
            set_store.add_raw_chunk(
                db,
                row.id,
                placement,
                "",
                0,
                recording.t_s - start,
                recording.acc_mps2,
                recording.gyr_radps,
            )
        row.recorded_s = float(max(sacrum.t_s[-1], thigh.t_s[-1]) - start)
        set_store.finish_set(db, row.id, SetStatus.COMPLETED)
        store.attach_step(db, assessment_id, row.id, kind)
        return row.id


def check_step(
    database: Database, assessment_id: int, kind: str, sacrum: ImuRecording, thigh: ImuRecording
) -> None:
    """InvalidInputError when the report could not use this recording as step `kind`: its
    analysis (`fusion.assessment.analyse_step`, one step's: ~0.05 s of CPU for a 40-s step)
    with the calibration the report uses: none for the baseline (it calibrates), the
    assessment's for a later step. Without a usable baseline yet a later step is not checked
    (nothing to calibrate it with; the report says what is wrong with it)."""
    from fusion.assessment import StepError, analyse_step
    from fusion.errors import FusionError

    calibration = None
    if kind != "baseline":
        try:
            calibration = assessment_calibration(database, assessment_id)
        except ConflictError:
            return
    try:
        analyse_step(kind, sacrum, thigh, calibration)
    except StepError as exc:
        raise InvalidInputError(f"{exc} (nothing was stored)") from exc
    except FusionError as exc:
        raise InvalidInputError(
            f"the {kind} step cannot be analysed: {exc} (nothing was stored)"
        ) from exc


def _step_recordings(db, kind: str, set_id: int) -> tuple[ImuRecording, ImuRecording]:
    """The step's stored (sacrum, thigh) samples. StepError when a sensor stored none (a step
    started without it, or stopped or replaced before its first samples): for the baseline the
    callers make it a ConflictError, a later step is one of the report's problems."""
    from fusion.assessment import StepError

    try:
        stored = set_store.load_set_recordings(db, set_id)
    except NotFoundError as exc:
        have = set_store.raw_placements(db, set_id)
        missing = " and ".join(p.value for p in Placement if p not in have)
        again = "record the baseline again" if kind == "baseline" else "record the step again"
        raise StepError(
            kind,
            "not_analysable",
            f"no {missing} samples were stored (set {set_id}: started without that sensor, or "
            f"stopped before it streamed); {again}",
        ) from exc
    return stored.sacrum, stored.thigh


def assessment_calibration(database: Database, assessment_id: int) -> AssessmentCalibration:
    """The calibration the assessment's later steps use: the stored one, else taken now from
    its recorded baseline (and stored). ConflictError without a usable baseline: on all fours
    a standing calibration is impossible, and the sensors are not re-strapped between steps."""
    from fusion.assessment import AssessmentCalibration, StepError, analyse_step
    from fusion.errors import FusionError

    with database.sessions() as db:
        assessment = store.get_assessment(db, assessment_id)
        if assessment.calibration_json:
            return AssessmentCalibration.from_dict(json.loads(assessment.calibration_json))
        baseline = store.step_sets(db, assessment_id).get("baseline")
        if baseline is None:
            raise ConflictError(
                f"assessment {assessment_id} has no baseline step yet; record it first (its "
                "standing still period and squats calibrate the sensors for every other step)"
            )
        baseline_id = baseline.id
        try:
            sacrum, thigh = _step_recordings(db, "baseline", baseline_id)
        except StepError as exc:
            raise ConflictError(
                f"the baseline of assessment {assessment_id} cannot calibrate the sensors: {exc}"
            ) from exc
    try:
        _, calibration = analyse_step("baseline", sacrum, thigh, None)
    except FusionError as exc:
        raise ConflictError(
            f"the baseline of assessment {assessment_id} cannot calibrate the sensors: {exc}; "
            "record the baseline again"
        ) from exc
    try:
        with database.sessions.begin() as db:
            store.save_calibration(db, assessment_id, baseline_id, calibration.as_dict())
    except store.StepsChangedError:  # the baseline was recorded again: not stored
        with database.sessions() as db:
            newer = store.step_sets(db, assessment_id).get("baseline")
        if newer is not None and newer.id != baseline_id:  # recorded meanwhile: it calibrates
            return assessment_calibration(database, assessment_id)
    return calibration


def _history(
    earlier: list[Any], current_onsets: np.ndarray
) -> tuple[list[HistoryEntry], list[dict[str, Any]]]:
    from api.assessment_report import HistoryEntry
    from fusion.assessment.stats import shift_ci
    from fusion.assessment.verdict import CLEAR_MIN_DEG

    entries, rows = [], []
    for old in earlier:
        if not old.report_json:
            continue
        stored = json.loads(old.report_json)
        onset = stored["steps"].get("baseline", {}).get("onset_hip_flexion_deg", {})
        ci = onset.get("ci95")
        ceiling = stored["prescription"]["depth_ceiling_thigh_deg"]
        moved = "not comparable"
        change = None
        old_onsets = np.asarray(stored.get(BASELINE_ONSETS_KEY, []), dtype=float)
        if old_onsets.size >= 3 and current_onsets.size >= 3:
            shift = shift_ci(current_onsets, old_onsets, 0.95)
            change = {
                "shift_deg": round(shift.median, 2),
                "ci95": [round(shift.low, 2), round(shift.high, 2)],
            }
            moved = (
                "later"
                if shift.low > CLEAR_MIN_DEG
                else "earlier"
                if shift.high < -CLEAR_MIN_DEG
                else "no clear change"
            )
        label = f"#{old.id}, {old.created_at:%Y-%m-%d}"
        entries.append(
            HistoryEntry(label, onset.get("median"), tuple(ci) if ci else None, ceiling, moved)
        )
        rows.append(
            {
                "assessment_id": old.id,
                "created_at": old.created_at.isoformat(),
                "baseline_onset_hip_flexion_deg": onset or None,
                "depth_ceiling_thigh_deg": ceiling,
                "onset_change_since": change,
                "onset_moved": moved,
            }
        )
    return entries, rows


# Reports computed lately, per database engine, keyed by everything they are computed from
# (`_report_inputs`): the phone asks for the JSON, the figure and the PDF of one report in a
# row, and each analysis of the whole battery takes seconds.
REPORT_CACHE_SIZE = 16
_reports: weakref.WeakKeyDictionary[object, OrderedDict[Hashable, ComputedReport]] = (
    weakref.WeakKeyDictionary()
)
_reports_lock = threading.Lock()


def _report_inputs(
    assessment_id: int,
    steps: dict[str, ExerciseSet],
    calibration_json: str | None,
    athlete: Athlete,
    earlier: list[Assessment],
    skipped: tuple[str, ...],
) -> Hashable:
    """What a report depends on: each step's set (a finished set's samples never change), the
    stored calibration, the athlete's lengths and name, the earlier assessments' reports and
    the steps skipped."""
    return (
        assessment_id,
        tuple(sorted((kind, row.id, str(row.ended_at)) for kind, row in steps.items())),
        calibration_json,
        skipped,
        (athlete.femur_cm, athlete.shank_cm, athlete.name),
        tuple((old.id, old.report_json) for old in earlier),
    )


def _cached_report(database: Database, key: Hashable) -> ComputedReport | None:
    with _reports_lock:
        cache = _reports.get(database.engine)
        if cache is None or key not in cache:
            return None
        cache.move_to_end(key)
        return cache[key]


def _keep_report(database: Database, keys: list[Hashable], computed: ComputedReport) -> None:
    with _reports_lock:
        cache = _reports.setdefault(database.engine, OrderedDict())
        for key in keys:
            cache[key] = computed
            cache.move_to_end(key)
        while len(cache) > REPORT_CACHE_SIZE:
            cache.popitem(last=False)


def compute_report(database: Database, assessment_id: int) -> ComputedReport:
    """Analyse the assessment's steps (or return the report computed from the same inputs
    lately); ConflictError when the baseline is missing or unusable."""
    from fusion.assessment import STEP_KINDS, AssessmentCalibration, StepError, assess
    from fusion.errors import FusionError

    with database.sessions() as db:
        assessment = store.get_assessment(db, assessment_id)
        athlete = catalog.get_athlete(db, assessment.athlete_id)
        steps = store.step_sets(db, assessment_id)
        if "baseline" not in steps:
            raise ConflictError(
                f"assessment {assessment_id} has no baseline step yet; record it first (it "
                "calibrates the sensors for every other step)"
            )
        earlier = store.earlier_assessments(db, assessment)
        skipped = store.skipped_steps(assessment)
        key = _report_inputs(
            assessment_id, steps, assessment.calibration_json, athlete, earlier, skipped
        )
        cached = _cached_report(database, key)
        if cached is not None:
            return cached
        recordings = {}
        unstored: list[StepError] = []  # later steps without a sensor's samples
        for kind, row in steps.items():
            try:
                recordings[kind] = _step_recordings(db, kind, row.id)
            except StepError as exc:
                if kind == "baseline":
                    raise ConflictError(
                        f"the baseline step cannot be analysed ({exc.reason}): {exc}"
                    ) from exc
                unstored.append(exc)
        calibration = (
            AssessmentCalibration.from_dict(json.loads(assessment.calibration_json))
            if assessment.calibration_json
            else None
        )
        femur_cm, shank_cm, name = athlete.femur_cm, athlete.shank_cm, athlete.name
        created_at = assessment.created_at.isoformat()
    try:
        report = assess(
            recordings,
            femur_cm=femur_cm,
            shank_cm=shank_cm,
            calibration=calibration,
            skipped=skipped,
        )
    except StepError as exc:
        raise ConflictError(
            f"the {exc.kind} step cannot be analysed ({exc.reason}): {exc}"
        ) from exc
    except FusionError as exc:
        raise ConflictError(f"the assessment cannot be analysed: {exc}") from exc
    if unstored:  # not scored, as a step its analysis refuses
        problems = sorted((*report.problems, *unstored), key=lambda p: STEP_KINDS.index(p.kind))
        report = replace(report, problems=tuple(problems))
    onsets = np.array(
        [
            r.onset_hip_flexion_deg
            for r in report.analyses["baseline"].reps
            if r.winks and r.onset_hip_flexion_deg is not None
        ],
        dtype=float,
    )
    stored_report = report.as_dict() | {BASELINE_ONSETS_KEY: onsets.tolist()}
    step_ids = {kind: row.id for kind, row in steps.items()}
    keys = [key]
    try:
        with database.sessions.begin() as db:
            store.save_results(
                db, assessment_id, step_ids, report.calibration.as_dict(), stored_report
            )
            # The same inputs from now on: this calibration is stored.
            saved = store.get_assessment(db, assessment_id).calibration_json
            keys.append(_report_inputs(assessment_id, steps, saved, athlete, earlier, skipped))
    except store.StepsChangedError:
        pass  # a step was (or is being) recorded again: this report of the old one is not stored
    history, history_json = _history(earlier, onsets)
    computed = ComputedReport(
        report, history, history_json, assessment_id, name, created_at, skipped
    )
    _keep_report(database, keys, computed)
    return computed
