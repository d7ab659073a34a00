"""Raw-sample ingest rate through `DatabaseSink`, with the commit-every-second rule.

Feeds what 7 sensors at 200 Hz send (notifications of 20 samples, 1,400 samples per
second of recording) and commits once per recorded second, exactly as the writer thread
does live, but as fast as the database allows. The ratio to real time says how much
headroom a gateway has (goal: >= 20x on SQLite).

    python benchmarks/api_ingest.py [--db sqlite|postgres|both] [--seconds 120]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from api.storage.recorder import DatabaseSink
from api.vocab import Placement
from benchmarks.api_data import bench_athletes, drop_schema, fresh_database, targets
from sensor_gateway.events import SetInfo, SetStarted, SetStopped, SetVariant, StopReason
from sensor_gateway.samples import SensorKind
from sensor_gateway.sink import RawSamples

SENSORS = 7
RATE_HZ = 200
SAMPLES_PER_NOTIFICATION = 20


def run(label: str, url: str, schema: str | None, seconds: int) -> None:
    database = fresh_database(url, schema)
    sink = DatabaseSink(database, gateway_id="bench", start_thread=False)
    rng = np.random.default_rng(0)
    # Four athletes (the 7th sensor on its own) so several sets record at once, as in a gym.
    # The gateway knows athletes by their database id (api.storage.recorder.resolve_athlete_key).
    athlete_keys = bench_athletes(database, 4)
    infos = [
        SetInfo(
            set_key=f"bench{k}",
            athlete_id=athlete_keys[k],
            variant=SetVariant.BACK_SQUAT,
            load_kg=80.0,
            started_s=0.0,
            started_utc=datetime.now(UTC),
        )
        for k in range(4)
    ]
    for info in infos:
        sink.record_event(
            SetStarted(set=info, athlete_id=info.athlete_id, t_s=0.0, wall_utc=info.started_utc)
        )
    sink.flush()
    acc = rng.normal(0, 3, (RATE_HZ, 3)) + [0, 0, 9.81]
    gyr = rng.normal(0, 1, (RATE_HZ, 3))
    total = 0
    started = time.perf_counter()
    for second in range(seconds):
        t_s = second + np.arange(RATE_HZ) / RATE_HZ
        for sensor in range(SENSORS):
            info = infos[sensor // 2]
            placement = Placement.SACRUM if sensor % 2 == 0 else Placement.THIGH
            for start in range(0, RATE_HZ, SAMPLES_PER_NOTIFICATION):
                part = slice(start, start + SAMPLES_PER_NOTIFICATION)
                packet = (second * RATE_HZ + start) // SAMPLES_PER_NOTIFICATION
                sink.write_samples(
                    RawSamples(
                        set_key=info.set_key,
                        athlete_id=info.athlete_id,
                        placement=placement,
                        address=f"AA:{sensor:02d}",
                        kind=SensorKind.WINKWATCH,
                        t_s=t_s[part],
                        acc_mps2=acc[part],
                        gyr_radps=gyr[part],
                        # What a sensor sends: its own drifting clock, one receive time
                        # and one sequence number per notification (all stored).
                        received_s=np.full(SAMPLES_PER_NOTIFICATION, t_s[part][-1] + 0.006),
                        sensor_time_s=1234.5 + t_s[part] * (1 + 50e-6),
                        seq=packet % 65536,
                    )
                )
                total += SAMPLES_PER_NOTIFICATION
        assert sink.flush()  # one transaction per recorded second
    elapsed = time.perf_counter() - started
    for info in infos:
        sink.record_event(
            SetStopped(
                set=info,
                reason=StopReason.REQUESTED,
                rep_count=0,
                athlete_id=info.athlete_id,
                t_s=float(seconds),
                wall_utc=info.started_utc,
            )
        )
    sink.close()
    with database.engine.connect() as connection:
        stored = connection.exec_driver_sql(
            "SELECT SUM(n_samples), SUM(LENGTH(payload)) FROM raw_chunks"
        ).one()
    database.dispose()
    if schema:
        drop_schema(url, schema)
    assert stored[0] == total, (stored[0], total)
    realtime = SENSORS * RATE_HZ
    print(
        f"{label:9s} {total:,} samples in {elapsed:.2f} s: {total / elapsed:,.0f} samples/s = "
        f"{total / elapsed / realtime:.0f}x real time of {SENSORS} sensors at {RATE_HZ} Hz "
        f"(1 commit per recorded second); stored {stored[1] / total:.1f} bytes/sample"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", choices=["sqlite", "postgres", "both"], default="both")
    parser.add_argument("--seconds", type=int, default=120, help="recorded seconds to ingest")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        for label, url, schema in targets(tmp, args.db):
            run(label, url, schema, args.seconds)


if __name__ == "__main__":
    main()
