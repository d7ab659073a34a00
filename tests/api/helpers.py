"""Builders shared by the storage and API tests."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, NamedTuple

import numpy as np

from fusion.types import RepMetrics
from sensor_gateway.events import Placement, SetInfo, SetVariant
from sensor_gateway.samples import SensorKind
from sensor_gateway.sink import RawSamples


def metrics(
    rep: int = 1,
    *,
    start_s: float = 1.0,
    depth_deg: float = 100.0,
    wink_deg: float = 2.0,
    onset_deg: float | None = None,
    load_kg: float | None = 60.0,
    quality: tuple[str, ...] = (),
) -> RepMetrics:
    winked = onset_deg is not None
    return RepMetrics(
        rep=rep,
        start_s=start_s,
        bottom_s=start_s + 1.2,
        end_s=start_s + 2.5,
        depth_deg=depth_deg,
        hip_flexion_max_deg=depth_deg + 10.0,
        pelvic_tilt_peak_deg=12.0,
        pelvic_tilt_bottom_deg=12.0 - wink_deg,
        wink_deg=wink_deg,
        wink_onset_depth_deg=onset_deg,
        butt_wink=winked,
        load_kg=load_kg,
        loaded_wink=winked and bool(load_kg),
        wink_onset_s=start_s + 1.0 if winked else None,
        descent_s=1.2,
        ascent_s=1.3,
        quality=quality,
    )


def set_info(
    athlete_key: str,
    *,
    started_s: float = 1000.0,
    key: str = "k1",
    variant: SetVariant = SetVariant.BACK_SQUAT,
    load_kg: float | None = 60.0,
) -> SetInfo:
    return SetInfo(
        set_key=key,
        athlete_id=athlete_key,
        variant=variant,
        load_kg=load_kg,
        started_s=started_s,
        started_utc=datetime(2026, 3, 1, 10, 0, tzinfo=UTC),
    )


def raw_samples(info: SetInfo, placement: Placement, t_s: np.ndarray, seed: int = 0) -> RawSamples:
    rng = np.random.default_rng(seed)
    n = len(t_s)
    return RawSamples(
        set_key=info.set_key,
        athlete_id=info.athlete_id,
        placement=placement,
        address=f"AA:BB:CC:00:00:{1 if placement is Placement.SACRUM else 2:02d}",
        kind=SensorKind.SIMULATED,
        t_s=np.asarray(t_s, dtype=float),
        acc_mps2=rng.normal(0, 3, (n, 3)) + [0, 0, 9.81],
        gyr_radps=rng.normal(0, 1, (n, 3)),
        received_s=np.asarray(t_s, dtype=float) + 0.01,
    )


def athlete_key(database, name: str) -> str:
    """The gateway's key of the athlete called `name` (its database id as a string), created
    if none has that name: the sink stores sets only for athletes the database knows."""
    from sqlalchemy import select

    from api.storage import catalog
    from api.storage.models import Athlete

    with database.sessions.begin() as db:
        found = db.scalar(select(Athlete.id).where(Athlete.name == name).limit(1))
        return str(found if found is not None else catalog.create_athlete(db, name).id)


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now."""
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@dataclass
class ServedInThread:
    """A runtime served by uvicorn on 127.0.0.1 in a thread with its own event loop."""

    port: int
    loop: asyncio.AbstractEventLoop
    http: Any  # uvicorn.Server
    thread: threading.Thread

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def stop(self, timeout_s: float = 40.0) -> None:
        self.http.should_exit = True
        self.thread.join(timeout=timeout_s)


def serve_in_thread(server: Any, port: int | None = None) -> ServedInThread:
    """`winkwatch serve` of `server` (an `api.runtime.Server`), returned once uvicorn listens."""
    from api.runtime import http_server, serve

    port = free_port() if port is None else port
    http = http_server(server, "127.0.0.1", port, log_level="warning")
    loop = asyncio.new_event_loop()
    thread = threading.Thread(
        target=loop.run_until_complete,
        args=(serve(server, "127.0.0.1", port, http=http),),
        daemon=True,
    )
    thread.start()
    deadline = time.monotonic() + 60  # bounds a hang: a loaded CI machine is slow to start it
    while not http.started:
        assert time.monotonic() < deadline, "server did not start"
        time.sleep(0.05)
    return ServedInThread(port, loop, http, thread)


def athlete_ids(database: Any) -> dict[str, int]:
    """The stored athletes' ids by name (a built server's `database`)."""
    from sqlalchemy import select

    from api.storage.models import Athlete

    with database.sessions() as db:
        return {
            name: athlete_id for athlete_id, name in db.execute(select(Athlete.id, Athlete.name))
        }


def store_awkward_reps(
    database: Any,
    *,
    variant: SetVariant,
    set_load_kg: float | None,
    started: datetime,
    n_reps: int,
    performed_at: Callable[[int], datetime],
    depth_deg: Callable[[int], float],
    qualities: Sequence[str],
) -> int:
    """One athlete's set of `n_reps` stored reps (raw Core inserts) with the values that are
    awkward to write: None, -0.0, floats without a short form, quality codes with the CSV's
    and the list's separators, times with and without microseconds. Returns the athlete's id.
    Rep r (0-based) is performed at `performed_at(r)`, to `depth_deg(r)`, with quality
    `qualities[r % len(qualities)]`."""
    from api.storage import catalog
    from api.storage import sets as set_store
    from api.storage.models import Rep

    with database.sessions.begin() as db:
        athlete = catalog.create_athlete(db, "Ada").id
        exercise_set = set_store.start_set(
            db, athlete, variant, load_kg=set_load_kg, started_at=started
        )
        rows = []
        for r in range(n_reps):
            winked = r % 3 == 0
            rows.append(
                dict(
                    set_id=exercise_set.id,
                    athlete_id=athlete,
                    variant=variant.value,
                    performed_at=performed_at(r),
                    rep=r + 1,
                    start_s=0.1 + 0.2 * r,
                    bottom_s=1 / 3 + r,
                    end_s=2.0 + r,
                    depth_deg=depth_deg(r),
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
                    quality=qualities[r % len(qualities)],
                    wink_threshold_deg=4.2,
                    threshold_source="personal" if r % 2 else "default",
                    baseline_reps=r,
                    wink_grade="borderline" if winked else "none",
                    # not known for some stored before 0016; else no short form
                    wink_uncertainty_deg=None if r % 4 == 1 else (0.1 * r + 0.32) / 3,
                    rhythm_lag_deg=None if r % 5 else -3.75,
                )
            )
        db.execute(Rep.__table__.insert(), rows)
    return athlete


class GatewayWithSink(NamedTuple):
    """A real gateway whose sink is a real DatabaseSink (no writer thread: the test flushes),
    Ana's two sensors assigned, an admin token, and Settings for `create_app`."""

    ana: str
    gateway: Any
    sink: Any
    admin: str
    settings: Any


SACRUM_ADDRESS, THIGH_ADDRESS = "C4:7F:51:00:00:01", "C4:7F:51:00:00:02"  # Ana's sensors


def gateway_with_sink(
    database: Any, db_target: Any, config_dir: Any, clock: Any = None
) -> GatewayWithSink:
    """`clock`: the gateway's (a GatewayClock; default the process's monotonic clock)."""
    from api.auth import create_token
    from api.settings import Settings
    from api.storage.recorder import DatabaseSink
    from api.vocab import TokenRole
    from sensor_gateway.config import Assignments, GatewaySettings
    from sensor_gateway.gateway import Gateway

    ana = athlete_key(database, "Ana")
    store = Assignments()
    store.assign(SACRUM_ADDRESS, "simulated", ana, "sacrum")
    store.assign(THIGH_ADDRESS, "simulated", ana, "thigh")
    sink = DatabaseSink(database, gateway_id="gw-test", start_thread=False)
    config = GatewaySettings(config_file=config_dir / "gateway.json")
    gateway = Gateway(config, store, sink=sink, clock=clock)
    with database.sessions.begin() as db:
        _, admin = create_token(db, "coach", TokenRole.ADMIN)
    settings = Settings(
        database_url=db_target.url, database_schema=db_target.schema, gateway_id="gw-test"
    )
    return GatewayWithSink(ana, gateway, sink, admin, settings)
