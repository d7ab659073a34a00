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


def as_utc(value: datetime | None, name: str) -> datetime | None:
    """`value` in UTC (UTC if it has no zone). Any date-time the schema allows is accepted:
    one whose conversion leaves Python's years 1-9999 becomes that range's end, the same
    bound for every stored rep."""
    if value is None:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    try:
        return value.astimezone(UTC)
    except OverflowError:
        return (datetime.min if value.year < 5000 else datetime.max).replace(tzinfo=UTC)
    except ValueError as exc:
        raise InvalidInputError(f"`{name}` is out of range") from exc
