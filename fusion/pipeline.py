"""Offline analysis of one set: two IMU recordings in, per-sample angles and per-rep metrics out.

Steps: common time grid -> resample -> accelerometer scale check -> orientation (non-causal
engine by default) -> sensor-to-segment calibration -> thigh angle, pelvic tilt, hip flexion ->
reps -> butt wink -> quality findings.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np

from fusion.angles import segment_angles
from fusion.calibration import (
    SegmentCalibration,
    calibrate_from_vertical,
    calibrate_segment,
    find_still_window,
)
from fusion.errors import AnalysisError
from fusion.gaps import stretches_between_gaps, up_across_gaps
from fusion.metrics import rep_metrics
from fusion.orientation import DEFAULT_OFFLINE_ENGINE, estimate_orientation, up_in_sensor_frame
from fusion.quality import (
    MIN_RECORDING_S,
    calibration_findings,
    clipping_findings,
    clipping_mask,
    gap_findings,
    overlap_findings,
    rest_gravity_finding,
)
from fusion.reps import RepThresholds, Segmentation, segment_reps
from fusion.resample import DEFAULT_MAX_GAP_S, UniformSamples, resample_to_grid, uniform_grid
from fusion.types import STANDARD_GRAVITY_MPS2, ImuRecording, QualityFinding, RepMetrics

# Default butt-wink threshold: see README "Choosing the butt-wink threshold" for the data
# behind it (simulated no-wink noise floor vs real labelled reps).
WINK_THRESHOLD_DEG = 5.0
MAX_GRID_RATE_HZ = 200.0
GRAVITY_RESCALE_TOLERANCE = 0.03  # rescale the accelerometer when its rest magnitude is >3 % off


@dataclass(frozen=True)
class AnalysisConfig:
    """Tuning of the offline analysis; every field has a unit in its name or is a name."""

    engine: str = DEFAULT_OFFLINE_ENGINE
    grid_rate_hz: float | None = None  # default: the faster sensor's rate, at most 200 Hz
    wink_threshold_deg: float = WINK_THRESHOLD_DEG
    rep_thresholds: RepThresholds = field(default_factory=RepThresholds)
    max_gap_s: float = DEFAULT_MAX_GAP_S


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


@dataclass(frozen=True)
class _SensorStage:
    samples: UniformSamples
    up: np.ndarray
    calibration: SegmentCalibration
    findings: list[QualityFinding]
    clipped: np.ndarray  # on the grid


def _common_grid(sacrum: ImuRecording, thigh: ImuRecording, rate_hz: float | None) -> np.ndarray:
    for name, rec in (("sacrum", sacrum), ("thigh", thigh)):
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


def _sensor_stage(
    rec: ImuRecording, name: str, grid: np.ndarray, config: AnalysisConfig
) -> _SensorStage:
    samples = resample_to_grid(rec, grid, config.max_gap_s)
    clipped = clipping_mask(rec)
    findings = gap_findings(rec, name, config.max_gap_s) + clipping_findings(clipped, name)
    still = find_still_window(samples.gyr_radps, samples.rate_hz)
    rest_norm = float(np.linalg.norm(samples.acc_mps2[still.start : still.stop], axis=1).mean())
    findings += rest_gravity_finding(rest_norm, name)
    acc = samples.acc_mps2
    if abs(rest_norm / STANDARD_GRAVITY_MPS2 - 1) > GRAVITY_RESCALE_TOLERANCE:
        acc = acc * (STANDARD_GRAVITY_MPS2 / rest_norm)
    stretches = stretches_between_gaps(rec.t_s, grid)
    if not stretches:
        raise AnalysisError(f"the {name} recording has no stretch of samples without long gaps")

    def up_of(stretch: slice) -> np.ndarray:
        quat = estimate_orientation(
            samples.gyr_radps[stretch], acc[stretch], samples.rate_hz, engine=config.engine
        )
        return up_in_sensor_frame(quat)

    up = up_across_gaps(stretches, grid.size, up_of)
    calibration = calibrate_segment(up, samples.gyr_radps, still)
    findings += calibration_findings(calibration, name)
    clipped_grid = np.interp(grid, rec.t_s, clipped.astype(float)) > 0
    return _SensorStage(samples, up, calibration, findings, clipped_grid)


def _standing_from_rep_tops(stage: _SensorStage, segmentation: Segmentation) -> _SensorStage:
    """Without a still period, the lifter still stands at the start and end of every rep:
    take the vertical from those moments instead of from the quietest one."""
    tops = [w.start for w in segmentation.reps] + [w.end for w in segmentation.reps]
    z_axis = stage.up[tops].mean(axis=0)
    z_axis /= np.linalg.norm(z_axis)
    calibration = calibrate_from_vertical(z_axis, stage.samples.gyr_radps, stage.calibration.still)
    return replace(stage, calibration=calibration)


def analyze_recordings(
    sacrum: ImuRecording,
    thigh: ImuRecording,
    *,
    load_kg: float | None = None,
    config: AnalysisConfig | None = None,
) -> AnalysisResult:
    """Analyse one set. Raises `AnalysisError` with advice when the recordings cannot be used."""
    config = config or AnalysisConfig()
    if load_kg is not None and not (np.isfinite(load_kg) and load_kg >= 0):
        raise AnalysisError(f"load_kg must be a non-negative number, got {load_kg!r}")
    grid = _common_grid(sacrum, thigh, config.grid_rate_hz)
    pelvis = _sensor_stage(sacrum, "sacrum", grid, config)
    femur = _sensor_stage(thigh, "thigh", grid, config)
    angles = segment_angles(pelvis.up, femur.up, pelvis.calibration, femur.calibration)
    segmentation = segment_reps(angles.thigh_deg, config.rep_thresholds)
    if segmentation.reps and not (
        pelvis.calibration.still.trustworthy and femur.calibration.still.trustworthy
    ):
        pelvis, femur = (_standing_from_rep_tops(stage, segmentation) for stage in (pelvis, femur))
        angles = segment_angles(pelvis.up, femur.up, pelvis.calibration, femur.calibration)
        segmentation = segment_reps(angles.thigh_deg, config.rep_thresholds)
    bad_samples = {
        "gap": pelvis.samples.in_gap | femur.samples.in_gap,
        "clipping": pelvis.clipped | femur.clipped,
    }
    reps = tuple(
        rep_metrics(k + 1, w, grid, angles, bad_samples, load_kg, config.wink_threshold_deg)
        for k, w in enumerate(segmentation.reps)
    )
    findings = overlap_findings(sacrum, thigh) + pelvis.findings + femur.findings
    if segmentation.incomplete:
        findings.append(
            QualityFinding(
                "incomplete_reps",
                f"{segmentation.incomplete} rep(s) cut off by the start or end of the recording "
                "were left out; start recording while standing and stop after the last lockout",
            )
        )
    if not reps:
        findings.append(
            QualityFinding(
                "no_reps",
                "no squat reps found: the thigh never flexed more than "
                f"{config.rep_thresholds.enter_deg:.0f} deg beyond standing",
            )
        )
    findings += [
        QualityFinding(f"rep_{code}", f"rep {rep.rep}: {code} during the rep", rep=rep.rep)
        for rep in reps
        for code in rep.quality
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
    )
