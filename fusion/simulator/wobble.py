"""Soft-tissue artefact: the sensor rocks on its segment as the muscles under it move.

The wobble is a small rotation W(t) = Rz(a_z) Rx(a_x) Ry(a_y) of the sensor about its own
position, between the mounting rotation and the sensor: R_sensor = R_segment R_mount W.
Each angle is a sum of a few sinusoids (3-10 Hz) whose envelope grows with the thigh
angle (muscle contraction and thigh-calf contact near the bottom), zero when standing.
Ground-truth segment angles do not include it: for an analysis it is an error source.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from fusion.simulator.profiles import Jet
from fusion.simulator.scenario import OUT_OF_PLANE_REFERENCE_DEG

WOBBLE_COMPONENTS = 3
WOBBLE_BAND_HZ = (3.0, 10.0)


@dataclass(frozen=True)
class Wobble:
    """Sinusoid parameters per wobble axis (z, x, y) and component: amplitudes (deg), frequencies (Hz), phases (rad)."""

    amplitude_deg: np.ndarray
    frequency_hz: np.ndarray
    phase_rad: np.ndarray


def draw_wobble(peak_deg: float, rng: np.random.Generator) -> Wobble:
    """Random wobble whose summed amplitude per axis is about `peak_deg` at the reference thigh angle."""
    shape = (3, WOBBLE_COMPONENTS)
    weights = rng.uniform(0.5, 1.0, shape)
    return Wobble(
        amplitude_deg=peak_deg * weights / weights.sum(axis=1, keepdims=True),
        frequency_hz=rng.uniform(*WOBBLE_BAND_HZ, shape),
        phase_rad=rng.uniform(0.0, 2.0 * np.pi, shape),
    )


def wobble_angles(wobble: Wobble, t_s: np.ndarray, thigh_deg: Jet) -> tuple[Jet, Jet, Jet]:
    """The three wobble angles (rad jets: z, x, y) at instants `t_s`, envelope thigh angle / reference."""
    envelope = thigh_deg.scaled(1.0 / OUT_OF_PLANE_REFERENCE_DEG)
    angles = []
    for axis in range(3):
        omega = 2.0 * np.pi * wobble.frequency_hz[axis][:, None]
        phase = omega * t_s[None, :] + wobble.phase_rad[axis][:, None]
        amplitude = np.radians(wobble.amplitude_deg[axis])[:, None]
        carrier = Jet(
            (amplitude * np.sin(phase)).sum(axis=0),
            (amplitude * omega * np.cos(phase)).sum(axis=0),
            (-amplitude * omega**2 * np.sin(phase)).sum(axis=0),
        )
        angles.append(
            Jet(
                envelope.value * carrier.value,
                envelope.d1 * carrier.value + envelope.value * carrier.d1,
                envelope.d2 * carrier.value
                + 2.0 * envelope.d1 * carrier.d1
                + envelope.value * carrier.d2,
            )
        )
    return angles[0], angles[1], angles[2]
