"""Offline analysis of one set: two IMU recordings in, per-sample angles and per-rep metrics out.

Steps: common time grid -> resample -> accelerometer scale check -> orientation (non-causal
engine by default) -> sensor-to-segment calibration -> thigh angle, pelvic tilt, hip flexion ->
reps -> butt wink -> quality findings.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np

from fusion.angles import SagittalAngles, segment_angles
from fusion.baseline import (
    DEFAULT_WINK_THRESHOLD_DEG,
    K_SPREAD,
    PersonalBaseline,
    WinkThreshold,
    wink_threshold,
)
from fusion.calibration import (
    SegmentCalibration,
    StillWindow,
    calibrate_from_vertical,
    calibrate_segment,
    find_still_window,
)
from fusion.errors import AnalysisError
from fusion.gaps import LONG_GAP_S, stretches_between_gaps, up_across_gaps
from fusion.metrics import reps_metrics
from fusion.orientation import DEFAULT_OFFLINE_ENGINE
from fusion.orientation.windowed import estimate_up
from fusion.percentile import median
from fusion.quality import (
    HIDDEN_REP_GAP_S,
    MIN_RECORDING_S,
    calibration_findings,
    clipping_findings,
    clipping_mask,
    gap_findings,
    hidden_rep_findings,
    overlap_findings,
    rep_not_counted_message,
    rest_gravity_finding,
)
from fusion.reps import (
    RepThresholds,
    RepWindow,
    Segmentation,
    hidden_boundary,
    segment_reps,
    standing_level_deg,
)
from fusion.resample import (
    DEFAULT_MAX_GAP_S,
    UniformSamples,
    check_sample_rate,
    resample_to_grid,
    uniform_grid,
)
from fusion.sensor_checks import (
    SensorFault,
    SensorTrace,
    dead_axis,
    lost_rep_codes,
    mirrored_axis,
    placement_check,
    rep_sensor_message,
    reps_sensor_codes,
)
from fusion.types import STANDARD_GRAVITY_MPS2, ImuRecording, QualityFinding, RepMetrics

WINK_THRESHOLD_DEG = DEFAULT_WINK_THRESHOLD_DEG  # the global default (fusion.baseline)
MAX_GRID_RATE_HZ = 200.0
MIN_REPS_FOR_STANDING = 3  # complete reps needed to take the standing posture from rep tops
GRAVITY_RESCALE_TOLERANCE = 0.03  # rescale the accelerometer when its rest magnitude is >3 % off
# Below this at rest the accelerometer does not see gravity at all (dead, or all zeros); a
# sensor in g units still reads ~1 and is rescaled.
MIN_REST_GRAVITY_MPS2 = 0.5
# Beyond any IMU's physical range (+-16 g, +-2000 dps on typical hardware, with a wide
# margin): such values are corrupt data or the wrong units, never motion.
MAX_ABS_ACC_MPS2 = 10_000.0
# +-4000 dps, the widest full scale of common IMUs: above it a rate is not rad/s. A squat in
# deg/s reads ~130 (its ~2.3 rad/s), which the analysis would take for wild rotations.
MAX_ABS_GYR_RADPS = 70.0


@dataclass(frozen=True)
class AnalysisConfig:
    """Tuning of the offline analysis; every field has a unit in its name or is a name."""

    engine: str = DEFAULT_OFFLINE_ENGINE
    grid_rate_hz: float | None = None  # default: the faster sensor's rate, at most 200 Hz
    wink_threshold_deg: float = WINK_THRESHOLD_DEG
    rep_thresholds: RepThresholds = field(default_factory=RepThresholds)
    max_gap_s: float = DEFAULT_MAX_GAP_S
    baseline_k_spread: float = K_SPREAD  # personal: centre + k x sqrt(spread^2 + floor^2)


@dataclass(frozen=True)
class AnalysisResult:
    """Per-sample angles (deg) on the common grid `t_s` (s), reps and quality findings."""

    t_s: np.ndarray
    thigh_deg: np.ndarray
    pelvic_tilt_deg: np.ndarray
    hip_flexion_deg: np.ndarray
    in_gap: np.ndarray  # (N,) bool: either sensor had no samples here (values interpolated)
    reps: tuple[RepMetrics, ...]
    findings: tuple[QualityFinding, ...]
    sacrum_calibration: SegmentCalibration
    thigh_calibration: SegmentCalibration
    threshold: WinkThreshold  # what every rep was flagged against
    sensor_fault: SensorFault | None = None  # sensors swapped or on the wrong segment


@dataclass(frozen=True)
class FusedSensor:
    """One sensor on the analysis grid `t_s`: its resampled angular rate `gyr_radps` (N, 3)
    (the accelerometer is let go once fused), `in_gap` (N,) bool, earth-up in the sensor
    frame `up` (N, 3), the standing-still window, data-quality findings and `clipped` (N,)
    bool."""

    t_s: np.ndarray
    gyr_radps: np.ndarray
    in_gap: np.ndarray
    rate_hz: float
    up: np.ndarray
    still: StillWindow
    findings: list[QualityFinding]
    clipped: np.ndarray


@dataclass(frozen=True)
class _SensorStage:
    trace: FusedSensor
    calibration: SegmentCalibration
    findings: list[QualityFinding]

    @property
    def up(self) -> np.ndarray:
        return self.trace.up

    @property
    def clipped(self) -> np.ndarray:
        return self.trace.clipped


def common_grid(sacrum: ImuRecording, thigh: ImuRecording, rate_hz: float | None) -> np.ndarray:
    """The uniform analysis grid (s) over both recordings' overlap; `AnalysisError` if too short."""
    for name, rec in (("sacrum", sacrum), ("thigh", thigh)):
        _check_times(rec, name)
        _check_physical_range(rec, name)
        _check_dead_axes(rec, name)
        if len(rec) >= 2:
            check_sample_rate(rec, name)
        if len(rec) < 2 or rec.t_s[-1] - rec.t_s[0] < MIN_RECORDING_S:
            raise AnalysisError(
                f"the {name} recording is too short ({len(rec)} samples); record at least "
                f"{MIN_RECORDING_S:.0f} s including a standing still period and one rep"
            )
    start = max(sacrum.t_s[0], thigh.t_s[0])
    end = min(sacrum.t_s[-1], thigh.t_s[-1])
    if end - start < MIN_RECORDING_S:
        raise AnalysisError(
            f"the sensors' recordings overlap for {max(end - start, 0):.2f} s only; both files "
            "must cover the same set on one shared clock (t_s)"
        )
    if rate_hz is None:
        rate_hz = min(max(sacrum.median_rate_hz, thigh.median_rate_hz), MAX_GRID_RATE_HZ)
    return uniform_grid(float(start), float(end), rate_hz)


def _check_physical_range(rec: ImuRecording, name: str) -> None:
    if len(rec):
        lowest, highest = rec.sample_bounds
        acc_max, gyr_max = np.maximum(-lowest, highest).max(axis=1).tolist()  # largest |value|
    else:
        acc_max = gyr_max = 0.0
    if acc_max > MAX_ABS_ACC_MPS2 or gyr_max > MAX_ABS_GYR_RADPS:
        raise AnalysisError(
            f"the {name} recording holds values beyond any IMU's physical range (largest "
            f"|acceleration| {acc_max:.3g} m/s^2, limit {MAX_ABS_ACC_MPS2:.0f}; largest "
            f"|angular rate| {gyr_max:.3g} rad/s, limit {MAX_ABS_GYR_RADPS:.0f}): the file is "
            "corrupt or not in m/s^2 and rad/s (a gyroscope in deg/s: divide by 57.3)"
        )


def _check_times(rec: ImuRecording, name: str) -> None:
    """`AnalysisError` unless `t_s` is finite and strictly increasing (the files' reader
    refuses anything else; arrays handed in directly are checked here)."""
    t_s = rec.t_s
    if t_s.size == 0:
        return
    increasing = t_s[1:] > t_s[:-1]  # False at a NaN too
    if np.isfinite(t_s[0]) and np.isfinite(t_s[-1]) and increasing.all():
        return
    bad = np.flatnonzero(~np.isfinite(t_s))
    where = int(bad[0]) if bad.size else int(np.argmin(increasing)) + 1
    after = f" after {t_s[where - 1]!r}" if where else ""
    raise AnalysisError(
        f"the {name} recording's t_s must be finite and strictly increasing: sample {where} is "
        f"{t_s[where]!r}{after}; put the samples in time order without duplicates"
    )


def _check_dead_axes(rec: ImuRecording, name: str) -> None:
    """`AnalysisError` naming an accelerometer or gyroscope column that holds one value in
    every sample while the sensor turns (`fusion.sensor_checks.dead_axis`; a recording at rest
    is left to the motion checks)."""
    if len(rec) < 2:
        return
    dead = dead_axis(*rec.sample_bounds, len(rec))
    if dead is not None:
        raise AnalysisError(
            f"the {name} {dead.description} (a working one shows at least its noise), and every "
            "angle fused from it would be wrong; check the sensor (or the program that wrote "
            "the file) and record the set again"
        )


@dataclass(frozen=True)
class _Resampled:
    """One sensor on the grid with all that needs its raw recording, before fusion."""

    name: str
    samples: UniformSamples
    stretches: list[slice]
    still: StillWindow
    findings: list[QualityFinding]
    clipped: np.ndarray


def _resample_sensor(
    rec: ImuRecording, name: str, grid: np.ndarray, config: AnalysisConfig
) -> _Resampled:
    """Resample and check one sensor's recording on `grid` (the recording is not needed after)."""
    samples = resample_to_grid(rec, grid, config.max_gap_s)
    clipped = clipping_mask(rec)
    findings = gap_findings(rec, name, config.max_gap_s) + clipping_findings(clipped, name)
    if name == "thigh":
        findings += hidden_rep_findings(rec, grid)
    still = find_still_window(samples.gyr_radps, samples.rate_hz)
    rest_norm = float(np.linalg.norm(samples.acc_mps2[still.start : still.stop], axis=1).mean())
    if not rest_norm >= MIN_REST_GRAVITY_MPS2:
        raise AnalysisError(
            f"the {name} accelerometer reads {rest_norm:.3g} m/s^2 at rest instead of gravity "
            f"({STANDARD_GRAVITY_MPS2:.2f}): it is not measuring (all zeros?). Check the "
            "sensor and that its columns hold specific force in m/s^2"
        )
    findings += rest_gravity_finding(rest_norm, name)
    mirrored = mirrored_axis(samples.acc_mps2, samples.gyr_radps, samples.rate_hz, samples.in_gap)
    if mirrored is not None:
        raise AnalysisError(mirrored.message(name))
    if abs(rest_norm / STANDARD_GRAVITY_MPS2 - 1) > GRAVITY_RESCALE_TOLERANCE:
        samples.acc_mps2[...] *= STANDARD_GRAVITY_MPS2 / rest_norm  # the resampled copy is ours
    stretches = stretches_between_gaps(
        rec.t_s, grid, LONG_GAP_S, rec.long_interval_starts(LONG_GAP_S)
    )
    if not stretches:
        raise AnalysisError(f"the {name} recording has no stretch of samples without long gaps")
    clipped_grid = (
        np.interp(grid, rec.t_s, clipped.astype(float)) > 0
        if clipped.any()
        else np.zeros(grid.size, dtype=bool)
    )
    return _Resampled(name, samples, stretches, still, findings, clipped_grid)


def _fuse(sensor: _Resampled, config: AnalysisConfig) -> FusedSensor:
    samples = sensor.samples

    def fill_up(stretch: slice, rows: np.ndarray) -> None:
        gyr, acc = samples.gyr_radps[stretch], samples.acc_mps2[stretch]
        estimate_up(gyr, acc, samples.rate_hz, config.engine, out=rows)

    up = up_across_gaps(sensor.stretches, samples.t_s.size, fill_up, samples.gyr_radps.dtype)
    return FusedSensor(
        samples.t_s,
        samples.gyr_radps,
        samples.in_gap,
        samples.rate_hz,
        up,
        sensor.still,
        sensor.findings,
        sensor.clipped,
    )


def fuse_sensor(
    rec: ImuRecording, name: str, grid: np.ndarray, config: AnalysisConfig
) -> FusedSensor:
    """Resample, check and fuse one sensor's recording on `grid`: its earth-up vector per sample."""
    return _fuse(_resample_sensor(rec, name, grid, config), config)


def _sensor_stage(sensor: _Resampled, config: AnalysisConfig) -> _SensorStage:
    trace = _fuse(sensor, config)
    calibration = calibrate_segment(trace.up, trace.gyr_radps, trace.still)
    return _SensorStage(
        trace, calibration, trace.findings + calibration_findings(calibration, sensor.name)
    )


def _standing_from_rep_tops(stage: _SensorStage, segmentation: Segmentation) -> _SensorStage:
    """Without a still period, the lifter still stands at the start and end of every rep:
    take the vertical from those moments instead of from the quietest one."""
    complete = [w for w in segmentation.reps if w.edge is None]
    tops = [w.start for w in complete] + [w.end for w in complete]
    z_axis = stage.up[tops].mean(axis=0)
    z_axis /= np.linalg.norm(z_axis)
    calibration = calibrate_from_vertical(z_axis, stage.trace.gyr_radps, stage.calibration.still)
    return replace(stage, calibration=calibration)


def analyze_recordings(
    sacrum: ImuRecording,
    thigh: ImuRecording,
    *,
    load_kg: float | None = None,
    config: AnalysisConfig | None = None,
    baseline: PersonalBaseline | None = None,
) -> AnalysisResult:
    """Analyse one set. Raises `AnalysisError` with advice when the recordings cannot be used.

    `baseline`: the athlete's personal noise floor (fusion.baseline); with one resting on
    enough reps the flag threshold is max(default, centre + k x sqrt(spread^2 + floor^2)).
    """
    config = config or AnalysisConfig()
    if load_kg is not None and not (np.isfinite(load_kg) and load_kg >= 0):
        raise AnalysisError(f"load_kg must be a non-negative number, got {load_kg!r}")
    threshold = wink_threshold(config.wink_threshold_deg, baseline, config.baseline_k_spread)
    grid = common_grid(sacrum, thigh, config.grid_rate_hz)
    findings = overlap_findings(sacrum, thigh)
    # Each recording is dropped once resampled, and both before any fusion: a caller that
    # keeps no reference of its own (`winkwatch analyze`) gets that memory back at once.
    resampled_sacrum = _resample_sensor(sacrum, "sacrum", grid, config)
    del sacrum
    resampled_thigh = _resample_sensor(thigh, "thigh", grid, config)
    level_gaps = [  # the reps are found on the thigh: its gaps that may hide a rep boundary
        ("thigh", float(thigh.t_s[k]), float(thigh.t_s[k + 1]))
        for k in thigh.long_interval_starts(HIDDEN_REP_GAP_S).tolist()
    ]
    del thigh
    pelvis = _sensor_stage(resampled_sacrum, config)
    del resampled_sacrum  # its accelerometer on the grid: fused now
    femur = _sensor_stage(resampled_thigh, config)
    del resampled_thigh
    angles = segment_angles(pelvis.up, femur.up, pelvis.calibration, femur.calibration)
    segmentation = segment_reps(
        angles.thigh_deg,
        config.rep_thresholds,
        keep_edges=True,
        standing_deg=angles.standing_thigh_deg,
    )
    if any(w.edge is None for w in segmentation.reps) and not (
        pelvis.calibration.still.trustworthy and femur.calibration.still.trustworthy
    ):
        pelvis, femur = (_standing_from_rep_tops(stage, segmentation) for stage in (pelvis, femur))
        angles = segment_angles(pelvis.up, femur.up, pelvis.calibration, femur.calibration)
        segmentation = segment_reps(
            angles.thigh_deg,
            config.rep_thresholds,
            keep_edges=True,
            standing_deg=angles.standing_thigh_deg,
        )
    fault = placement_check(pelvis.trace.gyr_radps, femur.trace.gyr_radps, pelvis.trace.rate_hz)
    bad_samples = {
        "gap": pelvis.trace.in_gap | femur.trace.in_gap,
        "clipping": pelvis.clipped | femur.clipped,
    }
    per_rep = _per_rep_codes(segmentation.reps, angles, pelvis, femur, fault)
    measured = reps_metrics(
        segmentation.reps, grid, angles, bad_samples, load_kg, threshold, per_rep
    )
    # A rep whose end and the next one's start a thigh gap hid is not counted, its number not
    # given again: the live analyser's rule (fusion.reps.hidden_boundary), the same reps.
    standing_deg = angles.standing_thigh_deg
    if standing_deg is None:
        standing_deg = standing_level_deg(angles.thigh_deg)
    hidden = {}
    gap_starts_s = np.array([g[1] for g in level_gaps])  # increasing
    for rep, window in zip(measured, segmentation.reps):
        first, last = np.searchsorted(gap_starts_s, grid[[window.start, window.end]])
        if first == last:  # no gap begins within the rep (the usual case: cheap)
            continue
        gap = hidden_boundary(
            grid,
            angles.thigh_deg,
            window,
            level_gaps[first:last],
            standing_deg,
            config.rep_thresholds,
        )
        if gap is not None:
            hidden[rep.rep] = (gap, (float(grid[window.start]), float(grid[window.end])))
    reps = tuple(rep for rep in measured if rep.rep not in hidden)
    findings += pelvis.findings + femur.findings
    findings += [
        QualityFinding(
            "thigh_gap_hides_reps",
            rep_not_counted_message(number, sensor, (start_s, end_s), span_s),
            sensor,
            rep=number,
        )
        for number, ((sensor, start_s, end_s), span_s) in hidden.items()
    ]
    if fault is not None:
        findings.insert(0, QualityFinding(fault.code, fault.message))
    findings += _segmentation_findings(segmentation, bool(reps), config.rep_thresholds)
    findings += [
        QualityFinding(f"rep_{code}", f"rep {rep.rep}: {_rep_code_message(code)}", rep=rep.rep)
        for rep in reps
        for code in rep.quality
        if code != (fault.code if fault else None)
    ]
    return AnalysisResult(
        t_s=grid,
        thigh_deg=angles.thigh_deg,
        pelvic_tilt_deg=angles.pelvic_tilt_deg,
        hip_flexion_deg=angles.hip_flexion_deg,
        in_gap=bad_samples["gap"],
        reps=reps,
        findings=tuple(findings),
        sacrum_calibration=pelvis.calibration,
        thigh_calibration=femur.calibration,
        threshold=threshold,
        sensor_fault=fault,
    )


_EDGE_MESSAGES = {
    "edge_start": "cut by the start of the recording (its descent is missing): counted as a "
    "rep, its wink measured only from the first sample (a lower bound)",
    "edge_end": "cut by the end of the recording (its ascent is missing): counted as a rep, "
    "its wink measured up to the last sample (a lower bound)",
}


def _rep_code_message(code: str) -> str:
    return _EDGE_MESSAGES.get(code) or rep_sensor_message(code) or f"{code} during the rep"


def _per_rep_codes(
    windows: list[RepWindow],
    angles: SagittalAngles,
    pelvis: _SensorStage,
    femur: _SensorStage,
    fault: SensorFault | None,
) -> list[tuple[str, ...]]:
    """Per rep: edge marks, the per-rep sensor checks and a placement fault's code."""
    traces = (
        SensorTrace("sacrum", angles.pelvic_tilt_deg, pelvis.trace.gyr_radps, pelvis.calibration),
        SensorTrace("thigh", angles.thigh_deg, femur.trace.gyr_radps, femur.calibration),
    )
    standing = {
        trace.name: _standing_angle_deg(trace, windows, stage.calibration)
        for trace, stage in zip(traces, (pelvis, femur))
    }
    sensor_codes = reps_sensor_codes(windows, traces, standing, pelvis.trace.rate_hz)
    codes = []
    in_gap = {"sacrum": pelvis.trace.in_gap, "thigh": femur.trace.in_gap}
    for window, rep_sensor in zip(windows, sensor_codes):
        rep_codes: tuple[str, ...] = (f"edge_{window.edge}",) if window.edge else ()
        lost = lost_rep_codes(window, in_gap)
        codes.append(rep_codes + lost + rep_sensor + ((fault.code,) if fault else ()))
    return codes


def _standing_angle_deg(
    trace: SensorTrace, windows: list[RepWindow], calibration: SegmentCalibration
) -> float:
    """The set's usual standing angle between reps: the median over the complete reps' start
    and end (a posture that moves away from it in some reps is drift); the still period
    when there are fewer than `MIN_REPS_FOR_STANDING` complete reps."""
    tops = [i for w in windows if w.edge is None for i in (w.start, w.end)]
    if len(tops) >= 2 * MIN_REPS_FOR_STANDING:
        return float(median(trace.angle_deg[tops]))
    still = calibration.still
    return float(median(trace.angle_deg[still.start : still.stop]))


def _segmentation_findings(
    segmentation: Segmentation, any_reps: bool, thresholds: RepThresholds
) -> list[QualityFinding]:
    findings = []
    if segmentation.incomplete:
        findings.append(
            QualityFinding(
                "incomplete_reps",
                f"{segmentation.incomplete} excursion(s) cut off by the start or end of the "
                "recording were left out (too shallow, or no complete rep to compare with); "
                "start recording while standing and stop after the last lockout",
            )
        )
    if not any_reps:
        findings.append(
            QualityFinding(
                "no_reps",
                "no squat reps found: the thigh never flexed more than "
                f"{thresholds.enter_deg:.0f} deg beyond standing",
            )
        )
    return findings
