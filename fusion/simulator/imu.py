"""What an IMU strapped on a segment measures: mounting rotation and measurement errors.

R_sensor = R_segment @ R_mount (R_mount: sensor-to-segment, constant), times the optional
soft-tissue wobble W(t) (`wobble`): R_sensor = R_segment @ R_mount @ W. The gyroscope reads
the angular velocity in the sensor frame, (R_mount W)^T omega_segment + omega_W; the
accelerometer the specific force R_sensor^T (a - g). Errors then apply in this order:
per-axis gain, bias, white noise, clipping to the range, quantisation to `adc_bits`, and
last the sign flip of any axis the spec mirrors (as a faulty firmware or driver would).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from fusion.orientation.quaternions import quat_multiply
from fusion.simulator.profiles import Jet
from fusion.simulator.rotations import (
    body_rates,
    quat_to_matrix,
    random_rotation_quat,
    segment_matrix,
    segment_quat,
)
from fusion.simulator.spec import SensorSpec, VectorOrMagnitude
from fusion.simulator.wobble import Wobble, draw_wobble, wobble_angles


@dataclass(frozen=True)
class SensorErrors:
    """The drawn constants of one sensor: mount (w, x, y, z, sensor-to-segment), biases, gains
    (sensor frame) and the soft-tissue wobble (None without)."""

    mount_quat_wxyz: np.ndarray
    gyr_bias_radps: np.ndarray
    acc_bias_mps2: np.ndarray
    gyr_scale: np.ndarray
    acc_scale: np.ndarray
    wobble: Wobble | None = None

    @property
    def mount_matrix(self) -> np.ndarray:
        return quat_to_matrix(self.mount_quat_wxyz)


def _vector(value: VectorOrMagnitude, rng: np.random.Generator) -> np.ndarray:
    if isinstance(value, (int, float)):
        direction = rng.normal(size=3)
        return float(value) * direction / np.linalg.norm(direction)
    return np.asarray(value, dtype=float)


def _gains(value: VectorOrMagnitude) -> np.ndarray:
    return (
        np.full(3, float(value))
        if isinstance(value, (int, float))
        else np.asarray(value, dtype=float)
    )


def draw_sensor_errors(spec: SensorSpec, rng: np.random.Generator) -> SensorErrors:
    """Draw the mount and biases of one sensor (random ones only where the spec asks for them)."""
    if spec.mount == "random":
        mount = random_rotation_quat(rng)
    elif spec.mount == "aligned":
        mount = np.array([1.0, 0.0, 0.0, 0.0])
    else:
        mount = np.asarray(spec.mount, dtype=float)
        mount = mount / np.linalg.norm(mount)
    return SensorErrors(
        mount_quat_wxyz=mount,
        gyr_bias_radps=_vector(spec.gyr_bias_radps, rng),
        acc_bias_mps2=_vector(spec.acc_bias_mps2, rng),
        gyr_scale=_gains(spec.gyr_scale),
        acc_scale=_gains(spec.acc_scale),
        wobble=draw_wobble(spec.soft_tissue_deg, rng) if spec.soft_tissue_deg > 0 else None,
    )


@dataclass(frozen=True)
class SensorFrameTruth:
    """What an error-free sensor reads, sensor frame: `gyr_radps`, `specific_force_mps2` (N, 3);
    and `mount_quat_wxyz` (N, 4) its sensor-to-segment rotation at each instant."""

    gyr_radps: np.ndarray
    specific_force_mps2: np.ndarray
    mount_quat_wxyz: np.ndarray


def sensor_frame_truth(
    errors: SensorErrors,
    t_s: np.ndarray,
    thigh_deg: Jet,
    segment_gyr_radps: np.ndarray,
    segment_specific_force_mps2: np.ndarray,
) -> SensorFrameTruth:
    """Rotate segment-frame rates and specific force (N, 3) into the (wobbling) sensor frame."""
    mount = errors.mount_matrix
    gyr = segment_gyr_radps @ mount  # rows: R_mount^T omega
    force = segment_specific_force_mps2 @ mount
    mount_quat = np.broadcast_to(errors.mount_quat_wxyz, (len(t_s), 4))
    if errors.wobble is not None:
        angles = wobble_angles(errors.wobble, np.asarray(t_s, dtype=float), thigh_deg)
        wobble_matrix = segment_matrix(*angles)
        wobble_rate, _ = body_rates(*angles)
        gyr = np.einsum("nji,nj->ni", wobble_matrix, gyr) + wobble_rate
        force = np.einsum("nji,nj->ni", wobble_matrix, force)
        mount_quat = quat_multiply(mount_quat, segment_quat(*angles))
    return SensorFrameTruth(gyr, force, np.array(mount_quat))


def _digitise(values: np.ndarray, full_scale: float, bits: int | None) -> np.ndarray:
    if bits is None:
        clipped: np.ndarray = np.clip(values, -full_scale, full_scale)
        return clipped
    lsb = full_scale / 2 ** (bits - 1)
    codes = np.clip(np.round(values / lsb), -(2 ** (bits - 1)), 2 ** (bits - 1) - 1)
    digitised: np.ndarray = codes * lsb
    return digitised


def measure(
    spec: SensorSpec, errors: SensorErrors, truth: SensorFrameTruth, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Sensor readings (acc_mps2, gyr_radps), each (N, 3), from the error-free sensor-frame truth."""
    gyr, acc = truth.gyr_radps, truth.specific_force_mps2
    count = gyr.shape[0]
    gyr = (
        gyr * errors.gyr_scale
        + errors.gyr_bias_radps
        + rng.normal(0.0, spec.gyr_noise_radps, (count, 3))
    )
    acc = (
        acc * errors.acc_scale
        + errors.acc_bias_mps2
        + rng.normal(0.0, spec.acc_noise_mps2, (count, 3))
    )
    return (
        _mirrored(_digitise(acc, spec.acc_range_mps2, spec.adc_bits), spec.acc_mirrored_axes),
        _mirrored(_digitise(gyr, spec.gyr_range_radps, spec.adc_bits), spec.gyr_mirrored_axes),
    )


def _mirrored(values: np.ndarray, axes: str) -> np.ndarray:
    """`values` (N, 3) with the columns of `axes` ("y", "xz") negated (in place)."""
    for axis in axes:
        values[:, "xyz".index(axis)] *= -1
    return values
