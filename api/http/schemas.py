"""Request and response bodies (`XCreate` in, `XPublic` out). Units in field names."""

from __future__ import annotations

import dataclasses
from datetime import date, datetime
from typing import Annotated, Any, Generic, Literal, TypeVar, get_type_hints

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StrictBool,
    StrictInt,
    StringConstraints,
    create_model,
    field_validator,
    model_validator,
)
from pydantic.json_schema import JsonDict, JsonValue

from api.http.body_limit import MAX_CSV_CHARS
from api.vocab import Placement, SetStatus, SetVariant, StepKind, TokenRole
from fusion.baseline import MAX_BASELINE_DEG, MAX_BASELINE_REPS
from fusion.types import RepMetrics
from sensor_gateway.config import ble_address_problem
from sensor_gateway.samples import SensorKind

T = TypeVar("T")

# Database integer columns are 32-bit on PostgreSQL: larger ids cannot exist.
MAX_ID = 2**31 - 1
# Text without NUL characters (PostgreSQL cannot store them), bounded length.
Name = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=200, pattern=r"^[^\x00]*$"),
]
Notes = Annotated[str, StringConstraints(max_length=10_000, pattern=r"^[^\x00]*$")]
Address = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=64, pattern=r"^[^\x00]*$"),
]
# Numbers and booleans of a request body are taken as JSON gives them (`strict=True`, or the
# Strict types): pydantic's lax mode stored `"load_kg": false` as 0 kg, `"archived": 0` as
# false and `"athlete_id": "1"` as athlete 1. A float still takes a JSON integer.


def _json_integer(value: Any) -> Any:
    """A JSON number without a fractional part is an integer (JSON Schema's `integer`: `3.0`
    is 3); anything else goes on to the strict check (`1.5`, `true`, `"1"` refused)."""
    if type(value) is float and value.is_integer():
        return int(value)
    return value


# An integer of a request body, strict as above.
JsonInt = Annotated[StrictInt, BeforeValidator(_json_integer)]
LoadKg = Annotated[
    float,
    Field(
        strict=True,
        ge=0.0,
        le=1000.0,
        allow_inf_nan=False,
        description="external load in kg (0 = bodyweight)",
    ),
]


class Page(BaseModel, Generic[T]):
    items: list[T]
    next_cursor: int | None = Field(
        description="pass as `cursor` to get the next page; null when there are no more"
    )


class _FromRow(BaseModel):
    model_config = ConfigDict(from_attributes=True)


SegmentCm = Annotated[float, Field(strict=True, ge=15.0, le=80.0, allow_inf_nan=False)]


class AthleteCreate(BaseModel):
    name: Name
    notes: Notes = ""
    femur_cm: SegmentCm | None = Field(
        default=None, description="greater trochanter to knee joint line, cm"
    )
    shank_cm: SegmentCm | None = Field(
        default=None, description="floor to knee joint line standing, cm"
    )


class AthleteUpdate(BaseModel):
    name: Name | None = None
    notes: Notes | None = None
    femur_cm: SegmentCm | None = None
    shank_cm: SegmentCm | None = None


class AthletePublic(_FromRow):
    id: int
    name: str
    notes: str
    created_at: datetime
    # Personal baseline of the pelvis reversal (fusion.baseline); None until one is set.
    baseline_centre_deg: float | None = None
    baseline_spread_deg: float | None = None
    baseline_reps: int | None = None
    femur_cm: float | None = None
    shank_cm: float | None = None
    # The newest assessment's prescription (depth ceilings, box height); None before one.
    prescription: dict[str, float | None] | None = None
    # Archived (out of the lists, every stored set kept); None while active.
    archived_at: datetime | None = None


def _given(name: str, json_type: str) -> JsonDict:
    return {"required": [name], "properties": {name: {"type": json_type}}}  # present, not null


_BASELINE_VALUES: list[JsonValue] = [
    _given(name, "number") for name in ("centre_deg", "spread_deg", "reps")
]


class BaselineUpdate(BaseModel):
    """Either `set_ids` (sets of this athlete whose reps do not wink: the baseline is
    computed from their reps) or the three values themselves."""

    # The either/or in the schema too (the route checks it): without it `{}` is schema-valid
    model_config = ConfigDict(
        json_schema_extra={
            "anyOf": [
                {**_given("set_ids", "array"), "not": {"anyOf": _BASELINE_VALUES}},
                {"allOf": _BASELINE_VALUES, "not": _given("set_ids", "array")},
            ]
        }
    )

    # Ids as every other id of a body: SQLite cannot bind an integer past 64 bits (a 500)
    set_ids: list[Annotated[JsonInt, Field(ge=1, le=MAX_ID)]] | None = Field(
        default=None, min_length=1, max_length=1000
    )
    centre_deg: float | None = Field(default=None, strict=True, ge=0.0, le=MAX_BASELINE_DEG)
    spread_deg: float | None = Field(default=None, strict=True, ge=0.0, le=MAX_BASELINE_DEG)
    reps: JsonInt | None = Field(default=None, strict=True, ge=0, le=MAX_BASELINE_REPS)


class SensorCreate(BaseModel):
    address: Address = Field(
        description="BLE address, e.g. `D4:CA:6E:F1:20:3A` (as `winkwatch scan` shows it); "
        "any name for `simulated` sensors"
    )
    kind: SensorKind = SensorKind.WINKWATCH
    name: Annotated[str, StringConstraints(max_length=200, pattern=r"^[^\x00]*$")] = ""

    @model_validator(mode="after")
    def _ble_address(self) -> SensorCreate:
        problem = ble_address_problem(self.address, self.kind)
        if problem is not None:
            raise ValueError(problem)
        return self


class SensorAssign(BaseModel):
    """Put the sensor on an athlete's sacrum or thigh; both null to unassign it."""

    athlete_id: JsonInt | None = Field(default=None, strict=True, ge=1, le=MAX_ID)
    placement: Placement | None = None


class SensorUpdate(BaseModel):
    """Rename a sensor (e.g. after the colour of its strap)."""

    name: Annotated[str, StringConstraints(max_length=200, pattern=r"^[^\x00]*$")]


class SensorScan(BaseModel):
    timeout_s: float = Field(
        default=5.0, strict=True, ge=0.5, le=30.0, description="how long to listen, s"
    )


class SensorFound(BaseModel):
    """A sensor heard by the gateway's scan, with what the database knows of it."""

    address: str
    name: str | None
    kind: SensorKind
    rssi_dbm: int | None = Field(description="signal strength, dBm (closer to 0 is stronger)")
    battery_pct: int | None
    sensor_id: int | None = Field(description="its id if registered (None: pairing adds it)")
    athlete_id: int | None
    placement: Placement | None


class SensorSwap(BaseModel):
    athlete_id: JsonInt = Field(strict=True, ge=1, le=MAX_ID)


class ArchiveUpdate(BaseModel):
    archived: StrictBool


class Me(BaseModel):
    """Who the token belongs to and what it may do (read-only tokens see no controls)."""

    name: str
    role: TokenRole


class SignInCodeCreate(BaseModel):
    name: Name = "phone sign-in"
    role: TokenRole = TokenRole.READ


class SignInCode(BaseModel):
    """A new token as a link that opens the dashboard signed in, and that link as a QR code."""

    token_id: int
    role: TokenRole
    url: str
    qr_svg: str = Field(description="the url as a QR code, an SVG document")


class SensorPublic(_FromRow):
    id: int
    address: str
    kind: str
    placement: Placement | None
    athlete_id: int | None
    name: str
    created_at: datetime


class SensorLive(BaseModel):
    """The gateway's live view of a sensor (link state, battery, signal, gaps, clock drift)."""

    address: str
    kind: str | None
    athlete_id: str | None = Field(description="the gateway's athlete key (the athlete id)")
    placement: Placement | None
    state: str
    battery_pct: int | None
    rssi_dbm: int | None
    samples: int
    gaps: int
    samples_missing: int
    drift_ppm: float
    health: str | None = Field(default=None, description="good / check / bad (null: unknown)")
    health_reason: str = Field(default="", description="what is wrong and what to do")


class SessionCreate(BaseModel):
    athlete_id: JsonInt = Field(strict=True, ge=1, le=MAX_ID)
    notes: Notes = ""


class SessionPublic(_FromRow):
    id: int
    athlete_id: int
    gateway_id: str
    started_at: datetime
    ended_at: datetime | None
    notes: str


class SetStart(BaseModel):
    athlete_id: JsonInt = Field(strict=True, ge=1, le=MAX_ID)
    variant: SetVariant
    load_kg: LoadKg | None = None
    notes: Notes = ""
    session_id: JsonInt | None = Field(
        default=None,
        strict=True,
        ge=1,
        le=MAX_ID,
        description="default: the athlete's open session (or a new one)",
    )
    override_missing_sensors: bool = Field(
        default=False,
        strict=True,
        description="start although a sensor is not streaming (409 otherwise); the set is "
        "marked with the sensors it was started without",
    )
    replace_recording: bool = Field(
        default=False,
        strict=True,
        description="stop the set the athlete is recording on this gateway and start this one "
        "(409 otherwise: a second phone or a retried request does not end a set unasked)",
    )


class SetUpdate(BaseModel):
    variant: SetVariant | None = None
    load_kg: LoadKg | None = None
    notes: Notes | None = None


class Finding(BaseModel):
    code: str
    message: str
    sensor: str | None = None
    rep: int | None = None


class SetPublic(_FromRow):
    id: int
    set_key: str
    session_id: int
    athlete_id: int
    variant: SetVariant
    load_kg: float | None
    notes: str
    status: SetStatus
    gateway_id: str
    started_at: datetime
    ended_at: datetime | None
    recorded_s: float = Field(description="seconds of raw samples stored")
    reps_source: str
    findings: list[Finding] = Field(default_factory=list)
    started_without: list[Placement] = Field(
        default_factory=list,
        description="sensors that were not streaming when the set was started with the override",
    )


class _RepRow(_FromRow):
    """What a stored rep adds to its `RepMetrics`: ids, the set's variant and when it was done."""

    id: int
    set_id: int
    athlete_id: int
    variant: SetVariant
    performed_at: datetime

    @field_validator("quality", mode="before", check_fields=False)
    @classmethod
    def _split(cls, value: object) -> object:
        if isinstance(value, str):
            return [code for code in value.split(";") if code]
        return value


def _rep_metric_fields() -> dict[str, Any]:
    """RepMetrics' fields as pydantic field definitions, in its (the CSV's) order."""
    hints = get_type_hints(RepMetrics)
    return {
        f.name: (list[str] if f.name == "quality" else hints[f.name], ...)
        for f in dataclasses.fields(RepMetrics)
    }


# A rep: the `winkwatch analyze` columns (times in s since the set started) plus ids; the
# metric fields come from fusion.types.RepMetrics, so they are written once.
RepPublic = create_model(
    "RepPublic",
    __base__=_RepRow,
    __doc__="A rep: the `winkwatch analyze` columns (times in s since the set started) plus ids.",
    **_rep_metric_fields(),
)


class VariantSummaryPublic(_FromRow):
    variant: str
    reps: int
    wink_reps: int
    loaded_wink_reps: int
    median_depth_deg: float | None
    median_wink_deg: float | None
    median_wink_onset_depth_deg: float | None
    median_loaded_onset_depth_deg: float | None
    min_loaded_onset_depth_deg: float | None


class DayPointPublic(_FromRow):
    day: date
    variant: str
    reps: int
    wink_reps: int
    median_wink_onset_depth_deg: float | None


class LoadPointPublic(_FromRow):
    variant: str
    load_kg: float
    reps: int
    wink_reps: int
    median_wink_onset_depth_deg: float | None


class AthleteSummaryPublic(_FromRow):
    athlete_id: int
    variants: list[VariantSummaryPublic]
    over_time: list[DayPointPublic]
    by_load: list[LoadPointPublic]


class TokenPublic(_FromRow):
    id: int
    name: str
    role: TokenRole
    created_at: datetime
    revoked_at: datetime | None


class StorageHealthPublic(BaseModel):
    """Whether the gateway's data (raw samples, reps, set starts and stops) is being stored."""

    state: Literal["ok", "failing"]
    detail: str | None = Field(description="while failing: what fails and what to do")
    error: str | None = Field(description="the database's own words for the last failure")
    failing_since: datetime | None
    waiting_samples: int = Field(description="raw samples kept in memory, retried")
    waiting_reps: int = Field(description="reps kept in memory, retried")
    lost_samples: int = Field(description="raw samples never stored, since the server started")
    lost_reps: int = Field(description="reps never stored, since the server started")
    lost_events: int = Field(description="other events never stored (set starts, stops)")


class Health(BaseModel):
    status: str = Field(description="ok, or degraded (the answer is then a 503)")
    database: str = Field(description="ok, or unavailable: the database does not answer")
    gateway: bool
    storage: StorageHealthPublic | None = Field(
        default=None, description="the live gateway's storage; null without a gateway"
    )


class Term(BaseModel):
    value: str = Field(description="what the API takes and returns")
    label: str = Field(description="what to show a person")


class StepTerm(Term):
    min_reps: int = Field(description="complete reps the step needs to be analysed")


class Vocabulary(BaseModel):
    """Every closed vocabulary of the API, in its canonical order."""

    set_variants: list[Term]
    placements: list[Term]
    set_statuses: list[Term]
    sensor_kinds: list[Term]
    link_states: list[Term]
    step_kinds: list[StepTerm] = Field(description="assessment steps, in the battery's order")
    verdict_fields: list[Term] = Field(description="possible causes an assessment weighs")
    verdict_values: list[Term]


class ErrorBody(BaseModel):
    detail: str


class AssessmentCreate(BaseModel):
    athlete_id: JsonInt = Field(strict=True, ge=1, le=MAX_ID)
    notes: Notes = ""
    femur_cm: SegmentCm | None = Field(
        default=None,
        description="greater trochanter to knee joint line, cm (stored on the athlete)",
    )
    shank_cm: SegmentCm | None = Field(
        default=None, description="floor to knee joint line standing, cm (stored on the athlete)"
    )


class AssessmentPublic(BaseModel):
    id: int
    athlete_id: int
    created_at: datetime
    notes: str
    calibrated: bool = Field(description="the baseline's calibration is stored and reused")
    steps: dict[str, int] = Field(description="step kind -> id of its latest finished set")
    skipped: list[StepKind] = Field(
        default_factory=list,
        description="steps the coach skipped on purpose (POST .../steps/{kind}/skip), in the "
        "battery's order; a step neither recorded nor skipped is not recorded yet",
    )
    instructions: dict[str, str]
    report: dict[str, Any] | None = Field(
        None,
        description="the report as last computed (GET /assessments/{id}/report stores it), "
        "without history; None until then. Steps recorded since are not in it.",
    )


class StepStart(BaseModel):
    kind: StepKind
    load_kg: LoadKg | None = None
    override_missing_sensors: bool = Field(
        default=False,
        strict=True,
        description="start although a sensor is not streaming (as POST /sets)",
    )


class StepImport(BaseModel):
    sacrum_csv: Annotated[str, StringConstraints(max_length=MAX_CSV_CHARS)]
    thigh_csv: Annotated[str, StringConstraints(max_length=MAX_CSV_CHARS)]
    load_kg: LoadKg | None = None


class ExplanationPublic(BaseModel):
    key: str
    label: str
    text: str = Field(
        description="what the athlete's dashboard shows: their own text or the default"
    )
    default_text: str
    custom: bool = Field(description="an admin wrote this athlete's text")
    shown: bool


class ExplanationsPublic(BaseModel):
    athlete_id: int
    threshold_deg: float = Field(description="the wink threshold in use for this athlete (deg)")
    threshold_source: str
    items: list[ExplanationPublic]


class ExplanationUpdate(BaseModel):
    text: str | None = Field(
        None, max_length=1000, description="the athlete's own text; null or empty: the default"
    )
    shown: StrictBool = True


class DepthGuardPublic(BaseModel):
    """The athlete's depth guard (fusion.live.depth_guard); angles are thigh angles in deg."""

    on: bool
    margin_deg: float = Field(description="the cue comes this far above the ceiling")
    ceiling_thigh_deg: float | None = Field(
        description="the newest assessment's prescribed depth ceiling; null before one"
    )
    cue_level_deg: float | None = Field(description="ceiling minus margin; null when inactive")
    lookahead_s: float = Field(description="how far ahead the descent is forecast")
    active: bool = Field(description="loaded sets started now are guarded")
    explanation: str


class DepthGuardUpdate(BaseModel):
    on: StrictBool | None = None
    margin_deg: float | None = Field(
        default=None, strict=True, ge=0.0, le=30.0, allow_inf_nan=False
    )


class SensorReadyPublic(BaseModel):
    placement: Placement
    address: str | None = Field(description="null: no sensor assigned to this placement")
    kind: str | None
    health: str = Field(description="good / check / bad")
    reason: str = Field(description="what is wrong and what to do, in words")
    streaming: bool
    battery_pct: int | None
    rssi_dbm: int | None


class ReadyPublic(BaseModel):
    """The ready check before a set (sensor_gateway.readiness)."""

    athlete_id: int
    ready: bool = Field(
        description="both sensors streaming and not found misplaced, and storage working"
    )
    sensors: list[SensorReadyPublic]
    missing: list[Placement] = Field(description="placements without a streaming sensor")
    still_s: float = Field(description="both sensors have been still this long, now")
    calibration_still_s: float = Field(description="stand still this long before Start")
    placement_checked: bool = Field(description="a squat was seen to check the placement on")
    placement_code: str | None = Field(description="sensors_swapped / sensor_misplaced / null")
    placement_message: str
    storage_problem: str | None = Field(
        default=None,
        description="the gateway's data is not being stored now (a full disk...): what fails "
        "and what to do; the athlete is not ready while it is set",
    )
    advice: str
