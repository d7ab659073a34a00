"""Entry point of the `winkwatch` console script.

Each command lives in its own module and adds itself with `register(app)` (`api.cli.app`);
heavy imports (FastAPI, SQLAlchemy, bleak, matplotlib) stay inside the command functions so
that `winkwatch analyze` starts fast. The console script (`run`) builds only the module of the
command asked for: typer inspects the parameters of every registered command before it runs
one. This module imports no typer: a plain `winkwatch analyze --sacrum A --thigh B ...` runs
without it (`api.cli.analyze_plain`; typer and click were ~25 ms of its ~150 ms of CPU).
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import typer

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
    "backup": "backup_command",
    "restore": "backup_command",
}

# Commands that have closed everything they wrote when they return: the process ends at once
# (api.process_exit) instead of tearing the interpreter down.
EXIT_AT_ONCE_COMMANDS = frozenset({"analyze"})


def run() -> None:
    """Console-script entry point: build only the command that is asked for."""
    command = sys.argv[1] if len(sys.argv) > 1 else ""
    if command == "analyze":
        from api.cli.analyze_plain import plain_arguments, run_plain

        arguments = plain_arguments(sys.argv[2:])
        if arguments is not None:
            run_plain(arguments)
    from api.cli.app import build_app

    home = COMMAND_HOMES.get(command)
    app = build_app((home,)) if home else build_app()
    if command not in EXIT_AT_ONCE_COMMANDS:
        try:
            app()
        except Exception as exc:
            _fail_on_damaged_database(exc)
            raise
        return
    from api.process_exit import exit_at_once

    try:
        app()
    except SystemExit as stop:
        if stop.code is None or isinstance(stop.code, int):
            exit_at_once(stop.code or 0)
        raise
    exit_at_once(0)


def _fail_on_damaged_database(exc: Exception) -> None:
    """Exit 2 with advice when `exc` says the SQLite database is damaged (a command reading
    or writing a file whose pages were overwritten), where it was a traceback."""
    if "sqlite3" not in sys.modules:  # no database was opened
        return
    from api.cli.common import cli_settings
    from api.storage.db import damaged_sqlite_detail

    detail = damaged_sqlite_detail(exc, cli_settings().database_url)
    if detail is not None:
        print(f"error: {detail}", file=sys.stderr)
        raise SystemExit(2) from None


def __getattr__(name: str) -> typer.Typer:
    """`app`: the whole command line (every command), built on first use, for tests and
    `python -m api.cli.main`. The console script (`run`) never builds it: importing every
    command module and registering its options cost ~13 ms of each `winkwatch analyze` start."""
    if name != "app":
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    from api.cli.app import build_app

    whole = build_app()
    globals()["app"] = whole
    return whole


if __name__ == "__main__":  # pragma: no cover
    run()
