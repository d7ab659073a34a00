"""Parameter types shared by the routes."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import Path, Query
from pydantic import BeforeValidator

from api.errors import InvalidInputError
from api.http.schemas import MAX_ID
from api.storage.paging import MAX_PAGE_SIZE

IdPath = Annotated[int, Path(ge=1, le=MAX_ID)]
OptionalId = Annotated[int | None, Query(ge=1, le=MAX_ID)]
Cursor = Annotated[
    int | None, Query(ge=1, le=MAX_ID, description="`next_cursor` of the previous page")
]
Limit = Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE, description="items per page")]


def _iso_not_number(value: object) -> object:
    """pydantic reads a number as seconds since 1970; the schema says ISO 8601 date-time."""
    if isinstance(value, str):
        try:
            float(value)
        except ValueError:
            return value
        raise ValueError("an ISO 8601 date-time such as 2026-03-01T09:00:00Z, not a number")
    return value


_IsoDateTime = Annotated[datetime, BeforeValidator(_iso_not_number)]
Since = Annotated[
    _IsoDateTime | None, Query(description="from this instant (ISO 8601; UTC if no zone)")
]
Until = Annotated[
    _IsoDateTime | None, Query(description="before this instant (ISO 8601; UTC if no zone)")
]

EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
LATEST = datetime(9000, 1, 1, tzinfo=UTC)


def as_utc(value: datetime | None, name: str) -> datetime | None:
    if value is None:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    try:
        value = value.astimezone(UTC)
    except (OverflowError, ValueError) as exc:
        raise InvalidInputError(f"`{name}` is out of range") from exc
    if not EARLIEST <= value <= LATEST:
        raise InvalidInputError(f"`{name}` must be between 1970 and 9000")
    return value
