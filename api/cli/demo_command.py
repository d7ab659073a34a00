"""`winkwatch demo`: the API, the dashboard and two simulated athletes, until Ctrl-C.

Nothing outside the data directory is touched (a fresh temporary one by default): the
demo's SQLite database and simulated sensor assignments live there, and a read-only
dashboard token is created in it and printed with the dashboard's URL.
"""

from __future__ import annotations

from pathlib import Path

import typer

from api.cli.common import LogLevel

DEMO_PORT = 8000


def _lan_address() -> str:
    """This machine's address on the local network (for a phone), or 127.0.0.1."""
    import socket

    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.connect(("10.255.255.255", 1))  # UDP connect sends nothing; picks the route
            return probe.getsockname()[0]
        except OSError:
            return "127.0.0.1"


def port_problem(host: str, port: int, command: str) -> str | None:
    """Why `host:port` cannot be listened on now (None: it can), said with advice; checked
    before the banner. Only a port in use is said to be in use: `--host 999.1.1.1` (not an
    address) or an address of another machine was "port ... is in use" too."""
    import errno
    import socket

    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn binds
        try:
            probe.bind((host, port))
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                other = "serve" if command == "demo" else "demo"
                return (
                    f"port {port} on {host} is in use (another `winkwatch {command}` or "
                    f"`{other}`?); stop it or choose another with --port"
                )
            if exc.errno == errno.EACCES:
                return (
                    f"port {port} on {host} needs more rights than this user has (ports "
                    "below 1024); choose a port from 1024 up with --port"
                )
            return (
                f"cannot listen on {host} port {port}: {exc.strerror or exc}; --host must be "
                "an address of this machine (127.0.0.1, or 0.0.0.0 to open it from a phone)"
            )
    return None


def demo(
    host: str = typer.Option(
        "127.0.0.1", help="interface to listen on; 0.0.0.0 to open it from a phone"
    ),
    port: int = typer.Option(DEMO_PORT, min=1, max=65535, help="TCP port"),
    data_dir: Path = typer.Option(
        None, "--data-dir", help="keep the demo database here (default: a new temporary directory)"
    ),
    admin_token: bool = typer.Option(
        False,
        "--admin-token",
        help="also print an admin token (to start/stop sets from the dashboard)",
    ),
    log_level: LogLevel = typer.Option(
        LogLevel.warning, case_sensitive=False, help="uvicorn log level"
    ),
) -> None:
    """Run the dashboard and API with two simulated athletes (one clean, one winking under load)."""
    import asyncio
    import logging

    from api.auth import create_token
    from api.demo_scenario import DEMO_ATHLETES, build_demo_server, default_data_dir, demo_settings
    from api.errors import WinkWatchError
    from api.runtime import serve
    from api.vocab import TokenRole
    from sensor_gateway.errors import ConfigError

    logging.basicConfig(
        level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    problem = port_problem(host, port, "demo")
    if problem is not None:
        typer.secho(f"error: {problem}", err=True, fg=typer.colors.RED)
        raise typer.Exit(code=2)
    temporary = data_dir is None
    if data_dir is None:
        data_dir = default_data_dir()
    try:
        data_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        typer.secho(
            f"error: cannot use --data-dir {data_dir}: {exc.strerror or exc}; "
            "choose a writable folder",
            err=True,
            fg=typer.colors.RED,
        )
        raise typer.Exit(code=2) from exc
    try:
        settings = demo_settings(data_dir, host, port)
        server = build_demo_server(settings, data_dir)
        with server.database.sessions.begin() as db:
            _, reader = create_token(db, "demo dashboard", TokenRole.READ)
            admin = create_token(db, "demo admin", TokenRole.ADMIN)[1] if admin_token else None
    except (WinkWatchError, ConfigError) as exc:  # ConfigError: a WINKWATCH_* variable
        typer.secho(f"error: {exc}", err=True, fg=typer.colors.RED)
        raise typer.Exit(code=2) from exc

    shown_host = _lan_address() if host in ("0.0.0.0", "::") else host
    names = ", ".join(a.name for a in DEMO_ATHLETES)
    typer.echo(f"WinkWatch demo: {len(DEMO_ATHLETES)} simulated athletes squatting ({names})")
    from api.sign_in import qr_terminal, sign_in_url

    base_url = f"http://{shown_host}:{port}"
    typer.echo(f"Dashboard: {sign_in_url(base_url, reader)}")
    typer.echo(f"Read-only token: {reader}")
    if admin is not None:
        typer.echo(
            f"Admin token: {admin} (set up athletes and sensors: {sign_in_url(base_url, admin)})"
        )
    qr_role = "admin" if admin is not None else "read-only"
    typer.echo(f"Scan to open the dashboard signed in ({qr_role}) on a phone:")
    typer.echo(qr_terminal(sign_in_url(base_url, admin or reader)), nl=False)
    typer.echo(f"API docs: http://{shown_host}:{port}/docs")
    if temporary:
        typer.echo(f"Data: {data_dir}, removed when the demo stops (keep it with --data-dir DIR)")
    else:
        typer.echo(f"Data: {data_dir}")
    typer.echo(
        f"Other commands reach it with WINKWATCH_DATABASE_URL={settings.database_url} "
        "(e.g. `winkwatch sets`)"
    )
    if host == "127.0.0.1":
        typer.echo("Open it from a phone on the same network with --host 0.0.0.0.")
    typer.echo("Press Ctrl-C to stop.", nl=True)
    try:
        asyncio.run(serve(server, host, port, log_level.value))
    except KeyboardInterrupt:
        pass
    finally:
        server.database.dispose()
        if temporary:
            import shutil

            shutil.rmtree(data_dir, ignore_errors=True)
    typer.echo("demo stopped" + (f"; removed {data_dir}" if temporary else ""))


def register(app: typer.Typer) -> None:
    """Add this group's commands to `app`."""
    app.command("demo")(demo)
