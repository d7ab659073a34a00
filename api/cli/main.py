"""Entry point of the `winkwatch` console script.

Each command lives in its own module and adds itself with `register(app)`; heavy imports
(FastAPI, SQLAlchemy, bleak, matplotlib) stay inside the command functions so that
`winkwatch analyze` starts fast. The console script (`run`) builds only the module of the
command asked for: typer inspects the parameters of every registered command before it
runs one.
"""

from __future__ import annotations

import importlib
import sys

import typer

# Modules under api.cli that define `register(app)`; one command group each.
COMMAND_MODULES: tuple[str, ...] = (
    "simulate_command",
    "analyze_command",
    "orient_command",
    "gateway_commands",
    "server_commands",
    "demo_command",
    "plot_command",
    "assess_command",
)

# The module of each top-level command, for `run`. A command missing here still works
# (every module is then registered); tests/test_cli_startup.py checks the map is complete.
COMMAND_HOMES: dict[str, str] = {
    "simulate": "simulate_command",
    "analyze": "analyze_command",
    "orient": "orient_command",
    "gateway": "gateway_commands",
    "scan": "gateway_commands",
    "serve": "server_commands",
    "sets": "server_commands",
    "token": "server_commands",
    "export": "server_commands",
    "reanalyze": "server_commands",
    "demo": "demo_command",
    "plot": "plot_command",
    "assess": "assess_command",
    "simulate-assessment": "assess_command",
}


def _print_version(value: bool) -> None:
    if value:
        from importlib.metadata import version as package_version

        typer.echo(f"winkwatch {package_version('winkwatch')}")
        raise typer.Exit()


def main(
    version: bool = typer.Option(
        False,
        "--version",
        callback=_print_version,
        is_eager=True,
        help="Print the installed WinkWatch version and exit.",
    ),
) -> None:
    """WinkWatch: rep-by-rep butt-wink detection from a sacrum and a thigh IMU."""


def version() -> None:
    """Print the installed WinkWatch version."""
    from importlib.metadata import version as package_version

    typer.echo(package_version("winkwatch"))


def build_app(modules: tuple[str, ...] = COMMAND_MODULES) -> typer.Typer:
    """The `winkwatch` app with the commands of `modules` (default: all of them)."""
    app = typer.Typer(
        name="winkwatch",
        help="WinkWatch: rep-by-rep butt-wink detection from a sacrum and a thigh IMU.",
        no_args_is_help=True,
        add_completion=False,
        # Plain click help: flags show no `<bool>` metavar, and rich (with markdown-it,
        # ~150 ms of imports) is not imported for --help or a usage error.
        rich_markup_mode=None,
        pretty_exceptions_enable=False,
    )
    app.callback()(main)
    app.command()(version)
    for name in modules:
        importlib.import_module(f"api.cli.{name}").register(app)
    return app


# Commands that have closed everything they wrote when they return: the process ends at once
# (api.process_exit) instead of tearing the interpreter down.
EXIT_AT_ONCE_COMMANDS = frozenset({"analyze"})


def run() -> None:
    """Console-script entry point: build only the command that is asked for."""
    command = sys.argv[1] if len(sys.argv) > 1 else ""
    home = COMMAND_HOMES.get(command)
    app = build_app((home,) if home else COMMAND_MODULES)
    if command not in EXIT_AT_ONCE_COMMANDS:
        app()
        return
    from api.process_exit import exit_at_once

    try:
        app()
    except SystemExit as stop:
        if stop.code is None or isinstance(stop.code, int):
            exit_at_once(stop.code or 0)
        raise
    exit_at_once(0)


def __getattr__(name: str) -> typer.Typer:
    """`app`: the whole command line (every command), built on first use. The console
    script (`run`) never builds it: importing every command module and registering its
    options cost ~13 ms of each `winkwatch analyze` start."""
    if name != "app":
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    whole = build_app()
    globals()["app"] = whole
    return whole


if __name__ == "__main__":  # pragma: no cover
    run()
