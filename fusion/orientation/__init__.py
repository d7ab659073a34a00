"""Orientation of one IMU from gyroscope + accelerometer (6-axis), and tilt helpers.

Public interface (pure: arrays in, arrays out):
- `estimate_orientation(gyr_radps, acc_mps2, rate_hz, engine)` -> quat_wxyz (N, 4);
- `CausalOrientation(rate_hz, engine)` with `update(gyr_radps, acc_mps2)` and `reset()`;
- `up_in_sensor_frame(quat_wxyz)` -> (N, 3) earth up in the sensor frame (heading-free);
- `inclination_error_deg(q_est_wxyz, q_true_wxyz)` -> (N,) heading-free error.
Quaternions: w, x, y, z; sensor-to-earth; earth z up; heading arbitrary.
"""

from fusion.orientation.engines import (
    CAUSAL_ENGINE_NAMES,
    DEFAULT_LIVE_ENGINE,
    DEFAULT_OFFLINE_ENGINE,
    ENGINE_NAMES,
    ENGINES,
    CausalOrientation,
    EngineSpec,
    OrientationInputError,
    estimate_orientation,
)
from fusion.orientation.quaternions import (
    inclination_error_deg,
    inclination_rmse_deg,
    quat_conjugate,
    quat_multiply,
    up_in_sensor_frame,
)

__all__ = [
    "CAUSAL_ENGINE_NAMES",
    "DEFAULT_LIVE_ENGINE",
    "DEFAULT_OFFLINE_ENGINE",
    "ENGINES",
    "ENGINE_NAMES",
    "CausalOrientation",
    "EngineSpec",
    "OrientationInputError",
    "estimate_orientation",
    "inclination_error_deg",
    "inclination_rmse_deg",
    "quat_conjugate",
    "quat_multiply",
    "up_in_sensor_frame",
]
