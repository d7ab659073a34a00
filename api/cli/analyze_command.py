"""`winkwatch analyze`: per-rep butt-wink metrics from a sacrum and a thigh recording."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from api.cli.analyze_plain import analyze_set


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
        float | None,
        typer.Option(help="Global default threshold (deg); a personal baseline can raise it."),
    ] = None,
    athlete_baseline: Annotated[
        Path | None,
        typer.Option(
            help="The athlete's personal baseline: a rep CSV of reps that do not wink (as "
            "`analyze` or the export writes it; its wink_deg column is used) or a JSON file "
            '{"centre_deg", "spread_deg", "reps"}.'
        ),
    ] = None,
    athlete: Annotated[
        int | None,
        typer.Option(
            help="Read this athlete's personal baseline from the database "
            "(WINKWATCH_DATABASE_URL), as the live gateway would."
        ),
    ] = None,
    ignore_sensor_checks: Annotated[
        bool,
        typer.Option(help="Write the reps even when the sensors look swapped or misplaced."),
    ] = False,
) -> None:
    """Analyse one set: one CSV row per rep; data-quality findings on stderr.

    Exit codes: 0 done, 2 bad file or option, 3 not analysable, 4 the sensors look swapped
    or on the wrong segment (nothing written unless --ignore-sensor-checks).
    """
    analyze_set(
        sacrum,
        thigh,
        load_kg=load_kg,
        out=out,
        engine=engine,
        wink_threshold_deg=wink_threshold_deg,
        athlete_baseline=athlete_baseline,
        athlete=athlete,
        ignore_sensor_checks=ignore_sensor_checks,
    )


def register(app: typer.Typer) -> None:
    """Add `analyze` to `app`."""
    app.command()(analyze)
