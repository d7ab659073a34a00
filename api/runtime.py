"""The runtime: the HTTP API and the live gateway in one process and one event loop.

`build_runtime` is the one place that puts database, sink, gateway and app together
(`winkwatch serve` through `build_server`, `winkwatch demo` through
`api.demo_scenario.build_demo_server`); `serve` runs it until Ctrl+C / SIGTERM.

The gateway writes into a `DatabaseSink`; the API starts/stops sets on the gateway and
streams its bus. With `simulate=N`, N simulated athletes (fusion.simulator through
sensor_gateway.sources.simulated) squat set after set, so it all works with no hardware.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import tempfile
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from fastapi import FastAPI
from sqlalchemy import select

from api.http.app import create_app
from api.settings import Settings
from api.storage import catalog
from api.storage.db import Database, open_database
from api.storage.models import Athlete
from api.storage.recorder import DatabaseSink, recover_after_restart
from api.vocab import Placement

if TYPE_CHECKING:
    import uvicorn

    from sensor_gateway.events import SetInfo
    from sensor_gateway.gateway import Gateway
    from sensor_gateway.sources.simulated import PlayedSet, SetHook, SimulatedAthlete

log = logging.getLogger(__name__)

SIMULATED_NAME = "Simulated athlete {index}"


@dataclass
class Server:
    app: FastAPI
    gateway: Gateway
    sink: DatabaseSink
    database: Database
    scratch: tempfile.TemporaryDirectory[str] | None = None  # simulated sensors' gateway config
    interrupted_set_ids: list[int] = field(default_factory=list)  # left recording by the last run


def simulated_athlete_ids(database: Database, count: int) -> list[int]:
    """Database ids of `count` simulated athletes (created on first use, reused after)."""
    ids: list[int] = []
    with database.sessions.begin() as db:
        for index in range(1, count + 1):
            name = SIMULATED_NAME.format(index=index)
            found = db.scalar(
                select(Athlete.id).where(Athlete.name == name).order_by(Athlete.id).limit(1)
            )
            ids.append(
                found if found is not None else catalog.create_athlete(db, name, "simulated").id
            )
    return ids


def build_runtime(
    settings: Settings,
    config_file: Path | None = None,
    *,
    scratch: tempfile.TemporaryDirectory[str] | None = None,
) -> Server:
    """The one way the runtime is put together (`serve`, `demo`): the database (upgraded, and
    this gateway's sets left recording by a previous run marked interrupted before anything
    new is written), the sink, the gateway writing into it (sensor assignments in
    `config_file`, default the user's), and the app serving both. The caller adds sources."""
    from sensor_gateway.config import AssignmentStore, GatewaySettings
    from sensor_gateway.gateway import Gateway

    database = open_database(settings.database_url, settings.database_schema)
    interrupted = recover_after_restart(database, settings.gateway_id)
    gateway_settings = GatewaySettings()
    sink = DatabaseSink(
        database,
        gateway_id=settings.gateway_id,
        commit_interval_s=settings.commit_interval_s,
        start_thread=False,
    )
    gateway = Gateway(
        gateway_settings, AssignmentStore(config_file or gateway_settings.config_file), sink=sink
    )
    app = create_app(settings, gateway, database=database, sink=sink)
    sink.start()
    return Server(
        app=app,
        gateway=gateway,
        sink=sink,
        database=database,
        scratch=scratch,
        interrupted_set_ids=interrupted,
    )


def build_server(
    settings: Settings, *, simulate: int = 0, realtime: bool = True, config_dir: Path | None = None
) -> Server:
    """`winkwatch serve`: the runtime with simulated athletes or the assigned BLE sensors."""
    scratch = None
    config_file = None
    if simulate:
        # Simulated sensors must not end up in the user's real sensor assignments.
        if config_dir is None:
            scratch = tempfile.TemporaryDirectory(prefix="winkwatch-sim-")
            config_dir = Path(scratch.name)
        config_file = config_dir / "gateway.json"
    server = build_runtime(settings, config_file, scratch=scratch)
    if simulate:
        _add_simulation(server.gateway, server.database, simulate, realtime)
    else:
        _add_ble_source(server.gateway)
    return server


def _add_simulation(gateway: Gateway, database: Database, count: int, realtime: bool) -> None:
    from sensor_gateway.sources.simulated import SimulatedAthlete, SimulatedSource

    athletes: list[SimulatedAthlete] = []
    for index, athlete_id in enumerate(simulated_athlete_ids(database, count)):
        athlete = SimulatedAthlete(athlete_id=str(athlete_id), seed=index + 1)
        athletes.append(athlete)
        register_simulated_sensors(gateway, database, athlete, athlete_id, "simulated")

    def start(athlete: SimulatedAthlete, _played: PlayedSet) -> SetInfo:
        return gateway.start_set(athlete.athlete_id, athlete.variant, athlete.load_kg, "simulated")

    on_set_start, on_set_end = scripted_set_hooks(gateway, start)
    gateway.add_source(
        SimulatedSource(
            athletes, realtime=realtime, on_set_start=on_set_start, on_set_end=on_set_end
        )
    )


def scripted_set_hooks(
    gateway: Gateway, start: Callable[[SimulatedAthlete, PlayedSet], SetInfo]
) -> tuple[SetHook, SetHook]:
    """The simulator's set start/end hooks: `start` begins the scripted set. A set a coach
    started by hand (API or dashboard) is never replaced or stopped by the script."""
    scripted: dict[str, str] = {}  # athlete id -> set key of the set the script started

    def on_set_start(athlete: SimulatedAthlete, played: PlayedSet) -> None:
        running = gateway.active_sets().get(athlete.athlete_id)
        if running is not None and running.set_key != scripted.get(athlete.athlete_id):
            return  # the coach's set: leave it alone
        scripted[athlete.athlete_id] = start(athlete, played).set_key

    def on_set_end(athlete: SimulatedAthlete, _played: PlayedSet) -> None:
        running = gateway.active_sets().get(athlete.athlete_id)
        if running is not None and running.set_key == scripted.get(athlete.athlete_id):
            gateway.stop_set(athlete.athlete_id)

    return on_set_start, on_set_end


def register_simulated_sensors(
    gateway: Gateway, database: Database, athlete: SimulatedAthlete, athlete_id: int, label: str
) -> None:
    """Store a simulated athlete's two sensors (assigned to `athlete_id`) and tell the gateway."""
    from sensor_gateway.samples import SensorKind

    with database.sessions.begin() as db:
        for placement in Placement:
            sensor = catalog.register_sensor(
                db,
                athlete.address(placement),
                SensorKind.SIMULATED.value,
                f"{label} {placement.value}",
            )
            catalog.assign_sensor(db, sensor.id, athlete_id, placement)
    for placement in Placement:
        gateway.assign_sensor(
            athlete.address(placement), SensorKind.SIMULATED, athlete.athlete_id, placement
        )


def _add_ble_source(gateway: Gateway) -> None:
    """Stream the BLE sensors assigned in the gateway config (read at start)."""
    assignments = gateway.assignments.all()
    if not assignments:
        log.warning(
            "no sensors assigned in %s: serving the API without live sensors. Assign "
            "them (PUT /sensors/{id}/assignment, or `winkwatch gateway --assign`) and "
            "restart, or try --simulate N",
            gateway.assignments.path,
        )
        return
    from sensor_gateway.ble import BleSensor, BleSource

    gateway.add_source(BleSource([BleSensor(a.address, a.kind, a.rate_hz) for a in assignments]))


# uvicorn gives connections this long to finish on shutdown, then cancels them; with the
# gateway's own bound (STOP_TIMEOUT_S) a stop takes well under 5 s in every case.
GRACEFUL_SHUTDOWN_S = 1  # uvicorn takes whole seconds
GATEWAY_STOP_TIMEOUT_S = 3.0


def http_server(server: Server, host: str, port: int, log_level: str = "info") -> uvicorn.Server:
    """The uvicorn server for `server.app` (set `.should_exit = True` to stop it).

    Signals are not captured by uvicorn: `serve` handles SIGINT/SIGTERM itself so that the
    gateway stops (and commits) at the same time as the HTTP side, and a second Ctrl+C
    only hurries the HTTP side instead of killing the process mid-commit.
    """
    import uvicorn

    from api.http.log_redaction import install_secret_redaction

    class _Server(uvicorn.Server):
        @contextlib.contextmanager
        def capture_signals(self) -> Iterator[None]:
            yield

    install_secret_redaction()
    return _Server(
        uvicorn.Config(
            server.app,
            host=host,
            port=port,
            log_level=log_level,
            lifespan="on",
            timeout_graceful_shutdown=GRACEFUL_SHUTDOWN_S,
            # Live messages are ~250 bytes: compressing them once per client costs more
            # CPU than the bytes saved, and would undo serializing once per event.
            ws_per_message_deflate=False,
        )
    )


def _install_signal_handlers(http, gateway) -> Callable[[], None]:
    """SIGINT/SIGTERM: stop the gateway and the HTTP server; a second one forces the HTTP
    side to stop waiting for connections. Returns a function restoring the defaults."""
    if threading.current_thread() is not threading.main_thread():
        return lambda: None  # signals reach only the main thread (e.g. tests in a thread)
    loop = asyncio.get_running_loop()

    def on_signal(sig: signal.Signals) -> None:
        if http.should_exit:
            log.warning("%s again: not waiting for open connections", sig.name)
            http.force_exit = True
            return
        log.info("%s: stopping (pending data is committed first)", sig.name)
        http.should_exit = True
        gateway.request_stop()

    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, on_signal, sig)

    def restore() -> None:
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)

    return restore


async def _stop_with_http(http, gateway) -> None:
    """Stop the gateway as soon as the HTTP side is told to exit: its live streams then end,
    so uvicorn has no open stream to wait for."""
    while not http.should_exit:
        await asyncio.sleep(0.05)
    gateway.request_stop()


async def serve(
    server: Server,
    host: str,
    port: int,
    log_level: str = "info",
    *,
    http: uvicorn.Server | None = None,
) -> None:
    """Serve HTTP and run the gateway until Ctrl+C / SIGTERM; then stop both cleanly."""
    http = http or http_server(server, host, port, log_level)
    gateway_task = asyncio.create_task(server.gateway.run(), name="gateway")
    watcher = asyncio.create_task(_stop_with_http(http, server.gateway), name="stop-watcher")
    restore_signals = _install_signal_handlers(http, server.gateway)
    try:
        await http.serve()
    finally:
        server.gateway.request_stop()
        watcher.cancel()
        try:
            await asyncio.wait_for(asyncio.shield(gateway_task), timeout=GATEWAY_STOP_TIMEOUT_S)
        except TimeoutError:
            log.error("the gateway did not stop within %g s; cancelling it", GATEWAY_STOP_TIMEOUT_S)
            gateway_task.cancel()
            await asyncio.gather(gateway_task, return_exceptions=True)
        except Exception:
            log.exception("the gateway stopped with an error")
        server.sink.close()
        server.database.dispose()
        if server.scratch is not None:
            server.scratch.cleanup()
        restore_signals()
