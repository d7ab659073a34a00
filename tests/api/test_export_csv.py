"""The rep CSV export, byte for byte: what `csv.writer` writes for the stored reps taken
through the ORM (RepMetrics' columns with flags as 0/1 and the quality codes joined, the ids,
`performed_at.isoformat()`; a field with a CR quoted too), on SQLite and PostgreSQL, though
PostgreSQL writes it with COPY and SQLite's floats go through orjson (api.rep_export)."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta

from sqlalchemy import update

from api.rep_export import iter_reps_csv
from api.rep_export_sql import REP_EXPORT_COLUMNS
from api.storage.models import ExerciseSet, Rep
from api.storage.reps import RepFilter
from api.vocab import SetVariant
from tests.api.helpers import store_awkward_reps

STARTED = datetime(2026, 3, 1, 9, 30, 15, tzinfo=UTC)
BATCH_ROWS = 400  # several batches in the tests; the export's own is larger
# Floats whose repr is awkward to reach another way: exponents, 1e15..1e16 written in full,
# the smallest subnormal, infinities (and NaN, which SQLite stores as NULL). Not a fraction
# in 1e15..1e16: PostgreSQL writes those with an exponent (api.rep_export_sql.csv_float).
AWKWARD_FLOATS = [1e-05, 1.5e-07, 1e15, 9007199254740993.0, 1e16, 1.25e300, 5e-324, -2.5e-310]
AWKWARD_FLOATS += [float("inf"), -float("inf"), float("nan")]
AWKWARD_TEXTS = ['say "hi"', "two\nlines", "cr\ronly", "a,b", ""]


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


def _csv_line(values: list) -> str:
    """One row as csv.writer writes it, a lone CR counting as a line break (quoted)."""
    out = io.StringIO()
    csv.writer(out, lineterminator="\r\n").writerow(values)
    return out.getvalue()[:-2] + "\n"


def _expected(database, where: RepFilter) -> str:
    lines = [_csv_line(list(REP_EXPORT_COLUMNS))]
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
            lines.append(_csv_line(values))
    return "".join(lines)


def _store_awkward_values(database) -> None:
    """Rep k (k = 1, 2, ...) gets AWKWARD_FLOATS[k - 1] (NaN in a nullable column only:
    SQLite stores it as NULL) and a text from AWKWARD_TEXTS."""
    table = Rep.__table__
    with database.sessions.begin() as db:
        for k, value in enumerate(AWKWARD_FLOATS, start=1):
            db.execute(
                update(table)
                .where(table.c.id == k)
                .values(start_s=value if value == value else 0.5, load_kg=-value)
            )
        for k, value in enumerate(AWKWARD_TEXTS, start=1):
            db.execute(update(table).where(table.c.id == k).values(quality=value, wink_grade=value))


def test_rep_export_is_what_csv_writer_writes_for_the_stored_reps(database) -> None:
    n_reps = 2 * BATCH_ROWS + 7  # three batches
    athlete = _store(database, n_reps)
    _store_awkward_values(database)
    for where in (RepFilter(), RepFilter(athlete_id=athlete), RepFilter(athlete_id=athlete + 1)):
        with database.sessions() as db:
            chunks = list(iter_reps_csv(db, where, batch_rows=BATCH_ROWS))
        text = "".join(chunks)
        assert text == _expected(database, where)
        rows = len(list(csv.reader(io.StringIO(text, newline="")))) - 1
        assert rows == (0 if where.athlete_id == athlete + 1 else n_reps)
        assert len(chunks) == (1 if where.athlete_id == athlete + 1 else 4)  # header, batches
    with database.sessions() as db:
        text = "".join(iter_reps_csv(db, RepFilter()))
    assert "15+00:00\n" in text and ".001250+00:00\n" in text and '"gap,quoted;' in text
    assert ",1e-05," in text and ",1000000000000000.0," in text and ',"cr\ronly",' in text
    assert ",inf," in text and ",-inf," in text and ',"say ""hi""",' in text


def test_an_export_closed_midway_leaves_no_statement_running(database) -> None:
    """A client that disconnects closes the generator between batches: each batch was read
    whole, so nothing is left running on the server and the session carries on."""
    _store(database, 3 * BATCH_ROWS)
    with database.sessions() as db:
        chunks = iter_reps_csv(db, RepFilter(), batch_rows=BATCH_ROWS)
        next(chunks), next(chunks)  # the header and the first batch
        chunks.close()
        if db.get_bind().dialect.name == "postgresql":
            running = db.connection().exec_driver_sql(
                "SELECT count(*) FROM pg_stat_activity WHERE state = 'active' "
                "AND left(query, 4) = 'COPY' AND datname = current_database()"
            )
            assert running.scalar_one() == 0
        assert db.query(Rep).count() == 3 * BATCH_ROWS
