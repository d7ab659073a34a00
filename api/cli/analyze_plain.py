"""`winkwatch analyze` without typer: the analysis of one set, and the console script's
plain path to it.

`api.cli.analyze_command` declares the command's options for typer (help, usage errors) and
calls `analyze_set`. The console script (`api.cli.main.run`) first offers the arguments to
`plain_arguments`: when every one is a `--option value` (or `--option=value`) pair or flag of
`analyze` whose value typer would take as it stands, it calls `analyze_set` itself and typer
and click are never imported (~25 ms of a ~150 ms start). Anything else (`--help`, an
unknown or repeated option, a missing one, a value that typer would reject or read
differently) goes to typer, which answers as it always did. tests/test_cli_startup.py checks
that both paths give the same output and exit code, and that the option tables agree.
"""

from __future__ import annotations

import csv
import io
import math
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

from api.cli.common import (
    EXIT_BAD_INPUT,
    EXIT_NOT_ANALYSABLE,
    EXIT_SENSOR_FAULT,
    check_load_kg_option,
    cli_settings,
    database_files,
    fail,
    refuse_overwriting,
    say,
)

if TYPE_CHECKING:
    from fusion.baseline import PersonalBaseline
    from fusion.types import ImuRecording

MAX_WINK_THRESHOLD_DEG = 90.0  # a posterior pelvic rotation beyond this is not a squat

# `analyze`'s options with a value: option -> (parameter, conversion), as typer declares them
# in api.cli.analyze_command (a path, a float or an int is converted as click converts it).
VALUE_OPTIONS: dict[str, tuple[str, type]] = {
    "--sacrum": ("sacrum", Path),
    "--thigh": ("thigh", Path),
    "--load-kg": ("load_kg", float),
    "--out": ("out", Path),
    "--engine": ("engine", str),
    "--wink-threshold-deg": ("wink_threshold_deg", float),
    "--athlete-baseline": ("athlete_baseline", Path),
    "--athlete": ("athlete", int),
}
FLAG_OPTIONS: dict[str, tuple[str, bool]] = {
    "--ignore-sensor-checks": ("ignore_sensor_checks", True),
    "--no-ignore-sensor-checks": ("ignore_sensor_checks", False),
}
REQUIRED = ("sacrum", "thigh")
DEFAULTS: dict[str, Any] = {
    "load_kg": None,
    "out": None,
    "engine": None,
    "wink_threshold_deg": None,
    "athlete_baseline": None,
    "athlete": None,
    "ignore_sensor_checks": False,
}


def plain_arguments(args: list[str]) -> dict[str, Any] | None:
    """`analyze_set`'s keyword arguments from `args` (after `analyze`), or None where typer
    must read them: anything but known options given once each with values typer would take
    unchanged (a value starting with "-", an empty one, a number that does not convert, an
    existing path this process cannot read), or shell completion asked for."""
    if "_WINKWATCH_COMPLETE" in os.environ:
        return None
    given: dict[str, Any] = {}
    tokens = iter(args)
    for token in tokens:
        option, equals, value = token.partition("=")
        if option in FLAG_OPTIONS and not equals:
            name, flag = FLAG_OPTIONS[option]
            if name in given:
                return None
            given[name] = flag
            continue
        if option not in VALUE_OPTIONS:
            return None
        name, convert = VALUE_OPTIONS[option]
        if not equals:
            value = next(tokens, "")
        if name in given or not value or value.startswith("-"):
            return None
        try:
            converted = convert(value)
        except ValueError:
            return None
        if convert is Path and not _readable_or_absent(value):
            return None
        given[name] = converted
    if any(name not in given for name in REQUIRED):
        return None
    return {**DEFAULTS, **given}


def _readable_or_absent(path: str) -> bool:
    """What typer's path type accepts without a word: a path that does not exist, or one
    this process may read (it says "... is not readable." otherwise)."""
    try:
        os.stat(path)
    except OSError:
        return True
    return os.access(path, os.R_OK)


def run_plain(arguments: dict[str, Any]) -> NoReturn:
    """`analyze_set(**arguments)`, then end the process at once with its exit code, as the
    typer path ends it (click's handling of Ctrl-C and of a closed output pipe included)."""
    import errno

    from api.process_exit import exit_at_once

    try:
        analyze_set(**arguments)
    except KeyboardInterrupt:
        exit_at_once(130)
    except OSError as exc:
        if exc.errno != errno.EPIPE:
            raise
        exit_at_once(1)
    except Exception as exc:
        import typer  # loaded by `fail`, which raised it: an error's cost, not a start's

        if isinstance(exc, typer.Exit):
            exit_at_once(exc.exit_code)
        raise
    exit_at_once(0)


def analyze_set(
    sacrum: Path,
    thigh: Path,
    load_kg: float | None,
    out: Path | None,
    engine: str | None,
    wink_threshold_deg: float | None,
    athlete_baseline: Path | None,
    athlete: int | None,
    ignore_sensor_checks: bool,
) -> None:
    """`winkwatch analyze` (its options in api.cli.analyze_command): one CSV row per rep on
    `out` or stdout, data-quality findings on stderr; `fail` with the command's exit code."""
    from dataclasses import replace

    from fusion.errors import FusionError
    from fusion.orientation import ENGINE_NAMES
    from fusion.pipeline import AnalysisConfig, analyze_recordings
    from fusion.report import REP_CSV_HEADER, rep_csv_rows
    from sensor_gateway.recording_csv import RecordingFormatError, read_recording_csv

    check_load_kg_option(load_kg)
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
    if out is not None:
        kept = [(sacrum, "the --sacrum recording"), (thigh, "the --thigh recording")]
        if athlete_baseline is not None:
            kept.append((athlete_baseline, "the --athlete-baseline file"))
        if athlete is not None:
            kept += database_files(cli_settings().database_url)
        refuse_overwriting(out, "--out", kept)
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
            say(f"warning: {finding.message}")
    say(_threshold_line(result.threshold, baseline))
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
    say(f"{len(result.reps)} rep(s), {flagged} with a butt wink")


def _database_baseline(athlete_id: int) -> PersonalBaseline | None:
    from api.errors import WinkWatchError
    from api.storage.baselines import athlete_baseline
    from api.storage.db import open_database

    settings = cli_settings()
    try:
        database = open_database(settings.database_url, settings.database_schema)
        with database.sessions() as db:
            baseline = athlete_baseline(db, athlete_id)
    except WinkWatchError as exc:
        fail(f"cannot read athlete {athlete_id}'s baseline: {exc}", EXIT_BAD_INPUT)
    if baseline is None:
        say(
            f"warning: athlete {athlete_id} has no personal baseline yet; the default "
            "threshold applies (set one with PUT /athletes/{id}/baseline)"
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
