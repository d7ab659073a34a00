"""Squat-set simulator: two IMUs (sacrum, lateral thigh) with exactly known answers.

Pure numpy. `simulate_set(spec, seed)` returns the recordings the gateway would store
(`ImuRecording`, t_s on the shared recorded clock) and the ground truth (true time base):
per-sample thigh angle, pelvic tilt, hip flexion and sensor orientations, and per-rep
depth, wink amplitude and onset. `random_spec(rng)` draws realistic specs for sweeps.

Frames: earth z up, gravity (0, 0, -9.80665) m/s^2. Segment frames (pelvis, thigh) when
standing: x anterior, y left, z up. Segment-to-earth R = Rz(heading) Rx(out_of_plane)
Ry(sagittal) with sagittal = +pelvic tilt (pelvis) or -thigh angle (thigh), so with
u = R^T e_z (earth up in the segment frame) the sagittal angle is atan2(-u_x, u_z) exactly,
whatever the heading and out-of-plane angles. Sensor-to-earth = R @ R_mount.
"""

from fusion.simulator.imu import SensorErrors
from fusion.simulator.randomize import random_sensor_spec, random_spec
from fusion.simulator.scenario import MIN_WINK_RANGE_DEG
from fusion.simulator.simulate import (
    TRUTH_REP_COLUMNS,
    TRUTH_SAMPLE_COLUMNS,
    RepTruth,
    SensorTruth,
    SetTruth,
    SimulatedSet,
    simulate_set,
)
from fusion.simulator.spec import (
    BodySpec,
    OutOfPlaneSpec,
    SensorSpec,
    SimulationSpecError,
    SquatSetSpec,
)

__all__ = [
    "MIN_WINK_RANGE_DEG",
    "TRUTH_REP_COLUMNS",
    "TRUTH_SAMPLE_COLUMNS",
    "BodySpec",
    "OutOfPlaneSpec",
    "RepTruth",
    "SensorErrors",
    "SensorSpec",
    "SensorTruth",
    "SetTruth",
    "SimulatedSet",
    "SimulationSpecError",
    "SquatSetSpec",
    "random_sensor_spec",
    "random_spec",
    "simulate_set",
]
