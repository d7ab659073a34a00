"""The plan of a set: when each rep happens and how the pelvis and thigh move in it.

Everything random about the movement is drawn here, once, from the caller's generator;
`kinematics` then evaluates the plan at any instants. Times are on the true time base,
t = 0 at the start of the recording; angles in deg.

Per rep the thigh angle follows a minimum-jerk descent from 0 to the depth, an optional
bottom pause, and a minimum-jerk ascent back to 0. The pelvic tilt is a function of the
thigh angle theta within the rep (so the ascent mirrors the descent):
- theta <= onset - blend:       tilt = k * theta (lumbopelvic rhythm);
- onset - blend < theta <= onset: the rhythm rounds into its peak, reaching exactly
  k * onset with zero slope and curvature at theta = onset (monotone, `round_into_peak`);
- onset < theta <= depth:        tilt = k * onset - wink * s, s = 10x^3 - 15x^4 + 6x^5 with
  x = (theta - onset) / (depth - onset) (monotone 0 -> 1, flat at both ends), so
  tilt = k * onset - wink at the bottom.
The tilt is thus twice differentiable in theta and the angular acceleration continuous.
Without a wink the onset is the depth: tilt rises to k * depth at the bottom.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from fusion.simulator.profiles import MIN_JERK_PEAK_SPEED_FACTOR
from fusion.simulator.spec import QuadrupedSpec, SquatSetSpec

MIN_WINK_RANGE_DEG = 5.0  # thigh travel past the onset needed for a wink to unfold
MIN_DEPTH_DEG = 15.0
MAX_DEPTH_DEG = 140.0
OUT_OF_PLANE_REFERENCE_DEG = 100.0  # out-of-plane spec values are reached at this thigh angle


@dataclass(frozen=True)
class RepPlan:
    """One rep: timing (s, true time), depth and pelvis behaviour (deg), out-of-plane gains.

    `*_per_deg` gains multiply the thigh angle (deg of out-of-plane motion per deg of thigh
    angle). `wink_onset_deg` is None when the rep does not wink (then `wink_deg` is 0).
    """

    start_s: float
    descent_s: float
    bottom_pause_s: float
    ascent_s: float
    depth_deg: float
    rhythm_k: float
    rhythm_blend_deg: float
    wink_deg: float
    wink_onset_deg: float | None
    knees_out_per_deg: float
    thigh_rotation_per_deg: float
    pelvic_obliquity_per_deg: float
    pelvic_rotation_per_deg: float

    @property
    def bottom_start_s(self) -> float:
        return self.start_s + self.descent_s

    @property
    def bottom_s(self) -> float:
        """Middle of the bottom pause (the instant the thigh reaches depth if there is none)."""
        return self.bottom_start_s + 0.5 * self.bottom_pause_s

    @property
    def ascent_start_s(self) -> float:
        return self.bottom_start_s + self.bottom_pause_s

    @property
    def end_s(self) -> float:
        return self.ascent_start_s + self.ascent_s

    @property
    def peak_onset_deg(self) -> float:
        """Thigh angle where the anterior tilt peaks: the wink onset, else the depth."""
        return self.depth_deg if self.wink_onset_deg is None else self.wink_onset_deg

    @property
    def pelvic_tilt_peak_deg(self) -> float:
        return self.rhythm_k * self.peak_onset_deg

    @property
    def pelvic_tilt_bottom_deg(self) -> float:
        return self.pelvic_tilt_peak_deg - self.wink_deg

    @property
    def hip_flexion_max_deg(self) -> float:
        """Exact maximum of thigh angle + tilt over the rep.

        Up to the onset both rise. Past it, with span = depth - onset and
        x = (theta - onset) / span, hip flexion = (1 + k) * onset + span * x - wink * s(x);
        its slope span - 30 * wink * x^2 (1 - x)^2 turns negative when span < 1.875 * wink,
        leaving a local maximum at the smaller root of x (1 - x) = sqrt(span / (30 wink))
        that may exceed the value at the bottom.
        """
        bottom = self.depth_deg + self.pelvic_tilt_bottom_deg
        if self.wink_onset_deg is None or self.wink_deg == 0.0:
            return bottom
        span = self.depth_deg - self.wink_onset_deg
        product = float(np.sqrt(span / (30.0 * self.wink_deg)))
        if product >= 0.25:
            return bottom
        x_turn = 0.5 * (1.0 - np.sqrt(1.0 - 4.0 * product))
        wink_share = x_turn**3 * (10.0 - 15.0 * x_turn + 6.0 * x_turn**2)
        interior = (
            self.wink_onset_deg
            + self.pelvic_tilt_peak_deg
            + span * x_turn
            - self.wink_deg * wink_share
        )
        return float(max(bottom, interior))


@dataclass(frozen=True)
class SetPlan:
    """All reps of a set plus the body heading: start (deg) and drift (deg/s); `duration_s` total."""

    reps: tuple[RepPlan, ...]
    duration_s: float
    heading_start_deg: float
    heading_drift_degps: float
    quadruped: QuadrupedSpec | None = None  # None: standing squats


def _rep_onset_deg(spec: SquatSetSpec, depth_deg: float, rng: np.random.Generator) -> float:
    base = (
        spec.wink_onset_deg
        if spec.wink_onset_deg is not None
        else spec.wink_onset_fraction * depth_deg
    )
    return (
        base + rng.normal(0.0, spec.wink_onset_jitter_deg) if spec.wink_onset_jitter_deg else base
    )


def _signed_gain(
    value_deg: float, rng: np.random.Generator, variation: float, random_sign: bool
) -> float:
    size = value_deg * (1.0 + variation * rng.uniform(-1.0, 1.0))
    if random_sign:
        size *= rng.uniform(-1.0, 1.0)
    return size / OUT_OF_PLANE_REFERENCE_DEG


def plan_set(spec: SquatSetSpec, rng: np.random.Generator) -> SetPlan:
    """Draw every rep's depth, tempo, pauses, rhythm, wink and out-of-plane motion."""
    oop = spec.out_of_plane
    reps: list[RepPlan] = []
    t_s = spec.standing_s
    for index in range(spec.reps):
        if index > 0:
            t_s += rng.uniform(*spec.pause_between_s)
        depth_deg = float(
            np.clip(
                spec.depth_deg + rng.normal(0.0, spec.depth_jitter_deg),
                MIN_DEPTH_DEG,
                MAX_DEPTH_DEG,
            )
        )
        tempo = max(0.5, 1.0 + rng.normal(0.0, spec.tempo_jitter))
        descent_s = tempo * MIN_JERK_PEAK_SPEED_FACTOR * depth_deg / spec.descent_peak_speed_degps
        ascent_s = tempo * MIN_JERK_PEAK_SPEED_FACTOR * depth_deg / spec.ascent_peak_speed_degps
        bottom_pause_s = rng.uniform(*spec.bottom_pause_s)
        rhythm_k = float(np.clip(spec.rhythm_k + rng.normal(0.0, spec.rhythm_k_jitter), 0.0, 1.0))
        wink_deg = spec.wink_deg
        if wink_deg > 0 and spec.wink_jitter_deg:  # jitter varies a wink; it never creates one
            wink_deg = max(0.0, wink_deg + rng.normal(0.0, spec.wink_jitter_deg))
        drawn_onset_deg = _rep_onset_deg(spec, depth_deg, rng)
        onset_deg: float | None = drawn_onset_deg
        if wink_deg <= 0.0 or not (
            2.0 * MIN_WINK_RANGE_DEG <= drawn_onset_deg <= depth_deg - MIN_WINK_RANGE_DEG
        ):
            wink_deg, onset_deg = 0.0, None
        peak_deg = depth_deg if onset_deg is None else onset_deg
        reps.append(
            RepPlan(
                start_s=t_s,
                descent_s=descent_s,
                bottom_pause_s=bottom_pause_s,
                ascent_s=ascent_s,
                depth_deg=depth_deg,
                rhythm_k=rhythm_k,
                rhythm_blend_deg=min(spec.rhythm_blend_deg, 0.5 * peak_deg),
                wink_deg=float(wink_deg),
                wink_onset_deg=None if onset_deg is None else float(onset_deg),
                knees_out_per_deg=_signed_gain(
                    oop.knees_out_deg, rng, oop.per_rep_variation, False
                ),
                thigh_rotation_per_deg=_signed_gain(
                    oop.thigh_rotation_deg, rng, oop.per_rep_variation, False
                ),
                pelvic_obliquity_per_deg=_signed_gain(oop.pelvic_obliquity_deg, rng, 0.0, True),
                pelvic_rotation_per_deg=_signed_gain(oop.pelvic_rotation_deg, rng, 0.0, True),
            )
        )
        t_s = reps[-1].end_s
    heading_start_deg = rng.uniform(-180.0, 180.0) if spec.heading_deg is None else spec.heading_deg
    return SetPlan(
        reps=tuple(reps),
        duration_s=t_s + spec.standing_end_s,
        heading_start_deg=float(heading_start_deg),
        heading_drift_degps=oop.heading_drift_degps,
        quadruped=spec.quadruped,
    )
