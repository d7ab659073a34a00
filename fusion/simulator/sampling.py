"""When each sensor samples, what time the recording says it did, and which samples are lost.

Two time bases:
- true time (s): the physical time of the simulation, t = 0 at the start of the set; all
  ground truth (`SetTruth`, `RepTruth`) is on it;
- recorded time `t_s` (s): what a gateway writes on the clock shared by both sensors. Each
  sensor's own clock runs `drift_ppm` fast; the gateway maps it to the shared clock by an
  offset only, fixed at the sensor's first sample (plus `clock_offset_error_s`), so recorded
  time drifts away from true time by `drift_ppm` * 1e-6 * elapsed, and it carries
  `timestamp_jitter_s` of noise.
Sample k is taken at sensor-clock instant k / rate_hz (+ `sampling_jitter_s` of noise).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from fusion.simulator.spec import SensorSpec

MAX_JITTER_FRACTION_OF_PERIOD = 0.25  # keeps both time bases strictly increasing


@dataclass(frozen=True)
class SampleTimes:
    """Per kept sample: `true_t_s` (N,) when it was taken, `t_s` (N,) recorded time; `kept` (M,) over all M taken."""

    true_t_s: np.ndarray
    t_s: np.ndarray
    kept: np.ndarray


def _bounded_normal(rng: np.random.Generator, scale: float, bound: float, count: int) -> np.ndarray:
    return np.clip(rng.normal(0.0, scale, count), -bound, bound) if scale > 0 else np.zeros(count)


def packet_loss_mask(spec: SensorSpec, count: int, rng: np.random.Generator) -> np.ndarray:
    """True for samples that reach the gateway, (count,) bool.

    Packets of `samples_per_packet` consecutive samples are lost following a two-state
    Markov chain whose long-run loss share is `loss_probability` and whose mean burst
    length is `loss_burst_packets` packets.
    """
    packets = -(-count // spec.samples_per_packet)
    lost = np.zeros(packets, dtype=bool)
    if spec.loss_probability > 0:
        recover = 1.0 / spec.loss_burst_packets
        start_loss = min(1.0, spec.loss_probability * recover / (1.0 - spec.loss_probability))
        draws = rng.random(packets)
        state = draws[0] < spec.loss_probability
        for i in range(packets):
            if i > 0:
                state = draws[i] >= recover if state else draws[i] < start_loss
            lost[i] = state
    return np.repeat(~lost, spec.samples_per_packet)[:count]


def sample_times(spec: SensorSpec, duration_s: float, rng: np.random.Generator) -> SampleTimes:
    """Sample instants of one sensor over [0, `duration_s`] true time, after packet loss."""
    period_s = 1.0 / spec.rate_hz
    bound_s = MAX_JITTER_FRACTION_OF_PERIOD * period_s
    first_s = (
        rng.uniform(0.0, period_s)
        if spec.first_sample_delay_s is None
        else spec.first_sample_delay_s
    )
    clock_rate = 1.0 + spec.drift_ppm * 1e-6
    count = int(np.floor((duration_s - first_s) * clock_rate / period_s + 1e-9)) + 1
    if count < 2:
        raise ValueError(
            f"the set lasts {duration_s:.3f} s, too short for two samples at {spec.rate_hz} Hz"
        )
    ticks_s = np.arange(count) * period_s  # sensor clock, from the first sample
    true_t_s = (
        first_s
        + (ticks_s + _bounded_normal(rng, spec.sampling_jitter_s, bound_s, count)) / clock_rate
    )
    true_t_s = np.minimum(true_t_s, duration_s)
    t_s = (
        first_s
        + spec.clock_offset_error_s
        + ticks_s
        + _bounded_normal(rng, spec.timestamp_jitter_s, bound_s, count)
    )
    kept = packet_loss_mask(spec, count, rng)
    if np.count_nonzero(kept) < 2:
        kept[:2] = True
    return SampleTimes(true_t_s=true_t_s[kept], t_s=t_s[kept], kept=kept)
