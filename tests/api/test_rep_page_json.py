"""The rep list's page is written straight from Core rows (api.http.routes.reps): byte for
byte what pydantic writes for the same stored reps through `Page[RepPublic]`, on SQLite and
PostgreSQL, for the awkward values (None, codes, microseconds, floats without a short form)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from pydantic import TypeAdapter

from api.http.routes.reps import _rep_page_json
from api.http.schemas import Page, RepPublic
from api.storage import catalog
from api.storage import sets as set_store
from api.storage.models import Rep
from api.storage.reps import RepFilter, list_reps
from api.vocab import SetVariant

PAGE = TypeAdapter(Page[RepPublic])
STARTED = datetime(2026, 3, 1, 9, 30, 15, 250000, tzinfo=UTC)


def _store(database) -> int:
    with database.sessions.begin() as db:
        athlete = catalog.create_athlete(db, "Ada").id
        exercise_set = set_store.start_set(
            db, athlete, SetVariant.BOX_SQUAT, load_kg=None, started_at=STARTED
        )
        rows = []
        for r in range(12):
            winked = r % 3 == 0
            rows.append(
                dict(
                    set_id=exercise_set.id,
                    athlete_id=athlete,
                    variant=SetVariant.BOX_SQUAT.value,
                    performed_at=STARTED + timedelta(seconds=3.000001 * r),
                    rep=r + 1,
                    start_s=0.1 + 0.2 * r,
                    bottom_s=1 / 3 + r,
                    end_s=2.0 + r,
                    depth_deg=95.123456789012345 + r,
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
                    quality=["", "low_confidence", "gap;low_confidence", ";gap;"][r % 4],
                    wink_threshold_deg=4.2,
                    threshold_source="personal" if r % 2 else "default",
                    baseline_reps=r,
                    wink_grade="mild" if winked else "none",
                    rhythm_lag_deg=None if r % 5 else -3.75,
                )
            )
        db.execute(Rep.__table__.insert(), rows)
    return athlete


def test_rep_page_is_what_pydantic_writes(database) -> None:
    athlete = _store(database)
    for where, cursor, limit in [
        (RepFilter(), None, 100),
        (RepFilter(athlete_id=athlete), None, 5),  # a next_cursor
        (RepFilter(athlete_id=athlete, butt_wink=True), None, 100),
        (RepFilter(athlete_id=athlete), 7, 3),
        (RepFilter(athlete_id=athlete + 1), None, 100),  # empty
    ]:
        body = _rep_page_json(database, where, cursor, limit)
        with database.sessions() as db:
            page = list_reps(db, where, cursor, limit)  # ORM objects, validated by pydantic
            expected = PAGE.dump_json(
                Page[RepPublic](
                    items=[RepPublic.model_validate(rep) for rep in page.items],
                    next_cursor=page.next_cursor,
                )
            )
        assert body == expected
        assert PAGE.validate_json(body).next_cursor == page.next_cursor
