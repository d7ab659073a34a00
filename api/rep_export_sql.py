"""The rep export's columns as SQL expressions, each compiled for the database that runs it.

PostgreSQL writes the whole CSV (COPY ... WITH (FORMAT csv)), so every column is rendered as
its final text there: floats as Python's `repr` (float8 output is the same shortest
round-trip digits; integral values get ".0", NaN/infinities Python's spelling; below 1e15
exactly, see csv_float), booleans 0/1,
empty text as NULL (COPY would quote "" to tell it from NULL; csv.writer writes nothing).
SQLite hands floats to Python as they are (api.rep_export formats them; NULL as '') and
renders the rest: text already quoted the CSV way, and each run of columns between two floats
joined into one text (sqlite_export_columns). Both write `performed_at` as `isoformat()` does.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from sqlalchemy import (
    Boolean,
    ColumnElement,
    Float,
    Integer,
    Select,
    String,
    Text,
    case,
    cast,
    literal_column,
    select,
)
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.functions import FunctionElement

from api.storage.models import ExerciseSet, Rep
from api.storage.sets import RAW_SAMPLES_LOST
from fusion.types import REP_CSV_COLUMNS, REP_CSV_EXTRA_COLUMNS

REP_EXPORT_ID_COLUMNS: tuple[str, ...] = (
    "rep_id",
    "set_id",
    "session_id",
    "athlete_id",
    "variant",
    "performed_at",
)
REP_EXPORT_COLUMNS: tuple[str, ...] = (
    REP_CSV_COLUMNS + REP_CSV_EXTRA_COLUMNS + REP_EXPORT_ID_COLUMNS
)


class utc_isoformat(FunctionElement[str]):
    """A UTC timestamp column as `datetime.isoformat()` writes it, from the database itself
    ("2026-03-01T09:30:15+00:00", microseconds only when not zero)."""

    type = String()
    inherit_cache = True


class csv_float(FunctionElement[float]):
    """A float column as the CSV writes it (`repr`; NULL written empty)."""

    type = Float()
    inherit_cache = True


class csv_fields(FunctionElement[str]):
    """Columns already written as CSV fields, joined by commas into one text (NULL empty)."""

    type = String()
    inherit_cache = True


class csv_text(FunctionElement[str]):
    """A text column as the CSV writes it: quoted when it holds a comma, a double quote, CR
    or LF (quotes doubled); empty when empty or NULL."""

    type = String()
    inherit_cache = True


class sqlite_plain(FunctionElement[str]):
    """SQLite, the export's fast path (api.rep_export.plain_rows_csv): a column as it is
    stored, NULL as '' when the column is nullable, a UTC timestamp with its 'T' (the rest of
    `utc_isoformat` is done on the batch's text), and each run of columns between two floats
    as one text of fields joined by commas (printf, cheaper than SQL's ||). Nothing is quoted:
    the batch is written this way only when no text needs it."""

    type = String()
    inherit_cache = True


@compiles(sqlite_plain, "sqlite")
def _sqlite_plain(element: sqlite_plain, compiler, **kw) -> str:
    fields = []
    for column in element.clauses:
        if isinstance(column, utc_isoformat):
            fields.append(f"replace({compiler.process(column.clauses, **kw)}, ' ', 'T')")
        elif isinstance(column, csv_text):
            fields.append(compiler.process(column.clauses, **kw))
        else:
            fields.append(compiler.process(column, **kw))
    if len(fields) > 1:
        return f"printf('{','.join(['%s'] * len(fields))}', {', '.join(fields)})"
    nullable = any(getattr(c, "nullable", False) for c in element.clauses.get_children())
    return f"ifnull({fields[0]}, '')" if nullable else fields[0]


@compiles(utc_isoformat, "sqlite")
def _utc_isoformat_sqlite(element: utc_isoformat, compiler, **kw) -> str:
    # Stored naive in UTC as "YYYY-MM-DD HH:MM:SS.ffffff" (SQLAlchemy's SQLite DateTime).
    column = compiler.process(element.clauses, **kw)
    return f"replace(replace({column}, ' ', 'T'), '.000000', '') || '+00:00'"


@compiles(utc_isoformat, "postgresql")
def _utc_isoformat_postgresql(element: utc_isoformat, compiler, **kw) -> str:
    utc = f"(({compiler.process(element.clauses, **kw)}) AT TIME ZONE 'UTC')"
    return f"replace(to_char({utc}, 'YYYY-MM-DD\"T\"HH24:MI:SS.US'), '.000000', '') || '+00:00'"


@compiles(csv_float, "sqlite")
def _csv_float_sqlite(element: csv_float, compiler, **kw) -> str:
    # Formatted in Python; NULL as '', which api.rep_export.rows_csv writes as nothing (orjson
    # would write null, which an infinity also becomes).
    x = compiler.process(element.clauses, **kw)
    return f"ifnull({x}, '')" if next(iter(element.clauses)).nullable else x


@compiles(csv_fields, "sqlite")
def _csv_fields_sqlite(element: csv_fields, compiler, **kw) -> str:
    fields = [f"ifnull({compiler.process(c, **kw)}, '')" for c in element.clauses]
    return " || ',' || ".join(fields)


@compiles(csv_float, "postgresql")
def _csv_float_postgresql(element: csv_float, compiler, **kw) -> str:
    # float8 text is the shortest round-trip digits (extra_float_digits = 1, set by the
    # export), as repr; repr adds ".0" to integral values below 1e16 and writes 1e15..1e16
    # in full, and spells NaN and the infinities nan, inf, -inf. Not matched (no rep holds
    # such values; each still reads back as the same float): a fraction in 1e15..1e16,
    # which PostgreSQL writes with an exponent, and some integers above ~1.8e16, for which
    # it writes 17 digits where repr needs 16.
    x = compiler.process(element.clauses, **kw)
    return (
        f"CASE WHEN {x} <> trunc({x}) THEN {x}::text"
        f" WHEN abs({x}) < 1e15 THEN {x}::text || '.0'"
        f" WHEN abs({x}) < 1e16 THEN {x}::bigint::text || '.0'"
        f" WHEN {x} = 'NaN' THEN 'nan' WHEN {x} = 'Infinity' THEN 'inf'"
        f" WHEN {x} = '-Infinity' THEN '-inf' ELSE {x}::text END"
    )


@compiles(csv_text, "sqlite")
def _csv_text_sqlite(element: csv_text, compiler, **kw) -> str:
    x = compiler.process(element.clauses, **kw)
    return (
        f"CASE WHEN {x} GLOB '*[,\"' || char(10, 13) || ']*'"
        f" THEN '\"' || replace({x}, '\"', '\"\"') || '\"' ELSE {x} END"
    )


@compiles(csv_text, "postgresql")
def _csv_text_postgresql(element: csv_text, compiler, **kw) -> str:
    return f"NULLIF({compiler.process(element.clauses, **kw)}, '')"  # COPY does the quoting


def export_select(columns: Sequence[ColumnElement] | None = None) -> Select:
    """The export's columns (or `columns`) for every rep, unordered: each rep joined to its
    set for the session id (api.rep_export runs it as a nested loop over the batch's reps on
    PostgreSQL, each set's row looked up once)."""
    sets = ExerciseSet.__table__
    reps = Rep.__table__
    chosen = export_columns() if columns is None else columns
    return select(*chosen).select_from(reps.join(sets, sets.c.id == reps.c.set_id))


def export_columns() -> list[ColumnElement]:
    """The export's columns in file order (REP_EXPORT_COLUMNS), each as the CSV writes it."""
    table = Rep.__table__
    columns: list[ColumnElement] = []
    for name in REP_CSV_COLUMNS + REP_CSV_EXTRA_COLUMNS:
        column = table.c[name]
        if name == "quality":
            columns.append(csv_text(quality_with_recording_codes()))
        elif isinstance(column.type, Float):
            columns.append(csv_float(column))
        elif isinstance(column.type, (String, Text)):
            columns.append(csv_text(column))
        elif isinstance(column.type, Boolean):
            columns.append(cast(column, Integer))  # 0/1
        else:
            columns.append(column)
    columns += [
        table.c.id,
        table.c.set_id,
        ExerciseSet.__table__.c.session_id,
        table.c.athlete_id,
        csv_text(table.c.variant),
        utc_isoformat(table.c.performed_at),
    ]
    return columns


def quality_with_recording_codes() -> ColumnElement[str]:
    """The rep's quality codes, then `raw_samples_lost` when its set's findings hold one (some
    of the set's raw samples were never stored: api.storage.lost_samples). The CSV has no
    column for a set's findings; its reps' codes are where a reader of the file looks."""
    quality = Rep.__table__.c.quality
    # Constants written into the SQL, not bound: the COPY and a compiled query's text need
    # no parameters. "/" escapes LIKE's "_" (the finding's JSON as json.dumps writes it).
    pattern = '%"code": "' + RAW_SAMPLES_LOST.replace("_", "/_") + '"%'
    lost = ExerciseSet.__table__.c.findings_json.like(_sql_text(pattern), escape="/")
    with_code = case(
        (quality == _sql_text(""), _sql_text(RAW_SAMPLES_LOST)),
        else_=quality + _sql_text(f";{RAW_SAMPLES_LOST}"),
    )
    return case((lost, with_code), else_=quality)


def _sql_text(value: str) -> ColumnElement[str]:
    """`value` as an SQL string literal (quotes doubled)."""
    return literal_column("'" + value.replace("'", "''") + "'", Text)


def sqlite_plain_columns() -> list[ColumnElement]:
    """The SQLite fast path's columns: floats as `sqlite_export_columns` has them, every run
    of other columns between them as one `sqlite_plain` (22 values a row). The last column is
    the run ending with `performed_at`, whose '.000000' and '+00:00' the batch's text gets."""
    return _runs_between_floats(lambda run: [sqlite_plain(*run)])


def sqlite_export_columns() -> list[ColumnElement]:
    """`export_columns()` with each run of two or more columns between floats joined into one
    text of CSV fields (csv_fields): SQLite's driver takes ~0.2 us to hand over a value
    whatever its type, so a row of 22 values instead of 29 is a quarter less of its time."""
    return _runs_between_floats(lambda run: [csv_fields(*run)] if len(run) > 1 else run)


def _runs_between_floats(
    join: Callable[[list[ColumnElement]], list[ColumnElement]],
) -> list[ColumnElement]:
    """`export_columns()` with each (non-empty) run of columns between floats as `join` has it."""
    columns: list[ColumnElement] = []
    run: list[ColumnElement] = []
    for column in [*export_columns(), None]:
        if column is not None and not isinstance(column, csv_float):
            run.append(column)
            continue
        if run:
            columns += join(run)
        run = []
        if column is not None:
            columns.append(column)
    return columns
