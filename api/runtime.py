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
import socket
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Literal, NoReturn, overload

from fastapi import FastAPI
from sqlalchemy import select

from api import sensor_assignments
from api.errors import StorageError
from api.http.app import create_app
from api.sensor_assignments import import_legacy_file
from api.settings import Settings
from api.storage import catalog
from api.storage.db import Database, open_database
from api.storage.gateway_lease import take_gateway_lease, take_simulation_lease
from api.storage.lost_samples import unwritten_findings_path, write_saved
from api.storage.models import Athlete
from api.storage.recorder import DatabaseSink, recover_after_restart
from api.vocab import Placement
from sensor_gateway.errors import GatewayError
from sensor_gateway.samples import SensorKind

if TYPE_CHECKING:
    import uvicorn

    from sensor_gateway.config import GatewaySettings
    from sensor_gateway.events import SetInfo
    from sensor_gateway.gateway import Gateway
    from sensor_gateway.sources.simulated import PlayedSet, SetHook, SimulatedAthlete

log = logging.getLogger(__name__)

SIMULATED_NAME = "Simulated athlete {index}"
# The kinds a BLE source streams (simulated and replayed sensors come from their own sources).
BLE_KINDS = frozenset({SensorKind.WINKWATCH, SensorKind.WITMOTION, SensorKind.MOVELLA_DOT})


@dataclass
class Server:
    app: FastAPI
    gateway: Gateway
    sink: DatabaseSink
    database: Database
    settings: Settings
    interrupted_set_ids: list[int] = field(default_factory=list)  # left recording by the last run


@overload
def athletes_named(
    database: Database, people: Sequence[tuple[str, str]], *, create: Literal[True] = True
) -> list[int]: ...


@overload
def athletes_named(
    database: Database, people: Sequence[tuple[str, str]], *, create: Literal[False]
) -> list[int | None]: ...


def athletes_named(
    database: Database, people: Sequence[tuple[str, str]], *, create: bool = True
) -> list[int] | list[int | None]:
    """Database ids of the athletes of these (name, notes): found by name among the active
    ones, created if none has it (simulated and demo athletes, reused when the database is
    kept; one the coach archived stays archived, and records nothing). `create=False`: None
    for a name no active athlete has, and nothing is written."""
    ids: list[int | None] = []
    with database.sessions.begin() as db:
        for name, notes in people:
            found = db.scalar(
                select(Athlete.id)
                .where(Athlete.name == name, Athlete.archived_at.is_(None))
                .order_by(Athlete.id)
                .limit(1)
            )
            if found is None and create:
                found = catalog.create_athlete(db, name, notes).id
            ids.append(found)
    return ids


def simulated_athlete_ids(database: Database, count: int) -> list[int]:
    """Database ids of `count` simulated athletes (created on first use, reused after)."""
    return athletes_named(database, simulated_people(count))


def simulated_people(count: int, name: str = SIMULATED_NAME) -> list[tuple[str, str]]:
    return [(name.format(index=index), "simulated") for index in range(1, count + 1)]


def build_runtime(
    settings: Settings,
    *,
    legacy_assignments: Path | None = None,
    gateway_settings: GatewaySettings | None = None,
) -> Server:
    """The one way the runtime is put together (`serve`, `demo`, `gateway`): the database
    (upgraded, this gateway id's lease taken so no second process runs as it, its sets
    left recording by a previous run marked interrupted before anything new is written, and
    the findings of raw samples it lost but could not store written), the sink, the gateway
    writing into it, and the app serving both. Sensor assignments are the database's
    (api.sensor_assignments); an old `gateway.json` at `legacy_assignments` is imported into
    it once. The caller adds sources
    (`add_ble_source`, `add_simulation`, ...), which hand the gateway the assignments they
    stream."""
    from sensor_gateway.config import GatewaySettings
    from sensor_gateway.gateway import Gateway

    database = open_database(settings.database_url, settings.database_schema)
    try:
        take_gateway_lease(database, settings.gateway_id)  # before the recovery below
    except StorageError:
        database.dispose()
        raise
    interrupted = recover_after_restart(database, settings.gateway_id)
    gateway_settings = gateway_settings or GatewaySettings()
    unwritten_findings = unwritten_findings_path(
        gateway_settings.config_file.parent, settings.gateway_id
    )
    write_saved(database, unwritten_findings)  # what the last run could not store
    if legacy_assignments is not None:
        import_legacy_file(database, legacy_assignments, settings.gateway_id)
    sink = DatabaseSink(
        database,
        gateway_id=settings.gateway_id,
        commit_interval_s=settings.commit_interval_s,
        start_thread=False,
        unwritten_findings_file=unwritten_findings,
    )
    gateway = Gateway(gateway_settings, sink=sink)
    app = create_app(settings, gateway, database=database, sink=sink)
    sink.start()
    return Server(
        app=app,
        gateway=gateway,
        sink=sink,
        database=database,
        settings=settings,
        interrupted_set_ids=interrupted,
    )


def build_server(
    settings: Settings, *, simulate: int = 0, realtime: bool = True, config_dir: Path | None = None
) -> Server:
    """`winkwatch serve`: the runtime with simulated athletes or the assigned BLE sensors.
    `config_dir`: where an old gateway.json may wait to be imported (default: the folder of
    WINKWATCH_GATEWAY_CONFIG_FILE)."""
    from sensor_gateway.config import CONFIG_FILE_NAME, GatewaySettings

    gateway_settings = GatewaySettings()
    legacy = gateway_settings.config_file
    if config_dir is not None:
        legacy = config_dir / CONFIG_FILE_NAME
    server = build_runtime(settings, legacy_assignments=legacy, gateway_settings=gateway_settings)
    try:
        if simulate:
            add_simulation(server, simulated_people(simulate), realtime=realtime)
        else:
            add_ble_source(server)
    except BaseException:  # e.g. the athletes simulated by another process: release the leases
        close_unstarted(server)
        raise
    return server


def close_unstarted(server: Server) -> None:
    """Close a runtime that was built but will not run: its sink, then its database (and
    with it the leases it holds)."""
    server.sink.close()
    server.database.dispose()


def add_simulation(
    server: Server,
    people: Sequence[tuple[str, str]],
    *,
    realtime: bool = True,
    make_athlete: Callable[[int, str], SimulatedAthlete] | None = None,
    start: Callable[[SimulatedAthlete, PlayedSet], SetInfo] | None = None,
    hooks: tuple[SetHook, SetHook] | None = None,
    label: str = "simulated",
) -> list[SimulatedAthlete]:
    """Simulated athletes squatting set after set: `people` (name, notes) found or created,
    their two sensors stored, assigned and handed to the gateway. `make_athlete(index,
    athlete key)`: what each performs (default: random sets forever); `start`: how a
    scripted set begins (default: the athlete's variant and load); `hooks`: the source's
    set start/end hooks instead of `scripted_set_hooks`."""
    from sensor_gateway.sources.simulated import SimulatedAthlete, SimulatedSource

    gateway = server.gateway
    athletes: list[SimulatedAthlete] = []
    # One process per simulated athlete, before anything is created or assigned through this
    # gateway: the ones that exist first, then the ones created here (nobody simulates them).
    existing = athletes_named(server.database, people, create=False)
    lease = [(i, name) for i, (name, _) in zip(existing, people, strict=True) if i is not None]
    take_simulation_lease(server.database, lease, server.settings.gateway_id)
    athlete_ids = athletes_named(server.database, people)
    created = [(i, name) for i, (name, _) in zip(athlete_ids, people, strict=True)]
    take_simulation_lease(
        server.database, [pair for pair in created if pair not in lease], server.settings.gateway_id
    )
    for index, athlete_id in enumerate(athlete_ids):
        athlete = (
            make_athlete(index, str(athlete_id))
            if make_athlete is not None
            else SimulatedAthlete(athlete_id=str(athlete_id), seed=index + 1)
        )
        register_simulated_sensors(
            gateway,
            server.database,
            athlete,
            athlete_id,
            label,
            gateway_id=server.settings.gateway_id,
        )
        athletes.append(athlete)

    def default_start(athlete: SimulatedAthlete, _played: PlayedSet) -> SetInfo:
        from api.depth_guard import athlete_depth_guard

        return gateway.start_set(
            athlete.athlete_id,
            athlete.variant,
            athlete.load_kg,
            label,
            depth_guard=athlete_depth_guard(server.database, int(athlete.athlete_id)),
        )

    on_set_start, on_set_end = hooks or scripted_set_hooks(gateway, start or default_start)
    gateway.add_source(
        SimulatedSource(
            athletes, realtime=realtime, on_set_start=on_set_start, on_set_end=on_set_end
        )
    )
    return athletes


def scripted_set_hooks(
    gateway: Gateway, start: Callable[[SimulatedAthlete, PlayedSet], SetInfo]
) -> tuple[SetHook, SetHook]:
    """The simulator's set start/end hooks: `start` begins the scripted set. A set a coach
    started by hand (API or dashboard) is never replaced or stopped by the script, nor is a
    set started for an athlete whose sensors were given to someone else meanwhile."""
    from sensor_gateway.errors import GatewayError

    scripted: dict[str, str] = {}  # athlete id -> set key of the set the script started

    def on_set_start(athlete: SimulatedAthlete, played: PlayedSet) -> None:
        running = gateway.active_sets().get(athlete.athlete_id)
        if running is not None and running.set_key != scripted.get(athlete.athlete_id):
            return  # the coach's set: leave it alone
        if not gateway.assignments.for_athlete(athlete.athlete_id):
            return  # the athlete's simulated sensors are paired with someone else now
        try:
            scripted[athlete.athlete_id] = start(athlete, played).set_key
        except GatewayError as exc:
            log.warning("scripted set of athlete %s not started: %s", athlete.athlete_id, exc)

    def on_set_end(athlete: SimulatedAthlete, _played: PlayedSet) -> None:
        running = gateway.active_sets().get(athlete.athlete_id)
        if running is not None and running.set_key == scripted.get(athlete.athlete_id):
            gateway.stop_set(athlete.athlete_id)

    return on_set_start, on_set_end


def register_simulated_sensors(
    gateway: Gateway,
    database: Database,
    athlete: SimulatedAthlete,
    athlete_id: int,
    label: str,
    *,
    gateway_id: str | None = None,
) -> None:
    """Store a simulated athlete's two sensors, assigned to `athlete_id` (streamed by
    `gateway_id`), and tell the gateway."""
    addresses = {placement: athlete.address(placement) for placement in Placement}
    register_source_sensors(
        gateway, database, addresses, SensorKind.SIMULATED, athlete_id, label, gateway_id
    )


def register_source_sensors(
    gateway: Gateway,
    database: Database,
    addresses: dict[Placement, str],
    kind: SensorKind,
    athlete_id: int,
    label: str,
    gateway_id: str | None,
) -> None:
    """Store a source's sensors (simulated, replayed) at their placements on `athlete_id`,
    streamed by `gateway_id`, and tell the gateway."""
    with database.sessions.begin() as db:
        told = []
        for placement, address in addresses.items():
            sensor = catalog.register_sensor(db, address, kind.value, f"{label} {placement.value}")
            told.append(sensor_assignments.assign(db, sensor.id, athlete_id, placement, gateway_id))
    for _, assignment in told:
        if assignment is not None:
            gateway.assign_sensor(
                assignment.address, assignment.kind, assignment.athlete_id, assignment.placement
            )


def add_ble_source(server: Server) -> None:
    """Stream the BLE sensors this gateway's database assigns to it; an assignment made
    later (PUT /sensors/{id}/assignment, the dashboard) connects its sensor at once."""
    from sensor_gateway.ble import BleSensor, BleSource

    gateway = server.gateway
    with server.database.sessions() as db:
        stored = sensor_assignments.gateway_assignments(db, server.settings.gateway_id, BLE_KINDS)
    gateway.replace_assignments(stored)
    if not stored:
        log.warning(
            "no sensors assigned to this gateway (%s) yet: serving the API without live "
            "sensors. Pair them from the dashboard's Sensors tab (or PUT "
            "/sensors/{id}/assignment, or `winkwatch gateway --assign`): an assignment takes "
            "effect at once, no restart needed. Or try --simulate N",
            server.settings.gateway_id,
        )

    def ble_sensors() -> list[BleSensor]:
        return [
            BleSensor(a.address, a.kind, a.rate_hz)
            for a in gateway.assignments.all()
            if a.kind in BLE_KINDS
        ]

    source = BleSource(ble_sensors())

    def follow() -> None:
        try:
            source.set_sensors(ble_sensors())
        except GatewayError as exc:
            log.error("the BLE source cannot stream the new assignment: %s", exc)

    gateway.assignments.on_change(follow)
    gateway.add_source(source)


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

        async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
            await super().shutdown(sockets)
            if self.force_exit and not self.lifespan.shutdown_event.is_set():
                # Hurried by a second signal, uvicorn skips the app's lifespan shutdown; the
                # lifespan task would then be cancelled at exit and log a CancelledError
                # traceback. It is quick: run it anyway.
                await self.lifespan.shutdown()

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


def exit_after_clean_stop(code: int = 0) -> NoReturn:
    """End the process at once once `serve` has returned: everything is committed, the sink
    closed and the database disposed, so tearing the interpreter down (collecting every object
    of the app, 1.5-5 s on a loaded Pi-class machine, measured in tests/api/test_shutdown.py)
    only delays the exit. Exit handlers and logging are flushed first."""
    from api.process_exit import exit_at_once

    exit_at_once(code)


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
        restore_signals()
