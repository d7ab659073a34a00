"""Was the baseline a squat? The pelvis' path tells a squat from a rock-back.

The baseline calibrates the assessment from its own start, so a rock-back recorded as the
baseline passes every posture check (its start defines "standing") and its tucks, 20-40 deg
of thigh angle into the rock, become a depth ceiling a quarter of the way down. Relative
angles cannot tell the two apart (in both the thigh swings from vertical about the knee and
the pelvis turns with it); the pelvis' translation can: in a squat the hips drop over the
feet, so the sacrum accelerates mostly up and down, and in a rock-back they travel back to
the heels, so it accelerates mostly forward and back.

`vertical_share` is the RMS of the sacrum's linear acceleration along the vertical over its
RMS in the horizontal plane, within the reps (earth up from the fused orientation; the
accelerometer scaled to read g at rest). Simulated (`random_lifter`, seeds 7000-7199, every
sensor flaw the benchmark draws): baselines 1.28-2.06, rock-backs recorded as the baseline
0.42-1.23 (142 of 144 below 1.1; the other 56 fail the calibration already); the 20 real squat
sets of ../shared/data/squat_posture 1.82-5.84 (`python benchmarks/baseline_movement.py`).
Below `MIN_SQUAT_VERTICAL_SHARE` the baseline is refused.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from fusion.pipeline import FusedSensor
from fusion.reps import RepWindow
from fusion.types import STANDARD_GRAVITY_MPS2, ImuRecording

MIN_SQUAT_VERTICAL_SHARE = 1.1


def vertical_share(
    recording: ImuRecording, trace: FusedSensor, windows: Sequence[RepWindow], rest_mps2: float
) -> float | None:
    """RMS vertical over RMS horizontal linear acceleration (m/s^2, ratio) of one sensor within
    `windows` (grid indices of `trace`); `rest_mps2` is its accelerometer's magnitude at rest.
    None when there is nothing to measure (no rep samples outside gaps, or no motion)."""
    if not windows or not rest_mps2 > 0:
        return None
    inside = np.zeros(trace.t_s.size, dtype=bool)
    for window in windows:
        inside[window.start : window.end + 1] = True
    inside &= ~trace.in_gap
    if not inside.any():
        return None
    t_s = trace.t_s[inside]
    scale = STANDARD_GRAVITY_MPS2 / rest_mps2
    force = np.column_stack(
        [np.interp(t_s, recording.t_s, recording.acc_mps2[:, k]) * scale for k in range(3)]
    )
    up = trace.up[inside]
    up = up / np.linalg.norm(up, axis=1, keepdims=True)
    along_up = np.einsum("ij,ij->i", force, up)
    vertical = along_up - STANDARD_GRAVITY_MPS2
    horizontal = np.linalg.norm(force - along_up[:, None] * up, axis=1)
    horizontal_rms = float(np.sqrt(np.mean(horizontal**2)))
    if not horizontal_rms > 0:
        return None
    return float(np.sqrt(np.mean(vertical**2))) / horizontal_rms
