"""What every `winkwatch` command shares: failing with a clear message, and the database."""

from __future__ import annotations

import math
import os
import sys
from collections.abc import Iterable
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn

if TYPE_CHECKING:
    from api.settings import Settings
    from api.storage.db import Database

# Exit codes of every command (README, `analyze`): 1 cannot write, 2 a bad option or input
# file, 3 well-formed input that cannot be analysed (too short, no motion), 4 sensors swapped
# or on the wrong segment (analyze writes no reps).
EXIT_BAD_INPUT = 2
EXIT_NOT_ANALYSABLE = 3
EXIT_SENSOR_FAULT = 4


class LogLevel(str, Enum):
    """`--log-level` of `serve`, `demo` and `gateway`: the levels uvicorn and logging share (any
    other word ended the command with uvicorn's KeyError or logging's ValueError)."""

    critical = "critical"
    error = "error"
    warning = "warning"
    info = "info"
    debug = "debug"


def fail(message: str, code: int = EXIT_BAD_INPUT) -> NoReturn:
    """Print `error: message` on stderr and exit with `code` (no traceback)."""
    import typer  # here, not at the top: a plain `winkwatch analyze` runs without typer

    typer.secho(f"error: {message}", err=True, fg=typer.colors.RED)
    raise typer.Exit(code=code)


def check_load_kg_option(load_kg: float | None) -> None:
    """Refuse a `--load-kg` that is no load (NaN, infinite, negative) as a bad option (exit
    2), with `analyze`'s message, before anything is read or started."""
    if load_kg is not None and not (math.isfinite(load_kg) and load_kg >= 0):
        fail(f"--load-kg must be a finite number >= 0 (0 = bodyweight), got {load_kg!r}")


def refuse_overwriting(out: Path | None, option: str, kept: Iterable[tuple[Path, str]]) -> None:
    """Refuse (exit 2, before anything is read or written) an output path that is one of the
    files the command reads or the database: opening it for writing would empty it first
    (`analyze --out sacrum.csv`, `export -o winkwatch.db`), and the recording or every stored
    set would be gone. Any spelling of the same file counts (a link, `./`, `..`)."""
    if out is None:
        return
    for path, what in kept:
        try:
            same = os.path.samefile(out, path)
        except OSError:  # either does not exist (yet): nothing there to destroy
            continue
        if same:
            fail(f"{option} {out} is {what}: writing it would destroy it; choose another file")


def refuse_replacing_recordings(out: Path, recordings: Iterable[Path], written_by: Path) -> None:
    """Refuse (exit 2, before anything is simulated or written) a `--out` folder that holds a
    raw recording the simulator did not write there (no `written_by`, its own record, beside
    it): a real set saved for `gateway --replay` or `analyze` would be overwritten by a
    simulated one without a word. A folder of an earlier simulation is simply written again."""
    if written_by.exists():
        return
    found = [path for path in recordings if path.exists()]
    if found:
        fail(
            f"--out {out} holds {', '.join(str(p) for p in found)}, not written by the "
            f"simulator (no {written_by.name} beside it): writing would replace that "
            "recording; choose another folder"
        )


def database_files(database_url: str) -> list[tuple[Path, str]]:
    """The files of a SQLite database (the database, its WAL, shared-memory and rollback
    journal), each named for `refuse_overwriting`; [] for PostgreSQL or an unusable URL."""
    from sqlalchemy.engine import make_url

    try:
        url = make_url(database_url)
    except Exception:  # the database's own opening says what is wrong with the URL
        return []
    name = url.database
    if url.get_backend_name() != "sqlite" or not name or name == ":memory:":
        return []
    what = f"the WinkWatch database ({database_url})"
    return [(Path(name), what)] + [
        (Path(name + suffix), f"a file of {what}") for suffix in ("-wal", "-shm", "-journal")
    ]


def say(message: str) -> None:
    """`message` as one line on stderr, flushed: what `typer.echo(message, err=True)` writes
    for a message without terminal escapes, without importing typer (`winkwatch analyze`)."""
    sys.stderr.write(message + "\n")
    sys.stderr.flush()


def cli_settings() -> Settings:
    """Settings from the environment; an unusable gateway id file is a clear error."""
    from api.settings import Settings
    from sensor_gateway.errors import ConfigError

    try:
        return Settings()
    except ConfigError as exc:
        fail(str(exc))


def shown_database_url(database_url: str) -> str:
    """`database_url` with its password masked (***), for the terminal and the logs."""
    from api.storage.db import parse_database_url

    return parse_database_url(database_url).render_as_string(hide_password=True)


def say_database(settings: Settings) -> None:
    """Say on stderr which database a command uses, so nobody reads the wrong one."""
    from api.errors import StorageError

    try:
        shown = shown_database_url(settings.database_url)
    except StorageError as exc:
        fail(str(exc))
    import typer

    typer.echo(f"database: {shown} (choose another with WINKWATCH_DATABASE_URL)", err=True)


def open_cli_database() -> Database:
    """The database of WINKWATCH_DATABASE_URL, said on stderr (`say_database`)."""
    from api.errors import StorageError
    from api.storage.db import open_database

    settings = cli_settings()
    say_database(settings)
    try:
        return open_database(settings.database_url, settings.database_schema)
    except StorageError as exc:
        fail(str(exc))
