"""Put irregularly sampled IMU streams on a uniform time grid.

Sensors sample at their own instants and rates, with jitter and lost packets; the
orientation filters need uniformly spaced samples and the two sensors must share one time
base. Linear interpolation is adequate for human motion sampled at >= 50 Hz; samples that
fall inside a gap longer than `max_gap_s` are interpolated too but flagged so callers can
say so.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from fusion.errors import AnalysisError, InputError, require_rate_hz
from fusion.gaps import long_interval_starts
from fusion.types import ImuRecording

DEFAULT_MAX_GAP_S = 0.05  # longer than a few lost 200-Hz packets: worth reporting
# A grid longer than this is refused rather than allocated: 2 h at 200 Hz (a set lasts
# minutes). Several (N, 3) float64 arrays are built per sensor, so this bounds memory to a
# few hundred MB; a larger grid means t_s is not in seconds or a timestamp jumped.
MAX_GRID_SAMPLES = 1_440_000
# No IMU in this field samples faster (the simulator goes to 2 kHz): a higher median rate
# means t_s is not in seconds.
MAX_SAMPLE_RATE_HZ = 10_000.0
# Nor slower than the simulator's slowest rate (squats need far more): a lower median rate
# means t_s is not in seconds, most often milliseconds.
MIN_SAMPLE_RATE_HZ = 10.0
# A sensor's clock runs off its nominal rate by tens to hundreds of ppm (and the gateway's
# mapping adds its own): a 10-Hz sensor reads 9.999 Hz, which is still its nominal rate.
SAMPLE_RATE_TOLERANCE = 0.01
# Intervals within this of the median count as uniform (timestamps rounded to the us).
UNIFORM_TOLERANCE_S = 2e-6
RESAMPLE_BLOCK_SAMPLES = 1 << 16  # grid instants interpolated at a time


@dataclass(frozen=True)
class UniformSamples:
    """Samples on a uniform grid: `t_s` (M,), `acc_mps2` (M, 3), `gyr_radps` (M, 3) (of the
    recording's dtype), `in_gap` (M,) bool."""

    t_s: np.ndarray
    acc_mps2: np.ndarray
    gyr_radps: np.ndarray
    in_gap: np.ndarray
    rate_hz: float


def uniform_grid(start_s: float, end_s: float, rate_hz: float) -> np.ndarray:
    """Grid instants from `start_s` up to and including `end_s` (when it falls on the grid)."""
    require_rate_hz(rate_hz)
    if not (np.isfinite(start_s) and np.isfinite(end_s)):
        raise InputError(f"the grid's ends must be finite, got {start_s!r}..{end_s!r} s")
    if end_s < start_s:  # before the span: a reversed range times a huge rate is -inf
        raise AnalysisError(f"empty time range {start_s:.3f}..{end_s:.3f} s")
    span_samples = (end_s - start_s) * rate_hz
    if not span_samples < MAX_GRID_SAMPLES:
        raise AnalysisError(
            f"t_s runs from {start_s:.6g} to {end_s:.6g} s: at {rate_hz:.6g} Hz that is "
            f"{span_samples:.3g} samples, more than the {MAX_GRID_SAMPLES:,} (2 h at 200 Hz) "
            "analysed at once. Check that t_s is in seconds and has no jump (a timestamp far "
            "in the future), or split the recording"
        )
    count = int(np.floor(span_samples + 1e-9)) + 1
    if count < 1:
        raise AnalysisError(f"empty time range {start_s:.3f}..{end_s:.3f} s")
    return start_s + np.arange(count) / rate_hz


def check_sample_rate(recording: ImuRecording, name: str) -> None:
    """Refuse a recording whose median rate no IMU has (t_s not in seconds)."""
    rate_hz = recording.median_rate_hz
    if not rate_hz >= MIN_SAMPLE_RATE_HZ * (1 - SAMPLE_RATE_TOLERANCE):
        raise AnalysisError(
            f"the {name} samples are {1.0 / rate_hz:.3g} s apart (median), i.e. "
            f"{rate_hz:.3g} Hz, slower than any IMU streams (>= {MIN_SAMPLE_RATE_HZ:.0f} Hz): "
            "t_s must be in seconds, not milliseconds"
        )
    if not rate_hz <= MAX_SAMPLE_RATE_HZ * (1 + SAMPLE_RATE_TOLERANCE):
        raise AnalysisError(
            f"the {name} samples are {1.0 / rate_hz:.3g} s apart (median), i.e. "
            f"{rate_hz:.3g} Hz, faster than any IMU (<= {MAX_SAMPLE_RATE_HZ:.0f} Hz): "
            "t_s must be in seconds"
        )


def gap_mask(
    t_s: np.ndarray, grid_t_s: np.ndarray, max_gap_s: float, long: np.ndarray | None = None
) -> np.ndarray:
    """True for grid instants that lie strictly inside an interval of `t_s` longer than
    `max_gap_s` (`long`: those intervals' `long_interval_starts`, when known)."""
    if long is None:
        long = long_interval_starts(t_s, max_gap_s)
    if long.size == 0:
        return np.zeros(grid_t_s.shape, dtype=bool)
    # Each long interval covers the grid instants [first, stop); the intervals are sorted and
    # do not overlap, so the mask is runs of outside, inside, outside, ... (an int8 running
    # sum of +1/-1 steps was ~7 ns a grid instant).
    first = np.searchsorted(grid_t_s, t_s[long], side="right")
    stop = np.searchsorted(grid_t_s, t_s[long + 1], side="left")
    edges = np.concatenate(([0], np.column_stack((first, stop)).ravel(), [grid_t_s.size]))
    inside: np.ndarray = np.repeat(np.arange(edges.size - 1) % 2 == 1, np.diff(edges))
    return inside


def resample_to_grid(
    recording: ImuRecording, grid_t_s: np.ndarray, max_gap_s: float = DEFAULT_MAX_GAP_S
) -> UniformSamples:
    """Linearly interpolate `recording` at `grid_t_s` (which must lie within its time span)."""
    t_s = recording.t_s
    if grid_t_s[0] < t_s[0] - 1e-9 or grid_t_s[-1] > t_s[-1] + 1e-9:
        raise ValueError(
            f"grid {grid_t_s[0]:.3f}..{grid_t_s[-1]:.3f} s exceeds the recording "
            f"{t_s[0]:.3f}..{t_s[-1]:.3f} s"
        )
    # The recording's precision (float32 from a file, see fusion.types), not a wider copy.
    acc = np.empty((grid_t_s.size, 3), dtype=recording.acc_mps2.dtype)
    gyr = np.empty((grid_t_s.size, 3), dtype=recording.gyr_radps.dtype)
    # In blocks of the grid, each against the stretch of samples that brackets it: the same
    # values as one call over everything, without float64 copies of whole columns.
    for first in range(0, grid_t_s.size, RESAMPLE_BLOCK_SAMPLES):
        grid_block = grid_t_s[first : first + RESAMPLE_BLOCK_SAMPLES]
        low = max(int(np.searchsorted(t_s, grid_block[0], side="right")) - 1, 0)
        high = int(np.searchsorted(t_s, grid_block[-1], side="left")) + 1
        block_t_s = t_s[low:high]
        rows = slice(first, first + grid_block.size)
        for axis in range(3):
            acc[rows, axis] = np.interp(grid_block, block_t_s, recording.acc_mps2[low:high, axis])
            gyr[rows, axis] = np.interp(grid_block, block_t_s, recording.gyr_radps[low:high, axis])
    rate_hz = 1.0 / float(grid_t_s[1] - grid_t_s[0]) if grid_t_s.size > 1 else float("nan")
    in_gap = gap_mask(t_s, grid_t_s, max_gap_s, recording.long_interval_starts(max_gap_s))
    return UniformSamples(grid_t_s, acc, gyr, in_gap, rate_hz)


def resample_uniform(
    recording: ImuRecording, rate_hz: float | None = None, max_gap_s: float = DEFAULT_MAX_GAP_S
) -> UniformSamples:
    """Resample one recording on a uniform grid over its own span (default: its median rate)."""
    if len(recording) < 2:
        raise AnalysisError("a recording needs at least 2 samples")
    start_s, end_s = float(recording.t_s[0]), float(recording.t_s[-1])
    if rate_hz is None:
        check_sample_rate(recording, "sensor's")
        if _is_uniform(recording.t_s):
            # One grid instant per input sample: a rate from the rounded median interval
            # (e.g. 285.714 Hz as 0.0035 s) would drift off the samples and drop the last.
            count = len(recording)
            grid = start_s + np.arange(count) * ((end_s - start_s) / (count - 1))
            grid[-1] = end_s
            return resample_to_grid(recording, grid, max_gap_s)
        rate_hz = recording.median_rate_hz
    grid = uniform_grid(start_s, end_s, rate_hz)
    return resample_to_grid(recording, grid, max_gap_s)


def _is_uniform(t_s: np.ndarray) -> bool:
    """True when every sample lies within UNIFORM_TOLERANCE_S of an evenly spaced line."""
    count = t_s.size
    line = t_s[0] + np.arange(count) * ((t_s[-1] - t_s[0]) / (count - 1))
    return bool(np.max(np.abs(t_s - line)) <= UNIFORM_TOLERANCE_S)
