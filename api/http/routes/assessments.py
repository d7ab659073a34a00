"""Assessments: create one, record its steps (live through the gateway, or import files),
and fetch the report as JSON, a printable HTML page, PNG or PDF."""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request, status
from fastapi.concurrency import run_in_threadpool
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, Response
from pydantic import ValidationError

from api.assessments import (
    BASELINE_ONSETS_KEY,
    STEP_VARIANTS,
    assessment_calibration,
    compute_report,
    import_step,
    parse_step_csv,
)
from api.http.deps import Admin, DatabaseDep, DbDep, Reader, ServiceDep
from api.http.errors import documented_conflict
from api.http.routes.common import IdPath, OptionalId
from api.http.routes.sets import set_public
from api.http.schemas import (
    AssessmentCreate,
    AssessmentPublic,
    SetPublic,
    StepImport,
    StepStart,
)
from api.storage import assessments as store
from api.storage import catalog
from api.storage import sets as set_store
from api.vocab import SkippableStepKind, StepKind

router = APIRouter(prefix="/assessments", tags=["assessments"])
REPORT_CONFLICT = documented_conflict("the baseline is missing or cannot be analysed")


def _public(db, row) -> AssessmentPublic:
    from fusion.assessment import INSTRUCTIONS

    steps = store.step_sets(db, row.id)
    report = None if row.report_json is None else json.loads(row.report_json)
    if report is not None:
        report.pop(BASELINE_ONSETS_KEY, None)
    return AssessmentPublic(
        id=row.id,
        athlete_id=row.athlete_id,
        created_at=row.created_at,
        notes=row.notes,
        calibrated=row.calibration_json is not None,
        steps={kind: s.id for kind, s in steps.items()},
        skipped=list(store.skipped_steps(row)),
        instructions=INSTRUCTIONS,
        report=report,
    )


@router.post("", response_model=AssessmentPublic, status_code=status.HTTP_201_CREATED)
def create_assessment(body: AssessmentCreate, db: DbDep, _: Admin):
    """A new assessment; femur/shank lengths (cm) given here are stored on the athlete.
    409 for an archived athlete (restore them first)."""
    athlete = catalog.refuse_if_archived(db, body.athlete_id, "creating an assessment")
    if body.femur_cm is not None:
        athlete.femur_cm = body.femur_cm
    if body.shank_cm is not None:
        athlete.shank_cm = body.shank_cm
    return _public(db, store.create_assessment(db, body.athlete_id, body.notes))


@router.get("", response_model=list[AssessmentPublic])
def list_assessments(db: DbDep, _: Reader, athlete_id: OptionalId = None):
    return [_public(db, row) for row in store.list_assessments(db, athlete_id)]


@router.get("/{assessment_id}", response_model=AssessmentPublic)
def get_assessment(assessment_id: IdPath, db: DbDep, _: Reader):
    return _public(db, store.get_assessment(db, assessment_id))


@router.post("/{assessment_id}/steps", response_model=SetPublic, status_code=201)
async def start_step(
    assessment_id: IdPath, body: StepStart, service: ServiceDep, database: DatabaseDep, _: Admin
):
    """Start recording step `kind` live on the gateway; stop it with POST /sets/{id}/stop.

    Every step after the baseline is analysed live with the assessment's calibration (taken
    from its baseline when the first later step starts): 409 until a baseline is recorded."""
    kind = body.kind.value

    def athlete_of() -> int:
        with database.sessions() as db:
            return store.get_assessment(db, assessment_id).athlete_id

    athlete_id = await run_in_threadpool(athlete_of)
    calibration = None
    if kind != "baseline":
        calibration = await run_in_threadpool(assessment_calibration, database, assessment_id)
    set_id = await service.start_set(
        athlete_id,
        STEP_VARIANTS[kind],
        body.load_kg,
        f"assessment {assessment_id}: {kind}",
        None,
        calibration,
        override_missing_sensors=body.override_missing_sensors,
    )

    def attach() -> SetPublic:
        with database.sessions.begin() as db:
            store.attach_step(db, assessment_id, set_id, kind)
            return set_public(set_store.get_set(db, set_id))

    return await run_in_threadpool(attach)


@router.post("/{assessment_id}/steps/{kind}/skip", response_model=AssessmentPublic)
def skip_step(assessment_id: IdPath, kind: SkippableStepKind, db: DbDep, _: Admin):
    """Skip step `kind` on purpose: kept with the assessment (every phone, after a reload)
    and said in the report. Not the baseline (required); 409 for a recorded step.
    Recording the step later takes it off the skipped steps."""
    return _public(db, store.skip_step(db, assessment_id, kind.value))


@router.delete("/{assessment_id}/steps/{kind}/skip", response_model=AssessmentPublic)
def unskip_step(assessment_id: IdPath, kind: SkippableStepKind, db: DbDep, _: Admin):
    """Undo a skip: the step is pending again (nothing changes when it was not skipped)."""
    return _public(db, store.unskip_step(db, assessment_id, kind.value))


async def step_import_body(request: Request, _: Admin) -> StepImport:
    """The import's body, read only after the caller is known to hold an admin token.

    A body declared as a parameter is read whole before any dependency runs, so the token
    would be checked only after up to `MAX_RECORDING_BODY_BYTES` (101 MB) had been read from
    whoever sent it. The 422s are FastAPI's own (same types, `loc` starting with "body")."""
    raw = await request.body()
    if not raw:
        problem: dict[str, Any] = {"type": "missing", "loc": ("body",), "msg": "Field required"}
        problem["input"] = None
        raise RequestValidationError([problem])
    try:
        data: Any = json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        pos = exc.pos if isinstance(exc, json.JSONDecodeError) else exc.start
        reason = exc.msg if isinstance(exc, json.JSONDecodeError) else exc.reason
        problem = {
            "type": "json_invalid",
            "loc": ("body", pos),
            "msg": "JSON decode error",
            "input": {},
            "ctx": {"error": reason},
        }
        raise RequestValidationError([problem]) from None
    try:
        return StepImport.model_validate(data)
    except ValidationError as exc:
        problems = [{**error, "loc": ("body", *error["loc"])} for error in exc.errors()]
        raise RequestValidationError(problems) from None


STEP_IMPORT_BODY = {
    "requestBody": {
        "required": True,
        "content": {"application/json": {"schema": StepImport.model_json_schema()}},
    }
}


@router.post(
    "/{assessment_id}/steps/{kind}/recording",
    response_model=SetPublic,
    status_code=201,
    openapi_extra=STEP_IMPORT_BODY,
)
def import_recorded_step(
    assessment_id: IdPath,
    kind: StepKind,
    body: Annotated[StepImport, Depends(step_import_body)],
    database: DatabaseDep,
    service: ServiceDep,
    _: Admin,
):
    """Import a step recorded elsewhere: both sensors' raw-recording CSV text (409 when the
    athlete is archived: restore them first)."""
    sacrum = parse_step_csv(body.sacrum_csv, "sacrum_csv")
    thigh = parse_step_csv(body.thigh_csv, "thigh_csv")
    set_id = import_step(
        database,
        assessment_id,
        kind.value,
        sacrum,
        thigh,
        body.load_kg,
        service.gateway_id,
    )
    with database.sessions() as db:
        return set_public(set_store.get_set(db, set_id))


def _title(assessment_id: int, athlete_name: str) -> str:
    return f"WinkWatch assessment #{assessment_id}: {athlete_name}"


def _file_name(assessment_id: int, extension: str) -> dict[str, str]:
    """Shown inline, saved (download, share) under a name that says what it is."""
    name = f"winkwatch-assessment-{assessment_id}.{extension}"
    return {"Content-Disposition": f'inline; filename="{name}"'}


@router.get("/{assessment_id}/report", responses=REPORT_CONFLICT)
def report_json(assessment_id: IdPath, database: DatabaseDep, _: Reader) -> dict:
    """The report: the `winkwatch assess` JSON plus problems and history."""
    return compute_report(database, assessment_id).as_dict()


@router.get("/{assessment_id}/report.html", response_class=HTMLResponse, responses=REPORT_CONFLICT)
def report_html(assessment_id: IdPath, database: DatabaseDep, _: Reader) -> HTMLResponse:
    from api.assessment_report import render_html

    computed = compute_report(database, assessment_id)
    title = _title(assessment_id, computed.athlete_name)
    return HTMLResponse(
        render_html(
            computed.report, title=title, history=computed.history, skipped=computed.skipped
        ),
        headers=_file_name(assessment_id, "html"),
    )


@router.get("/{assessment_id}/report.png", response_class=Response, responses=REPORT_CONFLICT)
def report_png(assessment_id: IdPath, database: DatabaseDep, _: Reader) -> Response:
    from api.assessment_report import render_image

    computed = compute_report(database, assessment_id)
    return Response(
        render_image(computed.report, "png", skipped=computed.skipped),
        media_type="image/png",
        headers=_file_name(assessment_id, "png"),
    )


@router.get("/{assessment_id}/report.pdf", response_class=Response, responses=REPORT_CONFLICT)
def report_pdf(assessment_id: IdPath, database: DatabaseDep, _: Reader) -> Response:
    from api.assessment_report import render_pdf

    computed = compute_report(database, assessment_id)
    title = _title(assessment_id, computed.athlete_name)
    return Response(
        render_pdf(
            computed.report, title=title, history=computed.history, skipped=computed.skipped
        ),
        media_type="application/pdf",
        headers=_file_name(assessment_id, "pdf"),
    )
