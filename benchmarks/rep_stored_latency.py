"""How long a rep waits to be stored before it is published (it must survive a kill -9).

The gateway publishes a RepCompleted only once `DatabaseSink` has committed it: the rep
wakes the writer thread, which commits everything pending (here: 1 s of raw samples of
7 sensors at 200 Hz, the most the once-a-second writer leaves pending) and then calls back. Measured
from `record_event(rep, on_stored=...)` to the callback, real writer thread, real commits.

    python benchmarks/rep_stored_latency.py [--db sqlite|postgres|both] [--reps 60]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import threading
import time
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from api.storage.recorder import DatabaseSink
from api.vocab import Placement
from benchmarks.api_data import bench_athletes, drop_schema, fresh_database, targets
from fusion.types import RepMetrics
from sensor_gateway.events import RepCompleted, SetInfo, SetStarted, SetVariant
from sensor_gateway.samples import SensorKind
from sensor_gateway.sink import RawSamples

SENSORS = 7
RATE_HZ = 200
SAMPLES_PER_NOTIFICATION = 20
PENDING_S = 1.0  # raw samples waiting when the rep arrives

METRICS = RepMetrics(
    rep=1,
    start_s=0.0,
    bottom_s=1.2,
    end_s=2.5,
    depth_deg=100.0,
    hip_flexion_max_deg=110.0,
    pelvic_tilt_peak_deg=12.0,
    pelvic_tilt_bottom_deg=5.0,
    wink_deg=7.0,
    wink_onset_depth_deg=85.0,
    butt_wink=True,
    load_kg=100.0,
    loaded_wink=True,
    wink_onset_s=1.0,
    descent_s=1.2,
    ascent_s=1.3,
    quality=(),
)


def run(label: str, url: str, schema: str | None, reps: int) -> None:
    database = fresh_database(url, schema)
    sink = DatabaseSink(database, gateway_id="bench", commit_interval_s=1.0)
    # The gateway knows athletes by their database id (api.storage.recorder.resolve_athlete_key).
    (athlete,) = bench_athletes(database, 1)
    info = SetInfo(
        set_key="bench",
        athlete_id=athlete,
        variant=SetVariant.BACK_SQUAT,
        load_kg=100.0,
        started_s=0.0,
        started_utc=datetime.now(UTC),
    )
    sink.record_event(SetStarted(set=info, athlete_id=athlete, t_s=0.0, wall_utc=info.started_utc))
    rng = np.random.default_rng(0)
    n = int(PENDING_S * RATE_HZ)
    acc = rng.normal(0, 3, (n, 3)) + [0, 0, 9.81]
    gyr = rng.normal(0, 1, (n, 3))
    waits_s = []
    for rep in range(reps):
        t0 = rep * PENDING_S
        t_s = t0 + np.arange(n) / RATE_HZ
        for sensor in range(SENSORS):
            for start in range(0, n, SAMPLES_PER_NOTIFICATION):
                part = slice(start, start + SAMPLES_PER_NOTIFICATION)
                sink.write_samples(
                    RawSamples(
                        set_key="bench",
                        athlete_id=athlete,
                        placement=Placement.SACRUM if sensor % 2 == 0 else Placement.THIGH,
                        address=f"AA:{sensor:02d}",
                        kind=SensorKind.WINKWATCH,
                        t_s=t_s[part],
                        acc_mps2=acc[part],
                        gyr_radps=gyr[part],
                        received_s=np.full(SAMPLES_PER_NOTIFICATION, t_s[part][-1] + 0.006),
                        sensor_time_s=t_s[part],
                        seq=start,
                    )
                )
        stored = threading.Event()
        metrics = replace(METRICS, rep=rep + 1, start_s=t0, bottom_s=t0 + 1.2, end_s=t0 + 2.5)
        event = RepCompleted(
            athlete_id=athlete,
            t_s=t0 + 2.5,
            wall_utc=datetime.now(UTC),
            set_key="bench",
            metrics=metrics,
        )
        began = time.perf_counter()
        sink.record_event(event, on_stored=lambda _stored, done=stored: done.set())
        assert stored.wait(30.0), "rep never stored"
        waits_s.append(time.perf_counter() - began)
    sink.close()
    database.dispose()
    if schema:
        drop_schema(url, schema)
    ms = np.asarray(waits_s) * 1000
    print(
        f"{label:9s} {reps} reps (each with {PENDING_S} s of {SENSORS} sensors' raw samples "
        f"pending): stored after p50 {np.percentile(ms, 50):.1f} ms, p90 "
        f"{np.percentile(ms, 90):.1f} ms, p99 {np.percentile(ms, 99):.1f} ms, max {ms.max():.1f} ms"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", choices=["sqlite", "postgres", "both"], default="both")
    parser.add_argument("--reps", type=int, default=60)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        for label, url, schema in targets(tmp, args.db):
            run(label, url, schema, args.reps)


if __name__ == "__main__":
    main()
