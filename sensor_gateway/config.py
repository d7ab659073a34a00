"""Gateway settings and the sensor -> (athlete, placement) assignments.

- `GatewaySettings`: tuning from the environment (`WINKWATCH_GATEWAY_*`), units in names.
- `EnvSettings`: the base of every WinkWatch settings class (here, `api.settings`,
  `api.federation.mqtt`): an environment variable it cannot use is a ConfigError naming it.
- `Assignments`: which sensor sits where on whom, in memory. The gateway does not own them:
  the API keeps them in its database (the one source of truth) and pushes them in at start
  and on every change, so a change takes effect at once on a running gateway.
- `read_assignment_file`: the `gateway.json` of older versions, for a one-time import.
- `load_or_create_gateway_id`: this gateway's persistent id.

An athlete has at most one sensor per placement; assigning a second sensor to the same
athlete and placement moves the first one out (it becomes unassigned).
"""

from __future__ import annotations

import json
import os
import re
import socket
import tempfile
import uuid
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import platformdirs
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
)
from pydantic_settings import BaseSettings, SettingsConfigDict, SettingsError

from sensor_gateway.errors import ConfigError
from sensor_gateway.events import Placement
from sensor_gateway.samples import SensorKind

CONFIG_FILE_NAME = "gateway.json"
CONFIG_FORMAT_VERSION = 1


def default_config_path() -> Path:
    """`gateway.json` in the user's config directory (e.g. ~/.config/winkwatch/)."""
    return Path(platformdirs.user_config_dir("winkwatch")) / CONFIG_FILE_NAME


class EnvSettings(BaseSettings):
    """Settings read from environment variables (each class's `env_prefix`). A variable whose
    value cannot be used (WINKWATCH_PORT=abc) raises ConfigError naming the variable, its
    value and what is wrong, where pydantic's errors reached the user as a traceback."""

    def __init__(self, **values: Any) -> None:
        try:
            super().__init__(**values)
        except ValidationError as exc:
            err = exc.errors()[0]
            field = str(err["loc"][0]) if err.get("loc") else ""
            raise ConfigError(
                f"{self._variable(field)}={err.get('input')!r} cannot be used: {err['msg']}; "
                "fix it or unset it"
            ) from exc
        except SettingsError as exc:  # a list variable that is not JSON
            found = re.search(r'field "(\w+)"', str(exc))
            name = self._variable(found[1]) if found else "a WINKWATCH_* variable"
            raise ConfigError(
                f"{name}={os.environ.get(name)!r} cannot be used: not JSON; write a list as "
                '["https://gym.example"], or unset it'
            ) from exc

    @classmethod
    def _variable(cls, field: str) -> str:
        return f"{cls.model_config.get('env_prefix', '')}{field}".upper()


class GatewaySettings(EnvSettings):
    """Gateway tuning; each field can be set with WINKWATCH_GATEWAY_<NAME> (e.g. ..._IDLE_STOP_S)."""

    model_config = SettingsConfigDict(env_prefix="WINKWATCH_GATEWAY_", extra="ignore")

    # Where WinkWatch before 0.2 kept the sensor assignments (imported into the database
    # once, then renamed `*.imported`); the gateway id is kept in the same folder.
    config_file: Path = Field(default_factory=default_config_path)
    # Rate requested from sensors that can be set; also the nominal rate of count-timed ones.
    sample_rate_hz: int = Field(default=200, gt=0, le=1000)
    # A set stops by itself after this long without a rep (or without samples).
    idle_stop_s: float = Field(default=120.0, gt=0)
    # Live angles published to clients at about this rate (the analysis runs at full rate).
    live_angles_rate_hz: float = Field(default=20.0, gt=0, le=200)
    # Per-subscriber queue bound before oldest events are dropped.
    max_queued_events: int = Field(default=1000, ge=1)
    # Count-timed sensors: receive times this far off mean lost samples (see clock.py).
    max_latency_s: float = Field(default=0.25, gt=0)


# A BLE device address as BlueZ shows it: six hex bytes separated by colons.
BLE_ADDRESS_PATTERN = re.compile(r"^[0-9A-Fa-f]{2}(:[0-9A-Fa-f]{2}){5}$")


def ble_address_problem(address: str, kind: SensorKind) -> str | None:
    """Why `address` cannot be a sensor of `kind` (None if it can): real sensors need a BLE
    address; simulated ones may be named anything."""
    if kind is SensorKind.SIMULATED or BLE_ADDRESS_PATTERN.match(address):
        return None
    return (
        f"{address!r} is not a BLE address: give six hex bytes separated by colons, "
        "e.g. D4:CA:6E:F1:20:3A (`winkwatch scan` lists nearby sensors)"
    )


class SensorAssignment(BaseModel):
    """One sensor's place: on athlete `athlete_id` at `placement`; optional rate override."""

    model_config = ConfigDict(frozen=True)

    address: str
    kind: SensorKind
    athlete_id: str
    placement: Placement
    rate_hz: int | None = Field(default=None, gt=0, le=1000)
    label: str = ""

    @field_validator("address")
    @classmethod
    def _normalise_address(cls, value: str) -> str:
        value = value.strip().upper()
        if not value:
            raise ValueError("sensor address must not be empty")
        return value

    @field_validator("athlete_id")
    @classmethod
    def _check_athlete(cls, value: str) -> str:
        value = value.strip()
        if not value:
            raise ValueError("athlete_id must not be empty")
        return value


class _ConfigFile(BaseModel):
    version: int = CONFIG_FORMAT_VERSION
    sensors: list[SensorAssignment] = Field(default_factory=list)


def normalise_address(address: str) -> str:
    return address.strip().upper()


AssignmentsChanged = Callable[[], None]


class Assignments:
    """Who wears which sensor, as the gateway was last told (in memory).

    The gateway keeps no file of its own: whoever owns the assignments (the API, from its
    database) fills this with `replace` at start and keeps it in step with `assign` /
    `unassign` on every change. Listeners registered with `on_change` (the BLE source, to
    connect a newly assigned sensor at once) are called after every change. Used from the
    gateway's event-loop thread only.
    """

    def __init__(self, assignments: Iterable[SensorAssignment] = ()) -> None:
        self._by_address: dict[str, SensorAssignment] = {}
        self._listeners: list[AssignmentsChanged] = []
        self.replace(assignments, notify=False)

    # -- queries ---------------------------------------------------------------------------
    def all(self) -> list[SensorAssignment]:
        return sorted(self._by_address.values(), key=lambda a: (a.athlete_id, a.placement.value))

    def get(self, address: str) -> SensorAssignment | None:
        return self._by_address.get(normalise_address(address))

    def athletes(self) -> list[str]:
        return sorted({a.athlete_id for a in self._by_address.values()})

    def for_athlete(self, athlete_id: str) -> dict[Placement, SensorAssignment]:
        return {a.placement: a for a in self._by_address.values() if a.athlete_id == athlete_id}

    # -- changes ---------------------------------------------------------------------------
    def assign(
        self,
        address: str,
        kind: SensorKind | str,
        athlete_id: str,
        placement: Placement | str,
        *,
        rate_hz: int | None = None,
        label: str = "",
    ) -> SensorAssignment:
        """Put sensor `address` on `athlete_id` at `placement` (the sensor that held that
        place before is unassigned). Raises ConfigError for an invalid assignment."""
        assignment = make_assignment(
            address, kind, athlete_id, placement, rate_hz=rate_hz, label=label
        )
        updated = {
            addr: a
            for addr, a in self._by_address.items()
            if addr != assignment.address
            and not (a.athlete_id == assignment.athlete_id and a.placement == assignment.placement)
        }
        updated[assignment.address] = assignment
        self._by_address = updated
        self._changed()
        return assignment

    def unassign(self, address: str) -> bool:
        """Forget sensor `address`; False if it was not assigned."""
        address = normalise_address(address)
        if address not in self._by_address:
            return False
        self._by_address = {k: v for k, v in self._by_address.items() if k != address}
        self._changed()
        return True

    def replace(self, assignments: Iterable[SensorAssignment], *, notify: bool = True) -> None:
        """Replace every assignment (later ones win a clash of athlete and placement)."""
        by_address: dict[str, SensorAssignment] = {}
        for a in assignments:
            by_address = {
                addr: b
                for addr, b in by_address.items()
                if addr != a.address
                and not (b.athlete_id == a.athlete_id and b.placement == a.placement)
            }
            by_address[a.address] = a
        self._by_address = by_address
        if notify:
            self._changed()

    def on_change(self, listener: AssignmentsChanged) -> Callable[[], None]:
        """Call `listener` after every change; returns the function that unregisters it."""
        self._listeners.append(listener)
        return lambda: self._listeners.remove(listener) if listener in self._listeners else None

    def _changed(self) -> None:
        for listener in list(self._listeners):
            listener()


def make_assignment(
    address: str,
    kind: SensorKind | str,
    athlete_id: str,
    placement: Placement | str,
    *,
    rate_hz: int | None = None,
    label: str = "",
) -> SensorAssignment:
    """A validated `SensorAssignment`; ConfigError says what is wrong."""
    try:
        return SensorAssignment(
            address=address,
            kind=kind,
            athlete_id=athlete_id,
            placement=placement,
            rate_hz=rate_hz,
            label=label,
        )
    except ValidationError as exc:
        raise ConfigError(f"invalid sensor assignment: {_first_error(exc)}") from exc


def read_assignment_file(path: Path | str) -> list[SensorAssignment]:
    """The assignments of a `gateway.json` written by an older WinkWatch ([] if there is
    none). Nothing writes this file any more: the API imports it into its database once.
    A file that cannot be read raises ConfigError saying where it is and how to fix it."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return []
    except OSError as exc:
        raise ConfigError(f"cannot read the gateway config {path}: {exc}") from exc
    try:
        data = _ConfigFile.model_validate(json.loads(text))
    except (json.JSONDecodeError, ValidationError) as exc:
        detail = _first_error(exc) if isinstance(exc, ValidationError) else str(exc)
        raise ConfigError(
            f"the gateway config {path} is not valid ({detail}); fix it by hand or move "
            "it away to start with no sensor assignments"
        ) from exc
    if data.version > CONFIG_FORMAT_VERSION:
        raise ConfigError(
            f"the gateway config {path} has format version {data.version}; "
            f"this WinkWatch reads up to version {CONFIG_FORMAT_VERSION}: upgrade WinkWatch"
        )
    return list(data.sensors)


def _first_error(exc: ValidationError) -> str:
    err = exc.errors()[0]
    where = ".".join(str(part) for part in err.get("loc", ()))
    return f"{where}: {err.get('msg', 'invalid')}" if where else str(err.get("msg", "invalid"))


GATEWAY_ID_FILE_NAME = "gateway_id"
_GATEWAY_ID_MAX_LENGTH = 200  # the database column's width


def load_or_create_gateway_id(directory: Path) -> str:
    """This gateway's id, generated once ("<hostname>-<12 hex digits>") and kept in
    `directory`/gateway_id, next to the sensor assignments.

    Host names repeat (every Pi is `raspberrypi`), so they cannot tell gateways on one
    database apart; a random suffix can. The file is created with a hard link, so two
    processes starting at once agree on one id. A file that is there but unusable is never
    replaced: the id names this gateway's sets, and recovery after a crash needs it.
    """
    path = Path(directory) / GATEWAY_ID_FILE_NAME
    existing = _read_gateway_id(path)
    if existing is not None:
        return existing
    host = "".join(c if c.isalnum() or c in "-_." else "-" for c in socket.gethostname())
    gateway_id = f"{host[:160] or 'gateway'}-{uuid.uuid4().hex[:12]}"
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                handle.write(gateway_id + "\n")
                handle.flush()
                os.fsync(handle.fileno())
            try:
                os.link(tmp_name, path)  # fails if another process created it first
            except FileExistsError:
                pass
        finally:
            Path(tmp_name).unlink(missing_ok=True)
    except OSError as exc:
        raise ConfigError(
            f"cannot store the gateway id in {path}: {exc}; check the directory is writable, "
            "set WINKWATCH_GATEWAY_CONFIG_FILE to a writable place, or set WINKWATCH_GATEWAY_ID"
        ) from exc
    stored = _read_gateway_id(path)
    if stored is None:  # pragma: no cover - just written
        raise ConfigError(f"the gateway id file {path} vanished while it was being created")
    return stored


def _read_gateway_id(path: Path) -> str | None:
    try:
        text = path.read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read the gateway id file {path}: {exc}") from exc
    if not text or len(text) > _GATEWAY_ID_MAX_LENGTH or not text.isprintable():
        raise ConfigError(
            f"the gateway id file {path} is not valid (one line of at most "
            f"{_GATEWAY_ID_MAX_LENGTH} printable characters); restore it from a backup, or "
            "delete it only if this gateway has no set recording (a new id is then generated)"
        )
    return text
