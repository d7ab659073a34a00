"""The rep CSV export, streamed in bounded memory, one way per database.

Columns: the `winkwatch analyze` columns (fusion.types.REP_CSV_COLUMNS + REP_CSV_EXTRA_COLUMNS,
as RepMetrics.as_row writes them: floats as `repr`, flags 0/1) then REP_EXPORT_ID_COLUMNS.
Text is quoted when it holds a comma, a double quote, CR or LF.

Reps go out in keyset batches of EXPORT_BATCH_ROWS (api.storage.reps.iter_rep_id_ranges),
each read whole before it is yielded: a slow or vanished client holds no statement open on
the server, and closing the generator (a disconnect) ends the export between batches.
PostgreSQL writes each batch itself (COPY ... TO STDOUT WITH (FORMAT csv), the columns
rendered as text by api.rep_export_sql); SQLite returns the batch's rows with the floats as
floats, which orjson formats (the same shortest round-trip digits as repr, at a fraction of
its cost; the few spellings that differ are redone with repr).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from itertools import chain

import orjson
from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from api.rep_export_sql import REP_EXPORT_COLUMNS, export_columns, float_positions
from api.storage.models import Rep
from api.storage.reps import EXPORT_BATCH_ROWS, RepFilter, iter_rep_id_ranges


def iter_reps_csv(
    db: Session, where: RepFilter, batch_rows: int = EXPORT_BATCH_ROWS
) -> Iterator[str]:
    """The reps matching `where` as CSV text, oldest first: the header, then one chunk per
    batch of `batch_rows` reps."""
    write_batch = batch_writer(db)
    yield ",".join(REP_EXPORT_COLUMNS) + "\n"
    write_batch.prepare(db)
    for after_id, upto_id in iter_rep_id_ranges(db, where, batch_rows):
        yield write_batch(db, _batch_query(where, after_id, upto_id))


def batch_writer(db: Session) -> _PostgresBatches | _SqliteBatches:
    """How this database writes a batch of the export (`writer.prepare(db)` first)."""
    return _POSTGRES if db.get_bind().dialect.name == "postgresql" else _SQLITE


def _batch_query(where: RepFilter, after_id: int, upto_id: int) -> Select:
    table = Rep.__table__
    return (
        where.apply(select(*export_columns()))
        .where(table.c.id > after_id, table.c.id <= upto_id)
        .order_by(table.c.id)
    )


class _PostgresBatches:
    """PostgreSQL: the batch's CSV straight from COPY, through psycopg's copy API."""

    @staticmethod
    def prepare(db: Session) -> None:
        # Shortest round-trip float text (the default since PostgreSQL 12; a server set to
        # 0 would write 15 digits), for this export's transaction only.
        db.connection().exec_driver_sql("SET LOCAL extra_float_digits = 1")

    def __call__(self, db: Session, query: Select) -> str:
        connection = db.connection()
        compiled = query.compile(connection)
        driver = connection.connection.driver_connection
        with driver.cursor() as cursor:  # type: ignore[union-attr]
            statement = f"COPY ({compiled}) TO STDOUT WITH (FORMAT csv)"
            with cursor.copy(statement, compiled.params) as copy:
                return b"".join(copy).decode("utf-8")


class _SqliteBatches:
    """SQLite: the batch's rows (text already quoted, booleans 0/1, the time as text), the
    floats formatted by orjson all at once, each row then filled into one format string."""

    def __init__(self) -> None:
        self._floats = float_positions()
        self._line = ",".join(["%s"] * len(export_columns())) + "\n"

    @staticmethod
    def prepare(db: Session) -> None:
        pass

    def __call__(self, db: Session, query: Select) -> str:
        # The driver's own tuples: no column here needs SQLAlchemy's result processing.
        result = db.connection().execute(query)
        rows = result.cursor.fetchall()
        result.close()
        if not rows:
            return ""
        columns: list[Sequence[object]] = list(zip(*rows))
        texts = _float_texts(list(chain.from_iterable(columns[i] for i in self._floats)))
        n = len(rows)
        for k, i in enumerate(self._floats):
            columns[i] = texts[k * n : (k + 1) * n]
        return "".join(map(self._line.__mod__, zip(*columns)))


def _float_texts(values: list) -> list[str]:
    """`values` (floats or None) as the CSV writes them: repr, or empty for None."""
    text = orjson.dumps(values).decode("ascii")[1:-1]
    # orjson writes NaN and the infinities as null and anything not a float or int quoted:
    # those batches go through repr.
    if '"' in text or text.count("null") != values.count(None):
        return ["" if v is None else repr(v) for v in values]
    texts = text.replace("null", "").split(",")
    if "e" in text or "0.0000" in text:  # where orjson's notation differs from repr's
        texts = [repr(float(t)) if "e" in t or "0.0000" in t else t for t in texts]
    return texts


_POSTGRES = _PostgresBatches()
_SQLITE = _SqliteBatches()
