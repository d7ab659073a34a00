"""Mirrored-axis check (fusion.sensor_checks.mirrored_axis) through the offline pipeline.

Simulated (fusion.simulator, `random_spec` with soft tissue up to 2 deg): per seed one set,
analysed as recorded (good sensors: a refusal is a false alarm) and with each axis x, y, z of
the accelerometer, of the gyroscope and of both mirrored, on the sacrum sensor and on the thigh
sensor (18 cases). A mirrored set is the recorded one with the column negated, which is what
`SensorSpec(acc_mirrored_axes=..., gyr_mirrored_axes=...)` simulates (checked on the first
seed). Per case: refused with the mirrored-axis message (detected), and of those the axis named
right (accelerometer or gyroscope axis k: "axis k"; both: "every axis"; an axis the set's
motion does not tell is named as such, not counted right); for the sets let through, the worst
of their depth, wink and pelvic-tilt RMSE against the truth (deg): what a miss costs.
Real (../shared/data/squat_posture, when present): the 20 labelled sets as recorded and with
each column mirrored the same way.

Usage: python benchmarks/mirrored_axis.py [SETS] [FIRST_SEED]
"""

from __future__ import annotations

import os
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np

from fusion.errors import AnalysisError
from fusion.evaluation import score_set
from fusion.pipeline import analyze_recordings
from fusion.simulator import random_spec, simulate_set
from fusion.types import ImuRecording

SENSORS = ("sacrum", "thigh")
CASES = tuple((instrument, axis) for instrument in ("acc", "gyr", "both") for axis in "xyz")
MIRROR_WORDS = "gyroscope and accelerometer disagree"


def mirrored(rec: ImuRecording, instrument: str, axis: str) -> ImuRecording:
    acc, gyr = rec.acc_mps2.copy(), rec.gyr_radps.copy()
    column = "xyz".index(axis)
    if instrument in ("acc", "both"):
        acc[:, column] *= -1
    if instrument in ("gyr", "both"):
        gyr[:, column] *= -1
    return ImuRecording(rec.t_s, acc, gyr)


def named_right(message: str, instrument: str, axis: str) -> bool:
    if instrument == "both":
        return "on every axis" in message
    return f"on the sign of axis {axis}:" in message


def analyse(sacrum: ImuRecording, thigh: ImuRecording, sim=None):  # type: ignore[no-untyped-def]
    """('refused', message) or ('analysed', worst RMSE deg or None)."""
    try:
        result = analyze_recordings(sacrum, thigh)
    except AnalysisError as exc:
        return "refused", str(exc)
    if sim is None:
        return "analysed", None
    truth = [(r.bottom_s, r.depth_deg, r.wink_deg) for r in sim.reps]
    score = score_set(result, sim.truth.t_s, sim.truth.thigh_deg, sim.truth.pelvic_tilt_deg, truth)
    rms = [
        float(np.sqrt(np.mean(np.square(v))))
        for v in (
            [r.depth_error_deg for r in score.reps],
            [r.wink_error_deg for r in score.reps],
            np.sqrt(score.tilt_sq_errors),
        )
        if len(v)
    ]
    return "analysed", max(rms) if rms else None


def check_spec_option(seed: int) -> None:
    spec = random_spec(np.random.default_rng(seed), soft_tissue_max_deg=2.0)
    plain = simulate_set(spec, seed=seed)
    flipped = simulate_set(
        replace(spec, thigh=replace(spec.thigh, acc_mirrored_axes="y", gyr_mirrored_axes="z")),
        seed=seed,
    )
    expected = mirrored(mirrored(plain.thigh, "acc", "y"), "gyr", "z")
    assert np.array_equal(flipped.thigh.acc_mps2, expected.acc_mps2)
    assert np.array_equal(flipped.thigh.gyr_radps, expected.gyr_radps)


def simulated(sets: int, first_seed: int) -> None:
    check_spec_option(first_seed)
    false_alarms: list[str] = []
    good_worst: list[float] = []
    tally = {(s, c): [0, 0, []] for s in SENSORS for c in CASES}  # detected, named, miss RMSE
    for seed in range(first_seed, first_seed + sets):
        sim = simulate_set(random_spec(np.random.default_rng(seed), soft_tissue_max_deg=2.0), seed)
        outcome, detail = analyse(sim.sacrum, sim.thigh, sim)
        if outcome == "refused":
            false_alarms.append(f"seed {seed}: {detail}")
        elif detail is not None:
            good_worst.append(detail)
        for sensor in SENSORS:
            for instrument, axis in CASES:
                recs = {"sacrum": sim.sacrum, "thigh": sim.thigh}
                recs[sensor] = mirrored(recs[sensor], instrument, axis)
                outcome, detail = analyse(recs["sacrum"], recs["thigh"], sim)
                entry = tally[(sensor, (instrument, axis))]
                if outcome == "refused" and MIRROR_WORDS in detail:
                    entry[0] += 1
                    entry[1] += named_right(detail, instrument, axis)
                elif outcome == "analysed" and detail is not None:
                    entry[2].append(detail)
    last = first_seed + sets - 1
    print(f"## Simulated: {sets} sets per case (seeds {first_seed}..{last})\n")
    print(
        f"good sensors: {len(false_alarms)} of {sets} refused as mirrored (false alarms); "
        f"their worst depth/wink/tilt RMSE median {np.median(good_worst):.1f} deg"
    )
    for line in false_alarms:
        print(f"  {line}")
    print(
        "\n| sensor | mirrored | detected | axis named right | misses: worst RMSE median / max deg |"
    )
    print("| --- | --- | ---: | ---: | --- |")
    for (sensor, (instrument, axis)), (found, named, missed) in tally.items():
        cost = f"{np.median(missed):.1f} / {max(missed):.1f}" if missed else "-"
        what = {"acc": "accelerometer", "gyr": "gyroscope", "both": "both"}[instrument]
        print(f"| {sensor} | {what} {axis} | {found}/{sets} | {named}/{found} | {cost} |")


def real(root: Path) -> None:
    sys.path.insert(0, os.path.dirname(__file__))
    from squat_posture_eval import load_sets

    sets = load_sets(root)
    refused = [s for s in sets if analyse(s.sacrum, s.thigh)[0] == "refused"]
    print(f"\n## Real labelled sets ({root})\n")
    print(f"as recorded: {len(refused)} of {len(sets)} refused (false alarms)\n")
    print("| sensor | mirrored | detected |")
    print("| --- | --- | ---: |")
    for sensor in SENSORS:
        for instrument, axis in CASES:
            found = 0
            for s in sets:
                recs = {"sacrum": s.sacrum, "thigh": s.thigh}
                recs[sensor] = mirrored(recs[sensor], instrument, axis)
                outcome, detail = analyse(recs["sacrum"], recs["thigh"])
                found += outcome == "refused" and MIRROR_WORDS in detail
            what = {"acc": "accelerometer", "gyr": "gyroscope", "both": "both"}[instrument]
            print(f"| {sensor} | {what} {axis} | {found}/{len(sets)} |")


def main(argv: list[str]) -> int:
    sets = int(argv[1]) if len(argv) > 1 else 50
    first_seed = int(argv[2]) if len(argv) > 2 else 1000
    simulated(sets, first_seed)
    shared = Path(
        os.environ.get("WINKWATCH_SHARED_DATA", Path(__file__).parents[2] / "shared/data")
    )
    root = shared / "squat_posture"
    if root.is_dir():
        real(root)
    else:
        print(f"\nno labelled squat data at {root}: real sets skipped")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
