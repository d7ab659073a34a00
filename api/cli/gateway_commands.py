"""`winkwatch` commands of the gateway group: `gateway` (runtime) and `scan` (radio)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

from api.cli.common import LogLevel


def register(app: typer.Typer) -> None:
    """Add this group's commands to `app`."""
    register_gateway(app)
    register_scan(app)


# -- winkwatch gateway ---------------------------------------------------------------------


def register_gateway(app: typer.Typer) -> None:
    app.command("gateway")(gateway_command)


def gateway_command(
    config: Path | None = typer.Option(
        None,
        "--config",
        help="An old gateway.json whose sensor assignments are imported into the database "
        "once (default: gateway.json in the user config dir; env WINKWATCH_GATEWAY_CONFIG_FILE).",
    ),
    simulate: int = typer.Option(
        0,
        "--simulate",
        min=0,
        max=50,
        help="Run N simulated athletes (two sensors each) instead of BLE sensors.",
    ),
    replay: Path | None = typer.Option(
        None,
        "--replay",
        help="Replay DIR/sacrum.csv and DIR/thigh.csv (raw-recording CSVs) as one set.",
    ),
    assign: list[str] = typer.Option(
        [],
        "--assign",
        help="Assign a sensor in the database: ADDRESS,KIND,ATHLETE,PLACEMENT; ATHLETE is an "
        "athlete id or name (a new name creates the athlete). E.g. "
        "C4:7F:51:00:00:01,winkwatch,alice,sacrum. Repeatable.",
    ),
    list_sensors: bool = typer.Option(
        False, "--list", help="Print this gateway's sensor assignments and exit."
    ),
    set_variant: str | None = typer.Option(
        None,
        "--start-set",
        help="With BLE sensors: start a set of this variant (e.g. back_squat) "
        "for every athlete at start.",
    ),
    load_kg: float | None = typer.Option(
        None, "--load-kg", min=0, help="Load of sets started here, kg."
    ),
    sets: int | None = typer.Option(
        None, "--sets", min=1, help="Simulation: sets per athlete, then stop (default: forever)."
    ),
    fast: bool = typer.Option(
        False,
        "--fast",
        help="Simulation/replay: as fast as possible on a virtual clock, not in real time.",
    ),
    duration_s: float | None = typer.Option(
        None, "--duration-s", min=0, help="Stop after this many seconds."
    ),
    idle_stop_s: float | None = typer.Option(
        None,
        "--idle-stop-s",
        min=0.1,
        help="Stop a set after this long without a rep (default 120 s).",
    ),
    seed: int = typer.Option(0, "--seed", min=0, help="Simulation seed."),
    quiet: bool = typer.Option(False, "--quiet", help="No live status line; log events only."),
    log_level: LogLevel = typer.Option(LogLevel.info, "--log-level", case_sensitive=False),
) -> None:
    """Run the live gateway without the HTTP API: sensors in, reps and butt-wink events out,
    stored in the database like `winkwatch serve` stores them (Ctrl-C stops it)."""
    import asyncio
    import logging

    from rich.console import Console
    from rich.logging import RichHandler

    from api.cli.common import check_load_kg_option, cli_settings, say_database
    from api.errors import WinkWatchError
    from sensor_gateway.config import GatewaySettings
    from sensor_gateway.errors import GatewayError

    check_load_kg_option(load_kg)  # NaN passes `min=0`: the gateway logged a traceback
    console = Console(stderr=True)
    logging.basicConfig(
        level=log_level.value.upper(),
        format="%(message)s",
        datefmt="[%X]",
        handlers=[RichHandler(console=console, show_path=False)],
        force=True,
    )
    logging.getLogger("alembic").setLevel(logging.WARNING)
    overrides: dict[str, Any] = {}
    if idle_stop_s is not None:
        overrides["idle_stop_s"] = idle_stop_s
    if config is not None:
        overrides["config_file"] = config
    settings = cli_settings()
    say_database(settings)
    try:
        gateway_settings = GatewaySettings(**overrides)
        from api.runtime import build_runtime

        server = build_runtime(
            settings,
            legacy_assignments=gateway_settings.config_file,
            gateway_settings=gateway_settings,
        )
        try:
            for spec in assign:
                _assign_from_option(server, spec, console)
        except BaseException:  # release the gateway id's lease: the next command may take it
            server.sink.close()
            server.database.dispose()
            raise
        if list_sensors:
            _print_assignments(server, console)
            server.sink.close()
            server.database.dispose()
            return
        asyncio.run(
            _run_gateway(
                server,
                console,
                simulate=simulate,
                replay=replay,
                set_variant=set_variant,
                load_kg=load_kg,
                sets=sets,
                fast=fast,
                duration_s=duration_s,
                seed=seed,
                quiet=quiet,
            )
        )
    except (GatewayError, WinkWatchError) as exc:
        console.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(code=2) from None
    except KeyboardInterrupt:
        console.print("stopped")


def _assign_from_option(server, spec: str, console) -> None:
    from api import sensor_assignments
    from api.storage import catalog
    from api.vocab import Placement
    from sensor_gateway.config import ble_address_problem
    from sensor_gateway.errors import ConfigError
    from sensor_gateway.samples import SensorKind

    parts = [p.strip() for p in spec.split(",")]
    if len(parts) != 4:
        raise ConfigError(f"--assign {spec!r}: expected ADDRESS,KIND,ATHLETE,PLACEMENT")
    address, kind_name, athlete, placement_name = parts
    try:
        kind, placement = SensorKind(kind_name), Placement(placement_name)
    except ValueError as exc:
        raise ConfigError(f"--assign {spec!r}: {exc}") from None
    problem = ble_address_problem(address, kind)
    if problem is not None:
        raise ConfigError(f"--assign {spec!r}: {problem}")
    with server.database.sessions.begin() as db:
        athlete_id, created = sensor_assignments.athlete_for_key(db, athlete)
        sensor = catalog.register_sensor(db, address.upper(), kind.value)
        sensor_assignments.assign(db, sensor.id, athlete_id, placement, server.settings.gateway_id)
    if created:
        console.print(f"created athlete {athlete!r} (id {athlete_id})")


def _print_assignments(server, console) -> None:
    from rich.table import Table

    from api import sensor_assignments

    names = _athlete_names(server)
    with server.database.sessions() as db:
        assignments = sensor_assignments.gateway_assignments(db, server.settings.gateway_id)
    table = Table(title=f"Sensor assignments of gateway {server.settings.gateway_id}")
    for column in ("address", "kind", "athlete", "placement", "rate_hz"):
        table.add_column(column)
    for a in assignments:
        who = f"{names.get(a.athlete_id, '?')} ({a.athlete_id})"
        table.add_row(a.address, a.kind.value, who, a.placement.value, str(a.rate_hz or "default"))
    console.print(table)


def _athlete_names(server) -> dict[str, str]:
    """Athlete key (database id as a string) -> name, for readable logs."""
    from sqlalchemy import select

    from api.storage.models import Athlete

    with server.database.sessions() as db:
        return {str(i): name for i, name in db.execute(select(Athlete.id, Athlete.name))}


async def _run_gateway(
    server,
    console,
    *,
    simulate,
    replay,
    set_variant,
    load_kg,
    sets,
    fast,
    duration_s,
    seed,
    quiet,
) -> None:
    import asyncio
    import logging

    from api.runtime import add_ble_source
    from sensor_gateway.errors import ConfigError
    from sensor_gateway.events import SetVariant

    log = logging.getLogger("winkwatch.gateway")
    gateway = server.gateway
    finite = False
    try:
        if simulate:
            finite = sets is not None
            _add_simulated(server, simulate, sets, fast, seed, load_kg)
        elif replay is not None:
            finite = True
            _add_replay(server, replay, fast, load_kg)
        else:
            add_ble_source(server)
            if not gateway.assignments.all():
                raise ConfigError(
                    f"no sensors assigned to this gateway ({server.settings.gateway_id}): add "
                    "them with --assign ADDRESS,KIND,ATHLETE,PLACEMENT (find addresses with "
                    "`winkwatch scan`) or from the dashboard's Sensors tab, or try "
                    "`winkwatch gateway --simulate 2`"
                )
            if set_variant is not None:
                try:
                    variant = SetVariant(set_variant)
                except ValueError:
                    raise ConfigError(
                        f"--start-set {set_variant!r}: use one of "
                        f"{', '.join(v.value for v in SetVariant)}"
                    ) from None
                for athlete in gateway.assignments.athletes():
                    gateway.start_set(athlete, variant, load_kg)
    except BaseException:
        server.sink.close()
        server.database.dispose()
        raise
    names = _athlete_names(server)
    printer = asyncio.create_task(_log_events(gateway, log, names))
    status = None if quiet else asyncio.create_task(_status_line(gateway, console, names))
    if duration_s is not None:
        asyncio.get_running_loop().call_later(duration_s, gateway.request_stop)
    try:
        await gateway.run(stop_when_sources_end=finite)
    finally:
        await asyncio.wait_for(printer, timeout=5.0)
        if status is not None:
            status.cancel()
            await asyncio.gather(status, return_exceptions=True)
        server.sink.close()
        server.database.dispose()
    stats = gateway.stats
    per_sample_us = 1e6 * stats.processing_s / max(stats.samples, 1)
    log.info(
        "%d samples in %d batches, %.1f us per sample; events: %s",
        stats.samples,
        stats.batches,
        per_sample_us,
        dict(sorted(stats.events.items())),
    )


def _add_simulated(server, count, sets, fast, seed, load_kg) -> None:
    import numpy as np

    from api.runtime import add_simulation
    from fusion.simulator import random_spec
    from sensor_gateway.sources.simulated import SimulatedAthlete

    gateway = server.gateway
    rng = np.random.default_rng(seed)

    def make_athlete(index: int, athlete_id: str) -> SimulatedAthlete:
        specs = [random_spec(rng) for _ in range(sets)] if sets is not None else None
        return SimulatedAthlete(
            athlete_id,
            sets=specs,
            seed=seed * 1000 + index,
            load_kg=load_kg if load_kg is not None else 60.0 + 10.0 * index,
        )

    add_simulation(
        server,
        [(f"sim{i + 1}", "simulated by `winkwatch gateway`") for i in range(count)],
        realtime=not fast,
        make_athlete=make_athlete,
        # on the source's clock (virtual with --fast): just before its first packet
        hooks=(
            lambda a, p: gateway.start_set(
                a.athlete_id, a.variant, a.load_kg, now_s=p.first_received_s - 1e-3
            ),
            lambda a, p: gateway.stop_set(a.athlete_id, now_s=p.last_received_s + 1e-3),
        ),
    )


def _add_replay(server, directory: Path, fast: bool, load_kg) -> None:
    from api.runtime import athletes_named, register_source_sensors
    from api.vocab import Placement
    from sensor_gateway.errors import ConfigError
    from sensor_gateway.recording_csv import RecordingFormatError
    from sensor_gateway.samples import SensorKind
    from sensor_gateway.sources.replay import ReplayedSensor, ReplaySource

    gateway = server.gateway
    try:
        sensors = [
            ReplayedSensor.from_csv(f"REPLAY-{placement.upper()}", directory / f"{placement}.csv")
            for placement in ("sacrum", "thigh")
        ]
    except RecordingFormatError as exc:
        raise ConfigError(f"cannot replay {directory}: {exc}") from exc
    (athlete_id,) = athletes_named(
        server.database, [(directory.name or "replay", f"replayed from {directory}")]
    )
    register_source_sensors(
        gateway,
        server.database,
        {Placement.SACRUM: sensors[0].address, Placement.THIGH: sensors[1].address},
        SensorKind.REPLAY,
        athlete_id,
        "replay",
        server.settings.gateway_id,
    )
    key = str(athlete_id)
    gateway.add_source(
        ReplaySource(
            sensors,
            realtime=not fast,
            on_start=lambda t: gateway.start_set(key, load_kg=load_kg, now_s=t),
            on_end=lambda t: gateway.stop_set(key, now_s=t),
        )
    )


async def _log_events(gateway, log, names: dict[str, str]) -> None:
    """Readable log lines for the events that matter to a coach (not the live angles)."""
    from sensor_gateway.events import (
        Calibrated,
        QualityWarning,
        RepCompleted,
        SensorStatusChanged,
        SetStarted,
        SetStopped,
        WinkOnset,
    )

    sub = gateway.bus.subscribe(
        event_types=[
            SetStarted,
            SetStopped,
            RepCompleted,
            WinkOnset,
            Calibrated,
            QualityWarning,
            SensorStatusChanged,
        ]
    )
    async for event in sub:
        who = names.get(event.athlete_id, event.athlete_id) if event.athlete_id else "-"
        if isinstance(event, SetStarted):
            load = f"{event.set.load_kg:g} kg" if event.set.load_kg is not None else "no load"
            log.info("%s: set started (%s, %s)", who, event.set.variant.value, load)
        elif isinstance(event, SetStopped):
            log.info("%s: set stopped (%s) after %d reps", who, event.reason.value, event.rep_count)
        elif isinstance(event, RepCompleted) and event.correction:
            quality = ", ".join(event.metrics.quality)
            log.info("%s: rep %d corrected, quality now %s", who, event.metrics.rep, quality)
        elif isinstance(event, RepCompleted):
            m = event.metrics
            onset = f", onset at {m.wink_onset_depth_deg:.0f} deg" if m.wink_onset_depth_deg else ""
            verdict = "BUTT WINK" if m.butt_wink else "ok"
            log.info(
                "%s: rep %d depth %.0f deg, wink %.1f deg%s -> %s",
                who,
                m.rep,
                m.depth_deg,
                m.wink_deg,
                onset,
                verdict,
            )
        elif isinstance(event, WinkOnset):
            log.info(
                "%s: rep %d pelvis tucking under at %.0f deg thigh angle",
                who,
                event.rep,
                event.onset_depth_deg,
            )
        elif isinstance(event, Calibrated):
            (log.info if event.ok else log.warning)("%s: %s", who, event.message)
        elif isinstance(event, QualityWarning):
            log.warning("%s: %s", who, event.message)
        elif isinstance(event, SensorStatusChanged):
            if event.state.value == "streaming" and (
                event.detail in ("simulated", "replay") or "lost" in event.detail
            ):
                continue  # routine start, or a gap that the set's quality warning reports
            log.info(
                "%s %s (%s): %s%s",
                event.address,
                event.state.value,
                event.placement.value if event.placement else "unassigned",
                who,
                f" - {event.detail}" if event.detail else "",
            )


async def _status_line(gateway, console, names: dict[str, str]) -> None:
    """One refreshing line per athlete: set, reps, live angles; plus sensors and load."""
    import asyncio
    import time

    from rich.live import Live
    from rich.text import Text

    from sensor_gateway.events import LiveAngles

    latest: dict[str, LiveAngles] = {}
    sub = gateway.bus.subscribe(event_types=[LiveAngles], max_queued=200)

    def render() -> Text:
        lines = []
        sets = gateway.active_sets()
        for athlete in sorted(set(gateway.assignments.athletes()) | set(sets)):
            angles = latest.get(athlete)
            where = (
                (
                    f"thigh {angles.thigh_deg:5.1f}  tilt {angles.pelvic_tilt_deg:5.1f}  "
                    f"hip {angles.hip_flexion_deg:5.1f} deg"
                )
                if angles
                else "no angles yet"
            )
            info = sets.get(athlete)
            state = (
                f"{info.variant.value} set, {gateway.rep_count(athlete)} reps" if info else "no set"
            )
            lines.append(f"{names.get(athlete, athlete):>10}: {state:<24} {where}")
        sensors = gateway.sensors()
        streaming = sum(1 for s in sensors if s.state.value == "streaming")
        wall = max(time.perf_counter() - started, 1e-9)
        lines.append(
            f"sensors {streaming}/{len(sensors)} streaming, {gateway.stats.samples} samples, "
            f"gateway CPU {100 * gateway.stats.processing_s / wall:.1f}%"
        )
        return Text("\n".join(lines))

    started = time.perf_counter()
    with Live(render(), console=console, refresh_per_second=4, transient=True) as live:
        while True:
            while (event := sub.get_nowait()) is not None:
                latest[event.athlete_id] = event
            live.update(render())
            await asyncio.sleep(0.25)


# -- winkwatch scan (radio side) -------------------------------------------------------------


def register_scan(app: typer.Typer) -> None:
    app.command("scan")(scan_command)


def scan_command(
    timeout_s: float = typer.Option(
        5.0, "--timeout-s", min=0.5, help="How long to listen, seconds."
    ),
    battery: bool = typer.Option(
        False,
        "--battery",
        help="Connect briefly to sensors that do not advertise their battery "
        "level, one at a time, to read it.",
    ),
    show_all: bool = typer.Option(
        False, "--all", help="Also list devices that are not supported sensors."
    ),
    adapter: str | None = typer.Option(
        None, "--adapter", help="Bluetooth adapter, e.g. hci1 (default: the first powered one)."
    ),
) -> None:
    """List the BLE sensors in range: name, address, kind, signal strength and battery."""
    import asyncio

    from rich.console import Console
    from rich.table import Table

    from sensor_gateway.ble import AdapterUnavailableError, scan_sensors

    try:
        results = asyncio.run(
            scan_sensors(timeout_s, read_battery=battery, include_unknown=show_all, adapter=adapter)
        )
    except AdapterUnavailableError as exc:
        Console(stderr=True).print(f"[red]error:[/red] {exc}")
        raise typer.Exit(code=2) from None
    console = Console()
    if not results:
        console.print(
            f"No sensors heard in {timeout_s:g} s. Are they switched on, charged, and not "
            "connected to a phone app? Try a longer --timeout-s."
        )
        return
    table = Table(title=f"Sensors in range ({len(results)})")
    for column, justify in (
        ("name", "left"),
        ("address", "left"),
        ("kind", "left"),
        ("RSSI dBm", "right"),
        ("battery %", "right"),
    ):
        table.add_column(column, justify=justify)  # type: ignore[arg-type]
    for result in results:
        if result.battery_pct is not None:
            battery_text = f"{result.battery_pct} ({'adv' if result.battery_source == 'advertisement' else 'read'})"
        else:
            battery_text = "-" if battery or result.kind is None else "? (--battery)"
        table.add_row(
            result.name or "?",
            result.address,
            result.kind.value if result.kind is not None else "unsupported",
            str(result.rssi_dbm) if result.rssi_dbm is not None else "?",
            battery_text,
        )
    console.print(table)
    console.print(
        "Pair a sensor from the dashboard's Sensors tab, or with: "
        "winkwatch gateway --assign ADDRESS,KIND,ATHLETE,PLACEMENT"
    )
