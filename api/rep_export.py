"""The rep CSV export, streamed in bounded memory, one way per database.

Columns: the `winkwatch analyze` columns (fusion.types.REP_CSV_COLUMNS + REP_CSV_EXTRA_COLUMNS,
as RepMetrics.as_row writes them: floats as `repr`, flags 0/1) then REP_EXPORT_ID_COLUMNS.
Text is quoted when it holds a comma, a double quote, CR or LF.

Reps go out in keyset batches of EXPORT_BATCH_ROWS (api.storage.reps.iter_rep_id_ranges),
each read whole before it is yielded: a slow or vanished client holds no statement open on
the server, and closing the generator (a disconnect) ends the export between batches.
PostgreSQL writes each batch itself (COPY ... TO STDOUT WITH (FORMAT csv), the columns
rendered as text by api.rep_export_sql), COPIES_IN_FLIGHT batches at a time on connections
of their own, so the server writes the next batch while this process reads one. SQLite
returns each batch's rows with the floats as floats and each run of other columns between two
floats as one text, its fields joined by commas (22 values a row: the driver's cost is per
value); orjson writes the whole batch as JSON in one call (floats in repr's shortest
round-trip digits), and the JSON becomes CSV by dropping its brackets and quotes. First with
the columns as stored (plain_rows_csv: nothing quoted, `performed_at`'s '+00:00' added at each
row's end), which is exact when no text needed a JSON escape (none holds a quote, CR or LF),
the JSON's commas are just the fields' separators (no text holds one) and it has no `null`
(an infinity, or a text holding the word); a batch failing that is read again with each text
quoted in SQL the CSV way (rows_csv, which falls back to value by value with repr). The float
spellings where orjson and repr differ (exponents, and below 1e-4 written out) are respelled
with repr.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import ExitStack, contextmanager

import orjson
from sqlalchemy import ColumnElement, Compiled, Connection, Engine, Select, bindparam
from sqlalchemy.orm import Session

from api.rep_export_sql import (
    REP_EXPORT_COLUMNS,
    export_select,
    sqlite_export_columns,
    sqlite_plain_columns,
)
from api.storage.models import Rep
from api.storage.reps import EXPORT_BATCH_ROWS, RepFilter, iter_rep_id_ranges

COPIES_IN_FLIGHT = 2  # PostgreSQL batches read at once, each on its own connection and backend


def iter_reps_csv(
    db: Session, where: RepFilter, batch_rows: int = EXPORT_BATCH_ROWS
) -> Iterator[str]:
    """The reps matching `where` as CSV text, oldest first: the header, then one chunk per
    batch of `batch_rows` reps."""
    yield ",".join(REP_EXPORT_COLUMNS) + "\n"
    ranges = iter_rep_id_ranges(db, where, batch_rows)
    if db.get_bind().dialect.name == "postgresql":
        yield from _postgres_batches(db.get_bind().engine, batch_query(where), ranges)
    else:
        plain, quoting = (
            batch_query(where, c()) for c in (sqlite_plain_columns, sqlite_export_columns)
        )
        yield from _sqlite_batches(db, plain, quoting, ranges)


def batch_query(where: RepFilter, columns: Sequence[ColumnElement] | None = None) -> Select:
    """The export's rows (or `columns`) for the reps in (:after_id, :upto_id] that match
    `where`, oldest first."""
    table = Rep.__table__
    return (
        where.apply(export_select(columns))
        .where(table.c.id > bindparam("after_id"), table.c.id <= bindparam("upto_id"))
        .order_by(table.c.id)
    )


def _postgres_batches(
    engine: Engine, query: Select, ranges: Iterator[tuple[int, int]]
) -> Iterator[str]:
    """PostgreSQL: each batch's COPY on the next of COPIES_IN_FLIGHT connections, run in a
    thread (psycopg waits for the server without the GIL); yielded in order. Closing the
    generator waits for the batches in flight, so no statement outlives it."""
    with ExitStack() as stack:
        connections = [
            stack.enter_context(copy_connection(engine)) for _ in range(COPIES_IN_FLIGHT)
        ]
        threads = stack.enter_context(ThreadPoolExecutor(COPIES_IN_FLIGHT, "rep-export"))
        compiled = query.compile(connections[0])
        reading: deque[Future[str]] = deque()
        for k, (after_id, upto_id) in enumerate(ranges):
            if len(reading) == COPIES_IN_FLIGHT:  # frees the connection batch k will use
                yield reading.popleft().result()
            params = {**compiled.params, "after_id": after_id, "upto_id": upto_id}
            connection = connections[k % COPIES_IN_FLIGHT]
            reading.append(threads.submit(copy_csv, connection, compiled, params))
        while reading:
            yield reading.popleft().result()


@contextmanager
def copy_connection(engine: Engine) -> Iterator[Connection]:
    """A PostgreSQL connection set up for the export's COPY, in a transaction of its own that
    ends (and with it the settings) when the connection goes back to the pool."""
    with engine.connect() as connection:
        # Shortest round-trip float text (the default since PostgreSQL 12; a server set to 0
        # would write 15 digits), and each batch's join to its sets as a nested loop, which
        # memoizes the set lookups (8 reps a set); a hash join would hash every set, for 23 %
        # more server time than a subquery a rep.
        connection.exec_driver_sql(
            "SET LOCAL extra_float_digits = 1; SET LOCAL enable_hashjoin = off;"
            " SET LOCAL enable_mergejoin = off"
        )
        yield connection


def copy_csv(connection: Connection, compiled: Compiled, params: Mapping[str, object]) -> str:
    """PostgreSQL: the compiled query's CSV straight from COPY, through psycopg's copy API."""
    driver = connection.connection.driver_connection
    statement = f"COPY ({compiled}) TO STDOUT WITH (FORMAT csv)"
    with driver.cursor() as cursor, cursor.copy(statement, params) as copy:  # type: ignore[union-attr]
        return b"".join(copy).decode("utf-8")


def _sqlite_batches(
    db: Session, plain: Select, quoting: Select, ranges: Iterator[tuple[int, int]]
) -> Iterator[str]:
    """SQLite: each batch's rows as the driver's own tuples (no column here needs
    SQLAlchemy's result processing): the plain columns written by plain_rows_csv, or when a
    text of the batch needs quoting (or any other check fails) the batch again with the
    quoting columns, written by rows_csv."""
    connection = db.connection()
    for after_id, upto_id in ranges:
        params = {"after_id": after_id, "upto_id": upto_id}
        text = plain_rows_csv(_fetch(connection, plain, params))
        yield text if text is not None else rows_csv(_fetch(connection, quoting, params))


def _fetch(connection: Connection, query: Select, params: Mapping[str, object]) -> Sequence[tuple]:
    result = connection.execute(query, params)
    rows = result.cursor.fetchall()
    result.close()
    return rows


PLAIN_FIELDS = len(REP_EXPORT_COLUMNS)
_ISO_END, _ISO_WHOLE_SECONDS = b"+00:00\n", b".000000+00:00\n"


def plain_rows_csv(rows: Sequence[tuple]) -> str | None:
    """`rows` of `sqlite_plain_columns` as CSV lines, or None when a text would need quoting
    (or another check fails). orjson writes the batch as JSON as in rows_csv; no text
    needed a JSON escape (no quote, CR, LF or control character), the JSON holds no null
    (infinity, NULL, the word) and its commas are exactly the fields' separators (no text
    holds one), so every quote and bracket pair is the JSON's own and each row ends with its
    `performed_at`, which gets '+00:00' there, without '.000000' (as utc_isoformat)."""
    if not rows:
        return ""
    text = orjson.dumps(rows)
    if (
        b"\\" in text
        or b"null" in text
        or text.count(b",") != PLAIN_FIELDS * len(rows) - 1
        or not text.endswith(b'"]]')
    ):
        return None
    if b"e-" in text or b"e+" in text or b"0.0000" in text:
        text = _respelled(text)
    text = text[2:-3].replace(b'"],[', _ISO_END) + _ISO_END
    text = text.replace(_ISO_WHOLE_SECONDS, _ISO_END).replace(b'"', b"")
    return text.decode("utf-8")


def rows_csv(rows: Sequence[tuple]) -> str:
    """`rows` (text already CSV fields, floats as floats, '' or None for NULL) as CSV lines."""
    if not rows:
        return ""
    text = orjson.dumps(rows)
    # A backslash: a text needed a JSON escape (it is quoted, or holds a control character).
    # A null: an infinity (or NaN), which orjson writes as null, a None, or a text holding
    # the word; written value by value.
    if b"\\" in text or b"null" in text:
        return "".join(",".join(map(_csv_field, row)) + "\n" for row in rows)
    if b"e-" in text or b"e+" in text or b"0.0000" in text:
        text = _respelled(text)
    # Only numbers and unquoted CSV fields are left: every bracket pair and quote is the
    # JSON's own, and so is every comma outside the texts.
    text = text[2:-2].replace(b"],[", b"\n").replace(b'"', b"")
    return text.decode("utf-8") + "\n"


def _csv_field(value: object) -> str:
    if value is None:
        return ""
    return repr(value) if isinstance(value, float) else str(value)


def _respelled(text: bytes) -> bytes:
    """orjson's JSON with each float it spells unlike repr (an exponent, or written out below
    1e-4) respelled as repr. No text here holds a quote (none needed an escape), so a marker
    after an even number of quotes is outside the texts, and there a field starting with a
    digit or "-" is a number."""
    spans: dict[int, int] = {}
    for marker in (b"e-", b"e+", b"0.0000"):
        found, counted, quotes = text.find(marker), 0, 0
        while found >= 0:
            quotes += text.count(b'"', counted, found)
            counted = found
            start = max(text.rfind(b",", 0, found), text.rfind(b"[", 0, found)) + 1
            end = min(i for i in (text.find(b",", found), text.find(b"]", found)) if i >= 0)
            if quotes % 2 == 0 and text[start] in _NUMBER_STARTS:
                spans[start] = end
            found = text.find(marker, end)
    pieces, done = [], 0
    for start in sorted(spans):
        pieces += [text[done:start], repr(float(text[start : spans[start]])).encode("ascii")]
        done = spans[start]
    pieces.append(text[done:])
    return b"".join(pieces)


_NUMBER_STARTS = frozenset(b"-0123456789")
