"""`winkwatch analyze`: per-rep butt-wink metrics from a sacrum and a thigh recording."""

from __future__ import annotations

import csv
import io
import math
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from api.cli.common import fail

if TYPE_CHECKING:
    from fusion.baseline import PersonalBaseline
    from fusion.types import ImuRecording

EXIT_BAD_INPUT = 2  # a malformed or missing file, or an invalid option
EXIT_NOT_ANALYSABLE = 3  # well-formed files that cannot be analysed (too short, no motion)
EXIT_SENSOR_FAULT = 4  # sensors swapped or on the wrong segment: no reps are written
MAX_WINK_THRESHOLD_DEG = 90.0  # a posterior pelvic rotation beyond this is not a squat


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
    from dataclasses import replace

    from fusion.errors import FusionError
    from fusion.orientation import ENGINE_NAMES
    from fusion.pipeline import AnalysisConfig, analyze_recordings
    from fusion.report import REP_CSV_HEADER, rep_csv_rows
    from sensor_gateway.recording_csv import RecordingFormatError, read_recording_csv

    if load_kg is not None and not (math.isfinite(load_kg) and load_kg >= 0):
        fail(
            f"--load-kg must be a finite number >= 0 (0 = bodyweight), got {load_kg!r}",
            EXIT_BAD_INPUT,
        )
    if wink_threshold_deg is not None and not (
        math.isfinite(wink_threshold_deg) and 0 < wink_threshold_deg <= MAX_WINK_THRESHOLD_DEG
    ):
        fail(
            f"--wink-threshold-deg must be a number of degrees above 0 and at most "
            f"{MAX_WINK_THRESHOLD_DEG:.0f} (default 5), got {wink_threshold_deg!r}",
            EXIT_BAD_INPUT,
        )
    config = AnalysisConfig()
    if engine is not None:
        if engine not in ENGINE_NAMES:
            fail(
                f"unknown engine {engine!r}; choose one of {', '.join(ENGINE_NAMES)}",
                EXIT_BAD_INPUT,
            )
        config = replace(config, engine=engine)
    if wink_threshold_deg is not None:
        config = replace(config, wink_threshold_deg=wink_threshold_deg)
    baseline = None
    if athlete_baseline is not None and athlete is not None:
        fail("give --athlete-baseline FILE or --athlete ID, not both", EXIT_BAD_INPUT)
    if athlete_baseline is not None:
        from api.baseline_file import BaselineFileError, read_baseline_file  # json, csv

        try:
            baseline = read_baseline_file(athlete_baseline)
        except BaselineFileError as exc:
            fail(str(exc), EXIT_BAD_INPUT)
    if athlete is not None:
        baseline = _database_baseline(athlete)

    def read(path: Path) -> ImuRecording:
        try:
            return read_recording_csv(path)
        except RecordingFormatError as exc:
            fail(str(exc), EXIT_BAD_INPUT)

    try:
        # The recordings are passed on without a name here, so the analysis can free each
        # one as soon as it has been fused (a 60-minute pair is ~45 MiB).
        result = analyze_recordings(
            read(sacrum), read(thigh), load_kg=load_kg, config=config, baseline=baseline
        )
    except FusionError as exc:
        fail(f"cannot analyse {sacrum} + {thigh}: {exc}", EXIT_NOT_ANALYSABLE)
    except MemoryError:
        fail(
            f"cannot analyse {sacrum} + {thigh}: the recordings are too large for this "
            "machine's memory; split them into sets",
            EXIT_NOT_ANALYSABLE,
        )
    fault = result.sensor_fault
    for finding in result.findings:
        if fault is None or finding.code != fault.code or ignore_sensor_checks:
            typer.echo(f"warning: {finding.message}", err=True)
    typer.echo(_threshold_line(result.threshold, baseline), err=True)
    if fault is not None and not ignore_sensor_checks:
        fail(
            f"{fault.message}. No reps written: they would describe the wrong "
            "segments (--ignore-sensor-checks writes them anyway)",
            EXIT_SENSOR_FAULT,
        )
    table = io.StringIO()
    writer = csv.writer(table, lineterminator="\n")
    writer.writerow(REP_CSV_HEADER)
    writer.writerows(rep_csv_rows(result.reps))
    if out is None:
        sys.stdout.write(table.getvalue())
    else:
        _write_out(out, table.getvalue())
    flagged = sum(rep.butt_wink for rep in result.reps)
    typer.echo(f"{len(result.reps)} rep(s), {flagged} with a butt wink", err=True)


def _database_baseline(athlete_id: int) -> PersonalBaseline | None:
    from api.errors import WinkWatchError
    from api.settings import Settings
    from api.storage.baselines import athlete_baseline
    from api.storage.db import open_database

    settings = Settings()
    try:
        database = open_database(settings.database_url, settings.database_schema)
        with database.sessions() as db:
            baseline = athlete_baseline(db, athlete_id)
    except WinkWatchError as exc:
        fail(f"cannot read athlete {athlete_id}'s baseline: {exc}", EXIT_BAD_INPUT)
    if baseline is None:
        typer.echo(
            f"warning: athlete {athlete_id} has no personal baseline yet; the default "
            "threshold applies (set one with PUT /athletes/{id}/baseline)",
            err=True,
        )
    return baseline


def _threshold_line(threshold: object, baseline: object) -> str:
    from fusion.baseline import MIN_BASELINE_REPS, PersonalBaseline, WinkThreshold

    assert isinstance(threshold, WinkThreshold)
    text = f"wink threshold {threshold.threshold_deg:.2f} deg ({threshold.source}"
    if isinstance(baseline, PersonalBaseline):
        text += (
            f"; personal baseline {baseline.centre_deg:.2f} +- {baseline.spread_deg:.2f} deg "
            f"from {baseline.reps} rep(s)"
        )
        if not baseline.usable:
            text += f", fewer than {MIN_BASELINE_REPS}: not used"
    return text + ")"


def _write_out(out: Path, text: str) -> None:
    """Write the rep table to `out`; a path that cannot be written is a bad option (2)."""
    try:
        with out.open("w", newline="", encoding="utf-8") as handle:
            handle.write(text)
    except OSError as exc:
        reason = exc.strerror or str(exc)
        fail(
            f"cannot write --out {out}: {reason}; give a file path in an existing, writable "
            "folder (or leave --out out to print to standard output)",
            EXIT_BAD_INPUT,
        )


def register(app: typer.Typer) -> None:
    """Add `analyze` to `app`."""
    app.command()(analyze)
