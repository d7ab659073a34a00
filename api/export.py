"""CSV export, streamed in bounded memory.

Reps: the `winkwatch analyze` columns (fusion.types.REP_CSV_COLUMNS + REP_CSV_EXTRA_COLUMNS,
same order and encoding as RepMetrics.as_row) followed by REP_EXPORT_ID_COLUMNS.
Raw samples: the raw-recording CSV format (sensor_gateway.recording_csv), one file per
sensor, or both in a zip; time in seconds since the set started.
"""

from __future__ import annotations

import csv
import io
import zipfile
from collections.abc import Iterable, Iterator
from itertools import islice

import numpy as np
from sqlalchemy import ColumnElement, Integer, String, cast, select
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import Session
from sqlalchemy.sql.functions import FunctionElement

from api.storage import sets as set_store
from api.storage.models import ExerciseSet, RawChunk, Rep
from api.storage.raw_codec import decode_samples
from api.storage.reps import RepFilter, iter_rep_tuples
from api.vocab import Placement
from fusion.types import REP_CSV_COLUMNS, REP_CSV_EXTRA_COLUMNS
from sensor_gateway.recording_csv import RECORDING_CSV_HEADER

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
ROWS_PER_CHUNK = 1000  # CSV rows per yielded text chunk
_BOOL_COLUMNS = ("butt_wink", "loaded_wink")


class utc_isoformat(FunctionElement[str]):
    """A UTC timestamp column as `datetime.isoformat()` writes it, from the database itself
    ("2026-03-01T09:30:15+00:00", microseconds only when not zero): no parsing into a
    datetime and formatting back per row, a fifth of the export's time."""

    type = String()
    inherit_cache = True


@compiles(utc_isoformat, "sqlite")
def _utc_isoformat_sqlite(element: utc_isoformat, compiler, **kw) -> str:
    # Stored naive in UTC as "YYYY-MM-DD HH:MM:SS.ffffff" (SQLAlchemy's SQLite DateTime).
    column = compiler.process(element.clauses, **kw)
    return f"replace(replace({column}, ' ', 'T'), '.000000', '') || '+00:00'"


@compiles(utc_isoformat, "postgresql")
def _utc_isoformat_postgresql(element: utc_isoformat, compiler, **kw) -> str:
    utc = f"(({compiler.process(element.clauses, **kw)}) AT TIME ZONE 'UTC')"
    return (
        f"to_char({utc}, 'YYYY-MM-DD\"T\"HH24:MI:SS') || CASE WHEN to_char({utc}, 'US') = "
        f"'000000' THEN '' ELSE '.' || to_char({utc}, 'US') END || '+00:00'"
    )


def _export_columns() -> list[ColumnElement]:
    """The export's columns in file order, each as the CSV writes it: booleans as 0/1 and
    the timestamp as ISO 8601 text, from the database itself."""
    table = Rep.__table__
    columns: list[ColumnElement] = [
        cast(table.c[name], Integer) if name in _BOOL_COLUMNS else table.c[name]
        for name in REP_CSV_COLUMNS + REP_CSV_EXTRA_COLUMNS
    ]
    columns += [
        table.c.id,
        table.c.set_id,
        ExerciseSet.__table__.c.session_id,
        table.c.athlete_id,
        table.c.variant,
        utc_isoformat(table.c.performed_at),
    ]
    return columns


def iter_reps_csv(db: Session, where: RepFilter) -> Iterator[str]:
    """The reps matching `where` as CSV text, header first, a few thousand rows per chunk.

    Rows come from the database as tuples in file order, already as the CSV writes them, and
    go to `csv.writer` as they are (None is written empty, floats as repr).
    """
    columns = _export_columns()
    id_position = len(REP_CSV_COLUMNS + REP_CSV_EXTRA_COLUMNS)
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(REP_EXPORT_COLUMNS)
    rows = iter_rep_tuples(db, where, columns, id_position)
    while batch := list(islice(rows, ROWS_PER_CHUNK)):
        writer.writerows(batch)
        yield _drain(buffer)
    if buffer.tell():
        yield _drain(buffer)  # the header of an empty export


def _drain(buffer: io.StringIO) -> str:
    text = buffer.getvalue()
    buffer.seek(0)
    buffer.truncate()
    return text


def iter_raw_csv(db: Session, set_id: int, placement: Placement) -> Iterator[str]:
    """One sensor's raw samples of a set in the raw-recording CSV format, chunk by chunk."""
    set_store.get_set(db, set_id)
    yield ",".join(RECORDING_CSV_HEADER) + "\n"
    last_t_s = -np.inf
    chunk_ids = list(
        db.scalars(
            select(RawChunk.id)
            .where(RawChunk.set_id == set_id, RawChunk.placement == Placement(placement).value)
            .order_by(RawChunk.chunk_index, RawChunk.id)
        )
    )
    for chunk_id in chunk_ids:
        chunk = db.get_one(RawChunk, chunk_id)
        t_s, acc, gyr = decode_samples(chunk.payload, chunk.n_samples, chunk.codec)
        db.expunge(chunk)
        keep = t_s > np.maximum.accumulate(np.concatenate([[last_t_s], t_s[:-1]]))
        if not keep.any():
            continue
        last_t_s = max(last_t_s, float(t_s[keep][-1]))
        text = io.StringIO()
        np.savetxt(
            text, np.column_stack([t_s[keep], acc[keep], gyr[keep]]), delimiter=",", fmt="%.9g"
        )
        yield text.getvalue()


class _Pipe(io.RawIOBase):
    """A write-only, unseekable sink whose bytes are collected and handed out by `take`."""

    def __init__(self) -> None:
        self._parts: list[bytes] = []

    def writable(self) -> bool:
        return True

    def write(self, data) -> int:
        self._parts.append(bytes(data))
        return len(data)

    def take(self) -> bytes:
        data = b"".join(self._parts)
        self._parts.clear()
        return data


def iter_raw_zip(db: Session, set_id: int) -> Iterator[bytes]:
    """A zip of `set<ID>_<placement>.csv` for every sensor of the set, streamed."""
    set_store.get_set(db, set_id)
    pipe = _Pipe()
    with zipfile.ZipFile(pipe, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for placement in set_store.raw_placements(db, set_id):
            with archive.open(f"set{set_id}_{placement.value}.csv", "w") as member:
                for text in iter_raw_csv(db, set_id, placement):
                    member.write(text.encode("utf-8"))
                    yield pipe.take()
    yield pipe.take()


def encode_text(chunks: Iterable[str]) -> Iterator[bytes]:
    for chunk in chunks:
        yield chunk.encode("utf-8")
