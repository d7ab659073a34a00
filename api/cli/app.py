"""The `winkwatch` typer app: the top-level options and every command module's `register(app)`.

`api.cli.main` (the console script) builds it with only the asked command's module.
"""

from __future__ import annotations

import importlib

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
    "backup_command",
)


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
