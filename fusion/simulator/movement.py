"""Joint-angle trajectories of a planned set, as exact time jets (deg, deg/s, deg/s^2).

`segment_angles` evaluates a `SetPlan` at any instants (true time, s) and returns, per
segment, the three angles of R = Rz(heading) Rx(out_of_plane) Ry(sagittal):
thigh sagittal = -thigh angle, pelvis sagittal = +pelvic tilt, shank sagittal = +shank
inclination. See `scenario` for the shape of each rep. In the quadruped (`plan.quadruped`)
the same rep shapes are offset by the start posture: thigh angle = start + rep curve,
pelvic tilt = start tilt + rep curve, and the shank lies still on the floor (sagittal 90).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from fusion.simulator.profiles import Jet, compose, minimum_jerk, round_into_peak
from fusion.simulator.scenario import SetPlan

SHANK_ON_FLOOR_DEG = 90.0  # quadruped: the shank horizontal, knee anterior of the ankle


@dataclass(frozen=True)
class SegmentAngles:
    """The three composition angles of one segment (deg jets)."""

    heading: Jet
    out_of_plane: Jet
    sagittal: Jet


@dataclass(frozen=True)
class SetAngles:
    """Ground-truth angles (deg jets) and per-segment composition angles at the requested instants."""

    thigh_deg: Jet
    pelvic_tilt_deg: Jet
    thigh: SegmentAngles
    pelvis: SegmentAngles
    shank: SegmentAngles


def _rep_parameter(plan: SetPlan, name: str) -> np.ndarray:
    return np.array([getattr(rep, name) for rep in plan.reps], dtype=float)


def _rep_index(plan: SetPlan, t_s: np.ndarray) -> np.ndarray:
    """Index of the rep containing each instant, -1 outside every rep."""
    starts = _rep_parameter(plan, "start_s")
    ends = _rep_parameter(plan, "end_s")
    index = np.searchsorted(starts, t_s, side="right") - 1
    inside = (index >= 0) & (t_s < ends[np.clip(index, 0, None)])
    return np.where(inside, index, -1)


def thigh_angle_jet(plan: SetPlan, t_s: np.ndarray, rep_index: np.ndarray) -> Jet:
    """Thigh angle (deg) in time: minimum-jerk descent, bottom hold, minimum-jerk ascent, 0 between reps."""
    value, d1, d2 = (np.zeros(t_s.shape) for _ in range(3))
    for i, rep in enumerate(plan.reps):
        in_rep = rep_index == i
        if not in_rep.any():
            continue
        t = t_s[in_rep]
        descent = minimum_jerk((t - rep.start_s) / rep.descent_s)
        ascent = minimum_jerk((t - rep.ascent_start_s) / rep.ascent_s)
        is_descent = t < rep.bottom_start_s
        is_ascent = t >= rep.ascent_start_s
        depth = rep.depth_deg
        value[in_rep] = np.where(
            is_descent,
            depth * descent.value,
            np.where(is_ascent, depth * (1 - ascent.value), depth),
        )
        d1[in_rep] = np.where(
            is_descent,
            depth * descent.d1 / rep.descent_s,
            np.where(is_ascent, -depth * ascent.d1 / rep.ascent_s, 0.0),
        )
        d2[in_rep] = np.where(
            is_descent,
            depth * descent.d2 / rep.descent_s**2,
            np.where(is_ascent, -depth * ascent.d2 / rep.ascent_s**2, 0.0),
        )
    return Jet(value, d1, d2)


def tilt_of_thigh(plan: SetPlan, thigh_deg: np.ndarray, rep_index: np.ndarray) -> Jet:
    """Pelvic tilt (deg) as a function of the thigh angle, with derivatives per deg of thigh angle."""
    value, d1, d2 = (np.zeros(thigh_deg.shape) for _ in range(3))
    for i, rep in enumerate(plan.reps):
        in_rep = rep_index == i
        if not in_rep.any():
            continue
        theta = thigh_deg[in_rep]
        k = rep.rhythm_k
        rep_value, rep_d1, rep_d2 = k * theta, np.full(theta.shape, k), np.zeros(theta.shape)
        onset = rep.wink_onset_deg
        if onset is not None:
            blend = rep.rhythm_blend_deg
            if blend > 0:
                blend_start = onset - blend
                rounding = round_into_peak((theta - blend_start) / blend)
                in_blend = (theta > blend_start) & (theta <= onset)
                rep_value = np.where(
                    in_blend, k * blend_start + k * blend * rounding.value, rep_value
                )
                rep_d1 = np.where(in_blend, k * rounding.d1, rep_d1)
                rep_d2 = np.where(in_blend, k * rounding.d2 / blend, rep_d2)
            span = rep.depth_deg - onset
            wink = minimum_jerk((theta - onset) / span)
            past_onset = theta > onset
            rep_value = np.where(past_onset, k * onset - rep.wink_deg * wink.value, rep_value)
            rep_d1 = np.where(past_onset, -rep.wink_deg * wink.d1 / span, rep_d1)
            rep_d2 = np.where(past_onset, -rep.wink_deg * wink.d2 / span**2, rep_d2)
        value[in_rep], d1[in_rep], d2[in_rep] = rep_value, rep_d1, rep_d2
    return Jet(value, d1, d2)


def _per_sample_gain(plan: SetPlan, name: str, rep_index: np.ndarray) -> np.ndarray:
    gains = np.append(_rep_parameter(plan, name), 0.0)  # index -1 -> 0 outside reps
    per_sample: np.ndarray = gains[rep_index]
    return per_sample


def segment_angles(plan: SetPlan, t_s: np.ndarray, shank_to_thigh_ratio: float) -> SetAngles:
    """Evaluate every angle of the set at instants `t_s` (N,), true time in s."""
    t_s = np.asarray(t_s, dtype=float)
    rep_index = _rep_index(plan, t_s)
    thigh = thigh_angle_jet(plan, t_s, rep_index)
    tilt = compose(tilt_of_thigh(plan, thigh.value, rep_index), thigh)
    body_heading = Jet.linear(t_s, plan.heading_start_deg, plan.heading_drift_degps)
    count = t_s.shape[0]
    shank_sagittal = thigh.scaled(shank_to_thigh_ratio)
    thigh_abs, tilt_abs = thigh, tilt
    if plan.quadruped is not None:
        thigh_abs = thigh + Jet.constant(plan.quadruped.thigh_start_deg, count)
        tilt_abs = tilt + Jet.constant(plan.quadruped.pelvic_tilt_start_deg, count)
        shank_sagittal = Jet.constant(SHANK_ON_FLOOR_DEG, count)

    def gain(name: str) -> Jet:
        return thigh.scaled(_per_sample_gain(plan, name, rep_index))

    return SetAngles(
        thigh_deg=thigh_abs,
        pelvic_tilt_deg=tilt_abs,
        thigh=SegmentAngles(
            body_heading + gain("thigh_rotation_per_deg"),
            gain("knees_out_per_deg"),
            thigh_abs.scaled(-1.0),
        ),
        pelvis=SegmentAngles(
            body_heading + gain("pelvic_rotation_per_deg"),
            gain("pelvic_obliquity_per_deg"),
            tilt_abs,
        ),
        shank=SegmentAngles(body_heading, Jet.constant(0.0, count), shank_sagittal),
    )
