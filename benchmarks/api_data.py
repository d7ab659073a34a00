"""Shared by the api_* benchmarks: databases to measure and a fast way to store 100k reps."""

from __future__ import annotations

import os
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from api.storage import catalog
from api.storage.db import Database, open_database
from api.storage.models import ExerciseSet, Rep, TrainingSession
from api.vocab import SetVariant

DEFAULT_POSTGRES_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
BENCH_SCHEMA = "ww_bench"
REPS_PER_SET = 8
BULK_SETS = 5000  # sets (and their reps) per transaction while bulk loading


def targets(tmp_dir: str, which: str) -> list[tuple[str, str, str | None]]:
    """(label, url, schema) of the databases to measure: sqlite, postgres or both."""
    out = []
    if which in ("sqlite", "both"):
        out.append(("sqlite", f"sqlite:///{tmp_dir}/bench.db", None))
    if which in ("postgres", "both"):
        url = os.environ.get("WINKWATCH_TEST_POSTGRES_URL", DEFAULT_POSTGRES_URL)
        out.append(("postgres", url, BENCH_SCHEMA))
    return out


def fresh_database(url: str, schema: str | None) -> Database:
    """An empty database at `url`: PostgreSQL's benchmark schema dropped, SQLite's file (and
    its WAL) removed, so a run over several sizes starts each one empty."""
    if schema:
        drop_schema(url, schema)
    path = make_url(url).database
    if make_url(url).get_backend_name() == "sqlite" and path and path != ":memory:":
        for suffix in ("", "-wal", "-shm"):
            Path(path + suffix).unlink(missing_ok=True)
    return open_database(url, schema)


def drop_schema(url: str, schema: str) -> None:
    engine = create_engine(url)
    with engine.begin() as connection:
        connection.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
    engine.dispose()


def fill_reps(database: Database, n_reps: int, n_athletes: int = 20, seed: int = 0) -> float:
    """Store `n_reps` reps in sets of REPS_PER_SET over 200 days; returns seconds taken.

    Bulk path for the benchmarks: sessions, sets and reps go in as Core multi-row inserts
    with explicit ids (one session per athlete; model defaults still apply to every column
    not given), then PostgreSQL's id sequences are moved past them and its statistics
    refreshed (ANALYZE). 1M reps take about a minute instead of the ORM path's quarter of
    an hour.
    """
    rng = np.random.default_rng(seed)
    variants = [v.value for v in SetVariant]
    day0 = datetime(2026, 1, 1, tzinfo=UTC)
    started = time.perf_counter()
    with database.sessions.begin() as db:
        athletes = [catalog.create_athlete(db, f"Athlete {k}").id for k in range(n_athletes)]
        db.execute(
            TrainingSession.__table__.insert(),
            [dict(id=a, athlete_id=a, gateway_id="bench", started_at=day0) for a in athletes],
        )
    n_sets = int(np.ceil(n_reps / REPS_PER_SET))
    set_athlete = np.asarray(athletes)[np.arange(n_sets) % n_athletes]
    set_variant = rng.integers(len(variants), size=n_sets)
    set_load = rng.choice([0.0, 40.0, 60.0, 80.0, 100.0, 120.0], size=n_sets)
    set_minute = rng.integers(200 * 24 * 60, size=n_sets)
    depth = rng.uniform(50, 120, size=n_reps)
    wink = rng.uniform(0, 15, size=n_reps)
    for first in range(0, n_sets, BULK_SETS):
        stop = min(n_sets, first + BULK_SETS)
        sets, reps = [], []
        for s in range(first, stop):
            started_at = day0 + timedelta(minutes=int(set_minute[s]))
            athlete, variant, load = (
                int(set_athlete[s]),
                variants[set_variant[s]],
                float(set_load[s]),
            )
            sets.append(
                dict(
                    id=s + 1,
                    set_key=f"bench-{s + 1}",
                    session_id=athlete,
                    athlete_id=athlete,
                    variant=variant,
                    load_kg=load,
                    status="completed",
                    gateway_id="bench",
                    started_at=started_at,
                    ended_at=started_at + timedelta(minutes=1),
                )
            )
            for k in range(min(REPS_PER_SET, n_reps - s * REPS_PER_SET)):
                i = s * REPS_PER_SET + k
                winked = bool(wink[i] >= 5.0)
                start_s = 3.0 + 3.0 * k
                reps.append(
                    dict(
                        id=i + 1,
                        set_id=s + 1,
                        athlete_id=athlete,
                        variant=variant,
                        performed_at=started_at + timedelta(seconds=start_s),
                        rep=k + 1,
                        start_s=start_s,
                        bottom_s=start_s + 1.2,
                        end_s=start_s + 2.6,
                        depth_deg=float(depth[i]),
                        hip_flexion_max_deg=float(depth[i]) + 8,
                        pelvic_tilt_peak_deg=12.0,
                        pelvic_tilt_bottom_deg=12.0 - float(wink[i]),
                        wink_deg=float(wink[i]),
                        wink_onset_depth_deg=float(depth[i]) - 15 if winked else None,
                        butt_wink=winked,
                        load_kg=load,
                        loaded_wink=winked and load > 0,
                        wink_onset_s=start_s + 1.0 if winked else None,
                        descent_s=1.2,
                        ascent_s=1.4,
                        quality="",
                    )
                )
        with database.sessions.begin() as db:
            db.execute(ExerciseSet.__table__.insert(), sets)
            db.execute(Rep.__table__.insert(), reps)
    if database.engine.dialect.name == "postgresql":
        with database.sessions.begin() as db:
            for table in ("sessions", "sets", "reps"):
                db.execute(
                    text(
                        f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                        f"(SELECT max(id) FROM {table}))"
                    )
                )
            # The planner's statistics, as autovacuum keeps them on a gym's server: right
            # after a bulk load they may still describe the empty tables.
            db.execute(text("ANALYZE sessions, sets, reps"))
    return time.perf_counter() - started


def bench_athletes(database: Database, count: int) -> list[str]:
    """`count` new athletes; their keys as the gateway knows them (the id as a string)."""
    with database.sessions.begin() as db:
        athletes = [catalog.create_athlete(db, f"Bench athlete {k + 1}") for k in range(count)]
        db.flush()
        return [str(athlete.id) for athlete in athletes]
