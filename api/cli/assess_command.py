"""`winkwatch assess`: run an assessment folder (one sub-folder per step) to a verdict.

    winkwatch assess DIR [--femur-cm F] [--shank-cm S] [--out report.json] [--html report.html]

DIR holds one sub-folder per step, named by its kind (baseline, rock_back, goblet,
supported, post_stretch, loaded, box), each with sacrum.csv and thigh.csv in the raw-recording
format. Files at the top of DIR (e.g. the simulator's truth.json) are ignored. The JSON
report goes to --out (else stdout); --html writes the printable page.
Exit codes: 0 done; 2 malformed input (folder, file and line named); 3 a step that cannot be
analysed (named, with the reason). With exit 3 for a step other than the baseline the
report of the other steps is still written.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from api.cli.common import (
    EXIT_BAD_INPUT,
    EXIT_NOT_ANALYSABLE,
    fail,
    refuse_overwriting,
    refuse_replacing_recordings,
)

if TYPE_CHECKING:
    from fusion.types import ImuRecording


SEGMENT_RANGE_CM = (15.0, 80.0)
# --spread-deg / --effect-deg: wide around what the simulator draws (0.8-5 / 8-25 deg of hip
# flexion), within what it can simulate as asked
MAX_SPREAD_DEG = 10.0
MAX_EFFECT_DEG = 40.0


def read_assessment_folder(folder: Path) -> dict[str, tuple[ImuRecording, ImuRecording]]:
    """Step kind -> (sacrum, thigh) recordings; exits 2 with the file and line when malformed."""
    from fusion.assessment import STEP_KINDS
    from sensor_gateway.recording_csv import RecordingFormatError, read_recording_csv

    if not folder.is_dir():
        fail(f"{folder}: not a folder; give the assessment folder (one sub-folder per step)", 2)
    recordings = {}
    for step_dir in sorted(p for p in folder.iterdir() if p.is_dir()):
        if step_dir.name.startswith("."):
            continue
        if step_dir.name not in STEP_KINDS:
            fail(
                f"{step_dir}: unknown step folder {step_dir.name!r}; name each step folder by its "
                f"kind: {', '.join(STEP_KINDS)}",
                EXIT_BAD_INPUT,
            )
        try:
            recordings[step_dir.name] = (
                read_recording_csv(step_dir / "sacrum.csv"),
                read_recording_csv(step_dir / "thigh.csv"),
            )
        except RecordingFormatError as exc:
            fail(str(exc), EXIT_BAD_INPUT)
    if "baseline" not in recordings:
        fail(
            f"{folder / 'baseline'}: missing; the baseline step (standing still, then >= 5 "
            "squats) is required and calibrates the sensors for every other step",
            EXIT_BAD_INPUT,
        )
    return recordings


def _check_length(name: str, value: float | None) -> None:
    low, high = SEGMENT_RANGE_CM
    if value is not None and not low <= value <= high:
        fail(f"{name} {value} is outside {low:.0f}-{high:.0f} cm; measure it again", 2)


def assess(
    folder: Annotated[
        Path, typer.Argument(metavar="DIR", help="Assessment folder, one sub-folder per step.")
    ],
    femur_cm: Annotated[
        float | None,
        typer.Option(help="Femur length, greater trochanter to knee joint line, cm."),
    ] = None,
    shank_cm: Annotated[
        float | None,
        typer.Option(help="Shank length, floor to knee joint line standing, cm."),
    ] = None,
    out: Annotated[
        Path | None, typer.Option(help="Write the JSON report here (default: stdout).")
    ] = None,
    html: Annotated[Path | None, typer.Option(help="Write a printable HTML report here.")] = None,
) -> None:
    """Analyse an assessment: per-step onsets with CIs, the verdict and the prescription."""
    from fusion.assessment import StepError
    from fusion.assessment import assess as run_assessment
    from fusion.errors import FusionError

    _check_length("--femur-cm", femur_cm)
    _check_length("--shank-cm", shank_cm)
    recordings = read_assessment_folder(folder)
    recorded = [(path, "a recording of the assessment") for path in folder.glob("*/*.csv")]
    refuse_overwriting(out, "--out", recorded)
    refuse_overwriting(html, "--html", recorded)
    try:
        report = run_assessment(recordings, femur_cm=femur_cm, shank_cm=shank_cm)
    except StepError as exc:
        fail(f"{folder / exc.kind}: cannot be analysed ({exc.reason}): {exc}", 3)
    except FusionError as exc:
        fail(f"{folder}: cannot be analysed: {exc}", EXIT_NOT_ANALYSABLE)
    for kind, analysis in report.analyses.items():
        for finding in analysis.findings:
            typer.echo(f"warning: {kind}: {finding.message}", err=True)
    text = json.dumps(report.as_dict(), indent=2) + "\n"
    try:
        if out is None:
            sys.stdout.write(text)
        else:
            out.write_text(text, encoding="utf-8")
        if html is not None:
            from api.assessment_report import render_html

            html.write_text(render_html(report), encoding="utf-8")
    except OSError as exc:
        fail(f"cannot write the report: {exc}", EXIT_BAD_INPUT)
    for problem in report.problems:
        typer.echo(
            f"error: {folder / problem.kind}: cannot be analysed ({problem.reason}): {problem}",
            err=True,
        )
    typer.echo(f"verdict: {report.verdict.summary}", err=True)
    if report.problems:
        raise typer.Exit(EXIT_NOT_ANALYSABLE)


def simulate_assessment(
    out: Annotated[Path, typer.Option("--out", metavar="DIR", help="Folder to write.")],
    profile: Annotated[
        str,
        typer.Option(help="Cause: structural, soft_tissue, stability, motor_control or none."),
    ],
    seed: Annotated[
        int, typer.Option(min=0, help="Random seed; the same seed, the same folder.")
    ] = 0,
    steps: Annotated[
        str | None,
        typer.Option(help="Comma-separated steps (default: all; baseline always first)."),
    ] = None,
    spread_deg: Annotated[
        float | None, typer.Option(help="Rep-to-rep sd of the onset hip flexion, deg.")
    ] = None,
    effect_deg: Annotated[
        float | None, typer.Option(help="Onset shift in the cause's own step, deg.")
    ] = None,
    moved_step: Annotated[
        str | None, typer.Option(help="Simulate the sacrum sensor slipped in this step.")
    ] = None,
) -> None:
    """Simulate a lifter with a known cause through the assessment; write DIR and truth.json."""
    from dataclasses import replace

    import numpy as np

    from fusion.assessment import STEP_KINDS
    from fusion.simulator import SimulationSpecError
    from fusion.simulator.assessment import CAUSES, clear_lifter
    from fusion.simulator.assessment import simulate_assessment as simulate

    if profile not in CAUSES:
        fail(f"--profile {profile!r}: choose one of {', '.join(CAUSES)}", EXIT_BAD_INPUT)
    # Checked here, in the options' own names: past them the simulator would name its
    # derived fields (or clip the onset silently and write a truth.json it did not simulate).
    if spread_deg is not None and not 0.0 <= spread_deg <= MAX_SPREAD_DEG:
        fail(f"--spread-deg {spread_deg}: choose a value from 0 to {MAX_SPREAD_DEG:.0f} deg")
    if effect_deg is not None and not 0.0 <= effect_deg <= MAX_EFFECT_DEG:
        fail(f"--effect-deg {effect_deg}: choose a value from 0 to {MAX_EFFECT_DEG:.0f} deg")
    kinds = STEP_KINDS if steps is None else tuple(s.strip() for s in steps.split(",") if s.strip())
    if kinds and kinds[0] != "baseline":
        kinds = ("baseline",) + tuple(k for k in kinds if k != "baseline")
    refuse_replacing_recordings(
        out,
        (out / kind / name for kind in kinds for name in ("sacrum.csv", "thigh.csv")),
        written_by=out / "truth.json",
    )
    try:
        lifter = clear_lifter(np.random.default_rng(seed), profile, steps=kinds)
        if spread_deg is not None:
            lifter = replace(lifter, onset_spread_deg=spread_deg)
        if effect_deg is not None:
            lifter = replace(lifter, effect_deg=effect_deg)
        if moved_step is not None:
            if moved_step not in kinds or moved_step == "baseline":
                raise SimulationSpecError(
                    f"--moved-step {moved_step!r} must be one of the recorded steps after baseline"
                )
            lifter = replace(lifter, moved_step=moved_step)
        simulated = simulate(lifter, seed)
    except SimulationSpecError as exc:
        fail(f"invalid option: {exc}", EXIT_BAD_INPUT)
    try:
        write_assessment_folder(out, simulated)
    except OSError as exc:
        fail(f"cannot write to {out}: {exc.strerror or exc}; choose a writable folder", 1)
    typer.echo(f"wrote {len(simulated.steps)} step(s) of a {profile} lifter to {out}", err=True)


def write_assessment_folder(out: Path, simulated: object) -> None:
    """DIR/<kind>/sacrum.csv, thigh.csv for every step, and DIR/truth.json."""
    from fusion.simulator.assessment import SimulatedAssessment, truth_dict
    from sensor_gateway.recording_csv import write_recording_csv

    assert isinstance(simulated, SimulatedAssessment)
    out.mkdir(parents=True, exist_ok=True)
    for kind, step in simulated.steps.items():
        (out / kind).mkdir(exist_ok=True)
        write_recording_csv(out / kind / "sacrum.csv", step.simulated.sacrum)
        write_recording_csv(out / kind / "thigh.csv", step.simulated.thigh)
    (out / "truth.json").write_text(
        json.dumps(truth_dict(simulated), indent=2) + "\n", encoding="utf-8"
    )


def register(app: typer.Typer) -> None:
    """Add `assess` and `simulate-assessment` to `app`."""
    app.command(name="assess")(assess)
    app.command(name="simulate-assessment")(simulate_assessment)
