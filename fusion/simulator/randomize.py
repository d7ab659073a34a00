"""Randomised but realistic set specs, for benchmark sweeps over many recordings.

The mix covers what a gateway meets in a gym: any strap-on orientation, cheap and good
sensors at 50-200 Hz (the two sensors at different rates), clock drift of tens to hundreds
of ppm, a few lost packets, deep and partial squats, and sets that clearly wink (>= 8 deg)
or clearly do not (<= 2 deg), with some in between.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from fusion.simulator.spec import OutOfPlaneSpec, SensorSpec, SquatSetSpec

COMMON_RATES_HZ: tuple[float, ...] = (50.0, 52.0, 60.0, 100.0, 104.0, 120.0, 200.0)
CLEAR_WINK_DEG = (8.5, 15.0)  # set mean; per-rep jitter (sd <= 0.5 deg) rarely takes a rep below 8
NO_WINK_DEG = (0.0, 1.5)
UNCALIBRATED_ACC_SHARE = (
    0.15  # sensors with a gross accelerometer gain error (reads ~12.7 m/s^2 at rest)
)


def random_sensor_spec(rng: np.random.Generator) -> SensorSpec:
    """One sensor with randomly drawn rate, clock, noise, bias, gain and loss."""
    if rng.random() < UNCALIBRATED_ACC_SHARE:
        acc_scale: float | tuple[float, float, float] = tuple(rng.uniform(1.1, 1.35, 3))
    else:
        acc_scale = tuple(rng.uniform(0.98, 1.02, 3))
    return SensorSpec(
        rate_hz=float(rng.choice(COMMON_RATES_HZ)),
        mount="random",
        drift_ppm=float(rng.uniform(-200.0, 200.0)),
        clock_offset_error_s=float(rng.uniform(-0.002, 0.002)),
        sampling_jitter_s=float(rng.uniform(0.0, 1e-4)),
        timestamp_jitter_s=float(rng.uniform(0.0, 5e-4)),
        gyr_noise_radps=float(rng.uniform(0.005, 0.01)),
        acc_noise_mps2=float(rng.uniform(0.02, 0.05)),
        gyr_bias_radps=float(rng.uniform(0.005, 0.02)),
        acc_bias_mps2=float(rng.uniform(0.05, 0.2)),
        acc_scale=acc_scale,
        gyr_scale=tuple(rng.uniform(0.99, 1.01, 3)),
        loss_probability=float(rng.choice([0.0, rng.uniform(0.0, 0.05)])),
        loss_burst_packets=float(rng.uniform(1.0, 3.0)),
        samples_per_packet=int(rng.integers(4, 11)),
    )


def random_spec(rng: np.random.Generator, soft_tissue_max_deg: float = 0.0) -> SquatSetSpec:
    """A realistic random set: 3-10 reps, depth 50-120 deg (a quarter partial), wink 0-15 deg.

    Wink mix (set means): 45 % clear (8.5-15 deg), 45 % none (0-1.5 deg), 10 % in between.
    Every rep's exact amplitude is in the truth. `soft_tissue_max_deg` > 0 adds a
    soft-tissue wobble of up to that much to each sensor (drawn last, so the rest of the
    spec is the same as without it).
    """
    partial = rng.random() < 0.25
    depth_deg = float(rng.uniform(50.0, 70.0) if partial else rng.uniform(70.0, 120.0))
    kind = rng.random()
    wink_range = (
        CLEAR_WINK_DEG
        if kind < 0.45
        else NO_WINK_DEG
        if kind < 0.9
        else (NO_WINK_DEG[1], CLEAR_WINK_DEG[0])
    )
    onset_fraction = float(rng.uniform(0.6, 0.85))
    spec = SquatSetSpec(
        reps=int(rng.integers(3, 11)),
        depth_deg=depth_deg,
        depth_jitter_deg=float(rng.uniform(0.0, 5.0)),
        rhythm_k=float(rng.uniform(0.25, 0.4)),
        rhythm_k_jitter=float(rng.uniform(0.0, 0.03)),
        wink_deg=float(rng.uniform(*wink_range)),
        wink_jitter_deg=float(rng.uniform(0.0, 0.5)),
        wink_onset_fraction=onset_fraction,
        wink_onset_jitter_deg=float(rng.uniform(0.0, 3.0)),
        descent_peak_speed_degps=float(rng.uniform(110.0, 135.0)),
        ascent_peak_speed_degps=float(rng.uniform(115.0, 140.0)),
        tempo_jitter=float(rng.uniform(0.0, 0.1)),
        bottom_pause_s=(0.0, float(rng.uniform(0.0, 0.5))),
        pause_between_s=(0.2, float(rng.uniform(0.4, 1.0))),
        standing_s=float(rng.uniform(1.0, 3.0)),
        standing_end_s=float(rng.uniform(1.0, 3.0)),
        out_of_plane=OutOfPlaneSpec(
            knees_out_deg=float(rng.uniform(3.0, 10.0)),
            thigh_rotation_deg=float(rng.uniform(0.0, 8.0)),
            pelvic_obliquity_deg=float(rng.uniform(0.0, 3.0)),
            pelvic_rotation_deg=float(rng.uniform(0.0, 3.0)),
            heading_drift_degps=float(rng.uniform(-0.3, 0.3)),
        ),
        sacrum=random_sensor_spec(rng),
        thigh=random_sensor_spec(rng),
    )
    if soft_tissue_max_deg > 0:
        spec = replace(
            spec,
            sacrum=replace(
                spec.sacrum, soft_tissue_deg=float(rng.uniform(0.0, soft_tissue_max_deg))
            ),
            thigh=replace(spec.thigh, soft_tissue_deg=float(rng.uniform(0.0, soft_tissue_max_deg))),
        )
    return spec
