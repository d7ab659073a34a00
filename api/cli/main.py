"""Entry point of the `winkwatch` console script.

Each command lives in its own module and adds itself with `register(app)`; heavy imports
(FastAPI, SQLAlchemy, bleak, matplotlib) stay inside the command functions so that
`winkwatch analyze` starts fast.
"""

from __future__ import annotations

import importlib

import typer

app = typer.Typer(
    name="winkwatch",
    help="WinkWatch: rep-by-rep butt-wink detection from a sacrum and a thigh IMU.",
    no_args_is_help=True,
    add_completion=False,
    # Plain click help: flags show no `<bool>` metavar, and rich is not imported for --help.
    rich_markup_mode=None,
    pretty_exceptions_enable=False,
)

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


def _print_version(value: bool) -> None:
    if value:
        from importlib.metadata import version as package_version

        typer.echo(f"winkwatch {package_version('winkwatch')}")
        raise typer.Exit()


@app.callback()
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


@app.command()
def version() -> None:
    """Print the installed WinkWatch version."""
    from importlib.metadata import version as package_version

    typer.echo(package_version("winkwatch"))


for _name in COMMAND_MODULES:
    importlib.import_module(f"api.cli.{_name}").register(app)

if __name__ == "__main__":  # pragma: no cover
    app()
