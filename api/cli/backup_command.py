"""`winkwatch backup` and `winkwatch restore`: a consistent copy of the SQLite database while
the server records, and the way back (api.storage.backup). PostgreSQL: pg_dump / pg_restore."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, NoReturn

import typer

from api.cli.common import cli_settings, database_files, fail, refuse_overwriting, say_database

if TYPE_CHECKING:
    from api.settings import Settings
    from api.storage.backup import Contents


def backup(
    target: Path = typer.Argument(..., help="the file to write, e.g. /media/usb/winkwatch.db"),
    force: bool = typer.Option(
        False, "--force", help="replace TARGET if it exists (once the new copy is verified)"
    ),
) -> None:
    """Copy the database, consistently, while the server keeps recording; verify the copy."""
    from api.errors import StorageError
    from api.storage import backup as store

    settings, database = _sqlite_database(target, restore=False)
    refuse_overwriting(target, "TARGET", database_files(settings.database_url))
    try:
        store.check_target(target, force=force, database=database)
        typer.echo(f"copying {database} to {target} ...", err=True)
        contents = store.backup(database, target, force=force)
    except StorageError as exc:
        fail(str(exc))
    typer.echo(f"backed up {database} to {target}")
    _print_contents(contents)
    if contents.recording_sets:
        typer.echo(
            f"  note: {contents.recording_sets} set(s) were recording: the copy holds them as "
            "far as they were committed (restored, they are marked interrupted at the next start)"
        )
    typer.echo(f"restore it with: winkwatch restore {target}")


def restore(
    backup_file: Path = typer.Argument(..., help="a file `winkwatch backup` wrote"),
) -> None:
    """Replace the database with a backup (the replaced one is kept beside it). Stop the
    server first: a database in use is refused."""
    from api.errors import StorageError
    from api.storage import backup as store

    _, database = _sqlite_database(backup_file, restore=True)
    try:
        restored = store.restore(backup_file, database)
    except StorageError as exc:
        fail(str(exc))
    typer.echo(f"restored {backup_file} into {database}")
    _print_contents(restored.contents)
    if restored.kept is not None:
        typer.echo(f"  the database it replaced is kept as {restored.kept}")
        typer.echo(f"  (to go back: winkwatch restore {restored.kept}; delete it when not needed)")
    contents = restored.contents
    if contents.revision != contents.newest_revision:
        typer.echo(
            f"  the next `winkwatch serve` upgrades its schema from {contents.revision} to "
            f"{contents.newest_revision}"
        )


def _sqlite_database(path: Path, *, restore: bool) -> tuple[Settings, Path]:
    """The CLI's settings and its SQLite database file (said on stderr first); on
    PostgreSQL, the pg_dump / pg_restore command for `path` instead, and exit 2."""
    from api.storage import backup as store

    settings = cli_settings()
    say_database(settings)
    url = _parsed(settings.database_url)
    database = store.sqlite_database_path(url)
    if database is None:
        _postgres_advice(url, settings.database_schema, str(path), restore=restore)
    return settings, database


def _parsed(database_url: str):
    from api.errors import StorageError
    from api.storage.db import parse_database_url

    try:
        return parse_database_url(database_url)
    except StorageError as exc:
        fail(str(exc))


def _postgres_advice(url, schema: str | None, path: str, *, restore: bool) -> NoReturn:
    from api.storage.backup import postgres_command

    if url.get_backend_name() != "postgresql":
        fail(
            f"backup and restore work on a SQLite file; {url.get_backend_name()!r} is not one "
            "(WINKWATCH_DATABASE_URL)"
        )
    command = postgres_command(url, schema, path, restore=restore)
    if restore:
        fail(
            "the database is PostgreSQL: restore it with PostgreSQL's pg_restore, after stopping "
            f"every WinkWatch that uses it (give the password by PGPASSWORD or ~/.pgpass):\n"
            f"  {command}"
        )
    fail(
        "the database is PostgreSQL: back it up with PostgreSQL's pg_dump, which makes a "
        "consistent copy while the servers keep recording (give the password by PGPASSWORD or "
        f"~/.pgpass):\n  {command}"
    )


def _print_contents(contents: Contents) -> None:
    revision = contents.revision + (
        " (this WinkWatch's newest)"
        if contents.revision == contents.newest_revision
        else " (older: upgraded when a server starts on it)"
        if contents.revision_known
        else " (unknown to this WinkWatch: written by a newer one)"
    )
    rows = [
        ("athletes", f"{contents.athletes:,}"),
        ("sessions", f"{contents.sessions:,}"),
        ("sets", f"{contents.sets:,}"),
        ("reps", f"{contents.reps:,}"),
        ("raw samples", f"{contents.raw_samples:,}"),
        ("size", f"{_size(contents.size_bytes)} ({contents.size_bytes:,} bytes)"),
        ("checked", f"integrity ok, foreign keys ok, schema revision {revision}"),
    ]
    for name, value in rows:
        typer.echo(f"  {name:<12} {value}")


def _size(size_bytes: int) -> str:
    if size_bytes < 1000:
        return f"{size_bytes} bytes"
    size = float(size_bytes)
    for unit in ("kB", "MB", "GB"):
        size /= 1000
        if size < 1000 or unit == "GB":
            break
    return f"{size:.1f} {unit}"


def register(app: typer.Typer) -> None:
    """Add this group's commands to `app`."""
    app.command("backup")(backup)
    app.command("restore")(restore)
