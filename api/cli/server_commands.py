"""`winkwatch serve`, `token`, `export` and `reanalyze`: the server and its database.

All use WINKWATCH_DATABASE_URL (default: SQLite in the user's data directory) and upgrade
the schema first. Heavy imports stay inside the commands.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from enum import Enum
from pathlib import Path

import typer

from api.cli.common import (
    LogLevel,
    cli_settings,
    database_files,
    fail,
    open_cli_database,
    refuse_overwriting,
    shown_database_url,
)

token_app = typer.Typer(help="Create, list and revoke API tokens.", no_args_is_help=True)


class RoleChoice(str, Enum):
    read = "read"
    admin = "admin"


class PlacementChoice(str, Enum):
    sacrum = "sacrum"
    thigh = "thigh"


def serve(
    host: str = typer.Option(None, help="interface to listen on (default 127.0.0.1)"),
    port: int = typer.Option(None, min=1, max=65535, help="TCP port (default 8000)"),
    simulate: int = typer.Option(
        0, min=0, max=50, help="run N simulated athletes (no hardware needed)"
    ),
    log_level: LogLevel = typer.Option(
        LogLevel.info, case_sensitive=False, help="uvicorn log level"
    ),
    edge: bool = typer.Option(
        False, "--edge", help="also forward everything to a central server over MQTT"
    ),
    central: bool = typer.Option(
        False, "--central", help="be the central server: edges' data via MQTT, no sensors"
    ),
    sign_in_qr: RoleChoice | None = typer.Option(
        None,
        "--sign-in-qr",
        help="create a token of this role and print a QR code that opens the dashboard "
        "signed in (scan it with a phone); revoke it with `winkwatch token revoke`",
    ),
) -> None:
    """Run the HTTP API (docs at /docs) and the live gateway in one process."""
    if edge or central:
        from api.federation.cli import serve_federated

        serve_federated(host, port, simulate, log_level.value, central=central, edge=edge)
        return
    import asyncio
    import logging

    from api.errors import StorageError
    from api.runtime import build_server, exit_after_clean_stop
    from api.runtime import serve as run_server
    from sensor_gateway.errors import ConfigError

    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    logging.getLogger("alembic").setLevel(logging.WARNING)  # schema upgrades: quiet unless wrong
    settings = cli_settings()
    host = host or settings.host
    port = settings.port if port is None else port
    from api.cli.demo_command import port_problem

    # Before the start-up, so a port in use is said as such (a server already running with
    # this gateway id is refused by its lease either way: api.storage.gateway_lease)
    problem = port_problem(host, port, "serve")
    if problem is not None:
        fail(problem)
    try:
        server = build_server(settings, simulate=simulate)
    except (StorageError, ConfigError) as exc:  # ConfigError: a WINKWATCH_GATEWAY_* variable
        fail(str(exc))
    interrupted = server.interrupted_set_ids
    if interrupted:
        typer.echo(f"sets left recording by the last run, marked interrupted: {interrupted}")
    typer.echo(
        f"WinkWatch API on http://{host}:{port} (docs: /docs); "
        f"database {shown_database_url(settings.database_url)}"
    )
    if sign_in_qr is not None:
        _print_sign_in_qr(server, host, port, sign_in_qr)
    else:
        typer.echo(
            "Sign a phone in: --sign-in-qr admin prints a QR code (or the dashboard's Setup "
            "tab shows one)"
        )
    if simulate:
        typer.echo(
            f"{simulate} simulated athlete(s) squatting; create a token with "
            "`winkwatch token create NAME` to call the API"
        )
    try:
        asyncio.run(run_server(server, host, port, log_level.value))
    except KeyboardInterrupt:
        pass
    exit_after_clean_stop(0)


def _print_sign_in_qr(server, host: str, port: int, role: RoleChoice) -> None:
    """A new token of `role` as a dashboard link and a terminal QR code."""
    from api.auth import create_token
    from api.cli.demo_command import _lan_address
    from api.sign_in import qr_terminal, sign_in_url
    from api.vocab import TokenRole

    with server.database.sessions.begin() as db:
        token, secret = create_token(db, f"phone sign-in ({role.value})", TokenRole(role.value))
        token_id = token.id
    shown_host = _lan_address() if host in ("0.0.0.0", "::") else host
    url = sign_in_url(f"http://{shown_host}:{port}", secret)
    typer.echo(f"Dashboard, signed in ({role.value}, token {token_id}): {url}")
    typer.echo(qr_terminal(url), nl=False)


MAX_TOKEN_NAME_CHARS = 200  # the api_tokens.name column


@token_app.command("create")
def token_create(
    name: str = typer.Argument(..., help="who or what uses it, e.g. 'gym tablet'"),
    role: RoleChoice = typer.Option(RoleChoice.read, help="read: dashboards; admin: changes too"),
) -> None:
    """Create a token and print its secret (shown once; only its hash is stored)."""
    from api.auth import create_token
    from api.vocab import TokenRole

    name = name.strip()  # the HTTP API's names are checked the same way (schemas.Name)
    problem = (
        "is empty"
        if not name
        else "contains a NUL character"
        if "\x00" in name
        else f"is {len(name)} characters long (at most {MAX_TOKEN_NAME_CHARS})"
        if len(name) > MAX_TOKEN_NAME_CHARS
        else None
    )
    if problem is not None:
        fail(f"the token name {problem}: give who or what uses it, e.g. 'gym tablet'")
    database = open_cli_database()
    with database.sessions.begin() as db:
        token, secret = create_token(db, name, TokenRole(role.value))
        token_id = token.id
    typer.echo(f"token {token_id} ({role.value}) for {name!r}:", err=True)
    typer.echo(secret)


@token_app.command("list")
def token_list() -> None:
    """List tokens (never their secrets)."""
    from api.auth import list_tokens

    database = open_cli_database()
    with database.sessions() as db:
        tokens = list_tokens(db)
        if not tokens:
            typer.echo("no tokens yet: create one with `winkwatch token create NAME`", err=True)
            return
        typer.echo("id\trole\tstate\tname")
        for token in tokens:
            state = f"revoked {token.revoked_at:%Y-%m-%d %H:%M}" if token.revoked_at else "active"
            typer.echo(f"{token.id}\t{token.role}\t{state}\t{token.name}")


@token_app.command("revoke")
def token_revoke(
    token_id: int = typer.Argument(..., help="id shown by `winkwatch token list`"),
) -> None:
    """Revoke a token: requests with it get 401 from now on."""
    from api.auth import revoke_token
    from api.errors import NotFoundError

    database = open_cli_database()
    try:
        with database.sessions.begin() as db:
            revoke_token(db, token_id)
    except NotFoundError as exc:
        fail(str(exc))
    typer.echo(f"token {token_id} revoked")


def export(
    out: Path = typer.Option(None, "--out", "-o", help="file to write (default: standard output)"),
    set_id: int | None = typer.Option(None, "--set", help="reps (or raw samples) of this set"),
    session_id: int | None = typer.Option(None, "--session", help="reps of this session"),
    athlete_id: int | None = typer.Option(None, "--athlete", help="reps of this athlete"),
    since: datetime | None = typer.Option(None, help="reps from this date/time (UTC)"),
    until: datetime | None = typer.Option(None, help="reps before this date/time (UTC)"),
    flagged: bool = typer.Option(False, "--flagged", help="butt-wink reps only"),
    raw: PlacementChoice | None = typer.Option(None, help="raw samples of one sensor of --set"),
    raw_zip: bool = typer.Option(
        False, "--raw-zip", help="raw samples of every sensor of --set, zipped"
    ),
) -> None:
    """Export reps as CSV (the `winkwatch analyze` columns + ids), or a set's raw samples."""

    from api.errors import WinkWatchError
    from api.export import iter_raw_csv, iter_raw_zip
    from api.rep_export import iter_reps_csv
    from api.storage import catalog
    from api.storage import sets as set_store
    from api.storage.db import read_one_snapshot
    from api.storage.reps import RepFilter
    from api.vocab import Placement

    if (raw or raw_zip) and set_id is None:
        fail("--raw and --raw-zip need --set SET_ID")
    if raw_zip and out is None:
        fail("--raw-zip writes a zip file: give --out FILE.zip")
    refuse_overwriting(out, "--out", database_files(cli_settings().database_url))
    database = open_cli_database()
    utc = lambda value: value.replace(tzinfo=UTC) if value and value.tzinfo is None else value  # noqa: E731
    try:
        with database.sessions() as db:
            if raw or raw_zip:  # a deletion meanwhile must not cut the file short
                read_one_snapshot(db)
            # A set, session or athlete that does not exist is an error, not an empty file.
            if set_id is not None:
                set_store.get_set(db, set_id)
            if session_id is not None:
                catalog.get_session(db, session_id)
            if athlete_id is not None:
                catalog.get_athlete(db, athlete_id)
            chunks: Iterator[str] | Iterator[bytes]
            if raw_zip and set_id is not None:
                chunks = iter_raw_zip(db, set_id)
            elif raw and set_id is not None:
                chunks = iter_raw_csv(db, set_id, Placement(raw.value))
            else:
                where = RepFilter(
                    athlete_id=athlete_id,
                    set_id=set_id,
                    session_id=session_id,
                    butt_wink=True if flagged else None,
                    since=utc(since),
                    until=utc(until),
                )
                chunks = iter_reps_csv(db, where)
            _write_chunks(chunks, out)
    except WinkWatchError as exc:
        fail(str(exc))
    except OSError as exc:  # --out: a missing folder, a folder, no permission, a full disk
        fail(f"cannot write {out}: {exc.strerror or exc}; choose a writable file")
    if out is not None:
        typer.echo(f"wrote {out}", err=True)


def _write_chunks(chunks: Iterator[str] | Iterator[bytes], out: Path | None) -> None:
    if out is None:
        for chunk in chunks:
            sys.stdout.write(chunk if isinstance(chunk, str) else chunk.decode("utf-8"))
        return
    with out.open("wb") as handle:
        for chunk in chunks:
            handle.write(chunk.encode("utf-8") if isinstance(chunk, str) else chunk)


def reanalyze(set_id: int = typer.Argument(..., help="the set to analyse again")) -> None:
    """Re-run the analysis on the set's stored raw samples and replace its reps."""
    from api.errors import WinkWatchError
    from api.reanalysis import reanalyze_set
    from fusion.errors import FusionError

    database = open_cli_database()
    try:
        outcome = reanalyze_set(database, set_id)
    except (WinkWatchError, FusionError) as exc:
        fail(str(exc))
    typer.echo(
        f"set {set_id}: {outcome.reps_before} rep(s) replaced by {outcome.reps_after} "
        f"({outcome.wink_reps} with butt wink)"
    )
    for finding in outcome.findings:
        typer.echo(f"  note: {finding.message}")


def list_sets_command(
    athlete_id: int | None = typer.Option(None, "--athlete", help="only this athlete's sets"),
    limit: int = typer.Option(20, min=1, max=1000, help="newest N sets"),
) -> None:
    """List recorded sets, newest first (ids for `export --set`, `plot --set`, `reanalyze`)."""
    from sqlalchemy import Integer, cast, func, select

    from api.errors import WinkWatchError
    from api.storage import catalog
    from api.storage import sets as set_store
    from api.storage.models import Athlete, Rep

    database = open_cli_database()
    try:
        with database.sessions() as db:
            if athlete_id is not None:
                catalog.get_athlete(db, athlete_id)
            page = set_store.list_sets(db, athlete_id=athlete_id, limit=limit)
            ids = [row.id for row in page.items]
            names = dict(db.execute(select(Athlete.id, Athlete.name)).all())
            counts = {
                set_id: (reps, flagged or 0)
                for set_id, reps, flagged in db.execute(
                    select(Rep.set_id, func.count(), func.sum(cast(Rep.butt_wink, Integer)))
                    .where(Rep.set_id.in_(ids))
                    .group_by(Rep.set_id)
                )
            }
            rows = list(page.items)
    except WinkWatchError as exc:
        fail(str(exc))
    if not rows:
        typer.echo("no sets recorded yet", err=True)
        return
    typer.echo("set\tstarted (UTC)\tathlete\tvariant\tload_kg\tstatus\treps\twink reps")
    for row in rows:
        reps, flagged = counts.get(row.id, (0, 0))
        load = "bodyweight" if not row.load_kg else f"{row.load_kg:g}"
        typer.echo(
            f"{row.id}\t{row.started_at:%Y-%m-%d %H:%M}\t{names.get(row.athlete_id, '?')}\t"
            f"{row.variant}\t{load}\t{row.status}\t{reps}\t{flagged}"
        )


def register(app: typer.Typer) -> None:
    """Add this group's commands to `app`."""
    app.command("serve")(serve)
    app.command("sets")(list_sets_command)
    app.add_typer(token_app, name="token")
    app.command("export")(export)
    app.command("reanalyze")(reanalyze)
