"""Storage: schema from migrations, raw-sample codec, sets and crash recovery, rep queries."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from api.errors import ConflictError, NotFoundError
from api.storage import catalog
from api.storage import reps as rep_store
from api.storage import sets as set_store
from api.storage.db import open_database
from api.storage.models import Base
from api.storage.raw_codec import RawCodecError, decode_samples, encode_samples
from api.vocab import Placement, SetStatus, SetVariant
from tests.api.helpers import metrics


def test_migrations_build_exactly_the_models(database) -> None:
    with database.engine.connect() as connection:
        diff = compare_metadata(MigrationContext.configure(connection), Base.metadata)
    assert diff == []


def test_sqlite_runs_in_wal_mode(tmp_path) -> None:
    database = open_database(f"sqlite:///{tmp_path / 'sub' / 'w.db'}")
    with database.engine.connect() as connection:
        assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
    database.dispose()


def test_upgrade_twice_is_harmless(db_target) -> None:
    open_database(db_target.url, db_target.schema).dispose()
    open_database(db_target.url, db_target.schema).dispose()


def test_migration_0016_gives_old_reps_their_uncertainty_where_the_columns_tell_it(
    db_target,
) -> None:
    """Reps stored before 0016 get u where the stored columns pin it down and their grade
    agrees with it (1 deg without a usable baseline; the athlete's current baseline where it
    reproduces the stored personal threshold), NULL otherwise."""
    from dataclasses import replace

    from sqlalchemy import select, text

    from api.storage.db import create_db_engine, upgrade_schema
    from api.storage.models import Rep

    engine = create_db_engine(db_target.url, db_target.schema)
    upgrade_schema(engine, "0015")
    old = open_database(db_target.url, db_target.schema, upgrade=False)
    centre_deg, spread_deg = 2.0, 0.5
    personal_deg = centre_deg + 1.5 * np.hypot(spread_deg, 2.0)
    cases = {  # rep number: (threshold_deg, source, baseline_reps, wink_deg, stored grade, u)
        1: (5.0, "default", 0, 5.6, "borderline", 1.0),
        2: (5.0, "default", 3, 2.0, "none", 1.0),
        3: (5.0, "default", 0, 5.7, "clear", None),  # graded with the 0.5-deg band before
        4: (personal_deg, "personal", 6, 6.0, "clear", np.hypot(1.2 * spread_deg, 0.32)),
        5: (personal_deg + 0.4, "personal", 6, 6.0, "clear", None),  # an earlier baseline
        6: (personal_deg, "personal", 8, 6.0, "clear", None),  # another rep count
        7: (5.0, "default", 6, 9.0, "clear", None),  # the spread is not on the rep
    }
    with old.sessions.begin() as db:
        athlete = catalog.create_athlete(db, "Old")
        athlete.baseline_centre_deg, athlete.baseline_spread_deg = centre_deg, spread_deg
        athlete.baseline_reps = 6
        exercise_set = set_store.start_set(db, athlete.id, SetVariant.BACK_SQUAT)
        rows = []
        for rep, (threshold_deg, source, baseline_reps, wink_deg, grade, _) in cases.items():
            row = set_store.rep_row(
                exercise_set,
                replace(
                    metrics(rep, wink_deg=wink_deg),
                    wink_threshold_deg=float(threshold_deg),
                    threshold_source=source,
                    baseline_reps=baseline_reps,
                    wink_grade=grade,
                ),
            )
            del row["wink_uncertainty_deg"]  # not a column before 0016
            rows.append(row)
        db.execute(Rep.__table__.insert(), rows)
    old.dispose()
    upgrade_schema(engine)
    with engine.connect() as connection:
        got = dict(connection.execute(select(Rep.rep, Rep.wink_uncertainty_deg)).all())
        assert connection.execute(text("SELECT count(*) FROM reps")).scalar() == len(cases)
    engine.dispose()
    for rep, case in cases.items():
        expected = case[-1]
        assert got[rep] == (None if expected is None else pytest.approx(expected)), rep


def test_raw_codec_round_trip_is_float32_exact_and_compact() -> None:
    rng = np.random.default_rng(3)
    n = 2000
    t_s = 12.0 + np.arange(n) / 200.0 + rng.normal(0, 1e-5, n)
    # 16-bit sensor readings scaled to SI units, like real hardware delivers.
    acc = rng.integers(-4000, 4000, (n, 3)) * (16 * 9.80665 / 32768)
    gyr = rng.integers(-3000, 3000, (n, 3)) * np.deg2rad(2000 / 32768)
    payload = encode_samples(t_s, acc, gyr)
    t_back, acc_back, gyr_back = decode_samples(payload, n)
    np.testing.assert_array_equal(t_back, t_s)
    np.testing.assert_allclose(acc_back, acc, rtol=1e-7)
    np.testing.assert_allclose(gyr_back, gyr, rtol=1e-7)
    assert len(payload) < n * 7 * 8 / 2  # well under half of float64 rows


def test_raw_codec_rejects_damaged_payload() -> None:
    payload = encode_samples(np.arange(10.0), np.zeros((10, 3)), np.zeros((10, 3)))
    with pytest.raises(RawCodecError, match="damaged"):
        decode_samples(payload[:-5], 10)
    with pytest.raises(RawCodecError, match="expected"):
        decode_samples(payload, 11)
    with pytest.raises(RawCodecError, match="unknown"):
        decode_samples(payload, 10, codec="lz4")


def test_set_lifecycle_and_conflicts(database) -> None:
    with database.sessions.begin() as db:
        athlete = catalog.create_athlete(db, "Ana")
        first = set_store.start_set(
            db, athlete.id, SetVariant.GOBLET_SQUAT, load_kg=24, gateway_id="gw1"
        )
        with pytest.raises(ConflictError, match="already recording"):
            set_store.start_set(db, athlete.id, SetVariant.BACK_SQUAT)
        set_store.finish_set(db, first.id)
        with pytest.raises(ConflictError, match="already completed"):
            set_store.finish_set(db, first.id)
        second = set_store.start_set(db, athlete.id, SetVariant.BACK_SQUAT, gateway_id="gw1")
        assert second.session_id == first.session_id  # same open session
        other = catalog.create_athlete(db, "Ben")
        foreign = set_store.start_set(db, other.id, SetVariant.BACK_SQUAT, gateway_id="gw2")
        with pytest.raises(NotFoundError, match="set 999"):
            set_store.get_set(db, 999)
    with database.sessions.begin() as db:
        assert set_store.mark_interrupted(db, "gw1") == [second.id]
    with database.sessions.begin() as db:
        assert set_store.get_set(db, second.id).status == SetStatus.INTERRUPTED.value
        assert set_store.get_set(db, foreign.id).status == SetStatus.RECORDING.value


def test_assigning_a_placement_moves_it(database) -> None:
    with database.sessions.begin() as db:
        athlete = catalog.create_athlete(db, "Ana")
        old = catalog.register_sensor(db, "AA:00", "witmotion")
        new = catalog.register_sensor(db, "AA:01", "witmotion")
        catalog.assign_sensor(db, old.id, athlete.id, Placement.SACRUM)
        catalog.assign_sensor(db, new.id, athlete.id, Placement.SACRUM)
        assert old.athlete_id is None and old.placement is None
        assert catalog.sensors_of_athlete(db, athlete.id) == {Placement.SACRUM: new}


def _store_reps(database, per_variant: dict[SetVariant, list], day0: datetime) -> dict:
    ids = {}
    with database.sessions.begin() as db:
        athlete = catalog.create_athlete(db, "Ana")
        other = catalog.create_athlete(db, "Ben")
        for day, (variant, reps) in enumerate(per_variant.items()):
            exercise_set = set_store.start_set(
                db, athlete.id, variant, started_at=day0 + timedelta(days=day)
            )
            set_store.add_reps(db, exercise_set, reps)
            set_store.finish_set(db, exercise_set.id)
            ids[variant] = exercise_set.id
        noise = set_store.start_set(db, other.id, SetVariant.BACK_SQUAT, started_at=day0)
        set_store.add_reps(db, noise, [metrics(i, onset_deg=50.0) for i in range(1, 4)])
        ids["athlete"] = athlete.id
    return ids


def test_rep_filters_and_pagination(database) -> None:
    day0 = datetime(2026, 3, 1, 9, tzinfo=UTC)
    ids = _store_reps(
        database,
        {
            SetVariant.BACK_SQUAT: [
                metrics(i, start_s=3.0 * i, onset_deg=95.0 if i % 2 else None) for i in range(1, 11)
            ],
            SetVariant.GOBLET_SQUAT: [metrics(i, start_s=3.0 * i) for i in range(1, 6)],
        },
        day0,
    )
    with database.sessions() as db:
        athlete = ids["athlete"]
        all_reps = rep_store.RepFilter(athlete_id=athlete)
        seen, cursor = [], None
        while True:
            page = rep_store.list_reps(db, all_reps, cursor=cursor, limit=4)
            seen += [rep.id for rep in page.items]
            cursor = page.next_cursor
            if cursor is None:
                break
        assert len(seen) == 15 and len(set(seen)) == 15 and seen == sorted(seen, reverse=True)
        flagged = rep_store.list_reps(
            db, rep_store.RepFilter(athlete_id=athlete, butt_wink=True), limit=100
        )
        assert sorted(r.rep for r in flagged.items) == [1, 3, 5, 7, 9]
        goblet = rep_store.list_reps(
            db, rep_store.RepFilter(athlete_id=athlete, variant=SetVariant.GOBLET_SQUAT)
        )
        assert len(goblet.items) == 5 and all(
            r.set_id == ids[SetVariant.GOBLET_SQUAT] for r in goblet.items
        )
        day2 = rep_store.list_reps(
            db,
            rep_store.RepFilter(
                athlete_id=athlete, since=day0 + timedelta(days=1), until=day0 + timedelta(days=2)
            ),
        )
        assert {r.variant for r in day2.items} == {"goblet_squat"}
        first = rep_store.get_rep(db, min(seen))
        assert first.performed_at == day0 + timedelta(seconds=3.0)


def test_athlete_summary_medians(database) -> None:
    day0 = datetime(2026, 3, 1, 9, tzinfo=UTC)
    onsets = [80.0, 90.0, 100.0]
    ids = _store_reps(
        database,
        {
            SetVariant.BACK_SQUAT: [
                metrics(i + 1, onset_deg=o, load_kg=100.0) for i, o in enumerate(onsets)
            ]
            + [metrics(4, onset_deg=None, load_kg=100.0)],
            SetVariant.BODYWEIGHT_SQUAT: [metrics(1, onset_deg=70.0, load_kg=None)],
        },
        day0,
    )
    with database.sessions() as db:
        summary = rep_store.summarize_athlete(db, ids["athlete"])
    back = next(v for v in summary.variants if v.variant == "back_squat")
    assert (back.reps, back.wink_reps, back.loaded_wink_reps) == (4, 3, 3)
    assert back.median_wink_onset_depth_deg == 90.0
    assert back.median_loaded_onset_depth_deg == 90.0
    assert back.min_loaded_onset_depth_deg == 80.0
    bodyweight = next(v for v in summary.variants if v.variant == "bodyweight_squat")
    assert bodyweight.median_wink_onset_depth_deg == 70.0
    assert bodyweight.median_loaded_onset_depth_deg is None
    assert [(p.day.isoformat(), p.variant, p.reps) for p in summary.over_time] == [
        ("2026-03-01", "back_squat", 4),
        ("2026-03-02", "bodyweight_squat", 1),
    ]
    assert [(p.variant, p.load_kg, p.wink_reps) for p in summary.by_load] == [
        ("back_squat", 100.0, 3)
    ]


def test_editing_a_set_updates_its_reps(database) -> None:
    with database.sessions.begin() as db:
        athlete = catalog.create_athlete(db, "Ana")
        exercise_set = set_store.start_set(db, athlete.id, SetVariant.BACK_SQUAT, load_kg=60)
        set_store.add_reps(db, exercise_set, [metrics(1), metrics(2)])
        set_store.update_set(db, exercise_set.id, variant=SetVariant.BOX_SQUAT, load_kg=70)
    with database.sessions() as db:
        stored = rep_store.list_reps(db, rep_store.RepFilter(set_id=exercise_set.id)).items
        assert {(r.variant, r.load_kg) for r in stored} == {("box_squat", 70.0)}
