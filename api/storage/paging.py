"""Keyset pagination: pages ordered by id, newest first; the cursor is the last id seen."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

from sqlalchemy import Select
from sqlalchemy.orm import InstrumentedAttribute, Session

T = TypeVar("T")

MAX_PAGE_SIZE = 1000


@dataclass(frozen=True)
class Page(Generic[T]):
    items: Sequence[T]
    next_cursor: int | None  # pass back as `cursor` for the next page; None = no more


def fetch_page(
    db: Session, query: Select, id_column: InstrumentedAttribute, cursor: int | None, limit: int
) -> Page:
    """Rows of `query` with id < cursor, newest first, at most `limit` of them."""
    limit = max(1, min(int(limit), MAX_PAGE_SIZE))
    if cursor is not None:
        query = query.where(id_column < cursor)
    rows = list(db.scalars(query.order_by(id_column.desc()).limit(limit + 1)))
    more = len(rows) > limit
    rows = rows[:limit]
    return Page(items=rows, next_cursor=rows[-1].id if more and rows else None)
