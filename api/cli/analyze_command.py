"""`winkwatch analyze`: per-rep butt-wink metrics from a sacrum and a thigh recording."""

from __future__ import annotations

import csv
import sys
from pathlib import Path
from typing import Annotated

import typer

EXIT_BAD_INPUT = 2  # a malformed or missing file, or an invalid option
EXIT_NOT_ANALYSABLE = 3  # well-formed files that cannot be analysed (too short, no motion)


def analyze(
    sacrum: Annotated[Path, typer.Option(help="Raw-recording CSV of the sacrum sensor.")],
    thigh: Annotated[Path, typer.Option(help="Raw-recording CSV of the thigh sensor.")],
    load_kg: Annotated[
        float | None, typer.Option(help="Load of the set in kg (0 = bodyweight).")
    ] = None,
    out: Annotated[
        Path | None, typer.Option(help="Write the rep CSV here (default: stdout).")
    ] = None,
    engine: Annotated[
        str | None,
        typer.Option(help="Orientation engine (default: the most accurate offline one)."),
    ] = None,
    wink_threshold_deg: Annotated[
        float | None, typer.Option(help="Flag a butt wink at or above this amplitude.")
    ] = None,
) -> None:
    """Analyse one set: one CSV row per rep; data-quality findings on stderr."""
    from dataclasses import replace

    from fusion.errors import FusionError
    from fusion.orientation import ENGINE_NAMES
    from fusion.pipeline import AnalysisConfig, analyze_recordings
    from fusion.report import REP_CSV_HEADER, rep_csv_rows
    from sensor_gateway.recording_csv import RecordingFormatError, read_recording_csv

    config = AnalysisConfig()
    if engine is not None:
        if engine not in ENGINE_NAMES:
            _fail(
                f"unknown engine {engine!r}; choose one of {', '.join(ENGINE_NAMES)}",
                EXIT_BAD_INPUT,
            )
        config = replace(config, engine=engine)
    if wink_threshold_deg is not None:
        config = replace(config, wink_threshold_deg=wink_threshold_deg)
    try:
        sacrum_rec = read_recording_csv(sacrum)
        thigh_rec = read_recording_csv(thigh)
    except RecordingFormatError as exc:
        _fail(str(exc), EXIT_BAD_INPUT)
    try:
        result = analyze_recordings(sacrum_rec, thigh_rec, load_kg=load_kg, config=config)
    except FusionError as exc:
        _fail(f"cannot analyse {sacrum} + {thigh}: {exc}", EXIT_NOT_ANALYSABLE)
    for finding in result.findings:
        typer.echo(f"warning: {finding.message}", err=True)
    handle = out.open("w", newline="", encoding="utf-8") if out else sys.stdout
    try:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(REP_CSV_HEADER)
        writer.writerows(rep_csv_rows(result.reps))
    finally:
        if out:
            handle.close()
    flagged = sum(rep.butt_wink for rep in result.reps)
    typer.echo(f"{len(result.reps)} rep(s), {flagged} with a butt wink", err=True)


def _fail(message: str, code: int) -> None:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(code)


def register(app: typer.Typer) -> None:
    """Add `analyze` to `app`."""
    app.command()(analyze)
