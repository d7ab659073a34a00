"""Sensor checks: are the two sensors where the analysis assumes, and do they hold still there?

Pure functions on the calibrated sagittal angles (deg) and angular rates (rad/s) of one set.

- Placement (`placement_check`): in every squat the thigh rotates far more than the pelvis
  (thigh ~50-120 deg from standing and back, pelvis the rhythm's 20-40 % of that plus any
  wink). The ratio r = the sacrum sensor's total rotation / the thigh sensor's (the path
  length of each gyroscope, integral of |omega| dt over the set, wobble averaged out: no
  calibration, sign or segmentation needed, so a swap cannot fool it) is 0.24-0.55 on the 20 real labelled sets.
  r >= `SWAPPED_RATIO`: the sacrum file or sensor is on the thigh and vice versa (1.7-4.2 on
  the same sets swapped). `MISPLACED_RATIO` <= r < `SWAPPED_RATIO`: both sensors rotate
  about alike, so one of them is on the wrong segment (both on one thigh, the thigh sensor
  on the shank...). Either is a `SensorFault`: the per-rep numbers would be about the wrong
  segments, so the caller must not present them as a result.
- Per rep (`rep_sensor_codes`), codes a rep carries in its `quality`:
  - `<sensor>_drift`: the standing posture before or after the rep is more than
    `POSTURE_DRIFT_DEG` away from the set's standing (the sensor slipped or is loose);
  - `<sensor>_wobble`: the angle shakes (RMS about its own 0.2-s moving average) by more than
    `WOBBLE_RMS_DEG` during the rep (soft tissue or a loose strap: 3-10 Hz);
  - `<sensor>_axis`: less than `AXIS_MIN_SHARE` of the rep's rotation is about the
    sensor's calibrated flexion axis (the flexion axis is poorly observed: twisting, a
    sensor rotating on its strap, or a mounting the calibration could not resolve).
- Dead axis (`dead_axis`), on a sensor's raw samples (each column's lowest and highest): an
  accelerometer or gyroscope axis that reads one value in every sample while the sensor turns
  is dead or stuck. Offline (`fusion.pipeline`) the recording is refused; live
  (`sensor_gateway`) a window of a few seconds of each sensor is checked and the phone told.
- Mirrored axis (`mirrored_axis`), on a sensor's accelerometer and gyroscope on one grid: the
  two must form one right-handed frame, in which gravity as the accelerometer sees it (up `u`)
  turns as du/dt = u x omega. Per axis k, the correlation of the gyroscope's rate omega_k
  with the rate about k at which gravity turns (`(du/dt x u)_k`), both averaged over
  `HANDEDNESS_SMOOTHING_S`, is positive in a good sensor wherever the sensor turns about k;
  an axis that a firmware or driver mirrors (in the accelerometer, the gyroscope or both)
  makes it negative on one, two or all three axes. Offline the recording is refused: every
  angle fused from such a sensor is wrong; live (`sensor_gateway.mirrored_axes`) the last
  seconds of each sensor are checked, the phone told and the set's reps marked.

Thresholds were set on the simulator (sensors in place, random mounting, noise, wobble up
to 2 deg) and the 20 real labelled sets (all in place), with margin: see
`benchmarks/sensor_checks.py` and README "Sensor checks".
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from fusion.calibration import MOVING_GYR_RADPS, SegmentCalibration
from fusion.errors import require_finite_result, require_rate_hz
from fusion.reps import RepWindow, rep_batches
from fusion.rows import row_energy, row_norms

SWAPPED_RATIO = 1.5  # pelvis moving 1.5x the thigh: the two are swapped
MISPLACED_RATIO = 0.7  # pelvis moving 0.7-1.5x the thigh: one sensor on the wrong segment
MIN_ROTATION_PATH_DEG = 30.0  # less rotation than this in all: no squat to compare
# Standing angle around a rep vs the set's standing. Real lifters' pelvis varies by up to
# 18 deg between reps (thigh 6 deg) on the 20 labelled sets, hence the margins.
POSTURE_DRIFT_DEG = {"sacrum": 20.0, "thigh": 10.0}
WOBBLE_RMS_DEG = 1.5
WOBBLE_SMOOTHING_S = 0.2
AXIS_MIN_SHARE = 0.5
SENSORS = ("sacrum", "thigh")


@dataclass(frozen=True)
class SensorFault:
    """The sensors are not on the segments the analysis assumes. `code`: `sensors_swapped`
    or `sensor_misplaced`; `ratio`: pelvis excursion / thigh excursion."""

    code: str
    message: str
    ratio: float


ROTATION_PATH_BLOCK_SAMPLES = 1 << 16  # rows smoothed at a time (a 60-min set has 720k)
# The checks look at the motion at this rate or a little above (every `check_stride`-th
# sample): the segments' rotation (< 2 Hz) and the soft-tissue wobble (3-10 Hz) are far below
# its 25-Hz Nyquist frequency, and a 200-Hz set costs a quarter of the running sums. The
# live placement check (sensor_gateway.readiness) has always run on a 50-Hz grid.
CHECK_RATE_HZ = 50.0


def check_stride(rate_hz: float) -> int:
    """Every how many samples of a `rate_hz` trace the checks look at (>= 1)."""
    return max(int(rate_hz // CHECK_RATE_HZ), 1)


def rotation_path_deg(gyr_radps: np.ndarray, rate_hz: float) -> float:
    """Total rotation of a sensor over a stretch: integral of |angular rate| dt, deg.

    The rate is first averaged over `WOBBLE_SMOOTHING_S` per axis, so soft-tissue wobble
    (3-10 Hz, fast but tiny) does not count as movement of the segment; every
    `check_stride(rate_hz)`-th sample is used.
    """
    require_rate_hz(rate_hz)
    stride = check_stride(rate_hz)
    gyr_radps, rate_hz = gyr_radps[::stride], rate_hz / stride
    width = max(int(round(WOBBLE_SMOOTHING_S * rate_hz)), 1)
    with np.errstate(over="ignore", invalid="ignore"):  # an overflow is refused below
        if width <= 1 or gyr_radps.shape[0] < width:
            path_deg = float(np.degrees(row_norms(gyr_radps).sum() / rate_hz))
        else:
            path = 0.0  # |window sum| / width = |moving average|: one division at the end
            for start in range(0, gyr_radps.shape[0], ROTATION_PATH_BLOCK_SAMPLES):
                window_sums = _moving_sum_rows(gyr_radps, width, start, ROTATION_PATH_BLOCK_SAMPLES)
                path += float(row_norms(window_sums).sum())
            path_deg = float(np.degrees(path / width / rate_hz))
    return require_finite_result(path_deg, gyr_radps, "gyr_radps", "rad/s")


def placement_check(
    sacrum_gyr_radps: np.ndarray, thigh_gyr_radps: np.ndarray, rate_hz: float
) -> SensorFault | None:
    """A `SensorFault` when the sacrum sensor rotates about as much as or more than the thigh.

    Rates (N, 3) rad/s of both sensors on one grid at `rate_hz`.
    """
    pelvis = rotation_path_deg(sacrum_gyr_radps, rate_hz)
    thigh = rotation_path_deg(thigh_gyr_radps, rate_hz)
    if max(pelvis, thigh) < MIN_ROTATION_PATH_DEG:
        return None
    ratio = require_finite_result(
        pelvis / max(thigh, 1e-6), sacrum_gyr_radps, "sacrum_gyr_radps", "rad/s"
    )
    if ratio >= SWAPPED_RATIO:
        return SensorFault(
            "sensors_swapped",
            f"the sacrum sensor turned through {pelvis:.0f} deg in all and the thigh sensor "
            f"through {thigh:.0f} deg: in a squat the thigh moves far more than the pelvis, so "
            "the sensors (or the files) look swapped; exchange them and analyse again",
            ratio,
        )
    if ratio >= MISPLACED_RATIO:
        return SensorFault(
            "sensor_misplaced",
            f"the sacrum sensor turned through {pelvis:.0f} deg in all and the thigh sensor "
            f"through {thigh:.0f} deg ({ratio:.0%} of it): in a squat the pelvis turns only "
            "about 20-55 % as far as the thigh, so one sensor looks to be on the wrong segment "
            "(both on one leg, or the thigh sensor on the shank); put the sacrum sensor flat "
            "on the sacrum and the thigh sensor on the lateral mid-thigh",
            ratio,
        )
    return None


def _moving_average(values: np.ndarray, width: int) -> np.ndarray:
    """Mean of `width` samples around each one along axis 0 (the ends repeat the first and
    last values), for (N,) or (N, k) arrays: running sums, so one pass whatever the width."""
    if width <= 1 or values.shape[0] < width:
        return values
    before, after = width // 2, width - 1 - width // 2
    padded = np.concatenate(
        (np.repeat(values[:1], before, axis=0), values, np.repeat(values[-1:], after, axis=0))
    )
    sums = np.cumsum(padded, axis=0, dtype=np.float64)  # float32 rates: sum in float64
    window_sums = sums[width - 1 :].copy()
    window_sums[1:] -= sums[:-width]
    return window_sums / width


def _moving_sum_rows(values: np.ndarray, width: int, start: int, count: int) -> np.ndarray:
    """Rows [start, start + count) of `_moving_average(values, width)` times `width` (values
    of at least `width` rows), computed from the rows around them only: bounded memory for
    long inputs."""
    before, after = width // 2, width - 1 - width // 2
    stop = min(start + count, values.shape[0])
    rows = np.clip(np.arange(start - before, stop + after), 0, values.shape[0] - 1)
    sums = np.empty((rows.size + 1, values.shape[1]))  # a leading 0: one subtraction, no copy
    sums[0] = 0.0
    # np.take: a row gather of an (N, 3) array is ~4x faster than values[rows]
    np.cumsum(np.take(values, rows, axis=0), axis=0, dtype=np.float64, out=sums[1:])
    window_sums: np.ndarray = sums[width:] - sums[:-width]
    return window_sums


def wobble_rms_deg(angle_deg: np.ndarray, rate_hz: float) -> float:
    """RMS of the angle about its own `WOBBLE_SMOOTHING_S` moving average (deg).

    On every sample: a slower sensor's samples interpolated on a faster grid are smoother
    between its own instants, so a strided view would see more or less of its noise."""
    require_rate_hz(rate_hz)
    width = max(int(round(WOBBLE_SMOOTHING_S * rate_hz)), 1)
    if not angle_deg.size:
        return 0.0
    with np.errstate(over="ignore", invalid="ignore"):  # an overflow is refused below
        residual = angle_deg - _moving_average(angle_deg, width)
        wobble_deg = float(np.sqrt(np.mean(residual**2)))
    return require_finite_result(wobble_deg, angle_deg, "angle_deg", "deg")


def axis_share(gyr_radps: np.ndarray, calibration: SegmentCalibration, rate_hz: float) -> float:
    """Share of the rotation energy about the calibrated flexion axis while moving (1 = all).

    Rates averaged over `WOBBLE_SMOOTHING_S` first: wobble is reported on its own. On every
    `check_stride(rate_hz)`-th sample.
    """
    stride = check_stride(rate_hz)
    gyr_radps = gyr_radps[::stride]
    width = max(int(round(WOBBLE_SMOOTHING_S * rate_hz / stride)), 1)
    smooth = _moving_average(gyr_radps, width)
    energy = row_energy(smooth)
    moving = energy > MOVING_GYR_RADPS**2
    if np.count_nonzero(moving) < 5:
        return 1.0
    total = float(energy[moving].sum())
    about_y = smooth[moving] @ calibration.y_axis
    return float(about_y @ about_y / total) if total > 0 else 1.0


@dataclass(frozen=True)
class SensorTrace:
    """One sensor's sagittal angle (deg, sign fixed) and rate (rad/s) on the analysis grid."""

    name: str
    angle_deg: np.ndarray
    gyr_radps: np.ndarray
    calibration: SegmentCalibration


def rep_sensor_codes(
    rep: RepWindow,
    traces: tuple[SensorTrace, ...],
    standing_deg: dict[str, float],
    rate_hz: float,
) -> tuple[str, ...]:
    """Quality codes of one rep from the per-rep sensor checks (module docstring)."""
    codes: list[str] = []
    span = slice(rep.start, rep.end + 1)
    for trace in traces:
        around = 0.5 * (trace.angle_deg[rep.start] + trace.angle_deg[rep.end])
        drift = abs(around - standing_deg[trace.name])
        if rep.edge is None and drift > POSTURE_DRIFT_DEG[trace.name]:
            codes.append(f"{trace.name}_drift")
        if wobble_rms_deg(trace.angle_deg[span], rate_hz) > WOBBLE_RMS_DEG:
            codes.append(f"{trace.name}_wobble")
        if axis_share(trace.gyr_radps[span], trace.calibration, rate_hz) < AXIS_MIN_SHARE:
            codes.append(f"{trace.name}_axis")
    return tuple(codes)


def reps_sensor_codes(
    reps: list[RepWindow],
    traces: tuple[SensorTrace, ...],
    standing_deg: dict[str, float],
    rate_hz: float,
) -> list[tuple[str, ...]]:
    """`rep_sensor_codes` of every rep of a set at once (the same codes, in the same order).

    The moving averages of all reps are one gather and one running sum per sensor instead of
    two small passes per rep and sensor (20 per 10-rep set), each rep still padded with its
    own first and last samples.
    """
    if not reps:
        return []
    stride = check_stride(rate_hz)
    widths = (
        max(int(round(WOBBLE_SMOOTHING_S * rate_hz)), 1),  # the angle's, every sample
        max(int(round(WOBBLE_SMOOTHING_S * rate_hz / stride)), 1),  # the rates', strided
    )
    starts = np.array([rep.start for rep in reps])
    ends = np.array([rep.end for rep in reps])
    # Reps too short for the running sums (or no smoothing at all) are checked one by one.
    long_enough = (
        (ends - starts + 1 >= widths[0]) & ((ends - starts) // stride + 1 >= widths[1])
        if min(widths) > 1
        else np.zeros(len(reps), dtype=bool)
    )
    batched = np.flatnonzero(long_enough)
    checks = {trace.name: (np.zeros(len(reps)), np.ones(len(reps))) for trace in traces}
    for group in rep_batches(starts[batched], ends[batched]):
        reps_in = batched[group]
        for trace, (wobble, share) in zip(
            traces, _wobble_and_share(traces, starts[reps_in], ends[reps_in], widths, stride)
        ):
            checks[trace.name][0][reps_in] = wobble
            checks[trace.name][1][reps_in] = share
    # Not np.setdiff1d: its np.unique imports numpy.ma on first use (~12 ms of start-up).
    for k in np.flatnonzero(~long_enough).tolist():
        span = slice(reps[k].start, reps[k].end + 1)
        for trace in traces:
            checks[trace.name][0][k] = wobble_rms_deg(trace.angle_deg[span], rate_hz)
            checks[trace.name][1][k] = axis_share(trace.gyr_radps[span], trace.calibration, rate_hz)
    # Per trace and rep, as Python lists: one array operation per check instead of numpy
    # scalars per rep.
    complete = np.array([rep.edge is None for rep in reps])
    flags = []
    for trace in traces:
        around = 0.5 * (trace.angle_deg[starts] + trace.angle_deg[ends])
        drift = np.abs(around - standing_deg[trace.name])
        wobble, share = checks[trace.name]
        flags.append(
            (
                trace.name,
                (complete & (drift > POSTURE_DRIFT_DEG[trace.name])).tolist(),
                (wobble > WOBBLE_RMS_DEG).tolist(),
                (share < AXIS_MIN_SHARE).tolist(),
            )
        )
    codes = []
    for k in range(len(reps)):
        rep_codes: list[str] = []
        for name, drifted, wobbly, off_axis in flags:
            if drifted[k]:
                rep_codes.append(f"{name}_drift")
            if wobbly[k]:
                rep_codes.append(f"{name}_wobble")
            if off_axis[k]:
                rep_codes.append(f"{name}_axis")
        codes.append(tuple(rep_codes))
    return codes


def _wobble_and_share(
    traces: tuple[SensorTrace, ...],
    starts: np.ndarray,
    ends: np.ndarray,
    widths: tuple[int, int],
    stride: int,
) -> list[tuple[np.ndarray, np.ndarray]]:
    """`wobble_rms_deg` (every sample, moving average of `widths[0]`) and `axis_share`
    (every `stride`-th sample from each rep's start, `widths[1]`) of reps [starts, ends]
    (long enough for both), per trace; each gather of the reps' padded samples is built
    once for all traces."""
    every = _RepGather(starts, ends, widths[0], 1)
    strided = _RepGather(starts, ends, widths[1], stride)
    results = []
    for trace in traces:
        residual = trace.angle_deg[every.samples] - every.smoothed(trace.angle_deg)
        wobble = np.sqrt(np.add.reduceat(residual**2, every.rep_first) / every.counts)
        smooth = strided.smoothed(trace.gyr_radps)
        energy = row_energy(smooth)
        moving = energy > MOVING_GYR_RADPS**2
        about_y = smooth @ trace.calibration.y_axis
        first = strided.rep_first
        moving_count = np.add.reduceat(moving.astype(np.int64), first)
        total = np.add.reduceat(np.where(moving, energy, 0.0), first)
        along = np.add.reduceat(np.where(moving, about_y * about_y, 0.0), first)
        with np.errstate(divide="ignore", invalid="ignore"):
            share = np.where((moving_count >= 5) & (total > 0), along / total, 1.0)
        results.append((wobble, share))
    return results


class _RepGather:
    """The samples start, start + stride, ... <= end of reps [starts, ends] back to back
    (`samples`, each rep from `rep_first`, `counts` of them), and their centred moving
    averages of `width` samples, each rep padded by its own first and last samples."""

    def __init__(self, starts: np.ndarray, ends: np.ndarray, width: int, stride: int) -> None:
        before = width // 2  # and width - 1 - before after each rep
        counts = (ends - starts) // stride + 1
        lasts = starts + stride * (counts - 1)
        padded_counts = counts + width - 1
        padded_first = np.cumsum(padded_counts) - padded_counts  # each rep's start, gathered
        self.rep_first = np.cumsum(counts) - counts  # each rep's start in the output
        self.counts = counts
        # Rows start - before .. end + after (steps of `stride`), clipped to the rep.
        offsets = np.arange(int(padded_counts.sum())) - np.repeat(padded_first, padded_counts)
        rows = np.repeat(starts - before * stride, padded_counts) + offsets * stride
        np.clip(rows, np.repeat(starts, padded_counts), np.repeat(lasts, padded_counts), out=rows)
        self._rows = rows
        inside = np.arange(int(counts.sum())) - np.repeat(self.rep_first, counts)
        self._at = np.repeat(padded_first, counts) + inside  # window start of each output
        self._width = width
        self.samples = np.repeat(starts, counts) + inside * stride

    def smoothed(self, values: np.ndarray) -> np.ndarray:
        """Moving averages of `values` (N,) or (N, k) at `samples`, float64."""
        sums = np.empty((self._rows.size + 1, *values.shape[1:]))
        sums[0] = 0.0  # the rest is written by the running sum
        # np.take: row gathers of (N, 3) arrays are ~4x faster than indexing with [rows]
        np.cumsum(np.take(values, self._rows, axis=0), axis=0, dtype=np.float64, out=sums[1:])
        at = self._at
        mean: np.ndarray = np.take(sums, at + self._width, axis=0) - np.take(sums, at, axis=0)
        mean /= self._width
        return mean


REP_SENSOR_MESSAGES = {
    "drift": "standing posture moved by more than {drift:.0f} deg from the set's standing: "
    "the sensor slipped or is loose; tighten the strap",
    "wobble": "the sensor shook by more than {wobble:.1f} deg RMS (soft tissue or a loose "
    "strap); its angles in this rep are noisy",
    "axis": "less than {axis:.0%} of the rotation was about the flexion axis: twisting or "
    "a sensor turning on its strap; the angles of this rep are uncertain",
    "lost": "sent no samples for more than {lost:.0%} of the rep (a lost link): its angles are "
    "interpolated across the gap, so what this rep's numbers take from this sensor is not "
    "measured (the sacrum: the pelvic tilt and the wink, which reads near 0 and unflagged; the "
    "thigh: the depth); record the set again with the sensor in range",
}
# A rep whose samples of one sensor lie mostly in gaps was not seen by it (probed: a sacrum
# link lost for 2.8 s over a whole rep gave wink 0.00, butt_wink 0, grade 'none', beside 9.7
# deg in the reps around it).
LOST_REP_SHARE = 0.5


def lost_rep_codes(window: RepWindow, in_gap: dict[str, np.ndarray]) -> tuple[str, ...]:
    """`<sensor>_lost` for each sensor whose grid samples within `window` lie in its gaps
    (`in_gap`: sensor name -> (N,) bool) for more than `LOST_REP_SHARE` of the rep."""
    span = slice(window.start, window.end + 1)
    return tuple(
        f"{name}_lost"
        for name, mask in in_gap.items()
        if np.count_nonzero(mask[span]) > LOST_REP_SHARE * (window.end + 1 - window.start)
    )


def rep_sensor_message(code: str) -> str | None:
    """Plain-words message for a per-rep sensor code (`sacrum_drift`, ...), else None."""
    sensor, _, kind = code.partition("_")
    if sensor not in SENSORS or kind not in REP_SENSOR_MESSAGES:
        return None
    text = REP_SENSOR_MESSAGES[kind].format(
        drift=POSTURE_DRIFT_DEG[sensor],
        wobble=WOBBLE_RMS_DEG,
        axis=AXIS_MIN_SHARE,
        lost=LOST_REP_SHARE,
    )
    return f"{sensor}: {text}"


# A working axis shows at least its noise (a few LSB) in every stretch of samples: one that
# reads the same value in every sample while the sensor turns is dead or stuck, and the
# orientation fused from it is wrong without a sign (probed: a dead sacrum gyroscope axis read
# a 9.7-deg wink as 5.9 deg, a dead thigh axis a 98-deg depth as 93 deg, a dead thigh
# accelerometer axis as 72 deg; another made the thigh look "on the wrong segment", exit 4).
# A squat spans rates of several rad/s on some axis; a sensor at rest ~0.01.
MIN_TURNING_SPAN_RADPS = 0.5
IMU_COLUMNS = (("ax_mps2", "ay_mps2", "az_mps2"), ("gx_radps", "gy_radps", "gz_radps"))
_INSTRUMENTS = ("accelerometer", "gyroscope")


@dataclass(frozen=True)
class DeadAxis:
    """An axis that read `value` (m/s^2 or rad/s) in every one of `samples` samples while the
    sensor turned: `instrument` "accelerometer" / "gyroscope", `axis` "x" / "y" / "z",
    `column` its recording column (`gy_radps`)."""

    instrument: str
    axis: str
    column: str
    value: float
    samples: int

    @property
    def description(self) -> str:
        """ "gyroscope's y axis (gy_radps) reads 0 in every one of its 2059 samples while the
        sensor turns: that axis is dead or stuck"."""
        return (
            f"{self.instrument}'s {self.axis} axis ({self.column}) reads {self.value:.6g} in "
            f"every one of its {self.samples} samples while the sensor turns: that axis is dead "
            "or stuck"
        )


def dead_axis(lowest: np.ndarray, highest: np.ndarray, samples: int) -> DeadAxis | None:
    """The first accelerometer or gyroscope axis that holds one value in all of `samples`
    samples while the sensor turns (some gyroscope axis spans more than
    `MIN_TURNING_SPAN_RADPS`), or None. `lowest`, `highest` (2, 3): each column's extremes,
    row 0 acc (m/s^2), row 1 gyr (rad/s), as `ImuRecording.sample_bounds` gives them; a
    sensor at rest is not judged (left to the motion checks), a NaN column never dead."""
    if samples < 2:
        return None
    span = np.asarray(highest, dtype=float) - np.asarray(lowest, dtype=float)
    if not span[1].max() > MIN_TURNING_SPAN_RADPS:
        return None
    for row, instrument in enumerate(_INSTRUMENTS):
        for axis in range(3):
            if span[row, axis] == 0:
                return DeadAxis(
                    instrument=instrument,
                    axis="xyz"[axis],
                    column=IMU_COLUMNS[row][axis],
                    value=float(lowest[row, axis]),
                    samples=samples,
                )
    return None


# Mirrored axis. The accelerometer's direction also turns with the segment's linear
# acceleration (the hip's, at the sacrum: ~2 m/s^2 in a squat, as large as the gravity turning
# of a pelvis that tilts only 15 deg), which the smoothing keeps far below the rotation: the
# rep's own tempo (< 1 Hz) passes, its jerk does not.
HANDEDNESS_SMOOTHING_S = 0.5
HANDEDNESS_STEP_S = 0.25  # half the span of the central difference of gravity's direction
HANDEDNESS_BLOCK_SAMPLES = 1 << 14  # outputs at a time: bounded memory for long recordings
# Judged when gyroscope and gravity turning correlate (sum of |per-axis correlation|) by at
# least this much: a sensor that hardly turned, or whose accelerometer sees mostly linear
# acceleration, is not judged (0 of 80 simulated and 20 real good sensors flagged with these).
MIN_JUDGED_CORRELATION = 0.3
# A mirror is said when the axes whose correlation is negative hold at least this share of
# the judged correlation, this much in all, and this share of what the rotation does not
# explain (1 - judged: the linear acceleration's and the noise's part, which can take a little
# correlation from any axis; 3 good simulated sacrum sensors of 50 reached 0.04-0.07 of 0.3-0.5).
MIN_DISAGREEING_SHARE = 0.05
MIN_DISAGREEING_CORRELATION = 0.02
MIN_DISAGREEING_OF_UNEXPLAINED = 0.2
# Where no axis agrees (the whole sensor turns against gravity's turning: a left-handed frame,
# or one axis mirrored when the segment turns about that axis alone), the sign is trusted only
# if the correlation is this strong: a pelvis that tilts little (lifters of rhythm 0.15-0.2)
# makes the hip's acceleration turn the accelerometer's direction against the rotation (probed:
# every axis at -0.41 to -0.48 of 0.42-0.48). A real sacrum sensor correlates at 0.76 or more.
MIN_JUDGED_ALL_AGAINST = 0.7
_AXES = "xyz"


@dataclass(frozen=True)
class MirroredAxis:
    """A sensor's gyroscope and accelerometer disagree in sign: about the axes `disagreeing`
    ("xz") the gyroscope's rate and the turning of gravity seen by the accelerometer have
    opposite signs; about `agreeing` they have the same; `correlations` per axis x, y, z (a sum
    of at most 1 in size)."""

    disagreeing: str
    agreeing: str
    correlations: tuple[float, float, float]

    @property
    def mirrored_axis(self) -> str | None:
        """The one axis whose sign the two disagree on, when the pattern names it: a gyroscope
        axis k mirrored makes k alone disagree; an accelerometer axis k the other two."""
        if len(self.disagreeing) + len(self.agreeing) < 3 or len(self.disagreeing) == 3:
            return None
        if len(self.disagreeing) == 1:
            return self.disagreeing
        return self.agreeing

    @property
    def likely_cause(self) -> str:
        """On what the two disagree and which looks mirrored, by the pattern of the axes."""
        axis = self.mirrored_axis
        if len(self.disagreeing) == 3:
            return (
                "on every axis: one of them is mirrored; the sensor's frame is left-handed (the "
                "same axis mirrored in both, or every gyroscope sign reversed)"
            )
        if axis is not None and len(self.disagreeing) == 1:
            return (
                f"on the sign of axis {axis}: one of them is mirrored; the gyroscope's {axis} "
                f"axis, by the pattern (its rate about {axis} turns gravity against what the "
                "accelerometer sees)"
            )
        if axis is not None:
            first, second = (a for a in _AXES if a != axis)
            return (
                f"on the sign of axis {axis}: one of them is mirrored; the accelerometer's "
                f"{axis} axis, by the pattern (gravity turns about {first} and {second} against "
                "the gyroscope's rates)"
            )
        about = " and ".join(self.disagreeing)
        axes = "axes" if len(self.disagreeing) > 1 else "axis"
        return (
            f"on the sign of the rotation about {axes} {about}: one of them is mirrored (which "
            "axis, this set's motion does not tell)"
        )

    def message(self, sensor: str) -> str:
        """What to tell the user about `sensor` ("thigh")."""
        return (
            f"the {sensor} sensor's gyroscope and accelerometer disagree {self.likely_cause}. "
            "Fix the sensor's axis configuration (or the program that wrote the file) and "
            "record the set again: angles from this sensor are wrong"
        )


def handedness_correlations(
    acc_mps2: np.ndarray,
    gyr_radps: np.ndarray,
    rate_hz: float,
    in_gap: np.ndarray | None = None,
) -> np.ndarray | None:
    """Per axis (3,): the correlation of the gyroscope's rate about the axis with the rate about
    it at which gravity turns in the accelerometer's frame, each over the whole set and
    normalised by both signals' total energy (so the three sum to the overall correlation,
    at most 1). Specific force (N, 3) m/s^2 and rate (N, 3) rad/s on one grid at `rate_hz`;
    `in_gap` (N,) bool marks interpolated samples, left out. Every `check_stride(rate_hz)`-th
    sample is used. None when too little is left to judge."""
    require_rate_hz(rate_hz)
    stride = check_stride(rate_hz)
    width = max(int(round(HANDEDNESS_SMOOTHING_S * rate_hz / stride)), 1)
    step = max(int(round(HANDEDNESS_STEP_S * rate_hz / stride)), 1)
    reach = 2 * step + width  # an output sample depends on this many strided samples
    count = -(-acc_mps2.shape[0] // stride)
    if count <= reach:
        return None
    acc, gyr = acc_mps2[::stride], gyr_radps[::stride]
    gap = in_gap[::stride] if in_gap is not None and in_gap.any() else None
    totals = np.zeros(5)  # cross-products per axis, turning energy, rate energy
    outputs = count - reach + 1
    for first in range(0, outputs, HANDEDNESS_BLOCK_SAMPLES):  # bounded memory
        rows = slice(first, min(first + HANDEDNESS_BLOCK_SAMPLES, outputs) + reach - 1)
        totals += _handedness_sums(
            acc[rows], gyr[rows], None if gap is None else gap[rows], width, step
        )
    with np.errstate(all="ignore"):  # a zero or non-finite sample makes the result non-finite
        energy = float(np.sqrt(totals[3] * totals[4]))
        correlations: np.ndarray = totals[:3] / energy
    if not (energy > 0 and np.isfinite(correlations).all()):
        return None
    return correlations


def mirrored_axis(
    acc_mps2: np.ndarray,
    gyr_radps: np.ndarray,
    rate_hz: float,
    in_gap: np.ndarray | None = None,
) -> MirroredAxis | None:
    """A `MirroredAxis` when the gyroscope and the accelerometer of one sensor disagree in sign
    about some axis (`handedness_correlations`), else None (also when the sensor did not turn
    enough to judge). Arguments as for `handedness_correlations`."""
    correlations = handedness_correlations(acc_mps2, gyr_radps, rate_hz, in_gap)
    if correlations is None:
        return None
    judged = float(np.abs(correlations).sum())
    if judged < MIN_JUDGED_CORRELATION:
        return None
    level = max(
        MIN_DISAGREEING_SHARE * judged,
        MIN_DISAGREEING_CORRELATION,
        MIN_DISAGREEING_OF_UNEXPLAINED * (1 - judged),
    )
    against = float(np.clip(-correlations, 0, None).sum())
    if against < level:
        return None
    values = correlations.tolist()
    disagreeing = "".join(a for a, c in zip(_AXES, values) if -c >= level)
    agreeing = "".join(a for a, c in zip(_AXES, values) if c >= level)
    if not agreeing and judged < MIN_JUDGED_ALL_AGAINST:
        return None
    return MirroredAxis(
        disagreeing=disagreeing or _AXES[int(np.argmin(correlations))],
        agreeing=agreeing,
        correlations=(values[0], values[1], values[2]),
    )


def _handedness_sums(
    acc: np.ndarray, gyr: np.ndarray, gap: np.ndarray | None, width: int, step: int
) -> np.ndarray:
    """(5,): per axis the sum of (du/dt x u)_k omega_k, then the sums of |du/dt x u|^2 and of
    |omega|^2, over the outputs of these rows (each up to a positive factor). Moving sums, not
    averages, over `width` samples: the scale cancels in gravity's direction and in the
    correlation; the ends are left out rather than padded. Axes in rows (3, n): every step
    works on contiguous rows."""
    force, rates = _moving_sums_by_axis(acc, width), _moving_sums_by_axis(gyr, width)
    with np.errstate(all="ignore"):  # a zero or non-finite sample makes the result non-finite
        up = force / np.sqrt(np.einsum("ij,ij->j", force, force))
        dx, dy, dz = up[:, 2 * step :] - up[:, : -2 * step]  # gravity's change over 2 steps
        x, y, z = up[:, step:-step]
        turning = np.stack((dy * z - dz * y, dz * x - dx * z, dx * y - dy * x))  # du/dt x u
        rates = rates[:, step:-step]
        if gap is not None:
            reach = 2 * step + width
            gaps = np.concatenate(([0], np.cumsum(gap, dtype=np.int64)))
            clear = gaps[reach:] == gaps[:-reach]  # no gap sample in the output's span
            turning *= clear
            rates = rates * clear
        sums = np.empty(5)
        sums[:3] = np.einsum("ij,ij->i", turning, rates)
        sums[3] = np.einsum("ij,ij->", turning, turning)
        sums[4] = np.einsum("ij,ij->", rates, rates)
    return sums


def _moving_sums_by_axis(values: np.ndarray, width: int) -> np.ndarray:
    """Sums of `width` consecutive rows of `values` (n, 3), as (3, n - width + 1), float64."""
    sums = np.empty((3, values.shape[0] + 1))
    sums[:, 0] = 0.0
    np.cumsum(np.ascontiguousarray(values.T), axis=1, dtype=np.float64, out=sums[:, 1:])
    window_sums: np.ndarray = sums[:, width:] - sums[:, :-width]
    return window_sums


# What a live rep carrying a placement fault's code tells the lifter (the live check looks at
# that one rep's rotation: fusion.live).
LIVE_FAULT_MESSAGES = {
    "sensors_swapped": "the sacrum sensor turned further than the thigh sensor: the two "
    "sensors look swapped; exchange their assignments (or straps)",
    "sensor_misplaced": "the sacrum sensor turned about as far as the thigh sensor: one of "
    "them looks to be on the wrong segment; sacrum sensor flat on the sacrum, thigh sensor on "
    "the lateral mid-thigh",
}
