"""Simulated lifters: what stays the same across one person's sets, and faulty sensor setups.

A `Lifter` fixes a person's lumbopelvic rhythm, usual depth, tempo, wink onset, the soft
tissue under each sensor and their two sensors. `lifter_set` draws one set of that person
with a given wink; `random_lifter` draws a person from the ranges below.

Their personal noise floor for the pelvis reversal has two parts:
- soft-tissue wobble of the sacrum sensor (3-10 Hz, `SensorSpec.soft_tissue_deg`);
- skin motion over the sacrum (`with_skin_artefact`): around the bottom of each rep (a
  raised-cosine bump of half-width `SKIN_HALF_WIDTH_S` centred on the true bottom) the skin
  and the gluteal tissue under the sensor are compressed and the sensor tilts posteriorly
  relative to the pelvis by up to `sacrum_skin_deg` (varying by `skin_variation` from rep to
  rep), then back. It is slow, like a wink, so no filter separates it: the measured reversal
  of a rep that does not wink is about 0.4-1.0 x that (the rhythm still adds tilt just
  before the bottom). 0-6 deg gives no-wink reversals of ~0-5 deg, the range of the real
  correct reps of ../shared/data/squat_posture (median 2.4 deg, IQR 1.7-3.1, up to ~5). It is
  not part of the truth: the pelvis itself does not turn.

`simulate_faulty_set` records a set with the sensors placed wrongly:
- `swapped`: the sacrum file holds the thigh sensor's recording and vice versa;
- `sacrum_on_thigh`: the "sacrum" sensor is strapped on the thigh too (both on one leg).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Literal

import numpy as np

from fusion.simulator.randomize import random_sensor_spec
from fusion.simulator.rotations import quat_to_matrix
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
SKIN_RANGE_DEG = (0.0, 6.0)
SKIN_VARIATION_RANGE = (0.1, 0.4)  # rep-to-rep relative sd of the skin artefact
SKIN_HALF_WIDTH_S = 0.2

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
    sacrum_skin_deg: float = 0.0
    skin_variation: float = 0.0


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
        sacrum_skin_deg=float(rng.uniform(*SKIN_RANGE_DEG)),
        skin_variation=float(rng.uniform(*SKIN_VARIATION_RANGE)),
    )


def with_skin_artefact(sim: SimulatedSet, lifter: Lifter, rng: np.random.Generator) -> ImuRecording:
    """The sacrum recording of `sim` with the lifter's skin artefact (module docstring).

    Readings are turned into the tilted sensor frame and the gyroscope gets the tilting
    rate (from the sampled artefact angle), as `fusion.simulator.imu` does for wobble.
    """
    rec = sim.sacrum
    if lifter.sacrum_skin_deg <= 0:
        return rec
    true_t_s = sim.sacrum_truth.true_t_s
    angle_deg = np.zeros(true_t_s.size)
    for rep in sim.reps:
        amplitude = lifter.sacrum_skin_deg * max(0.0, 1.0 + rng.normal(0.0, lifter.skin_variation))
        phase = np.clip((true_t_s - rep.bottom_s) / SKIN_HALF_WIDTH_S, -1.0, 1.0)
        angle_deg += amplitude * 0.5 * (1.0 + np.cos(np.pi * phase))
    axis = quat_to_matrix(sim.sacrum_truth.errors.mount_quat_wxyz).T @ np.array([0.0, 1.0, 0.0])
    half = -np.radians(angle_deg) / 2.0  # posterior: against the anterior-positive tilt
    acc, gyr = rec.acc_mps2.copy(), rec.gyr_radps.copy()
    for k in np.flatnonzero(angle_deg > 0):
        turn = quat_to_matrix(np.concatenate(([np.cos(half[k])], np.sin(half[k]) * axis)))
        acc[k] = acc[k] @ turn
        gyr[k] = gyr[k] @ turn
    rate_radps = np.gradient(-np.radians(angle_deg), true_t_s)
    gyr += rate_radps[:, None] * axis[None, :]
    return ImuRecording(rec.t_s, acc, gyr)


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
