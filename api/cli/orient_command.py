"""`winkwatch orient`: orientation quaternions of one raw-recording CSV file.

    winkwatch orient IN.csv [--engine NAME] [--out OUT.csv]

Reads one sensor's raw recording, resamples it on a uniform grid at its median rate,
runs a 6-axis orientation engine and writes ``t_s,qw,qx,qy,qz`` (sensor-to-earth, earth z
up, heading arbitrary) to OUT.csv or standard output. Exit code 2 for an unusable input
file or engine name, 1 when the output cannot be written.
"""

from __future__ import annotations

from pathlib import Path

import typer

from api.cli.common import fail, refuse_overwriting

ORIENT_CSV_HEADER = "t_s,qw,qx,qy,qz"


def register(app: typer.Typer) -> None:
    """Add `winkwatch orient` to `app`."""
    app.command(name="orient")(orient)


def orient(
    in_csv: Path = typer.Argument(..., metavar="IN.csv", help="raw-recording CSV of one sensor"),
    engine: str | None = typer.Option(
        None,
        "--engine",
        help="orientation engine: vqf-offline (default, most accurate), vqf, madgwick, mahony or ekf",
    ),
    out: Path | None = typer.Option(
        None, "--out", metavar="OUT.csv", help="write here instead of standard output"
    ),
) -> None:
    """Estimate the sensor's orientation (quaternions w,x,y,z) for every resampled instant."""
    import io

    import numpy as np

    from fusion.errors import FusionError
    from fusion.orientation import DEFAULT_OFFLINE_ENGINE, ENGINE_NAMES, estimate_orientation
    from fusion.resample import resample_uniform
    from sensor_gateway.recording_csv import RecordingFormatError, read_recording_csv

    engine = engine or DEFAULT_OFFLINE_ENGINE
    if engine not in ENGINE_NAMES:
        fail(f"unknown engine {engine!r}; choose one of: {', '.join(ENGINE_NAMES)}", code=2)
    refuse_overwriting(out, "--out", [(in_csv, "the input recording IN.csv")])
    try:
        recording = read_recording_csv(in_csv)
    except RecordingFormatError as exc:
        fail(str(exc), code=2)
    try:
        samples = resample_uniform(recording)
        quat_wxyz = estimate_orientation(
            samples.gyr_radps, samples.acc_mps2, samples.rate_hz, engine
        )
    except (FusionError, ValueError) as exc:
        fail(f"{in_csv}: cannot estimate orientation: {exc}", code=2)
    gap_count = int(np.count_nonzero(samples.in_gap))
    if gap_count:
        typer.echo(
            f"warning: {gap_count} of {samples.t_s.size} output instants fall inside gaps in "
            f"{in_csv} and were interpolated; treat their orientation with care",
            err=True,
        )

    buffer = io.StringIO()
    buffer.write(ORIENT_CSV_HEADER + "\n")
    np.savetxt(
        buffer,
        np.column_stack([samples.t_s, quat_wxyz]),
        delimiter=",",
        fmt=["%.6f", "%.9f", "%.9f", "%.9f", "%.9f"],
    )
    if out is None:
        typer.echo(buffer.getvalue(), nl=False)
        return
    try:
        out.write_text(buffer.getvalue(), encoding="utf-8")
    except OSError as exc:
        fail(
            f"cannot write {out}: {exc.strerror or exc}; check the folder exists and is writable",
            code=1,
        )
