"""Raw-sample CSV export, streamed in bounded memory (the rep export is api.rep_export).

Raw samples: the raw-recording CSV format (sensor_gateway.recording_csv), one file per
sensor, or both in a zip; time in seconds since the set started.
"""

from __future__ import annotations

import io
import zipfile
from collections.abc import Iterator

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session

from api.storage import sets as set_store
from api.storage.models import RawChunk
from api.storage.raw_codec import decode_samples
from api.vocab import Placement
from sensor_gateway.recording_csv import RECORDING_CSV_HEADER


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
