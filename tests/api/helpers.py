"""Builders shared by the storage and API tests."""

from __future__ import annotations

import asyncio
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

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
    deadline = time.monotonic() + 20
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
