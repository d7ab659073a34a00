"""`winkwatch plot`: a set or one rep to PNG, from the database or from raw CSV files.

From the database (`--set ID`): the set's stored raw samples are analysed again for the
angles and its stored reps are marked. From files (`--sacrum`, `--thigh`): the recordings
are analysed; the reps marked are those of `--reps` (a `winkwatch analyze` CSV) if given,
else those the analysis finds.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import typer

from api.cli.common import EXIT_NOT_ANALYSABLE, check_load_kg_option, fail


def plot(
    out: Path = typer.Option(..., "--out", "-o", help="PNG file to write"),
    set_id: int | None = typer.Option(
        None, "--set", min=1, help="a set in the database (WINKWATCH_DATABASE_URL)"
    ),
    sacrum: Path | None = typer.Option(None, help="raw-recording CSV of the sacrum sensor"),
    thigh: Path | None = typer.Option(None, help="raw-recording CSV of the thigh sensor"),
    reps: Path | None = typer.Option(
        None, help="rep CSV from `winkwatch analyze` for these recordings"
    ),
    rep: int | None = typer.Option(None, "--rep", min=1, help="plot only this rep"),
    load_kg: float | None = typer.Option(None, help="load of the set in kg (files only)"),
) -> None:
    """Plot angles over time with reps and winks marked, and the tilt-vs-thigh loops, to PNG."""
    from api.errors import WinkWatchError
    from api.plotting import Angles, PlotError, render
    from fusion.errors import FusionError

    if (set_id is None) == (sacrum is None and thigh is None):
        fail("give either --set ID, or --sacrum FILE and --thigh FILE")
    if set_id is None and (sacrum is None or thigh is None):
        fail("--sacrum and --thigh go together: give both raw-recording CSV files")
    if set_id is not None and (reps is not None or load_kg is not None):
        fail("--reps and --load-kg are for files; with --set the stored reps and load are used")
    check_load_kg_option(load_kg)
    if out.suffix.lower() != ".png":
        fail(f"--out must be a .png file, got {out}")
    try:
        if set_id is not None:
            angles, rep_rows, title = _from_database(set_id)
        else:
            assert sacrum is not None and thigh is not None  # checked above
            angles, rep_rows, title = _from_files(sacrum, thigh, reps, load_kg)
        try:
            render(
                angles if isinstance(angles, Angles) else Angles.of(angles),
                rep_rows,
                out,
                title=title,
                rep=rep,
            )
        except OSError as exc:
            raise PlotError(
                f"cannot write {out}: {exc.strerror or exc}; choose a writable folder"
            ) from exc
    except (PlotError, WinkWatchError) as exc:
        fail(str(exc))
    except FusionError as exc:
        fail(f"cannot analyse the recordings: {exc}", EXIT_NOT_ANALYSABLE)
    typer.echo(f"wrote {out}", err=True)


def _from_database(set_id: int):
    from api.cli.common import open_cli_database
    from api.reanalysis import analyse_stored_set
    from api.storage import sets as set_store
    from api.storage.reps import RepFilter, iter_rep_rows

    database = open_cli_database()
    try:
        with database.sessions() as db:
            row = set_store.get_set(db, set_id)
            title = f"set {set_id}: {row.variant.replace('_', ' ')}, " + (
                f"{row.load_kg:g} kg" if row.load_kg is not None else "bodyweight"
            )
            rep_rows = list(iter_rep_rows(db, RepFilter(set_id=set_id)))
        result = analyse_stored_set(database, set_id)
    finally:
        database.dispose()
    return result, rep_rows, title


def _from_files(sacrum: Path, thigh: Path, reps: Path | None, load_kg: float | None):
    import csv

    from api.plotting import PlotError
    from fusion.pipeline import analyze_recordings
    from sensor_gateway.recording_csv import RecordingFormatError, read_recording_csv

    try:
        result = analyze_recordings(
            read_recording_csv(sacrum), read_recording_csv(thigh), load_kg=load_kg
        )
    except RecordingFormatError as exc:
        raise PlotError(str(exc)) from exc
    rep_rows: Sequence[object] = result.reps
    if reps is not None:
        try:
            with reps.open(newline="", encoding="utf-8") as handle:
                rep_rows = list(csv.DictReader(handle))
        except OSError as exc:
            raise PlotError(f"cannot read {reps}: {exc.strerror}") from exc
        except UnicodeDecodeError as exc:
            raise PlotError(
                f"{reps}: not a text (UTF-8) CSV file; pass the rep CSV `winkwatch analyze` wrote"
            ) from exc
    return result, rep_rows, f"{sacrum.name} + {thigh.name}"


def register(app: typer.Typer) -> None:
    """Add this group's commands to `app`."""
    app.command("plot")(plot)
