"""Events the live gateway publishes: sets, reps, butt-wink onsets, depth-guard cues, live
angles, sensor status.

Every event is a frozen dataclass carrying
- `athlete_id`: the athlete it concerns (the key used in the gateway config; None only for
  the status of a sensor not assigned to anyone),
- `t_s`: when it happened on the gateway clock (`time.monotonic()` seconds of the gateway
  process, the clock all samples are mapped to),
- `wall_utc`: the same instant as an aware UTC datetime, for storage and clients.

Angles in degrees with the sign conventions of docs/domain.md (thigh 0 standing / 90 parallel,
pelvic tilt anterior positive relative to standing, hip flexion = thigh + tilt).
`event_to_dict` turns any event into JSON-ready plain data (for HTTP / WebSocket clients).
"""

from __future__ import annotations

import dataclasses
import enum
import math
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np

from fusion.types import RepMetrics
from sensor_gateway.gaps import Gap
from sensor_gateway.samples import LinkState, SensorKind


class Placement(str, enum.Enum):
    """Where a sensor sits on the athlete."""

    SACRUM = "sacrum"
    THIGH = "thigh"


class SetVariant(str, enum.Enum):
    """What the athlete performs in a set (same values as api.vocab.SetVariant)."""

    BACK_SQUAT = "back_squat"
    FRONT_SQUAT = "front_squat"
    GOBLET_SQUAT = "goblet_squat"
    BOX_SQUAT = "box_squat"
    BODYWEIGHT_SQUAT = "bodyweight_squat"
    QUADRUPED_ROCK_BACK = "quadruped_rock_back"  # the horizontal "squat" on hands and knees


class StopReason(str, enum.Enum):
    """Why a set ended."""

    REQUESTED = "requested"  # stop_set() called (user, HTTP API)
    IDLE = "idle"  # no motion / no samples for the configured idle time
    REPLACED = "replaced"  # a new set was started for the same athlete
    SHUTDOWN = "shutdown"  # the gateway stopped


@dataclass(frozen=True)
class SetInfo:
    """What the gateway knows about a set. `set_key` is unique (a UUID4 hex string)."""

    set_key: str
    athlete_id: str
    variant: SetVariant
    load_kg: float | None
    started_s: float
    started_utc: datetime
    notes: str = ""


@dataclass(frozen=True, kw_only=True)
class GatewayEvent:
    """Base of every gateway event (see module docstring for the common fields)."""

    athlete_id: str | None
    t_s: float
    wall_utc: datetime


@dataclass(frozen=True, kw_only=True)
class SetStarted(GatewayEvent):
    set: SetInfo


@dataclass(frozen=True, kw_only=True)
class SetStopped(GatewayEvent):
    set: SetInfo
    reason: StopReason
    rep_count: int


@dataclass(frozen=True, kw_only=True)
class Calibrated(GatewayEvent):
    """The analyser found the standing posture (ok) or could not (message says what to do)."""

    set_key: str
    ok: bool
    message: str


@dataclass(frozen=True, kw_only=True)
class RepStarted(GatewayEvent):
    """The thigh left the standing posture; `t_s` is when, in the data."""

    set_key: str
    rep: int


@dataclass(frozen=True, kw_only=True)
class WinkOnset(GatewayEvent):
    """The pelvis began to tuck under during rep `rep` (published as soon as it is known).

    `t_s` is the onset instant in the data; `onset_depth_deg` the thigh angle there and
    `onset_hip_flexion_deg` the hip flexion (the rock-back's compared quantity);
    `wink_deg` the posterior rotation seen so far when the event was emitted.
    """

    set_key: str
    rep: int
    onset_depth_deg: float
    wink_deg: float
    onset_hip_flexion_deg: float | None = None


@dataclass(frozen=True, kw_only=True)
class DepthCeilingNear(GatewayEvent):
    """Depth guard (`fusion.live.depth_guard`): in a loaded set, the thigh is about to reach the
    athlete's prescribed depth ceiling (minus the margin): cue the lifter to stop, before the
    wink. `t_s` is the decision instant in the data; `thigh_deg` the thigh angle then and
    `speed_degps` its descent speed; `ceiling_thigh_deg` / `margin_deg` the guard in use."""

    set_key: str
    rep: int
    thigh_deg: float
    speed_degps: float
    ceiling_thigh_deg: float
    margin_deg: float


@dataclass(frozen=True, kw_only=True)
class RepCompleted(GatewayEvent):
    """A rep ended (`t_s`, gateway clock); `metrics` are the same as a `winkwatch analyze` row
    and as the stored rep, their times in s since the set started (`set_relative`).

    `stored`: as published, whether the sink has stored it. False only while storage fails
    (the gateway then shows reps at once instead of holding them); the same rep comes again
    with True once it is stored.

    `correction`: True for a rep published before that comes again with what was found about
    it later (a dead or mirrored sensor axis found after the rep: its `<sensor>_dead_axis` or
    `<sensor>_mirrored_axis` quality code);
    clients replace it by its number as they do every rep, and the sink updates the stored
    rep's quality instead of adding a rep."""

    set_key: str
    metrics: RepMetrics
    stored: bool = True
    correction: bool = False


@dataclass(frozen=True, kw_only=True)
class LiveAngles(GatewayEvent):
    """One decimated (~20 Hz) sample of the live angles at `t_s`, in degrees; `set_t_s` is
    the same instant in s since the set started, the clock of the set's reps."""

    set_key: str
    set_t_s: float
    thigh_deg: float
    pelvic_tilt_deg: float
    hip_flexion_deg: float


@dataclass(frozen=True, kw_only=True)
class SensorStatusChanged(GatewayEvent):
    """A sensor's link changed, or a gap in its samples was detected.

    For a gap (lost packets, or a reconnect), `gap` bounds the missing stretch on the gateway
    clock and says how many samples were lost and how it was found.
    `placement` / `athlete_id` are None when the sensor is not assigned.
    """

    address: str
    kind: SensorKind | None
    placement: Placement | None
    state: LinkState
    battery_pct: int | None = None
    rssi_dbm: int | None = None
    detail: str = ""
    gap: Gap | None = None


@dataclass(frozen=True, kw_only=True)
class QualityWarning(GatewayEvent):
    """A data-quality problem in plain words; `code` is stable and machine-readable."""

    code: str
    message: str
    set_key: str | None = None
    placement: Placement | None = None
    rep: int | None = None


EVENT_TYPES: tuple[type[GatewayEvent], ...] = (
    SetStarted,
    SetStopped,
    Calibrated,
    RepStarted,
    WinkOnset,
    DepthCeilingNear,
    RepCompleted,
    LiveAngles,
    SensorStatusChanged,
    QualityWarning,
)


class GatewayClock:
    """Gateway clock (`time.monotonic()`) and its mapping to wall-clock UTC.

    The offset is taken once, so wall times of events stay consistent even if the system
    clock is stepped (NTP) while the gateway runs.
    """

    def __init__(self) -> None:
        self._wall_minus_mono_s = time.time() - time.monotonic()

    @staticmethod
    def now_s() -> float:
        return time.monotonic()

    def to_utc(self, t_s: float) -> datetime:
        return datetime.fromtimestamp(t_s + self._wall_minus_mono_s, tz=UTC)

    def from_utc(self, wall_utc: datetime) -> float:
        return wall_utc.timestamp() - self._wall_minus_mono_s


def event_type_name(event: GatewayEvent) -> str:
    """Stable wire name of an event: 'set_started', 'rep_completed', ..."""
    return _WIRE_NAMES[type(event)]


def event_to_dict(event: GatewayEvent) -> dict[str, Any]:
    """JSON-ready dict of an event: {'type': wire name, field: value, ...}.

    Enums become their values, datetimes ISO 8601 strings, RepMetrics / SetInfo nested
    dicts (RepMetrics in `winkwatch analyze` column names), NaN becomes None.
    """
    out: dict[str, Any] = {"type": event_type_name(event)}
    for field in dataclasses.fields(event):
        out[field.name] = _plain(getattr(event, field.name))
    return out


def _plain(value: Any) -> Any:
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, RepMetrics):
        row = value.as_row()
        row["butt_wink"] = bool(value.butt_wink)
        row["loaded_wink"] = bool(value.loaded_wink)
        row["quality"] = list(value.quality)
        return {key: _plain(item) for key, item in row.items()}
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, (np.floating, float)):
        number = float(value)
        return number if math.isfinite(number) else None
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, (tuple, list)):
        return [_plain(item) for item in value]
    if isinstance(value, timedelta):
        return value.total_seconds()
    return value


def _snake(name: str) -> str:
    return "".join("_" + c.lower() if c.isupper() else c for c in name).lstrip("_")


_WIRE_NAMES: dict[type[GatewayEvent], str] = {cls: _snake(cls.__name__) for cls in EVENT_TYPES}
