"""The rep CSV export, byte for byte: what `csv.writer` writes for the stored reps taken
through the ORM (RepMetrics' columns with flags as 0/1 and the quality codes joined, the ids,
`performed_at.isoformat()`), on SQLite and PostgreSQL, though the export reads plain tuples
that the database has already formatted (api.export)."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta

from api.export import REP_EXPORT_COLUMNS, ROWS_PER_CHUNK, iter_reps_csv
from api.storage import catalog
from api.storage import sets as set_store
from api.storage.models import ExerciseSet, Rep
from api.storage.reps import RepFilter
from api.vocab import SetVariant

STARTED = datetime(2026, 3, 1, 9, 30, 15, tzinfo=UTC)


def _store(database, n_reps: int) -> int:
    with database.sessions.begin() as db:
        athlete = catalog.create_athlete(db, "Ada").id
        exercise_set = set_store.start_set(
            db, athlete, SetVariant.FRONT_SQUAT, load_kg=40.0, started_at=STARTED
        )
        rows = []
        for r in range(n_reps):
            winked = r % 3 == 0
            rows.append(
                dict(
                    set_id=exercise_set.id,
                    athlete_id=athlete,
                    variant=SetVariant.FRONT_SQUAT.value,
                    # whole seconds, then microseconds: isoformat writes them only if not 0
                    performed_at=STARTED + timedelta(seconds=3 * r, microseconds=(r % 2) * 1250),
                    rep=r + 1,
                    start_s=0.1 + 0.2 * r,
                    bottom_s=1 / 3 + r,
                    end_s=2.0 + r,
                    depth_deg=95.0 + r,
                    hip_flexion_max_deg=1e-7 * (r + 1),
                    pelvic_tilt_peak_deg=-0.0 if r == 0 else 12.5,
                    pelvic_tilt_bottom_deg=123456789.125,
                    wink_deg=5.0 * (r % 4),
                    wink_onset_depth_deg=88.8 if winked else None,
                    butt_wink=winked,
                    load_kg=None if r % 2 else 62.5,
                    loaded_wink=winked and r % 2 == 0,
                    wink_onset_s=0.7 if winked else None,
                    descent_s=1.0,
                    ascent_s=1.25,
                    quality=["", "low_confidence", "gap,quoted;low_confidence"][r % 3],
                    wink_threshold_deg=4.2,
                    threshold_source="personal" if r % 2 else "default",
                    baseline_reps=r,
                    wink_grade="mild" if winked else "none",
                    rhythm_lag_deg=None if r % 5 else -3.75,
                )
            )
        db.execute(Rep.__table__.insert(), rows)
    return athlete


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
