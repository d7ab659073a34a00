"""Simulated assessments: one lifter with a known cause of their wink, through the test battery.

A lifter has a hip range limit H: the hip flexion (deg, pelvis relative to femur) at which
the baseline squat's wink begins, with a rep-to-rep spread (sd, deg). Each cause moves the
onset in a different step of the battery (docs/domain.md, "Coaches settle it per person"):

| cause | rock_back tucks at | post_stretch onset | goblet / supported onset |
| --- | --- | --- | --- |
| structural | H (range missing) | H | H |
| soft_tissue | H (range missing) | H + effect | H |
| stability | H + excess, or no tuck within reach | H | H + effect (or no wink) |
| motor_control | H + excess, or no tuck within reach | H | H |
| none | no wink in any step | | |

`baseline` and `loaded` wink at H; `box` squats stop above the true onset. Effects and
range excesses are at least `MIN_CAUSE_EFFECT_DEG` (what a physio would call a change) and
the spread ranges so that effects run from within the noise to large. The sensors are
strapped on once: every step of a lifter uses the same mounting (unless a step is
simulated with the sensor slipped, `moved_step`).

Every step is a `SquatSetSpec` simulated by `simulate_set`; the rock-back is the quadruped
posture (`QuadrupedSpec`): thigh near vertical under the hip, pelvis tilted forward with the
trunk about horizontal, the thigh rotating about the knee as the hips rock back to the heels.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from fusion.assessment.kinds import STEP_KINDS, VERDICT_FIELDS
from fusion.orientation.quaternions import quat_multiply
from fusion.simulator.randomize import random_sensor_spec
from fusion.simulator.rotations import random_rotation_quat
from fusion.simulator.simulate import RepTruth, SimulatedSet, simulate_set
from fusion.simulator.spec import (
    OutOfPlaneSpec,
    QuadrupedSpec,
    SensorSpec,
    SimulationSpecError,
    SquatSetSpec,
)

CAUSES: tuple[str, ...] = ("structural", "soft_tissue", "stability", "motor_control", "none")
MIN_CAUSE_EFFECT_DEG = 8.0  # smallest onset shift a cause produces (hip flexion)
SLIP_DEG = 25.0  # how far a slipped sensor turns on its segment in `moved_step`
MAX_THIGH_DEG = 130.0


@dataclass(frozen=True)
class LifterSpec:
    """One simulated lifter: cause, hip range limit, spread, effects, movement and sensors.

    Angles in deg (hip flexion unless named thigh). `range_excess_deg`: how much further the
    rock-back goes before it tucks (0 for the range-missing causes, None = no tuck within
    reach). `effect_deg`: onset shift in the cause's own step(s). `steps`: the recorded
    steps in order (`baseline` first), `reps`: reps per step.
    """

    cause: str
    hip_limit_deg: float
    onset_spread_deg: float
    effect_deg: float
    range_excess_deg: float | None
    rhythm_k: float
    depth_deg: float  # baseline thigh angle at the bottom
    wink_deg: float
    steps: tuple[str, ...]
    reps: dict[str, int]
    sacrum: SensorSpec
    thigh: SensorSpec
    rock_thigh_start_deg: float = 3.0
    rock_tilt_start_deg: float = 80.0
    rock_rhythm_k: float = 0.2
    rock_reach_deg: float = 20.0  # rock-back hip flexion beyond its tuck (or beyond H without one)
    moved_step: str | None = None
    femur_cm: float = 45.0
    shank_cm: float = 45.0

    def __post_init__(self) -> None:
        if self.cause not in CAUSES:
            raise SimulationSpecError(f"cause {self.cause!r}; choose one of {', '.join(CAUSES)}")
        if not self.steps or self.steps[0] != "baseline":
            raise SimulationSpecError("steps must start with 'baseline'")
        unknown = [kind for kind in self.steps if kind not in STEP_KINDS]
        if unknown:
            raise SimulationSpecError(
                f"unknown step kind(s) {unknown}; choose from {', '.join(STEP_KINDS)}"
            )

    def step_onset_deg(self, kind: str) -> float | None:
        """True median hip flexion at wink onset in step `kind`; None when it does not wink."""
        if self.cause == "none":
            return None
        h = self.hip_limit_deg
        if kind == "rock_back":
            return None if self.range_excess_deg is None else h + self.range_excess_deg
        if kind == "post_stretch" and self.cause == "soft_tissue":
            return h + self.effect_deg
        if kind in ("goblet", "supported") and self.cause == "stability":
            return h + self.effect_deg
        if kind == "box":
            return None
        return h

    @property
    def truth_verdict(self) -> dict[str, str]:
        """The known answer in the contract's words ("yes"/"no" per field)."""
        return {name: "yes" if name == self.cause else "no" for name in VERDICT_FIELDS}


@dataclass(frozen=True)
class SimulatedStep:
    """One recorded step: its kind, the simulated set and the true onset per rep (hip flexion, deg)."""

    kind: str
    simulated: SimulatedSet
    onset_hip_flexion_deg: tuple[float | None, ...]

    @property
    def reps(self) -> tuple[RepTruth, ...]:
        return self.simulated.reps


@dataclass(frozen=True)
class SimulatedAssessment:
    lifter: LifterSpec
    seed: int
    steps: dict[str, SimulatedStep]


def rep_onset_hip_flexion_deg(rep: RepTruth) -> float | None:
    """True hip flexion where the rep's wink begins: thigh angle + pelvic tilt at the tilt peak."""
    if rep.wink_onset_depth_deg is None:
        return None
    return rep.wink_onset_depth_deg + rep.pelvic_tilt_peak_deg


def _mounted(spec: SensorSpec, rng: np.random.Generator) -> SensorSpec:
    w, x, y, z = (float(c) for c in random_rotation_quat(rng))
    return replace(spec, mount=(w, x, y, z))


def _slipped(spec: SensorSpec, rng: np.random.Generator) -> SensorSpec:
    """The same sensor turned `SLIP_DEG` on its segment about a random axis."""
    axis = rng.normal(size=3)
    axis /= np.linalg.norm(axis)
    half = np.radians(SLIP_DEG) / 2
    slip = np.concatenate(([np.cos(half)], np.sin(half) * axis))
    mount = quat_multiply(slip, np.asarray(spec.mount, dtype=float))  # segment-side slip
    w, x, y, z = (float(c) for c in mount)
    return replace(spec, mount=(w, x, y, z))


def random_lifter(
    rng: np.random.Generator,
    cause: str | None = None,
    *,
    steps: tuple[str, ...] | None = None,
    optional_steps_missing: bool = True,
) -> LifterSpec:
    """A random lifter with a known cause (random when None).

    Spread 0.8-5 deg, effects and range excesses `MIN_CAUSE_EFFECT_DEG`-25 deg, 5-8 reps per
    step, random mounting and sensor quality (`random_sensor_spec`). Unless `steps` is given,
    every step is recorded, or with `optional_steps_missing` each optional step is left out
    with probability 0.25 (baseline is always there).
    """
    cause = str(rng.choice(CAUSES)) if cause is None else cause
    rhythm_k = float(rng.uniform(0.25, 0.4))
    onset_thigh_deg = float(rng.uniform(70.0, 100.0))
    hip_limit_deg = (1.0 + rhythm_k) * onset_thigh_deg
    depth_deg = float(min(onset_thigh_deg + rng.uniform(15.0, 30.0), MAX_THIGH_DEG))
    if steps is None:
        optional = STEP_KINDS[1:]
        steps = ("baseline",) + tuple(
            kind for kind in optional if not (optional_steps_missing and rng.random() < 0.25)
        )
    if cause in ("stability", "motor_control"):
        range_excess: float | None = (
            None if rng.random() < 0.3 else float(rng.uniform(MIN_CAUSE_EFFECT_DEG, 25.0))
        )
    else:
        range_excess = 0.0
    tilt_start = float(rng.uniform(72.0, 88.0))
    thigh_start = float(rng.uniform(-2.0, 8.0))
    # The rock-back must start well short of the tuck to see the pelvis turn: a lifter whose
    # limit is close to the hip flexion on all fours sits with the trunk a little head-up.
    tilt_start = max(min(tilt_start, hip_limit_deg - thigh_start - 25.0), 60.0)
    return LifterSpec(
        cause=cause,
        hip_limit_deg=hip_limit_deg,
        onset_spread_deg=float(rng.uniform(0.8, 5.0)),
        effect_deg=float(rng.uniform(MIN_CAUSE_EFFECT_DEG, 25.0)),
        range_excess_deg=range_excess,
        rhythm_k=rhythm_k,
        depth_deg=depth_deg,
        wink_deg=float(rng.uniform(7.0, 15.0)),
        steps=steps,
        reps={kind: int(rng.integers(5, 9)) for kind in steps},
        sacrum=_mounted(random_sensor_spec(rng), rng),
        thigh=_mounted(random_sensor_spec(rng), rng),
        rock_thigh_start_deg=thigh_start,
        rock_tilt_start_deg=tilt_start,
        rock_rhythm_k=float(rng.uniform(0.1, 0.3)),
        rock_reach_deg=float(rng.uniform(14.0, 30.0)),
        femur_cm=float(rng.uniform(38.0, 52.0)),
        shank_cm=float(rng.uniform(38.0, 52.0)),
    )


def _squat_spec(
    lifter: LifterSpec, kind: str, sensors: tuple[SensorSpec, SensorSpec], rng: np.random.Generator
) -> SquatSetSpec:
    k = lifter.rhythm_k
    onset = lifter.step_onset_deg(kind)
    depth = lifter.depth_deg + (
        float(rng.uniform(0.0, 5.0)) if kind in ("goblet", "supported") else 0.0
    )
    if kind == "box":
        # The box stops the squat above the true onset (the prescription's aim).
        depth = lifter.hip_limit_deg / (1.0 + k) - float(rng.uniform(5.0, 10.0))
    wink_deg = lifter.wink_deg if onset is not None else 0.0
    return SquatSetSpec(
        reps=lifter.reps[kind],
        depth_deg=float(np.clip(depth, 40.0, MAX_THIGH_DEG)),
        depth_jitter_deg=float(rng.uniform(0.5, 3.0)),
        rhythm_k=k,
        rhythm_k_jitter=0.01,
        wink_deg=wink_deg,
        wink_jitter_deg=1.0,
        wink_onset_deg=None if onset is None else float(np.clip(onset / (1.0 + k), 10.0, 135.0)),
        wink_onset_jitter_deg=lifter.onset_spread_deg / (1.0 + k),
        descent_peak_speed_degps=float(rng.uniform(100.0, 135.0)),
        ascent_peak_speed_degps=float(rng.uniform(110.0, 140.0)),
        bottom_pause_s=(0.0, 0.3),
        pause_between_s=(0.3, 1.0),
        standing_s=float(rng.uniform(1.5, 3.0)),
        standing_end_s=float(rng.uniform(1.0, 2.0)),
        sacrum=sensors[0],
        thigh=sensors[1],
    )


def _rock_back_spec(
    lifter: LifterSpec, sensors: tuple[SensorSpec, SensorSpec], rng: np.random.Generator
) -> SquatSetSpec:
    k = lifter.rock_rhythm_k
    start = lifter.rock_thigh_start_deg + lifter.rock_tilt_start_deg  # hip flexion on all fours
    onset = lifter.step_onset_deg("rock_back")
    reference = lifter.hip_limit_deg if onset is None else onset
    reach = reference + lifter.rock_reach_deg
    # A rock-back travels at least ~40 deg of hip flexion (the tuck takes some of it back).
    amplitude = float(np.clip((reach - start) / (1.0 + k), 40.0, MAX_THIGH_DEG - 10.0))
    onset_rel = None if onset is None else (onset - start) / (1.0 + k)
    return SquatSetSpec(
        reps=lifter.reps["rock_back"],
        depth_deg=amplitude,
        depth_jitter_deg=float(rng.uniform(0.5, 2.0)),
        rhythm_k=k,
        rhythm_k_jitter=0.01,
        rhythm_blend_deg=8.0,
        wink_deg=lifter.wink_deg if onset is not None else 0.0,
        wink_jitter_deg=1.0,
        wink_onset_deg=None if onset_rel is None else float(np.clip(onset_rel, 10.0, 135.0)),
        wink_onset_jitter_deg=lifter.onset_spread_deg / (1.0 + k),
        descent_peak_speed_degps=float(rng.uniform(50.0, 90.0)),
        ascent_peak_speed_degps=float(rng.uniform(50.0, 90.0)),
        bottom_pause_s=(0.0, 0.4),
        pause_between_s=(0.3, 1.0),
        standing_s=float(rng.uniform(1.5, 3.0)),
        standing_end_s=float(rng.uniform(1.0, 2.0)),
        out_of_plane=OutOfPlaneSpec(
            knees_out_deg=0.0,
            thigh_rotation_deg=2.0,
            pelvic_obliquity_deg=1.0,
            pelvic_rotation_deg=1.0,
        ),
        quadruped=QuadrupedSpec(
            thigh_start_deg=lifter.rock_thigh_start_deg,
            pelvic_tilt_start_deg=lifter.rock_tilt_start_deg,
        ),
        sacrum=sensors[0],
        thigh=sensors[1],
    )


def step_spec(lifter: LifterSpec, kind: str, rng: np.random.Generator) -> SquatSetSpec:
    """The set spec of one step; `rng` draws the step's tempo, depth jitter and (if moved) slip."""
    sensors = (lifter.sacrum, lifter.thigh)
    if kind == lifter.moved_step:
        sensors = (_slipped(lifter.sacrum, rng), lifter.thigh)
    if kind == "rock_back":
        return _rock_back_spec(lifter, sensors, rng)
    return _squat_spec(lifter, kind, sensors, rng)


def _step_streams(lifter: LifterSpec, seed: int) -> list[tuple[np.random.SeedSequence, ...]]:
    return [
        tuple(stream.spawn(2)) for stream in np.random.SeedSequence(seed).spawn(len(lifter.steps))
    ]


def step_specs(lifter: LifterSpec, seed: int) -> dict[str, SquatSetSpec]:
    """Every step's set spec, as `simulate_assessment(lifter, seed)` simulates them (to stream
    the same steps through simulated sensors, which draw their own noise)."""
    return {
        kind: step_spec(lifter, kind, np.random.default_rng(spec_seed))
        for kind, (spec_seed, _) in zip(lifter.steps, _step_streams(lifter, seed))
    }


def simulate_assessment(lifter: LifterSpec, seed: int) -> SimulatedAssessment:
    """Simulate every step of `lifter` (each from its own stream of `seed`)."""
    specs = step_specs(lifter, seed)
    steps: dict[str, SimulatedStep] = {}
    for kind, (_, set_seed) in zip(lifter.steps, _step_streams(lifter, seed)):
        simulated = simulate_set(specs[kind], seed=int(set_seed.generate_state(1)[0]))
        onsets = tuple(rep_onset_hip_flexion_deg(rep) for rep in simulated.reps)
        steps[kind] = SimulatedStep(kind, simulated, onsets)
    return SimulatedAssessment(lifter, seed, steps)


def clear_lifter(
    rng: np.random.Generator, cause: str, *, steps: tuple[str, ...] = STEP_KINDS
) -> LifterSpec:
    """A lifter whose cause shows clearly (effects >= 4x the spread, 6-8 reps per step,
    accelerometers without gross per-axis gain errors): the default of
    `winkwatch simulate-assessment`. `random_lifter` covers the hard cases."""
    lifter = random_lifter(rng, cause, steps=steps)
    spread = float(rng.uniform(0.8, 2.0))
    sensors = {
        name: replace(
            getattr(lifter, name), acc_scale=tuple(float(g) for g in rng.uniform(0.99, 1.01, 3))
        )
        for name in ("sacrum", "thigh")
    }
    return replace(
        lifter,
        **sensors,
        onset_spread_deg=spread,
        effect_deg=float(rng.uniform(max(MIN_CAUSE_EFFECT_DEG, 4 * spread) + 4.0, 25.0)),
        range_excess_deg=(
            float(rng.uniform(max(MIN_CAUSE_EFFECT_DEG, 4 * spread) + 4.0, 25.0))
            if lifter.range_excess_deg
            else lifter.range_excess_deg
        ),
        reps={kind: int(rng.integers(6, 9)) for kind in steps},
    )


def truth_dict(simulated: SimulatedAssessment) -> dict[str, object]:
    """The known answers of a simulated assessment, as plain JSON-able values."""
    lifter = simulated.lifter
    steps: dict[str, object] = {}
    for kind, step in simulated.steps.items():
        onsets = [o for o in step.onset_hip_flexion_deg if o is not None]
        thigh_onsets = [r.wink_onset_depth_deg for r in step.reps if r.wink_onset_depth_deg]
        steps[kind] = {
            "reps": len(step.reps),
            "wink_reps": len(onsets),
            "onset_hip_flexion_deg_per_rep": step.onset_hip_flexion_deg,
            "onset_hip_flexion_deg_median": float(np.median(onsets)) if onsets else None,
            "onset_thigh_deg_median": (
                float(np.median(thigh_onsets)) if thigh_onsets and kind != "rock_back" else None
            ),
            "max_hip_flexion_deg_per_rep": [r.hip_flexion_max_deg for r in step.reps],
            "planned_onset_hip_flexion_deg": lifter.step_onset_deg(kind),
            "sensor_moved": kind == lifter.moved_step,
        }
    return {
        "profile": lifter.cause,
        "seed": simulated.seed,
        "verdict": lifter.truth_verdict | {"winks": lifter.cause != "none"},
        "hip_limit_deg": lifter.hip_limit_deg,
        "onset_spread_deg": lifter.onset_spread_deg,
        "effect_deg": lifter.effect_deg,
        "range_excess_deg": lifter.range_excess_deg,
        "femur_cm": lifter.femur_cm,
        "shank_cm": lifter.shank_cm,
        "steps": steps,
    }
