"""The rep CSV export, streamed in bounded memory, one way per database.

Columns: the `winkwatch analyze` columns (fusion.types.REP_CSV_COLUMNS + REP_CSV_EXTRA_COLUMNS,
as RepMetrics.as_row writes them: floats as `repr`, flags 0/1) then REP_EXPORT_ID_COLUMNS.
Text is quoted when it holds a comma, a double quote, CR or LF.

Reps go out in keyset batches of EXPORT_BATCH_ROWS (api.storage.reps.iter_rep_id_ranges),
each read whole before it is yielded: a slow or vanished client holds no statement open on
the server, and closing the generator (a disconnect) ends the export between batches.
PostgreSQL writes each batch itself (COPY ... TO STDOUT WITH (FORMAT csv), the columns
rendered as text by api.rep_export_sql). SQLite renders every column but the floats as its
CSV text and returns the batch's rows with the floats as floats; orjson writes the whole
batch as JSON in one call (floats in repr's shortest round-trip digits), and the JSON
becomes CSV by dropping its brackets and quotes (rows_csv). That is exact when no text
needed a JSON escape (so none holds a comma, a quote, CR or LF) and every `null` is a NULL;
the float spellings where orjson and repr differ (exponents, and below 1e-4 written out)
are respelled with repr. A batch that fails the check (a quoted text, an infinity) is
written value by value with repr instead.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence

import orjson
from sqlalchemy import Select
from sqlalchemy.orm import Session

from api.rep_export_sql import REP_EXPORT_COLUMNS, export_select
from api.storage.models import Rep
from api.storage.reps import EXPORT_BATCH_ROWS, RepFilter, iter_rep_id_ranges


def iter_reps_csv(
    db: Session, where: RepFilter, batch_rows: int = EXPORT_BATCH_ROWS
) -> Iterator[str]:
    """The reps matching `where` as CSV text, oldest first: the header, then one chunk per
    batch of `batch_rows` reps."""
    write_batch = batch_writer(db)
    yield ",".join(REP_EXPORT_COLUMNS) + "\n"
    for after_id, upto_id in iter_rep_id_ranges(db, where, batch_rows):
        yield write_batch(db, batch_query(where, after_id, upto_id))


def batch_writer(db: Session) -> Callable[[Session, Select], str]:
    """How this database writes a batch of the export, as CSV text."""
    if db.get_bind().dialect.name == "postgresql":
        # For this export's transaction only: shortest round-trip float text (the default
        # since PostgreSQL 12; a server set to 0 would write 15 digits), and each batch's
        # join to its sets as a nested loop, which memoizes the set lookups (8 reps a set);
        # a hash join would hash every set, for 23 % more server time than a subquery a rep.
        db.connection().exec_driver_sql(
            "SET LOCAL extra_float_digits = 1; SET LOCAL enable_hashjoin = off;"
            " SET LOCAL enable_mergejoin = off"
        )
        return _postgres_copy
    return _sqlite_rows_csv


def batch_query(where: RepFilter, after_id: int, upto_id: int) -> Select:
    """The export's rows for the reps in (after_id, upto_id] that match `where`."""
    table = Rep.__table__
    return (
        where.apply(export_select())
        .where(table.c.id > after_id, table.c.id <= upto_id)
        .order_by(table.c.id)
    )


def _postgres_copy(db: Session, query: Select) -> str:
    """PostgreSQL: the batch's CSV straight from COPY, through psycopg's copy API."""
    connection = db.connection()
    compiled = query.compile(connection)
    driver = connection.connection.driver_connection
    with driver.cursor() as cursor:  # type: ignore[union-attr]
        statement = f"COPY ({compiled}) TO STDOUT WITH (FORMAT csv)"
        with cursor.copy(statement, compiled.params) as copy:
            return b"".join(copy).decode("utf-8")


def _sqlite_rows_csv(db: Session, query: Select) -> str:
    """SQLite: the batch's rows as the driver's own tuples (no column here needs
    SQLAlchemy's result processing), written by rows_csv."""
    result = db.connection().execute(query)
    rows = result.cursor.fetchall()
    result.close()
    return rows_csv(rows)


def rows_csv(rows: Sequence[tuple]) -> str:
    """`rows` (text already CSV-quoted, floats as floats, None for NULL) as CSV lines."""
    if not rows:
        return ""
    text = orjson.dumps(rows)
    # A backslash: a text needed a JSON escape (it is quoted, or holds a control character).
    # More nulls than NULLs: NaN or an infinity, which orjson writes as null.
    if b"\\" in text or text.count(b"null") != sum(row.count(None) for row in rows):
        return "".join(",".join(map(_csv_field, row)) + "\n" for row in rows)
    if b"e-" in text or b"e+" in text or b"0.0000" in text:
        text = _respelled(text)
    # Only numbers, nulls and unquoted text without commas are left: every comma, bracket
    # pair, quote and null is the JSON's own.
    text = text[2:-2].replace(b"],[", b"\n").replace(b"null", b"").replace(b'"', b"")
    return text.decode("utf-8") + "\n"


def _csv_field(value: object) -> str:
    if value is None:
        return ""
    return repr(value) if isinstance(value, float) else str(value)


def _respelled(text: bytes) -> bytes:
    """orjson's JSON with each float it spells unlike repr (an exponent, or written out below
    1e-4) respelled as repr. Every text here is quoted in the JSON and holds no comma, so a
    field starting with a digit or "-" is a number."""
    spans: dict[int, int] = {}
    for marker in (b"e-", b"e+", b"0.0000"):
        found = text.find(marker)
        while found >= 0:
            start = max(text.rfind(b",", 0, found), text.rfind(b"[", 0, found)) + 1
            end = min(i for i in (text.find(b",", found), text.find(b"]", found)) if i >= 0)
            if text[start] in _NUMBER_STARTS:
                spans[start] = end
            found = text.find(marker, end)
    pieces, done = [], 0
    for start in sorted(spans):
        pieces += [text[done:start], repr(float(text[start : spans[start]])).encode("ascii")]
        done = spans[start]
    pieces.append(text[done:])
    return b"".join(pieces)


_NUMBER_STARTS = frozenset(b"-0123456789")
