"""Sensor-to-segment calibration that does not assume how a sensor was strapped on.

For each segment we need two directions in the sensor frame:
- the segment's long axis ("up" when standing): the earth's up direction seen by the sensor
  while the athlete stands still;
- the flexion (medio-lateral) axis: the squat rotates both segments mainly about it, so it
  is the principal direction of the angular rate while moving, made perpendicular to up.
Together they give the segment's sagittal plane, in which `sagittal_angle_deg` measures
rotation from standing. The sign is fixed later from the motion itself (see `angles`).
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import numpy as np

from fusion.errors import AnalysisError, InputError, require_finite, require_rate_hz
from fusion.rows import row_dots, row_energy, row_norms

STILL_GYR_RADPS = 0.15  # below this the sensor is nearly still (human sway ~0.05)
STILL_MIN_S = 0.5  # a still window this long gives a trustworthy vertical
STILL_SEARCH_S = 6.0  # look for standing in the first seconds of a recording
SHORT_STILL_MIN_S = 0.2  # shortest usable window when no proper still period exists
DEG_PER_RAD = 180.0 / math.pi
MOVING_GYR_RADPS = 0.4  # samples above this rotate enough to show the flexion axis
MIN_MOVING_SAMPLES = 5
PLANAR_MOTION_MIN_SHARE = 0.6  # share of rotation energy about the flexion axis to trust it


@dataclass(frozen=True)
class StillWindow:
    """Where the athlete stood still: sample indices [start, stop) and whether it is long enough."""

    start: int
    stop: int
    duration_s: float
    trustworthy: bool


@dataclass(frozen=True)
class SegmentCalibration:
    """Unit axes of the segment frame expressed in the sensor frame (x anterior-ish, y flexion, z up)."""

    x_axis: np.ndarray
    y_axis: np.ndarray
    z_axis: np.ndarray
    still: StillWindow
    planar_share: float  # share of rotation energy about y while moving (1 = pure flexion)

    @property
    def trustworthy(self) -> bool:
        return self.still.trustworthy and self.planar_share >= PLANAR_MOTION_MIN_SHARE

    @functools.cached_property
    def sagittal_axes_floats(self) -> tuple[float, float, float, float, float, float]:
        """x and z axes as plain floats (x0, x1, x2, z0, z1, z2), for the live path's rows."""
        x0, x1, x2 = self.x_axis.tolist()
        z0, z1, z2 = self.z_axis.tolist()
        return x0, x1, x2, z0, z1, z2


def _moving_average(values: np.ndarray, width: int) -> np.ndarray:
    kernel = np.ones(width) / width
    return np.convolve(values, kernel, mode="same")


def find_still_window(gyr_radps: np.ndarray, rate_hz: float) -> StillWindow:
    """The first still stretch in the opening seconds; else the quietest short stretch there.

    Standing is assumed at the start of a set (the lifter walks up, stands, squats). If no
    stretch of `STILL_MIN_S` is still, the quietest `SHORT_STILL_MIN_S` is used and marked
    untrustworthy so the caller can say so.
    """
    require_rate_hz(rate_hz)
    if gyr_radps.ndim != 2 or gyr_radps.shape[0] == 0 or gyr_radps.shape[1] != 3:
        raise InputError(f"gyr_radps must be (N >= 1, 3) rad/s, got shape {gyr_radps.shape}")
    with np.errstate(over="ignore"):  # a rate whose square overflows is inf: not still
        search = row_norms(gyr_radps[: max(int(STILL_SEARCH_S * rate_hz), 2)])
    still = search < STILL_GYR_RADPS
    min_len = max(int(STILL_MIN_S * rate_hz), 1)
    # Run lengths of consecutive still samples.
    edges = np.flatnonzero(np.diff(np.concatenate(([0], still.astype(np.int8), [0]))))
    starts, stops = edges[::2], edges[1::2]
    long_runs = np.flatnonzero(stops - starts >= min_len)
    if long_runs.size:
        start, stop = int(starts[long_runs[0]]), int(stops[long_runs[0]])
        return StillWindow(start, stop, (stop - start) / rate_hz, trustworthy=True)
    width = max(min(int(SHORT_STILL_MIN_S * rate_hz), search.size), 1)
    energy = _moving_average(search, width)
    half = width // 2
    centre = (
        int(np.argmin(energy[half : search.size - (width - half) + 1]) + half)
        if search.size > width
        else half
    )
    start = max(centre - half, 0)
    stop = min(start + width, search.size)
    return StillWindow(start, stop, (stop - start) / rate_hz, trustworthy=False)


def calibrate_segment(
    up_sensor: np.ndarray, gyr_radps: np.ndarray, still: StillWindow
) -> SegmentCalibration:
    """Segment axes from the standing vertical (`up_sensor` (N,3) earth-up in sensor frame,
    averaged over `still`) and the principal rotation axis of `gyr_radps` (N,3) while moving."""
    require_finite(up_sensor, "up_sensor")
    require_finite(gyr_radps, "gyr_radps")
    if up_sensor.ndim != 2 or up_sensor.shape[1] != 3:
        raise InputError(f"up_sensor must be (N, 3) earth-up vectors, got shape {up_sensor.shape}")
    if not 0 <= still.start < still.stop <= up_sensor.shape[0]:
        raise InputError(
            f"the still window [{still.start}, {still.stop}) is not within up_sensor's "
            f"{up_sensor.shape[0]} samples: find it on this sensor's samples"
        )
    with np.errstate(over="ignore", invalid="ignore"):  # judged just below
        vertical = up_sensor[still.start : still.stop].mean(axis=0)
        length = float(np.linalg.norm(vertical))
    if not 0 < length < math.inf:
        raise InputError(
            f"up_sensor averages to {vertical.tolist()} over the still window "
            f"[{still.start}, {still.stop}): no direction, so no vertical; it must be the "
            "earth-up direction in the sensor frame (unit vectors from the orientation filter)"
        )
    return calibrate_from_vertical(vertical / length, gyr_radps, still)


def calibrate_from_vertical(
    z_axis: np.ndarray, gyr_radps: np.ndarray, still: StillWindow
) -> SegmentCalibration:
    """Segment axes from a known standing vertical `z_axis` (unit, sensor frame) and the
    principal horizontal rotation axis of `gyr_radps` (N,3) rad/s while moving.

    The principal axis is the top eigenvector of the 3 x 3 second-moment matrix of the
    moving rates projected off `z_axis` (the right singular vector of those rates, without
    holding an (N, 3) copy of them); its sign is made canonical (largest component
    positive): either direction is right, the angles' signs are fixed from the motion.
    """
    if not (z_axis.shape == (3,) and abs(float(z_axis @ z_axis) - 1.0) < 1e-6):  # NaN too
        raise InputError(f"z_axis must be a unit 3-vector (the standing vertical), got {z_axis!r}")
    with np.errstate(over="ignore", invalid="ignore"):  # an overflow is refused just below
        gram, moving = _moving_rate_gram(gyr_radps)
    if moving < MIN_MOVING_SAMPLES:
        raise AnalysisError(
            "the sensor hardly rotates: no squat motion found to find the flexion axis; "
            "record at least one rep"
        )
    if not np.isfinite(gram).all():  # rates so large their squares overflow: not rad/s
        raise InputError("gyr_radps is too large to be an angular rate in rad/s")
    off_vertical = np.eye(3) - np.outer(z_axis, z_axis)
    energy, vectors = np.linalg.eigh(off_vertical @ gram @ off_vertical)  # ascending
    energy = np.clip(energy, 0.0, None)
    top = vectors[:, -1]
    horizontal = top - (top @ z_axis) * z_axis
    if not energy[-1] > 1e-12 * float(np.trace(gram)):
        # every moving rate is about the vertical (to rounding): none shows a flexion axis
        raise AnalysisError(
            "the sensor turns only about the standing vertical: no squat motion found to "
            "find the flexion axis; record at least one rep"
        )
    y_axis = _unit(horizontal)
    if y_axis[np.argmax(np.abs(y_axis))] < 0:
        y_axis = -y_axis
    x_axis = _cross(y_axis, z_axis)
    planar_share = float(energy[-1] / energy.sum()) if energy.sum() > 0 else 0.0
    return SegmentCalibration(x_axis, y_axis, z_axis, still, planar_share)


GRAM_BLOCK_SAMPLES = 1 << 16  # bounds the temporary copies for a long recording


def _moving_rate_gram(gyr_radps: np.ndarray) -> tuple[np.ndarray, int]:
    """(sum of r r^T over the samples rotating faster than MOVING_GYR_RADPS, their count)."""
    gram = np.zeros((3, 3))
    moving = 0
    for start in range(0, gyr_radps.shape[0], GRAM_BLOCK_SAMPLES):
        block = np.asarray(gyr_radps[start : start + GRAM_BLOCK_SAMPLES], dtype=float)
        # np.compress: ~3x faster than boolean indexing of an (N, 3) array, the same rows;
        # taken as three contiguous columns, whose six dot products cost ~60 % of the
        # (3, M) @ (M, 3) product (equal to ~1e-16 of each entry)
        columns = np.compress(row_energy(block) > MOVING_GYR_RADPS**2, block.T, axis=1)
        for i in range(3):
            for j in range(i, 3):
                gram[i, j] += np.dot(columns[i], columns[j])
        moving += columns.shape[1]
    gram[1, 0], gram[2, 0], gram[2, 1] = gram[0, 1], gram[0, 2], gram[1, 2]
    return gram, moving


def _cross(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """a x b of two 3-vectors, as `np.cross` computes it (~15x faster on one pair here)."""
    return np.array(
        [a[1] * b[2] - a[2] * b[1], a[2] * b[0] - a[0] * b[2], a[0] * b[1] - a[1] * b[0]]
    )


def _unit(vector: np.ndarray) -> np.ndarray:
    unit: np.ndarray = vector / np.linalg.norm(vector)
    return unit


def sagittal_angle_deg(up_sensor: np.ndarray, calibration: SegmentCalibration) -> np.ndarray:
    """Rotation of the segment about its flexion axis from standing, deg (sign not yet fixed).

    Uses only the inclination (earth-up in the sensor frame), so it is heading-free; motion
    out of the sagittal plane is projected away.
    """
    along_x, along_z = row_dots(up_sensor, np.stack((calibration.x_axis, calibration.z_axis)))
    # x * (180 / pi) is what np.degrees computes, bit for bit, at a fifth of its cost here
    angle_deg: np.ndarray = np.multiply(_arctan2(along_x, along_z), DEG_PER_RAD, out=along_x)
    return angle_deg


def _arctan2(y: np.ndarray, x: np.ndarray) -> np.ndarray:
    """`np.arctan2(y, x)` of 1-D float64 arrays as arctan(y / x), plus pi with y's sign where
    x's sign bit is set: libm's atan2 cost ~1.25 M instructions on 7,894 samples, this ~0.8 M.
    Within 2 ulp of it (x = -0 included); where y = x = 0 there is no quotient and the
    result is np.arctan2's."""
    with np.errstate(divide="ignore", over="ignore", invalid="ignore"):
        angle: np.ndarray = np.divide(y, x)
        np.arctan(angle, out=angle)
    behind = np.signbit(x)
    if behind.any():
        rows = np.flatnonzero(behind)
        angle[rows] += np.copysign(np.pi, y[rows])
    if not np.isfinite(np.add.reduce(angle)):  # 0 / 0: every other quotient gives a number
        nan = np.flatnonzero(np.isnan(angle))
        angle[nan] = np.arctan2(y[nan], x[nan])
    return angle


def sagittal_angle_deg_rows(
    up_rows: list[list[float]], calibration: SegmentCalibration, sign: float = 1.0
) -> list[float]:
    """`sign *` `sagittal_angle_deg` of a few up-vector rows as plain floats (a live packet's
    rows: no numpy call)."""
    x0, x1, x2, z0, z1, z2 = calibration.sagittal_axes_floats
    return [
        sign * math.degrees(math.atan2(u0 * x0 + u1 * x1 + u2 * x2, u0 * z0 + u1 * z1 + u2 * z2))
        for u0, u1, u2 in up_rows
    ]
