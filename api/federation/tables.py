"""Which tables the edges replicate to the central server, and rows as JSON.

Ids are only unique inside one edge database, so the central server maps every edge row
(origin, table, local id) to its own id (`federation_rows`) and translates foreign keys
through that map. Rows that have an identity across gateways are matched by it instead
(`natural_key`): an athlete by `uid` (the same athlete on several platforms is one central
athlete), a set by its UUID `set_key`, a sensor by its radio `address` (a sensor moved to
another platform stays one sensor). Order matters: a table comes after those it refers to.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, LargeBinary

from api.federation.errors import FederationError
from api.storage.models import (
    Assessment,
    Athlete,
    Base,
    Calibration,
    ExerciseSet,
    RawChunk,
    Rep,
    Sensor,
    TrainingSession,
    UtcDateTime,
)


@dataclass(frozen=True)
class Replicated:
    model: type[Base]
    foreign_keys: dict[str, str] = field(default_factory=dict)  # column -> referenced table
    natural_key: str | None = None
    # An edge deleting its copy does not delete the central one (athletes keep their history).
    keep_on_delete: bool = False

    @property
    def table_name(self) -> str:
        return str(self.model.__tablename__)

    @property
    def id_column(self) -> ColumnElement[int]:
        return self.model.__table__.c["id"]

    def column(self, name: str) -> ColumnElement[Any]:
        return self.model.__table__.c[name]


REPLICATED: dict[str, Replicated] = {
    r.table_name: r
    for r in (
        Replicated(Athlete, natural_key="uid", keep_on_delete=True),
        Replicated(Sensor, {"athlete_id": "athletes"}, natural_key="address"),
        Replicated(TrainingSession, {"athlete_id": "athletes"}),
        Replicated(Assessment, {"athlete_id": "athletes"}),
        Replicated(
            ExerciseSet,
            {"session_id": "sessions", "athlete_id": "athletes", "assessment_id": "assessments"},
            natural_key="set_key",
        ),
        Replicated(Rep, {"set_id": "sets", "athlete_id": "athletes"}),
        Replicated(Calibration, {"athlete_id": "athletes", "set_id": "sets"}),
        Replicated(RawChunk, {"set_id": "sets"}),
    )
}


def replicated(table_name: str) -> Replicated:
    try:
        return REPLICATED[table_name]
    except KeyError:
        raise FederationError(
            f"table {table_name!r} is not replicated; the edge runs a newer WinkWatch than "
            "the central server: upgrade the central server first"
        ) from None


def row_to_json(spec: Replicated, row: Any) -> dict[str, Any]:
    """Every column except `id`, as JSON-ready values (datetimes ISO 8601, bytes base64)."""
    out: dict[str, Any] = {}
    for column in spec.model.__table__.columns:
        if column.name == "id":
            continue
        value = getattr(row, column.key)
        if isinstance(value, datetime):
            value = value.isoformat()
        elif isinstance(value, bytes):
            value = base64.b64encode(value).decode("ascii")
        out[column.name] = value
    return out


def row_from_json(spec: Replicated, data: dict[str, Any]) -> dict[str, Any]:
    """Column values for an insert/update from `row_to_json` output (unknown keys ignored)."""
    values: dict[str, Any] = {}
    for column in spec.model.__table__.columns:
        if column.name == "id" or column.name not in data:
            continue
        value = data[column.name]
        if value is not None and isinstance(column.type, LargeBinary):
            value = base64.b64decode(value)
        elif value is not None and isinstance(column.type, UtcDateTime):
            value = datetime.fromisoformat(value)
        values[column.name] = value
    return values
