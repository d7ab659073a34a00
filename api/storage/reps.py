"""Rep queries: filtered pages, streamed iteration for export, per-athlete summaries."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from functools import lru_cache
from typing import Any

import numpy as np
from sqlalchemy import (
    BindParameter,
    Compiled,
    Connection,
    Engine,
    Row,
    RowMapping,
    Select,
    bindparam,
    func,
    select,
)
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from api.errors import InvalidInputError
from api.storage import catalog
from api.storage.db import get_or_not_found, give_back_read_connection, take_read_connection
from api.storage.models import ExerciseSet, Rep
from api.storage.paging import MAX_PAGE_SIZE, Page, fetch_page
from api.vocab import SetVariant

EXPORT_BATCH_ROWS = 5000  # rows fetched per round trip while streaming an export


@dataclass(frozen=True)
class RepFilter:
    athlete_id: int | None = None
    set_id: int | None = None
    session_id: int | None = None
    variant: SetVariant | None = None
    butt_wink: bool | None = None  # True = flagged reps only
    since: datetime | None = None  # performed_at >= since
    until: datetime | None = None  # performed_at < until

    def __post_init__(self) -> None:
        if self.since is not None and self.until is not None and self.since >= self.until:
            raise InvalidInputError("`since` must be before `until`")

    def apply(self, query: Select) -> Select:
        """`query` restricted to the matching reps. Every value is a named bind parameter
        (`bind_values`), so statements of one shape differ only in their parameters."""
        values = self.bind_values()
        if "rf_athlete_id" in values:
            query = query.where(Rep.athlete_id == _bind(values, "rf_athlete_id"))
        if "rf_set_id" in values:
            query = query.where(Rep.set_id == _bind(values, "rf_set_id"))
        if "rf_session_id" in values:
            query = query.where(
                Rep.set_id.in_(
                    select(ExerciseSet.id).where(
                        ExerciseSet.session_id == _bind(values, "rf_session_id")
                    )
                )
            )
        if "rf_variant" in values:
            query = query.where(Rep.variant == _bind(values, "rf_variant"))
        if "rf_butt_wink" in values:
            query = query.where(Rep.butt_wink == _bind(values, "rf_butt_wink"))
        if "rf_since" in values:
            query = query.where(Rep.performed_at >= _bind(values, "rf_since"))
        if "rf_until" in values:
            query = query.where(Rep.performed_at < _bind(values, "rf_until"))
        return query

    def bind_values(self) -> dict[str, object]:
        """The filter's values by bind parameter name, only those given."""
        values: dict[str, object] = {
            "rf_athlete_id": self.athlete_id,
            "rf_set_id": self.set_id,
            "rf_session_id": self.session_id,
            "rf_variant": None if self.variant is None else SetVariant(self.variant).value,
            "rf_butt_wink": self.butt_wink,
            "rf_since": self.since,
            "rf_until": self.until,
        }
        return {name: value for name, value in values.items() if value is not None}


def _bind(values: dict[str, object], name: str) -> BindParameter:
    return bindparam(name, values[name])


def get_rep(db: Session, rep_id: int) -> Rep:
    return get_or_not_found(db, Rep, rep_id, "rep")


def list_reps(
    db: Session, where: RepFilter, cursor: int | None = None, limit: int = 100
) -> Page[Rep]:
    return fetch_page(db, where.apply(select(Rep)), Rep.id, cursor, limit)


@lru_cache(maxsize=16)
def _select_columns(columns: tuple[str, ...] | None) -> Select:
    """SELECT of these reps columns (all when None), built once: statements are immutable."""
    table = Rep.__table__
    return select(*(table.c[name] for name in columns)) if columns else select(table)


def rep_page_query(
    where: RepFilter,
    cursor: int | None,
    limit: int,
    columns: Sequence[str] | None = None,
) -> Select:
    """The statement of one rep-list page: `limit` + 1 rows (the extra says there are more),
    of the reps columns named in `columns` (default: all of them), in that order."""
    table = Rep.__table__
    query = where.apply(_select_columns(tuple(columns) if columns else None))
    if cursor is not None:
        query = query.where(table.c.id < bindparam("rp_cursor", cursor))
    return query.order_by(table.c.id.desc()).limit(limit + 1)


# Page statements by shape (which filters, a cursor or not, limit, columns). Executing the
# same statement object again skips building it and computing its cache key (~0.1 ms, as
# much as fetching a page of SQLite rows); the values go in as parameters.
_PAGE_STATEMENTS: dict[tuple, Select] = {}
_MAX_PAGE_STATEMENTS = 512


def _page_statement(
    where: RepFilter, cursor: int | None, limit: int, columns: Sequence[str] | None
) -> tuple[Select, dict[str, object]]:
    values = where.bind_values()
    if cursor is not None:
        values["rp_cursor"] = cursor
    key = (tuple(values), limit, tuple(columns) if columns else None)
    statement = _PAGE_STATEMENTS.get(key)
    if statement is None:
        if len(_PAGE_STATEMENTS) >= _MAX_PAGE_STATEMENTS:
            _PAGE_STATEMENTS.clear()
        statement = _PAGE_STATEMENTS[key] = rep_page_query(where, cursor, limit, columns)
    return statement, values


def list_rep_rows(
    db: Session | Connection,
    where: RepFilter,
    cursor: int | None = None,
    limit: int = 100,
    columns: Sequence[str] | None = None,
) -> tuple[list[Row], int | None]:
    """Like `list_reps`, as Core rows of `columns` (which must include "id"): no ORM objects
    to build; the rows are tuples, in `columns` order, that also answer `row.id`."""
    limit = _page_size(limit)
    statement, values = _page_statement(where, cursor, limit, columns)
    connection = db if isinstance(db, Connection) else db.connection()
    rows = list(connection.execute(statement, values).fetchall())
    return _split_page(rows, limit, 0 if columns is None else list(columns).index("id"))


def fetch_rep_page(
    engine: Engine,
    where: RepFilter,
    cursor: int | None,
    limit: int,
    columns: Sequence[str],
) -> tuple[Sequence[Sequence], int | None]:
    """One rep-list page of `columns` (which must include "id") as plain tuples, without a
    transaction (one SELECT is its own snapshot), with the values and types SQLAlchemy's
    Core rows would have: `fetch_rep_page_raw`'s rows through its result processors."""
    rows, next_cursor, processors = fetch_rep_page_raw(engine, where, cursor, limit, columns)
    return (processed(rows, processors) if processors else rows), next_cursor


PageProcessors = tuple[tuple[int, Callable[[Any], Any]], ...]


def fetch_rep_page_raw(
    engine: Engine,
    where: RepFilter,
    cursor: int | None,
    limit: int,
    columns: Sequence[str],
) -> tuple[list, int | None, PageProcessors]:
    """One rep-list page of `columns` (which must include "id") as the driver returns its
    rows, the next page's cursor, and the result processors (column position, function)
    that turn those rows into SQLAlchemy's values (`processed`; none on PostgreSQL).

    The page's compiled SQL runs on the pooled driver connection itself, without a
    transaction: skipping SQLAlchemy's execution and row processing is most of the
    request's cost above the bare fetch. PostgreSQL: psycopg's loaders already give the
    Python values SQLAlchemy's types would (UTC sessions: aware datetimes in UTC); SQLite's
    driver returns text times and 0/1 flags, which the processors of those columns' types
    convert (the same values as `list_rep_rows`, tested). A connection the server has
    closed since its check (`db._drop_if_disconnected`) is replaced and the page read
    again once."""
    limit = _page_size(limit)
    id_position = list(columns).index("id")
    statement, values = _page_statement(where, cursor, limit, columns)
    page = _compiled_page(engine, statement)
    params = dict(page.compiled.construct_params(values) or {})
    for name, process in page.bind_processors:
        params[name] = process(params[name])
    bound = tuple(params[name] for name in page.positions) if page.positions else params
    fetch = _fetch_autocommit if engine.dialect.name == "postgresql" else _fetch_plain
    dbapi_error = engine.dialect.loaded_dbapi.Error
    for attempt in (1, 2):
        pooled = take_read_connection(engine)
        try:
            rows = fetch(pooled.dbapi_connection, page.sql, bound)
            break
        except dbapi_error as exc:
            disconnected = engine.dialect.is_disconnect(exc, pooled.dbapi_connection, None)
            if disconnected:
                pooled.invalidate(exc)  # the pool opens a new connection in its place
            if attempt == 2 or not disconnected:
                raise DBAPIError.instance(page.sql, params, exc, dbapi_error) from exc
        finally:
            give_back_read_connection(engine, pooled)
    rows, next_cursor = _split_page(rows, limit, id_position)
    return rows, next_cursor, page.result_processors


def _fetch_autocommit(dbapi_connection, sql: str, params: Sequence | dict[str, object]) -> list:
    """psycopg: the rows of one SELECT in autocommit (no BEGIN and ROLLBACK round trips)."""
    dbapi_connection.autocommit = True
    try:
        with dbapi_connection.cursor() as cursor:
            cursor.execute(sql, params)
            return cursor.fetchall()
    finally:
        if not dbapi_connection.closed:
            dbapi_connection.autocommit = False  # as the pool hands connections out


def _fetch_plain(dbapi_connection, sql: str, params: Sequence | dict[str, object]) -> list:
    """SQLite: the rows of one SELECT (its driver begins no transaction for a SELECT)."""
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute(sql, params)
        return cursor.fetchall()
    finally:
        cursor.close()


def processed(rows: Sequence[Sequence], processors: PageProcessors) -> list:
    """`rows` with the columns at the given positions converted by their processors (by
    column: a transpose and a `map` each, no Python loop over the rows' cells)."""
    if not rows:
        return []
    columns: list[Sequence[Any]] = list(zip(*rows))
    for position, process in processors:
        columns[position] = list(map(process, columns[position]))
    return list(zip(*columns))


@dataclass(frozen=True)
class _CompiledPage:
    """A page statement compiled for one dialect: SQL text, bind processors of its values,
    the parameters' order for a positional driver (empty: by name), and the result
    processors of the columns the driver does not already give as SQLAlchemy would."""

    compiled: Compiled
    sql: str
    bind_processors: tuple[tuple[str, Callable[[Any], Any]], ...]
    positions: tuple[str, ...]
    result_processors: PageProcessors


# Page statements compiled for a dialect.
_COMPILED_PAGES: dict[tuple[Select, str], _CompiledPage] = {}


def _compiled_page(engine: Engine, statement: Select) -> _CompiledPage:
    dialect = engine.dialect
    cached = _COMPILED_PAGES.get((statement, dialect.name))
    if cached is None:
        if len(_COMPILED_PAGES) >= _MAX_PAGE_STATEMENTS:
            _COMPILED_PAGES.clear()
        compiled = statement.compile(dialect=dialect)
        bind_processors = []
        for name, parameter in compiled.binds.items():
            process = parameter.type.dialect_impl(dialect).bind_processor(dialect)
            if process is not None:
                bind_processors.append((name, process))
        result_processors = []
        if dialect.name != "postgresql":  # psycopg's own loaders suffice (see fetch_rep_page)
            for position, column in enumerate(statement.selected_columns):
                process = column.type.dialect_impl(dialect).result_processor(dialect, None)
                if process is not None:
                    result_processors.append((position, process))
        cached = _CompiledPage(
            compiled=compiled,
            sql=str(compiled),
            bind_processors=tuple(bind_processors),
            positions=tuple(compiled.positiontup or ()) if compiled.positional else (),
            result_processors=tuple(result_processors),
        )
        _COMPILED_PAGES[(statement, dialect.name)] = cached
    return cached


def _page_size(limit: int) -> int:
    return max(1, min(int(limit), MAX_PAGE_SIZE))


def _split_page(rows: list, limit: int, id_position: int) -> tuple[list, int | None]:
    """The first `limit` of `limit` + 1 rows, and the cursor of the next page if there is one."""
    more = len(rows) > limit
    rows = rows[:limit]
    return rows, (rows[-1][id_position] if more and rows else None)


def iter_rep_rows(db: Session, where: RepFilter) -> Iterator[RowMapping]:
    """Every matching rep (its columns + `session_id`), oldest first, in bounded memory.

    Walks the id keyset in batches rather than holding one cursor open, so a slow client
    never pins a transaction or a server-side cursor.
    """
    table = Rep.__table__
    last_id = 0
    while True:
        query = (
            where.apply(
                select(table, ExerciseSet.session_id).join(
                    ExerciseSet, ExerciseSet.id == table.c.set_id
                )
            )
            .where(table.c.id > last_id)
            .order_by(table.c.id)
        )
        rows = db.execute(query.limit(EXPORT_BATCH_ROWS)).mappings().all()
        if not rows:
            return
        yield from rows
        last_id = rows[-1]["id"]
        if len(rows) < EXPORT_BATCH_ROWS:
            return


def iter_rep_id_ranges(
    db: Session, where: RepFilter, batch_rows: int = EXPORT_BATCH_ROWS
) -> Iterator[tuple[int, int]]:
    """Keyset ranges (after_id, upto_id] holding `batch_rows` matching reps each (the last
    one fewer), oldest first: one small index query per range, so every batch is its own
    statement and a slow reader never pins a transaction snapshot or a cursor."""
    table = Rep.__table__
    after_id = 0
    while True:
        ids = (
            where.apply(select(table.c.id))
            .where(table.c.id > after_id)
            .order_by(table.c.id)
            .limit(batch_rows)
            .subquery()
        )
        upto_id, count = db.connection().execute(select(func.max(ids.c.id), func.count())).one()
        if not count:
            return
        yield after_id, upto_id
        if count < batch_rows:
            return
        after_id = upto_id


@dataclass(frozen=True)
class VariantSummary:
    variant: str
    reps: int
    wink_reps: int
    loaded_wink_reps: int
    median_depth_deg: float | None
    median_wink_deg: float | None
    # Thigh angle at which the wink starts: median over the reps that winked.
    median_wink_onset_depth_deg: float | None
    # Same, only over reps under load (load_kg > 0): "depth at which it starts under load".
    median_loaded_onset_depth_deg: float | None
    # Shallowest onset seen under load: a box set just above it avoids the wink.
    min_loaded_onset_depth_deg: float | None


@dataclass(frozen=True)
class DayPoint:
    day: date
    variant: str
    reps: int
    wink_reps: int
    median_wink_onset_depth_deg: float | None


@dataclass(frozen=True)
class LoadPoint:
    variant: str
    load_kg: float
    reps: int
    wink_reps: int
    median_wink_onset_depth_deg: float | None


@dataclass(frozen=True)
class AthleteSummary:
    athlete_id: int
    variants: list[VariantSummary]
    over_time: list[DayPoint]
    by_load: list[LoadPoint]


def _median(values: list[float]) -> float | None:
    return float(np.median(values)) if values else None


def summarize_athlete(
    db: Session, athlete_id: int, since: datetime | None = None, until: datetime | None = None
) -> AthleteSummary:
    """Wink onset depth per variant, per day (trend) and per load."""
    catalog.get_athlete(db, athlete_id)
    where = RepFilter(athlete_id=athlete_id, since=since, until=until)
    query = where.apply(
        select(
            Rep.variant,
            Rep.performed_at,
            Rep.load_kg,
            Rep.depth_deg,
            Rep.wink_deg,
            Rep.wink_onset_depth_deg,
            Rep.butt_wink,
            Rep.loaded_wink,
        )
    ).order_by(Rep.performed_at)
    per_variant: dict[str, list] = defaultdict(list)
    per_day: dict[tuple[date, str], list] = defaultdict(list)
    per_load: dict[tuple[str, float], list] = defaultdict(list)
    for row in db.execute(query):
        per_variant[row.variant].append(row)
        per_day[(row.performed_at.date(), row.variant)].append(row)
        if row.load_kg is not None:
            per_load[(row.variant, round(float(row.load_kg), 1))].append(row)

    def onsets(rows) -> list[float]:
        return [
            r.wink_onset_depth_deg
            for r in rows
            if r.butt_wink and r.wink_onset_depth_deg is not None
        ]

    variants = []
    for variant, rows in sorted(per_variant.items()):
        loaded = [r for r in rows if r.load_kg is not None and r.load_kg > 0]
        loaded_onsets = onsets(loaded)
        variants.append(
            VariantSummary(
                variant=variant,
                reps=len(rows),
                wink_reps=sum(bool(r.butt_wink) for r in rows),
                loaded_wink_reps=sum(bool(r.loaded_wink) for r in rows),
                median_depth_deg=_median([r.depth_deg for r in rows]),
                median_wink_deg=_median([r.wink_deg for r in rows]),
                median_wink_onset_depth_deg=_median(onsets(rows)),
                median_loaded_onset_depth_deg=_median(loaded_onsets),
                min_loaded_onset_depth_deg=min(loaded_onsets) if loaded_onsets else None,
            )
        )
    over_time = [
        DayPoint(
            day=day,
            variant=variant,
            reps=len(rows),
            wink_reps=sum(bool(r.butt_wink) for r in rows),
            median_wink_onset_depth_deg=_median(onsets(rows)),
        )
        for (day, variant), rows in sorted(per_day.items())
    ]
    by_load = [
        LoadPoint(
            variant=variant,
            load_kg=load,
            reps=len(rows),
            wink_reps=sum(bool(r.butt_wink) for r in rows),
            median_wink_onset_depth_deg=_median(onsets(rows)),
        )
        for (variant, load), rows in sorted(per_load.items())
    ]
    return AthleteSummary(
        athlete_id=athlete_id, variants=variants, over_time=over_time, by_load=by_load
    )
