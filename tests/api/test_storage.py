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
from tests.api.conftest import POSTGRES_URL
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


def test_deleting_the_newest_row_never_hands_its_id_to_the_next(database) -> None:
    """A deleted row's id is not reused (SQLite picks max(rowid) + 1 without AUTOINCREMENT):
    a bookmark, an export or an edge's federation reference to the deleted athlete, set or
    rep must not point at someone else's data afterwards."""
    from sqlalchemy import delete, select

    from api.storage.models import Calibration, Rep

    with database.sessions.begin() as db:
        catalog.create_athlete(db, "Ana")
        newest = catalog.create_athlete(db, "Ben")
        ben_id = newest.id
    with database.sessions.begin() as db:
        catalog.delete_athlete(db, ben_id, delete_sets=False)
    with database.sessions.begin() as db:
        athlete = catalog.create_athlete(db, "Cleo")
        assert athlete.id > ben_id
        first = set_store.start_set(db, athlete.id, SetVariant.BACK_SQUAT)
        set_store.finish_set(db, first.id)
        second = set_store.start_set(db, athlete.id, SetVariant.BACK_SQUAT)
        set_store.add_reps(db, second, [metrics(1), metrics(2)])
        calibration = set_store.add_calibration(db, athlete.id, second.id, True, "ok")
        set_id, calibration_id = second.id, calibration.id
        rep_id = db.scalar(select(Rep.id).where(Rep.set_id == set_id).order_by(Rep.id.desc()))
    with database.sessions.begin() as db:
        db.execute(delete(Rep).where(Rep.id == rep_id))
        db.execute(delete(Calibration).where(Calibration.id == calibration_id))
        db.execute(delete(Rep).where(Rep.set_id == set_id))
        db.delete(set_store.get_set(db, set_id))
    with database.sessions.begin() as db:
        again = set_store.start_set(db, athlete.id, SetVariant.BACK_SQUAT)
        set_store.add_reps(db, again, [metrics(1)])
        assert again.id > set_id
        assert db.scalar(select(Rep.id).where(Rep.set_id == again.id)) > rep_id
        assert set_store.add_calibration(db, athlete.id, again.id, True, "ok").id > calibration_id


def _autoincrement_tables_of_models() -> set[str]:
    return {
        table.name
        for table in Base.metadata.sorted_tables
        if table.dialect_options["sqlite"]["autoincrement"]
    }


def test_every_integer_surrogate_key_is_autoincrement_in_the_models_and_the_migrations(
    tmp_path,
) -> None:
    """compare_metadata does not compare AUTOINCREMENT: the models declare it on every table
    keyed by one integer the database assigns, and the migrations build exactly those."""
    assigned_ids = {
        table.name
        for table in Base.metadata.sorted_tables
        if table.autoincrement_column is not None
    }
    assert _autoincrement_tables_of_models() == assigned_ids
    assert {"athletes", "sets", "reps", "raw_chunks", "federation_changes"} <= assigned_ids
    database = open_database(f"sqlite:///{tmp_path / 'w.db'}")
    with database.engine.connect() as connection:
        built = {
            name
            for name, sql in connection.exec_driver_sql(
                "SELECT name, sql FROM sqlite_master WHERE type = 'table'"
            )
            if "AUTOINCREMENT" in sql
        }
    database.dispose()
    assert built == assigned_ids


def _sqlite_schema(connection) -> dict[str, object]:
    """Every table's columns, foreign keys (in any order), indexes and triggers."""
    schema: dict[str, object] = {}
    tables = connection.exec_driver_sql(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
    ).scalars()
    for table in list(tables):
        schema[table] = (
            connection.exec_driver_sql(f"PRAGMA table_xinfo({table})").all(),
            sorted(
                tuple(fk[2:])
                for fk in connection.exec_driver_sql(f"PRAGMA foreign_key_list({table})")
            ),
            sorted(
                connection.exec_driver_sql(
                    "SELECT type, name, sql FROM sqlite_master "
                    "WHERE type IN ('index', 'trigger') AND tbl_name = ?",
                    (table,),
                ).all(),
                key=str,
            ),
        )
    return schema


def test_migration_0018_rebuilds_the_sqlite_tables_keeping_every_row(tmp_path) -> None:
    """0017 -> 0018 on a file holding rows (and an edge outbox's triggers): every row, column,
    foreign key, index and trigger is kept (parent tables are dropped and rebuilt: with
    foreign keys on, the DROP failed on the sessions' references, and would have deleted the
    reps or nulled the sensors' athlete), nothing is queued for federation, and ids continue
    above the largest one instead of reusing it."""
    from sqlalchemy import func, select

    from api.auth import create_token
    from api.federation.outbox import Outbox
    from api.storage import assessments
    from api.storage.db import create_db_engine, upgrade_schema
    from api.storage.models import Athlete, FederationChange, RawChunk, Rep, Sensor
    from api.vocab import TokenRole

    url = f"sqlite:///{tmp_path / 'old.db'}"
    engine = create_db_engine(url)
    upgrade_schema(engine, "0017")
    old = open_database(url, upgrade=False)
    Outbox(old)  # the edge's triggers on every replicated table
    t_s = np.arange(50) / 50.0
    with old.sessions.begin() as db:
        ana = catalog.create_athlete(db, "Ana")
        ben = catalog.create_athlete(db, "Ben")
        sensor = catalog.register_sensor(db, "AA:00", "witmotion")
        catalog.assign_sensor(db, sensor.id, ben.id, Placement.SACRUM)
        assessments.create_assessment(db, ben.id)
        create_token(db, "coach", TokenRole.ADMIN)
        for athlete in (ana, ben):
            exercise_set = set_store.start_set(db, athlete.id, SetVariant.BACK_SQUAT)
            set_store.add_reps(db, exercise_set, [metrics(1), metrics(2, wink_deg=7.5)])
            set_store.add_calibration(db, athlete.id, exercise_set.id, True, "ok")
            for chunk in range(3):
                set_store.add_raw_chunk(
                    db,
                    exercise_set.id,
                    Placement.SACRUM,
                    "AA:00",
                    chunk,
                    t_s + chunk,
                    np.ones((50, 3)),
                    np.zeros((50, 3)),
                )
        set_store.finish_set(db, exercise_set.id)
        ben_id, ben_set = ben.id, exercise_set.id
    with old.engine.connect() as connection:
        schema_before = _sqlite_schema(connection)
        rows_before = {
            table: connection.exec_driver_sql(f"SELECT * FROM {table} ORDER BY rowid").all()
            for table in schema_before
            if table != "alembic_version"
        }
    old.dispose()
    upgrade_schema(engine)
    engine.dispose()

    database = open_database(url)
    with database.engine.connect() as connection:
        schema_after = _sqlite_schema(connection)
        assert schema_after == schema_before
        for table, rows in rows_before.items():
            assert (
                connection.exec_driver_sql(f"SELECT * FROM {table} ORDER BY rowid").all() == rows
            ), table
        assert dict(connection.exec_driver_sql("SELECT name, seq FROM sqlite_sequence").all()) == {
            "federation_changes": len(rows_before["federation_changes"]),
            "athletes": 2, "sensors": 1, "sessions": 2, "assessments": 1, "sets": 2,
            "reps": 4, "calibrations": 2, "raw_chunks": 6, "api_tokens": 1,
        }  # fmt: skip
        assert connection.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
    with database.sessions() as db:
        assert db.scalar(select(Sensor.athlete_id).where(Sensor.id == sensor.id)) == ben_id
        assert [r.wink_deg for r in db.scalars(select(Rep).order_by(Rep.id))] == [2.0, 7.5] * 2
        assert set_store.load_raw(db, ben_set, Placement.SACRUM).t_s.size == 150
        assert db.scalar(select(func.count()).select_from(RawChunk)) == 6
    with database.sessions.begin() as db:  # delete the newest athlete with her sets
        catalog.delete_athlete(db, ben_id, delete_sets=True)
    with database.sessions.begin() as db:
        queued = db.scalar(select(func.count()).select_from(FederationChange))
        cleo = catalog.create_athlete(db, "Cleo")
        assert cleo.id > ben_id
        exercise_set = set_store.start_set(db, cleo.id, SetVariant.BACK_SQUAT)
        assert exercise_set.id > ben_set
        # the rebuilt tables' triggers still queue every change for the central server
        assert db.scalar(select(func.count()).select_from(FederationChange)) > queued
        assert db.get(Athlete, ben_id) is None
    database.dispose()


def test_a_sqlite_migration_that_breaks_a_foreign_key_commits_nothing(tmp_path) -> None:
    """Migrations run with SQLite's foreign keys off (a table rebuild drops the parent
    table); one that leaves a row pointing at nothing is refused and rolled back, and the
    pooled connection has its foreign keys on again afterwards."""
    from api.errors import StorageError
    from api.storage.db import create_db_engine, migration_transaction, upgrade_schema

    engine = create_db_engine(f"sqlite:///{tmp_path / 'w.db'}")
    upgrade_schema(engine)
    broken = "would break foreign keys.*'sessions', 1, 'athletes'"
    with pytest.raises(StorageError, match=broken), migration_transaction(engine) as connection:
        assert connection.exec_driver_sql("PRAGMA foreign_keys").scalar() == 0
        connection.exec_driver_sql(
            "INSERT INTO sessions (athlete_id, gateway_id, started_at, notes) "
            "VALUES (99, '', '2026-01-01', '')"
        )
        connection.exec_driver_sql("UPDATE alembic_version SET version_num = 'next'")
    with engine.connect() as connection:
        assert connection.exec_driver_sql("SELECT count(*) FROM sessions").scalar() == 0
        assert connection.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
    engine.dispose()


def test_a_sqlite_migration_failing_half_way_leaves_the_schema_as_it_was(tmp_path) -> None:
    """SQLite DDL is part of the migrations' transaction: the sqlite3 driver begins one only
    before INSERT/UPDATE/DELETE, so the CREATE TABLEs of a fresh database's first migration
    were committed one by one, and an upgrade failing later (here 0010's CREATE TABLE is
    refused) left 0001's tables with an empty alembic_version: every later start then failed
    on "table athletes already exists". Now nothing is left, and the next start upgrades."""
    import sqlite3

    from sqlalchemy import event, inspect

    from api.errors import StorageError
    from api.storage.db import create_db_engine, migration_transaction, upgrade_schema

    path = tmp_path / "w.db"
    engine = create_db_engine(f"sqlite:///{path}")

    def refuse_explanations_table(action, arg1, *_):
        refused = action == sqlite3.SQLITE_CREATE_TABLE and arg1 == "athlete_explanations"
        return sqlite3.SQLITE_DENY if refused else sqlite3.SQLITE_OK

    @event.listens_for(engine, "connect")
    def _authorizer(dbapi_connection, _record) -> None:
        dbapi_connection.set_authorizer(refuse_explanations_table)

    with pytest.raises(StorageError, match="not authorized"):
        upgrade_schema(engine)
    engine.dispose()
    with sqlite3.connect(path) as connection:
        assert connection.execute("SELECT name FROM sqlite_master").fetchall() == []
    with pytest.raises(RuntimeError, match="half-way"), migration_transaction(engine) as connection:
        connection.exec_driver_sql("CREATE TABLE half_way (id INTEGER)")
        raise RuntimeError("half-way")
    assert "half_way" not in inspect(engine).get_table_names()
    engine.dispose()
    database = open_database(f"sqlite:///{path}")
    with database.engine.connect() as connection:
        diff = compare_metadata(MigrationContext.configure(connection), Base.metadata)
        assert connection.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
    assert diff == []
    database.dispose()


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


@pytest.mark.postgres
@pytest.mark.skipif(POSTGRES_URL is None, reason="WINKWATCH_TEST_POSTGRES_URL is not set")
def test_every_postgres_connection_waits_for_its_commit_to_be_flushed() -> None:
    """synchronous_commit=off for the role or the database (a common tuning tip) let the
    server answer a COMMIT before its WAL was flushed: a server crash could lose writes the
    API had acknowledged. Every connection now sets it on."""
    import uuid

    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    assert POSTGRES_URL is not None
    url = POSTGRES_URL
    role = f"ww_test_role_{uuid.uuid4().hex[:8]}"
    schema = f"ww_test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(url)
    with admin.begin() as connection:
        connection.execute(text(f"CREATE ROLE {role} LOGIN SUPERUSER"))
        connection.execute(text(f"ALTER ROLE {role} SET synchronous_commit = off"))
    try:
        role_url = make_url(url).set(username=role).render_as_string(hide_password=False)
        with create_engine(role_url).connect() as plain:  # the role's default, as set above
            assert plain.execute(text("SHOW synchronous_commit")).scalar() == "off"
        database = open_database(role_url, schema)
        with database.engine.connect() as first, database.sessions() as session:
            seen = [
                first.execute(text("SHOW synchronous_commit")).scalar(),
                session.execute(text("SHOW synchronous_commit")).scalar(),
            ]
        database.dispose()
        assert seen == ["on", "on"]
    finally:
        with admin.begin() as connection:
            connection.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
            connection.execute(text(f"DROP ROLE IF EXISTS {role}"))
        admin.dispose()
