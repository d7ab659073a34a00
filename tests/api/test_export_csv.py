"""The rep CSV export, byte for byte: what `csv.writer` writes for the stored reps taken
through the ORM (RepMetrics' columns with flags as 0/1 and the quality codes joined, the ids,
`performed_at.isoformat()`), on SQLite and PostgreSQL, though the export reads plain tuples
that the database has already formatted (api.export)."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta

from api.export import REP_EXPORT_COLUMNS, ROWS_PER_CHUNK, iter_reps_csv
from api.storage.models import ExerciseSet, Rep
from api.storage.reps import RepFilter
from api.vocab import SetVariant
from tests.api.helpers import store_awkward_reps

STARTED = datetime(2026, 3, 1, 9, 30, 15, tzinfo=UTC)


def _store(database, n_reps: int) -> int:
    return store_awkward_reps(
        database,
        variant=SetVariant.FRONT_SQUAT,
        set_load_kg=40.0,
        started=STARTED,
        n_reps=n_reps,
        # whole seconds, then microseconds: isoformat writes them only if not 0
        performed_at=lambda r: STARTED + timedelta(seconds=3 * r, microseconds=(r % 2) * 1250),
        depth_deg=lambda r: 95.0 + r,
        qualities=["", "low_confidence", "gap,quoted;low_confidence"],
    )


def _expected(database, where: RepFilter) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(REP_EXPORT_COLUMNS)
    with database.sessions() as db:
        for rep in db.query(Rep).order_by(Rep.id):
            if where.athlete_id is not None and rep.athlete_id != where.athlete_id:
                continue
            session_id = db.get(ExerciseSet, rep.set_id).session_id
            values = []
            for name in REP_EXPORT_COLUMNS:
                if name == "rep_id":
                    value = rep.id
                elif name == "session_id":
                    value = session_id
                elif name == "performed_at":
                    value = rep.performed_at.isoformat()
                else:
                    value = getattr(rep, name)
                values.append(int(value) if isinstance(value, bool) else value)
            writer.writerow(values)
    return out.getvalue()


def test_rep_export_is_what_csv_writer_writes_for_the_stored_reps(database) -> None:
    athlete = _store(database, ROWS_PER_CHUNK + 7)  # more than one chunk
    for where in (RepFilter(), RepFilter(athlete_id=athlete), RepFilter(athlete_id=athlete + 1)):
        with database.sessions() as db:
            text = "".join(iter_reps_csv(db, where))
        assert text == _expected(database, where)
        rows = text.count("\n") - 1
        assert rows == (0 if where.athlete_id == athlete + 1 else ROWS_PER_CHUNK + 7)
    with database.sessions() as db:
        text = "".join(iter_reps_csv(db, RepFilter()))
    assert "15+00:00\n" in text and ".001250+00:00\n" in text and '"gap,quoted;' in text
