"""`winkwatch simulate`: write a simulated squat set and its ground truth to a folder.

    winkwatch simulate --out DIR [--reps N] [--wink-deg A] [--depth-deg D] [--rate-hz R] [--seed S] ...

Files written to DIR:
- sacrum.csv, thigh.csv: raw recordings (sensor_gateway.recording_csv format), t_s on the
  recorded clock shared by both sensors (each sensor's drifting clock mapped by offset);
- truth_reps.csv: one row per rep (TRUTH_REP_COLUMNS), times on the true time base;
- truth_samples.csv: t_s (true time), thigh_deg, pelvic_tilt_deg, hip_flexion_deg on a
  uniform grid;
- simulation.json: seed, load, the full spec and each sensor's drawn mount and biases.
Exit code 2 for an invalid option, 1 when DIR cannot be written.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from api.cli.common import fail, refuse_replacing_recordings

if TYPE_CHECKING:  # the simulator (numpy) is imported only when the command runs
    from fusion.simulator import SensorSpec, SimulatedSet, SquatSetSpec

EXIT_CANNOT_WRITE = 1
EXIT_BAD_OPTION = 2
SIMULATION_FILE = "simulation.json"  # the simulator's own record in --out (seed, spec, truth)

# What --help shows as each option's default: the simulator's own defaults (SquatSetSpec,
# SensorSpec), which apply when an option is not given. Spelled out so that --help need not
# import numpy; tests/fusion/test_simulator_cli.py checks that they agree with the spec.
SHOWN_DEFAULTS: dict[str, str] = {
    "reps": "5",
    "wink_deg": "0",
    "depth_deg": "100",
    "rate_hz": "100",
    "thigh_rate_hz": "same as --rate-hz",
    "wink_onset_deg": "from --wink-onset-fraction",
    "wink_onset_fraction": "0.75",
    "loss": "0.01",
    "standing_s": "2",
    "soft_tissue_deg": "0",
    "load_kg": "none noted",
}


def _with_default(text: str, option: str, drawn: bool = False) -> str:
    note = "; --random draws it" if drawn else ""
    return f"{text}  [default: {SHOWN_DEFAULTS[option]}{note}]"


def simulate(
    out: Annotated[
        Path,
        typer.Option("--out", metavar="DIR", help="Folder to write the recordings and truth to."),
    ],
    reps: Annotated[
        int | None,
        typer.Option(help=_with_default("Number of reps.", "reps", drawn=True)),
    ] = None,
    wink_deg: Annotated[
        float | None,
        typer.Option(
            help=_with_default(
                "Butt-wink amplitude per rep, deg (0 = none).", "wink_deg", drawn=True
            ),
        ),
    ] = None,
    depth_deg: Annotated[
        float | None,
        typer.Option(
            help=_with_default(
                "Thigh angle at the bottom, deg (90 = parallel).", "depth_deg", drawn=True
            ),
        ),
    ] = None,
    rate_hz: Annotated[
        float | None,
        typer.Option(help=_with_default("Sampling rate of both sensors, Hz.", "rate_hz")),
    ] = None,
    seed: Annotated[
        int, typer.Option(min=0, help="Random seed; the same seed gives the same files.")
    ] = 0,
    thigh_rate_hz: Annotated[
        float | None,
        typer.Option(
            help=_with_default("Sampling rate of the thigh sensor, Hz.", "thigh_rate_hz"),
        ),
    ] = None,
    wink_onset_deg: Annotated[
        float | None,
        typer.Option(
            help=_with_default(
                "Thigh angle where the wink starts, deg.", "wink_onset_deg", drawn=True
            ),
        ),
    ] = None,
    wink_onset_fraction: Annotated[
        float | None,
        typer.Option(
            help=_with_default(
                "Wink onset as a fraction of each rep's depth.", "wink_onset_fraction", drawn=True
            ),
        ),
    ] = None,
    loss: Annotated[
        float | None,
        typer.Option(help=_with_default("Share of packets lost per sensor (0-0.5).", "loss")),
    ] = None,
    standing_s: Annotated[
        float | None,
        typer.Option(
            help=_with_default("Standing still before the first rep, s.", "standing_s", drawn=True),
        ),
    ] = None,
    aligned_mount: Annotated[
        bool, typer.Option(help="Sensor axes aligned with the segments instead of random.")
    ] = False,
    ideal_sensors: Annotated[
        bool, typer.Option(help="No noise, bias, drift, jitter, quantisation or loss.")
    ] = False,
    soft_tissue_deg: Annotated[
        float | None,
        typer.Option(
            help=_with_default(
                "Sensor wobble on the segment at a 100-deg thigh angle, deg.", "soft_tissue_deg"
            ),
        ),
    ] = None,
    randomise: Annotated[
        bool,
        typer.Option("--random", help="Start from a random realistic set drawn from the seed."),
    ] = False,
    load_kg: Annotated[
        float | None,
        typer.Option(help=_with_default("Load to note in simulation.json, kg.", "load_kg")),
    ] = None,
) -> None:
    """Simulate a squat set from a sacrum and a thigh IMU, with its exact ground truth."""
    from fusion.simulator import SimulationSpecError

    try:
        spec = _build_spec(
            seed,
            randomise,
            reps,
            wink_deg,
            depth_deg,
            rate_hz,
            thigh_rate_hz,
            wink_onset_deg,
            wink_onset_fraction,
            loss,
            standing_s,
            aligned_mount,
            ideal_sensors,
            soft_tissue_deg,
        )
    except SimulationSpecError as exc:
        fail(f"invalid option: {exc}", EXIT_BAD_OPTION)
    if load_kg is not None and not 0 <= load_kg <= 1000:
        fail(f"invalid option: --load-kg {load_kg} must be between 0 and 1000", EXIT_BAD_OPTION)

    refuse_replacing_recordings(
        out, (out / "sacrum.csv", out / "thigh.csv"), written_by=out / SIMULATION_FILE
    )
    from fusion.simulator import simulate_set

    simulated = simulate_set(spec, seed)
    try:
        _write_outputs(out, simulated, load_kg)
    except OSError as exc:
        fail(
            f"cannot write to {out}: {exc.strerror or exc}; choose a writable folder",
            EXIT_CANNOT_WRITE,
        )
    winking = sum(rep.wink_onset_depth_deg is not None for rep in simulated.reps)
    typer.echo(
        f"wrote {len(simulated.sacrum)} sacrum and {len(simulated.thigh)} thigh samples, "
        f"{len(simulated.reps)} rep(s) ({winking} winking) to {out}",
        err=True,
    )


def _build_spec(
    seed: int,
    randomise: bool,
    reps: int | None,
    wink_deg: float | None,
    depth_deg: float | None,
    rate_hz: float | None,
    thigh_rate_hz: float | None,
    wink_onset_deg: float | None,
    wink_onset_fraction: float | None,
    loss: float | None,
    standing_s: float | None,
    aligned_mount: bool,
    ideal_sensors: bool,
    soft_tissue_deg: float | None,
) -> SquatSetSpec:
    """The set spec: defaults (or a random one), with every given option applied on top."""
    from dataclasses import replace

    import numpy as np

    from fusion.simulator import SensorSpec, SquatSetSpec, random_spec

    spec = random_spec(np.random.default_rng(seed)) if randomise else SquatSetSpec()
    changes: dict[str, Any] = {
        "reps": reps,
        "wink_deg": wink_deg,
        "depth_deg": depth_deg,
        "wink_onset_deg": wink_onset_deg,
        "wink_onset_fraction": wink_onset_fraction,
        "standing_s": standing_s,
    }
    spec = replace(spec, **{name: value for name, value in changes.items() if value is not None})
    sensors = {}
    for placement, rate in (
        ("sacrum", rate_hz),
        ("thigh", thigh_rate_hz if thigh_rate_hz is not None else rate_hz),
    ):
        sensor = getattr(spec, placement)
        if ideal_sensors:
            sensor = SensorSpec.ideal(rate_hz=sensor.rate_hz, mount=sensor.mount)
        if rate is not None:
            sensor = replace(sensor, rate_hz=rate, **_jitters_within_period(sensor, rate))
        if loss is not None:
            sensor = replace(sensor, loss_probability=loss)
        if aligned_mount:
            sensor = replace(sensor, mount="aligned")
        if soft_tissue_deg is not None:
            sensor = replace(sensor, soft_tissue_deg=soft_tissue_deg)
        sensors[placement] = sensor
    return replace(spec, **sensors)


def _jitters_within_period(sensor: SensorSpec, rate_hz: float) -> dict[str, float]:
    """The sensor's timing jitters (s), at most the fifth of a sample period the simulator
    takes: its defaults (0.3 ms) suit rates up to ~660 Hz, and `--rate-hz 1000` / `2000`
    failed on an option the user never gave ("timestamp_jitter_s = 0.0003 is outside ...").
    A rate that is no rate is left for the simulator to name."""
    if not 0 < rate_hz < float("inf"):
        return {}
    bound_s = 0.2 / rate_hz
    return {
        "timestamp_jitter_s": min(sensor.timestamp_jitter_s, bound_s),
        "sampling_jitter_s": min(sensor.sampling_jitter_s, bound_s),
    }


def _write_outputs(out: Path, simulated: SimulatedSet, load_kg: float | None) -> None:
    import csv
    import dataclasses
    import json

    import numpy as np

    from fusion.simulator import TRUTH_REP_COLUMNS, TRUTH_SAMPLE_COLUMNS
    from sensor_gateway.recording_csv import write_recording_csv

    out.mkdir(parents=True, exist_ok=True)
    write_recording_csv(out / "sacrum.csv", simulated.sacrum)
    write_recording_csv(out / "thigh.csv", simulated.thigh)
    with (out / "truth_reps.csv").open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(TRUTH_REP_COLUMNS)
        for rep in simulated.reps:
            writer.writerow("" if value is None else value for value in rep.as_row().values())
    truth = simulated.truth
    samples = np.column_stack(
        [truth.t_s, truth.thigh_deg, truth.pelvic_tilt_deg, truth.hip_flexion_deg]
    )
    with (out / "truth_samples.csv").open("w", newline="", encoding="utf-8") as handle:
        handle.write(",".join(TRUTH_SAMPLE_COLUMNS) + "\n")
        np.savetxt(handle, samples, delimiter=",", fmt="%.9g")
    meta = {
        "seed": simulated.seed,
        "load_kg": load_kg,
        "time_bases": "sacrum.csv/thigh.csv t_s: recorded clock shared by both sensors (drifting sensor "
        "clocks mapped by offset); truth_*.csv: true time, t = 0 at the start of the set",
        "heading_start_deg": simulated.heading_start_deg,
        "sensors": {
            placement: {
                "mount_quat_wxyz_sensor_to_segment": truth_.errors.mount_quat_wxyz.tolist(),
                "gyr_bias_radps": truth_.errors.gyr_bias_radps.tolist(),
                "acc_bias_mps2": truth_.errors.acc_bias_mps2.tolist(),
                "acc_scale": truth_.errors.acc_scale.tolist(),
            }
            for placement, truth_ in (
                ("sacrum", simulated.sacrum_truth),
                ("thigh", simulated.thigh_truth),
            )
        },
        "spec": dataclasses.asdict(simulated.spec),
    }
    (out / SIMULATION_FILE).write_text(
        json.dumps(meta, indent=2, default=float) + "\n", encoding="utf-8"
    )


def register(app: typer.Typer) -> None:
    """Add `simulate` to `app`."""
    app.command(name="simulate")(simulate)
