"""Shared by the api_* benchmarks: databases to measure and a fast way to store 100k reps."""

from __future__ import annotations

import os
import time
from datetime import UTC, datetime, timedelta

import numpy as np
from sqlalchemy import create_engine, text

from api.storage import catalog
from api.storage import sets as set_store
from api.storage.db import Database, open_database
from api.storage.models import Rep
from api.vocab import SetVariant

DEFAULT_POSTGRES_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
BENCH_SCHEMA = "ww_bench"
REPS_PER_SET = 8


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
    if schema:
        drop_schema(url, schema)
    return open_database(url, schema)


def drop_schema(url: str, schema: str) -> None:
    engine = create_engine(url)
    with engine.begin() as connection:
        connection.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
    engine.dispose()


def fill_reps(database: Database, n_reps: int, n_athletes: int = 20, seed: int = 0) -> float:
    """Store `n_reps` reps in sets of REPS_PER_SET over 200 days; returns seconds taken."""
    rng = np.random.default_rng(seed)
    variants = list(SetVariant)
    day0 = datetime(2026, 1, 1, tzinfo=UTC)
    started = time.perf_counter()
    with database.sessions.begin() as db:
        athletes = [catalog.create_athlete(db, f"Athlete {k}").id for k in range(n_athletes)]
    n_sets = int(np.ceil(n_reps / REPS_PER_SET))
    batch: list[dict] = []
    with database.sessions.begin() as db:
        for s in range(n_sets):
            athlete = athletes[s % n_athletes]
            variant = variants[int(rng.integers(len(variants)))]
            load = float(rng.choice([0.0, 40.0, 60.0, 80.0, 100.0, 120.0]))
            row = set_store.start_set(
                db,
                athlete,
                variant,
                load_kg=load,
                gateway_id="bench",
                started_at=day0 + timedelta(minutes=int(rng.integers(200 * 24 * 60))),
            )
            row.status = "completed"
            for k in range(min(REPS_PER_SET, n_reps - s * REPS_PER_SET)):
                depth = float(rng.uniform(50, 120))
                wink = float(rng.uniform(0, 15))
                winked = wink >= 5.0
                start_s = 3.0 + 3.0 * k
                batch.append(
                    dict(
                        set_id=row.id,
                        athlete_id=athlete,
                        variant=variant.value,
                        performed_at=row.started_at + timedelta(seconds=start_s),
                        rep=k + 1,
                        start_s=start_s,
                        bottom_s=start_s + 1.2,
                        end_s=start_s + 2.6,
                        depth_deg=depth,
                        hip_flexion_max_deg=depth + 8,
                        pelvic_tilt_peak_deg=12.0,
                        pelvic_tilt_bottom_deg=12.0 - wink,
                        wink_deg=wink,
                        wink_onset_depth_deg=depth - 15 if winked else None,
                        butt_wink=winked,
                        load_kg=load,
                        loaded_wink=winked and load > 0,
                        wink_onset_s=start_s + 1.0 if winked else None,
                        descent_s=1.2,
                        ascent_s=1.4,
                        quality="",
                    )
                )
            if len(batch) >= 5000:
                db.execute(Rep.__table__.insert(), batch)
                batch.clear()
        if batch:
            db.execute(Rep.__table__.insert(), batch)
    return time.perf_counter() - started
