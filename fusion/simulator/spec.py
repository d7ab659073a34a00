"""Everything a simulated squat set can vary: the movement, the body, and each sensor.

All fields carry their unit in the name. Defaults describe a typical loaded back squat
recorded by two mid-range BLE IMUs; `SensorSpec.ideal()` gives an error-free sensor for
tests of physical consistency. Specs are validated on construction and raise
`SimulationSpecError` with a message saying which knob to change.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from fusion.errors import FusionError
from fusion.types import STANDARD_GRAVITY_MPS2

MountSpec = str | tuple[float, float, float, float]
VectorOrMagnitude = float | tuple[float, float, float]

INT16_FULL_SCALE_BITS = 16
DEFAULT_ACC_RANGE_MPS2 = 16.0 * STANDARD_GRAVITY_MPS2  # +-16 g
DEFAULT_GYR_RANGE_RADPS = math.radians(2000.0)  # +-2000 dps


class SimulationSpecError(FusionError, ValueError):
    """A simulation knob is out of its meaningful range; the message names it and the range."""


def _check_range(name: str, value: float, low: float, high: float) -> None:
    if not low <= value <= high:
        raise SimulationSpecError(
            f"{name} = {value!r} is outside [{low}, {high}]; choose a value in that range"
        )


def _check_interval(name: str, interval: tuple[float, float], low: float, high: float) -> None:
    if len(interval) != 2 or not low <= interval[0] <= interval[1] <= high:
        raise SimulationSpecError(
            f"{name} = {interval!r} must be (min, max) with {low} <= min <= max <= {high}"
        )


def _check_vector_or_magnitude(name: str, value: VectorOrMagnitude, high: float) -> None:
    values = (value,) if isinstance(value, (int, float)) else tuple(value)
    if len(values) not in (1, 3) or any(abs(v) > high for v in values):
        raise SimulationSpecError(
            f"{name} = {value!r} must be a magnitude or an (x, y, z) vector with entries within +-{high}"
        )
    if len(values) == 1 and values[0] < 0:
        raise SimulationSpecError(f"{name} = {value!r}: a magnitude cannot be negative")


@dataclass(frozen=True)
class SensorSpec:
    """One IMU: sampling, clock, mounting and measurement errors.

    Mounting `mount`: "random" (uniformly random sensor-to-segment rotation), "aligned"
    (sensor axes = segment axes) or an explicit unit quaternion (w, x, y, z) sensor-to-segment.
    Biases: a float is the magnitude of a bias vector in a random direction, a tuple is the
    vector itself (sensor frame). `acc_scale` / `gyr_scale`: per-axis gain (1 = exact), a
    float applies to all axes. `adc_bits` None disables quantisation.
    Clock: the sensor's clock runs `drift_ppm` fast; recorded times are the sensor clock
    mapped to the shared clock by offset only (see `sampling`).
    Loss: packets of `samples_per_packet` consecutive samples are lost with long-run
    probability `loss_probability`, in bursts of `loss_burst_packets` packets on average.
    Soft tissue: `soft_tissue_deg` > 0 rocks the sensor on its segment (3-10 Hz, growing
    with the thigh angle); truth sensor orientations include it, segment angles do not.
    Mirrored axes (a faulty firmware or driver): `acc_mirrored_axes` / `gyr_mirrored_axes`
    name the accelerometer / gyroscope axes ("y", "xz") whose readings have their sign
    flipped; "" (the default) for none. The truth orientations stay the sensor's true ones.
    """

    rate_hz: float = 100.0
    mount: MountSpec = "random"
    drift_ppm: float = 50.0
    clock_offset_error_s: float = 0.0
    first_sample_delay_s: float | None = None  # None: random within the first sample period
    sampling_jitter_s: float = 5e-5
    timestamp_jitter_s: float = 3e-4
    gyr_noise_radps: float = 0.007
    acc_noise_mps2: float = 0.03
    gyr_bias_radps: VectorOrMagnitude = 0.01
    acc_bias_mps2: VectorOrMagnitude = 0.1
    acc_scale: VectorOrMagnitude = 1.0
    gyr_scale: VectorOrMagnitude = 1.0
    acc_range_mps2: float = DEFAULT_ACC_RANGE_MPS2
    gyr_range_radps: float = DEFAULT_GYR_RANGE_RADPS
    adc_bits: int | None = INT16_FULL_SCALE_BITS
    loss_probability: float = 0.01
    loss_burst_packets: float = 1.5
    samples_per_packet: int = 6
    soft_tissue_deg: float = 0.0  # wobble on the segment at a 100-deg thigh angle (see `wobble`)
    acc_mirrored_axes: str = ""
    gyr_mirrored_axes: str = ""

    def __post_init__(self) -> None:
        _check_range("rate_hz", self.rate_hz, 10.0, 2000.0)
        if isinstance(self.mount, str):
            if self.mount not in ("random", "aligned"):
                raise SimulationSpecError(
                    f"mount = {self.mount!r}; use 'random', 'aligned' or a quaternion (w, x, y, z)"
                )
        elif len(self.mount) != 4 or sum(c * c for c in self.mount) < 1e-12:
            raise SimulationSpecError(
                f"mount = {self.mount!r} is not a non-zero quaternion (w, x, y, z)"
            )
        _check_range("drift_ppm", self.drift_ppm, -2000.0, 2000.0)
        _check_range("clock_offset_error_s", self.clock_offset_error_s, -1.0, 1.0)
        period_s = 1.0 / self.rate_hz
        if self.first_sample_delay_s is not None:
            _check_range("first_sample_delay_s", self.first_sample_delay_s, 0.0, 1.0)
        _check_range("sampling_jitter_s", self.sampling_jitter_s, 0.0, 0.2 * period_s)
        _check_range("timestamp_jitter_s", self.timestamp_jitter_s, 0.0, 0.2 * period_s)
        _check_range("gyr_noise_radps", self.gyr_noise_radps, 0.0, 1.0)
        _check_range("acc_noise_mps2", self.acc_noise_mps2, 0.0, 5.0)
        _check_vector_or_magnitude("gyr_bias_radps", self.gyr_bias_radps, 1.0)
        _check_vector_or_magnitude("acc_bias_mps2", self.acc_bias_mps2, 5.0)
        for name in ("acc_scale", "gyr_scale"):
            scale = getattr(self, name)
            values = (scale,) if isinstance(scale, (int, float)) else tuple(scale)
            if len(values) not in (1, 3) or not all(0.5 <= v <= 2.0 for v in values):
                raise SimulationSpecError(
                    f"{name} = {scale!r}: gains must be in [0.5, 2.0], one or three of them"
                )
        _check_range("acc_range_mps2", self.acc_range_mps2, 2 * STANDARD_GRAVITY_MPS2, 1000.0)
        _check_range("gyr_range_radps", self.gyr_range_radps, 1.0, 100.0)
        if self.adc_bits is not None:
            _check_range("adc_bits", self.adc_bits, 8, 32)
        _check_range("loss_probability", self.loss_probability, 0.0, 0.5)
        _check_range("loss_burst_packets", self.loss_burst_packets, 1.0, 100.0)
        _check_range("samples_per_packet", self.samples_per_packet, 1, 100)
        _check_range("soft_tissue_deg", self.soft_tissue_deg, 0.0, 10.0)
        for name in ("acc_mirrored_axes", "gyr_mirrored_axes"):
            axes = getattr(self, name)
            if not isinstance(axes, str) or set(axes) - set("xyz") or len(set(axes)) != len(axes):
                raise SimulationSpecError(
                    f"{name} = {axes!r}: name each mirrored axis once, from 'x', 'y', 'z' "
                    "(e.g. 'y'), or '' for none"
                )

    @classmethod
    def ideal(cls, rate_hz: float = 100.0, mount: MountSpec = "random") -> SensorSpec:
        """A perfect sensor: exact instants and clock, no noise, bias, gain error, quantisation or loss."""
        return cls(
            rate_hz=rate_hz,
            mount=mount,
            drift_ppm=0.0,
            first_sample_delay_s=0.0,
            sampling_jitter_s=0.0,
            timestamp_jitter_s=0.0,
            gyr_noise_radps=0.0,
            acc_noise_mps2=0.0,
            gyr_bias_radps=0.0,
            acc_bias_mps2=0.0,
            acc_range_mps2=1000.0,
            gyr_range_radps=100.0,
            adc_bits=None,
            loss_probability=0.0,
        )


@dataclass(frozen=True)
class BodySpec:
    """Segment lengths and sensor placement (m); segment frames x anterior, y left, z up.

    The simulated leg is the left one, so the thigh sensor sits on +y (lateral). The hip
    joint is the pelvis frame's origin.
    """

    shank_m: float = 0.45
    thigh_m: float = 0.45
    shank_to_thigh_ratio: float = 0.4  # shank forward inclination = ratio * thigh angle
    sacrum_offset_m: tuple[float, float, float] = (-0.10, 0.0, 0.05)  # from the hip, pelvis frame
    thigh_sensor_fraction: float = 0.5  # of the femur length, from the knee
    thigh_sensor_lateral_m: float = 0.08

    def __post_init__(self) -> None:
        _check_range("shank_m", self.shank_m, 0.2, 0.7)
        _check_range("thigh_m", self.thigh_m, 0.2, 0.7)
        _check_range("shank_to_thigh_ratio", self.shank_to_thigh_ratio, 0.0, 0.8)
        _check_range("thigh_sensor_fraction", self.thigh_sensor_fraction, 0.0, 1.0)
        _check_range("thigh_sensor_lateral_m", self.thigh_sensor_lateral_m, 0.0, 0.2)
        if len(self.sacrum_offset_m) != 3 or any(abs(c) > 0.4 for c in self.sacrum_offset_m):
            raise SimulationSpecError(
                f"sacrum_offset_m = {self.sacrum_offset_m!r} must be (x, y, z) within +-0.4 m"
            )


@dataclass(frozen=True)
class OutOfPlaneSpec:
    """Movement outside the sagittal plane, deg, reached at a thigh angle of 100 deg (scales with it).

    Knees out: thigh abduction (`knees_out_deg`) and external rotation (`thigh_rotation_deg`),
    varied +-`per_rep_variation` (fraction) per rep. Pelvic obliquity and rotation get a
    random sign and size up to their value per rep. Body heading drifts at
    `heading_drift_degps`.
    """

    knees_out_deg: float = 6.0
    thigh_rotation_deg: float = 5.0
    pelvic_obliquity_deg: float = 2.0
    pelvic_rotation_deg: float = 2.0
    per_rep_variation: float = 0.2
    heading_drift_degps: float = 0.1

    def __post_init__(self) -> None:
        for name in (
            "knees_out_deg",
            "thigh_rotation_deg",
            "pelvic_obliquity_deg",
            "pelvic_rotation_deg",
        ):
            _check_range(name, getattr(self, name), -30.0, 30.0)
        _check_range("per_rep_variation", self.per_rep_variation, 0.0, 1.0)
        _check_range("heading_drift_degps", self.heading_drift_degps, -10.0, 10.0)

    @classmethod
    def none(cls) -> OutOfPlaneSpec:
        """A purely sagittal squat with a fixed heading."""
        return cls(0.0, 0.0, 0.0, 0.0, 0.0, 0.0)


@dataclass(frozen=True)
class QuadrupedSpec:
    """On hands and knees (the rock-back, a "horizontal squat"), deg.

    The shank lies on the floor (sagittal 90 deg, knee anterior of the ankle, knee fixed),
    the thigh hangs near vertical under the hip (`thigh_start_deg` from vertical) and the
    pelvis is tilted forward with the trunk about horizontal (`pelvic_tilt_start_deg`
    relative to standing). Rocking back rotates the thigh about the knee exactly as a squat
    rotates it (thigh angle rising from `thigh_start_deg`), and the pelvis follows the
    lumbopelvic rhythm and wink of `SquatSetSpec` on top of its start tilt.
    """

    thigh_start_deg: float = 3.0
    pelvic_tilt_start_deg: float = 80.0

    def __post_init__(self) -> None:
        _check_range("thigh_start_deg", self.thigh_start_deg, -20.0, 30.0)
        _check_range("pelvic_tilt_start_deg", self.pelvic_tilt_start_deg, 45.0, 120.0)


@dataclass(frozen=True)
class SquatSetSpec:
    """One set: standing, `reps` squats with pauses, standing. Angles deg, times s.

    Depth (thigh angle at the bottom) per rep: `depth_deg` + N(0, `depth_jitter_deg`).
    Lumbopelvic rhythm: pelvic tilt = k * thigh angle, k = `rhythm_k` + N(0, `rhythm_k_jitter`).
    Wink per rep: amplitude `wink_deg` + N(0, `wink_jitter_deg`) (>= 0; 0 stays 0), starting at thigh
    angle `wink_onset_deg` (or `wink_onset_fraction` * that rep's depth when `wink_onset_deg`
    is None) + N(0, `wink_onset_jitter_deg`). A rep whose depth does not pass its onset by
    `MIN_WINK_RANGE_DEG` does not wink (partial squats above the onset).
    Tempo: minimum-jerk descent and ascent with the given peak thigh speeds (deg/s), each
    rep's durations scaled by 1 + N(0, `tempo_jitter`). Pauses drawn uniformly from ranges.
    `heading_deg` None: random body heading. `truth_rate_hz`: the uniform truth grid.
    `quadruped`: None for a standing squat, else the set is a quadruped rock-back whose thigh
    and pelvis angles are offset by its start posture (`QuadrupedSpec`); `depth_deg` and
    `wink_onset_deg` are then measured from the thigh's start angle.
    """

    reps: int = 5
    depth_deg: float = 100.0
    depth_jitter_deg: float = 3.0
    rhythm_k: float = 0.3
    rhythm_k_jitter: float = 0.02
    rhythm_blend_deg: float = 10.0
    wink_deg: float = 0.0
    wink_jitter_deg: float = 0.0
    wink_onset_deg: float | None = None
    wink_onset_fraction: float = 0.75
    wink_onset_jitter_deg: float = 0.0
    descent_peak_speed_degps: float = 125.0
    ascent_peak_speed_degps: float = 130.0
    tempo_jitter: float = 0.05
    bottom_pause_s: tuple[float, float] = (0.0, 0.1)
    pause_between_s: tuple[float, float] = (0.3, 0.9)
    standing_s: float = 2.0
    standing_end_s: float = 2.0
    heading_deg: float | None = None
    out_of_plane: OutOfPlaneSpec = field(default_factory=OutOfPlaneSpec)
    body: BodySpec = field(default_factory=BodySpec)
    sacrum: SensorSpec = field(default_factory=SensorSpec)
    thigh: SensorSpec = field(default_factory=SensorSpec)
    truth_rate_hz: float = 200.0
    quadruped: QuadrupedSpec | None = None

    def __post_init__(self) -> None:
        _check_range("reps", self.reps, 1, 1000)
        _check_range("depth_deg", self.depth_deg, 15.0, 140.0)
        _check_range("depth_jitter_deg", self.depth_jitter_deg, 0.0, 20.0)
        _check_range("rhythm_k", self.rhythm_k, 0.0, 1.0)
        _check_range("rhythm_k_jitter", self.rhythm_k_jitter, 0.0, 0.2)
        _check_range("rhythm_blend_deg", self.rhythm_blend_deg, 0.0, 30.0)
        _check_range("wink_deg", self.wink_deg, 0.0, 45.0)
        _check_range("wink_jitter_deg", self.wink_jitter_deg, 0.0, 15.0)
        if self.wink_onset_deg is not None:
            _check_range("wink_onset_deg", self.wink_onset_deg, 10.0, 135.0)
        _check_range("wink_onset_fraction", self.wink_onset_fraction, 0.2, 0.95)
        _check_range("wink_onset_jitter_deg", self.wink_onset_jitter_deg, 0.0, 20.0)
        _check_range("descent_peak_speed_degps", self.descent_peak_speed_degps, 20.0, 400.0)
        _check_range("ascent_peak_speed_degps", self.ascent_peak_speed_degps, 20.0, 400.0)
        _check_range("tempo_jitter", self.tempo_jitter, 0.0, 0.3)
        _check_interval("bottom_pause_s", self.bottom_pause_s, 0.0, 10.0)
        _check_interval("pause_between_s", self.pause_between_s, 0.0, 30.0)
        _check_range("standing_s", self.standing_s, 0.0, 600.0)
        _check_range("standing_end_s", self.standing_end_s, 0.0, 600.0)
        if self.heading_deg is not None:
            _check_range("heading_deg", self.heading_deg, -360.0, 360.0)
        _check_range("truth_rate_hz", self.truth_rate_hz, 10.0, 2000.0)
