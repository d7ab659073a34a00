"""What an IMU strapped on a segment measures: mounting rotation and measurement errors.

R_sensor = R_segment @ R_mount (R_mount: sensor-to-segment, constant). The gyroscope reads
the angular velocity in the sensor frame, R_mount^T omega_segment; the accelerometer the
specific force R_sensor^T (a - g). Errors then apply in this order: per-axis gain, bias,
white noise, clipping to the range, quantisation to `adc_bits` over the range.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from fusion.simulator.rotations import quat_to_matrix, random_rotation_quat
from fusion.simulator.spec import SensorSpec, VectorOrMagnitude


@dataclass(frozen=True)
class SensorErrors:
    """The drawn constants of one sensor: mount (w, x, y, z, sensor-to-segment), biases, gains (sensor frame)."""

    mount_quat_wxyz: np.ndarray
    gyr_bias_radps: np.ndarray
    acc_bias_mps2: np.ndarray
    gyr_scale: np.ndarray
    acc_scale: np.ndarray

    @property
    def mount_matrix(self) -> np.ndarray:
        return quat_to_matrix(self.mount_quat_wxyz)


def _vector(value: VectorOrMagnitude, rng: np.random.Generator) -> np.ndarray:
    if isinstance(value, (int, float)):
        direction = rng.normal(size=3)
        return float(value) * direction / np.linalg.norm(direction)
    return np.asarray(value, dtype=float)


def _gains(value: VectorOrMagnitude) -> np.ndarray:
    return np.full(3, float(value)) if isinstance(value, (int, float)) else np.asarray(value, dtype=float)


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
    )


def _digitise(values: np.ndarray, full_scale: float, bits: int | None) -> np.ndarray:
    if bits is None:
        return np.clip(values, -full_scale, full_scale)
    lsb = full_scale / 2 ** (bits - 1)
    codes = np.clip(np.round(values / lsb), -(2 ** (bits - 1)), 2 ** (bits - 1) - 1)
    return codes * lsb


def measure(
    spec: SensorSpec,
    errors: SensorErrors,
    segment_gyr_radps: np.ndarray,
    segment_specific_force_mps2: np.ndarray,
    rng: np.random.Generator,
) -> tuple[np.ndarray, np.ndarray]:
    """Sensor readings (acc_mps2, gyr_radps), each (N, 3), from segment-frame truth (N, 3)."""
    mount = errors.mount_matrix
    gyr = segment_gyr_radps @ mount   # rows: R_mount^T omega
    acc = segment_specific_force_mps2 @ mount
    count = gyr.shape[0]
    gyr = gyr * errors.gyr_scale + errors.gyr_bias_radps + rng.normal(0.0, spec.gyr_noise_radps, (count, 3))
    acc = acc * errors.acc_scale + errors.acc_bias_mps2 + rng.normal(0.0, spec.acc_noise_mps2, (count, 3))
    return _digitise(acc, spec.acc_range_mps2, spec.adc_bits), _digitise(gyr, spec.gyr_range_radps, spec.adc_bits)
