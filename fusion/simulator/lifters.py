"""Simulated lifters: what stays the same across one person's sets, and faulty sensor setups.

A `Lifter` fixes a person's lumbopelvic rhythm, usual depth, tempo, wink onset, the soft
tissue under each sensor (their personal noise floor for the pelvis reversal: the sacrum
wobble adds to every rep's measured reversal) and their two sensors. `lifter_set` draws one
set of that person with a given wink; `random_lifter` draws a person from the ranges below.

`simulate_faulty_set` records a set with the sensors placed wrongly:
- `swapped`: the sacrum file holds the thigh sensor's recording and vice versa;
- `sacrum_on_thigh`: the "sacrum" sensor is strapped on the thigh too (both on one leg).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Literal

import numpy as np

from fusion.simulator.randomize import random_sensor_spec
from fusion.simulator.scenario import plan_set
from fusion.simulator.simulate import SimulatedSet, _simulate_sensor, simulate_set
from fusion.simulator.spec import OutOfPlaneSpec, SensorSpec, SquatSetSpec
from fusion.types import ImuRecording

RHYTHM_K_RANGE = (0.15, 0.45)  # pelvic tilt per degree of thigh angle, person to person
SACRUM_WOBBLE_RANGE_DEG = (0.0, 2.0)  # soft tissue under the sacrum sensor: the noise floor
# (2 deg gives the largest residual shake seen on the real sacrum sensors, 0.7 deg RMS)
THIGH_WOBBLE_RANGE_DEG = (0.0, 3.0)
DEPTH_RANGE_DEG = (85.0, 120.0)
ONSET_FRACTION_RANGE = (0.6, 0.85)

FaultKind = Literal["swapped", "sacrum_on_thigh"]
FAULT_KINDS: tuple[FaultKind, ...] = ("swapped", "sacrum_on_thigh")


@dataclass(frozen=True)
class Lifter:
    """One simulated person (angles deg, speeds deg/s) and the two sensors they wear."""

    rhythm_k: float
    rhythm_k_jitter: float
    sacrum_wobble_deg: float
    thigh_wobble_deg: float
    depth_deg: float
    onset_fraction: float
    descent_peak_speed_degps: float
    ascent_peak_speed_degps: float
    knees_out_deg: float
    sacrum: SensorSpec
    thigh: SensorSpec


def random_lifter(rng: np.random.Generator) -> Lifter:
    """A person drawn from the ranges of this module (sensors as `random_sensor_spec`)."""
    sacrum_wobble = float(rng.uniform(*SACRUM_WOBBLE_RANGE_DEG))
    thigh_wobble = float(rng.uniform(*THIGH_WOBBLE_RANGE_DEG))
    return Lifter(
        rhythm_k=float(rng.uniform(*RHYTHM_K_RANGE)),
        rhythm_k_jitter=float(rng.uniform(0.0, 0.03)),
        sacrum_wobble_deg=sacrum_wobble,
        thigh_wobble_deg=thigh_wobble,
        depth_deg=float(rng.uniform(*DEPTH_RANGE_DEG)),
        onset_fraction=float(rng.uniform(*ONSET_FRACTION_RANGE)),
        descent_peak_speed_degps=float(rng.uniform(105.0, 140.0)),
        ascent_peak_speed_degps=float(rng.uniform(110.0, 145.0)),
        knees_out_deg=float(rng.uniform(3.0, 10.0)),
        sacrum=replace(random_sensor_spec(rng), soft_tissue_deg=sacrum_wobble),
        thigh=replace(random_sensor_spec(rng), soft_tissue_deg=thigh_wobble),
    )


def lifter_set(
    lifter: Lifter,
    rng: np.random.Generator,
    *,
    wink_deg: float,
    reps: int = 5,
    depth_deg: float | None = None,
) -> SquatSetSpec:
    """One set of `lifter`: `reps` reps winking by `wink_deg` (0: no wink), their usual depth."""
    return SquatSetSpec(
        reps=reps,
        depth_deg=lifter.depth_deg if depth_deg is None else depth_deg,
        depth_jitter_deg=float(rng.uniform(1.0, 4.0)),
        rhythm_k=lifter.rhythm_k,
        rhythm_k_jitter=lifter.rhythm_k_jitter,
        wink_deg=wink_deg,
        wink_jitter_deg=0.0,
        wink_onset_fraction=lifter.onset_fraction,
        wink_onset_jitter_deg=float(rng.uniform(0.0, 3.0)),
        descent_peak_speed_degps=lifter.descent_peak_speed_degps,
        ascent_peak_speed_degps=lifter.ascent_peak_speed_degps,
        tempo_jitter=float(rng.uniform(0.0, 0.08)),
        bottom_pause_s=(0.0, float(rng.uniform(0.0, 0.4))),
        pause_between_s=(0.2, float(rng.uniform(0.4, 1.0))),
        standing_s=float(rng.uniform(1.0, 3.0)),
        standing_end_s=float(rng.uniform(1.0, 3.0)),
        out_of_plane=OutOfPlaneSpec(
            knees_out_deg=lifter.knees_out_deg,
            thigh_rotation_deg=float(rng.uniform(0.0, 8.0)),
            pelvic_obliquity_deg=float(rng.uniform(0.0, 3.0)),
            pelvic_rotation_deg=float(rng.uniform(0.0, 3.0)),
            heading_drift_degps=float(rng.uniform(-0.3, 0.3)),
        ),
        sacrum=lifter.sacrum,
        thigh=lifter.thigh,
    )


def simulate_faulty_set(
    spec: SquatSetSpec, fault: FaultKind, seed: int | None = None
) -> tuple[ImuRecording, ImuRecording]:
    """(recording labelled sacrum, recording labelled thigh) of `spec` with sensors misplaced."""
    if fault == "swapped":
        sim: SimulatedSet = simulate_set(spec, seed=seed)
        return sim.thigh, sim.sacrum
    if fault == "sacrum_on_thigh":
        movement_rng, sacrum_rng, thigh_rng = (
            np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(3)
        )
        plan = plan_set(spec, movement_rng)
        on_thigh, _ = _simulate_sensor(spec.sacrum, plan, spec, "thigh", sacrum_rng)
        thigh, _ = _simulate_sensor(spec.thigh, plan, spec, "thigh", thigh_rng)
        return on_thigh, thigh
    raise ValueError(f"fault must be one of {FAULT_KINDS}, got {fault!r}")
