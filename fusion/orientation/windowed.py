"""Earth-up of a long recording in bounded memory.

`vqf.offlineVQF` keeps about 200 bytes of state per sample (forward and backward passes),
138 MB for a 60-minute recording at 200 Hz. Up to `WINDOW_S` a recording is fused in one
call, exactly as `estimate_orientation` does. Longer ones are fused in windows of `WINDOW_S`
with `MARGIN_S` of extra samples on either side, so each window's start-up transient falls
in a margin that is thrown away; the up vector (heading-free, so windows need not agree on
heading) is kept from the window's middle. Measured on a simulated 20-minute recording
(300-s windows): the windowed up vector is within 0.11 deg of the one-call result (mean
0.03 deg); on the 60-minute benchmark pair (benchmarks/long_recording.py) with 200-s
windows the angles stay within 0.031 deg of it and the rep metrics within 0.033 deg.
Causal engines are fed window by window through one `CausalOrientation`, which gives
exactly the one-call result.
"""

from __future__ import annotations

import numpy as np

from fusion.orientation.engines import (
    CausalOrientation,
    check_engine_name,
    check_rate_hz,
    estimate_orientation,
)
from fusion.orientation.quaternions import up_in_sensor_frame

WINDOW_S = 200.0  # ~9 MB of filter state at 200 Hz (a 300-s window: 13 MB, 1-4 % less CPU)
MARGIN_S = 10.0  # longer than the filter's start-up transient (a few seconds)


def estimate_up(
    gyr_radps: np.ndarray,
    acc_mps2: np.ndarray,
    rate_hz: float,
    engine: str,
    out: np.ndarray | None = None,
) -> np.ndarray:
    """Earth up (N, 3) in the sensor frame from gyroscope (N, 3) rad/s and accelerometer
    (N, 3) m/s^2 uniformly sampled at `rate_hz`, with `engine` as `estimate_orientation`.

    Written window by window into `out` (N, 3) when given (float32 holds a unit vector to
    ~1e-7, far finer than any filter's accuracy), so no float64 copy of the whole recording
    is built; a new float64 array otherwise."""
    spec = check_engine_name(engine)
    rate = check_rate_hz(rate_hz)
    count = len(gyr_radps)
    up = np.empty((count, 3)) if out is None else out
    if up.shape != (count, 3):
        raise ValueError(f"out must have shape ({count}, 3), got {up.shape}")
    window = int(WINDOW_S * rate)
    if count <= window + 2 * int(MARGIN_S * rate):
        up_in_sensor_frame(estimate_orientation(gyr_radps, acc_mps2, rate, spec.name), out=up)
        return up
    causal = CausalOrientation(rate, spec.name) if spec.causal else None
    margin = 0 if causal else int(MARGIN_S * rate)
    for start in range(0, count, window):
        stop = min(count, start + window)
        first, last = max(0, start - margin), min(count, stop + margin)
        if causal is not None:
            quat = causal.update(gyr_radps[first:last], acc_mps2[first:last])
        else:
            quat = estimate_orientation(
                gyr_radps[first:last], acc_mps2[first:last], rate, spec.name
            )
        up_in_sensor_frame(quat[start - first : stop - first], out=up[start:stop])
    return up
