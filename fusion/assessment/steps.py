"""Analyse one step of an assessment with the assessment's calibration.

Standing steps are squats: reps are segmented on the thigh angle (`fusion.reps`) and the
wink measured as in a set (`fusion.wink`). The rock-back starts on all fours with the thigh
near vertical, so its reps are segmented on hip flexion instead (the rock's bottom is where
the thigh is deepest), and the same wink definition is applied: from the pelvis' peak
anterior tilt on the way back, its posterior rotation ("tuck") around the deepest point.
The compared quantity is the hip flexion (and, standing, the thigh angle) at the tilt peak
where the tuck begins, per rep.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from fusion.assessment.calibration import (
    AssessmentCalibration,
    PlacementCheck,
    calibrate_baseline,
    check_placement,
)
from fusion.assessment.kinds import MIN_REPS, STANDING_KINDS, STEP_KINDS
from fusion.assessment.movement import MIN_SQUAT_VERTICAL_SHARE, vertical_share
from fusion.baseline import wink_threshold
from fusion.errors import AnalysisError
from fusion.gaps import LONG_GAP_S
from fusion.metrics import rep_metrics
from fusion.pipeline import AnalysisConfig, FusedSensor, common_grid, fuse_sensor
from fusion.reps import RepWindow, segment_reps
from fusion.resample import gap_mask
from fusion.sensor_checks import placement_check
from fusion.types import STANDARD_GRAVITY_MPS2, ImuRecording, QualityFinding
from fusion.wink import measure_wink, smoothed_tilt_deg

STANDING_MAX_DEG = 30.0  # a standing step starts with thigh and pelvis within this of standing
ALL_FOURS_MIN_TILT_DEG = 40.0  # on all fours the pelvis is tipped forward by ~60-100 deg
ALL_FOURS_MAX_THIGH_DEG = 40.0  # ... and the thigh hangs near vertical under the hip
# An accelerometer whose raw rest magnitude (before the pipeline rescales it to g) is this far
# from g, standing or on all fours, is uncalibrated: its per-axis gains differ (the real thigh
# sensor reads 12.7 m/s^2), which bends the tilt the sacrum sensor reads ~80 deg away from
# standing by up to ~6 deg (simulated: per-lifter rock-back onset bias rms 2.9 deg, max 6.3,
# against 1.2 / 2.9 with gains within 2 %), beyond what the standing calibration can absorb.
# A calibrated sensor stays within ~4 % (bias 0.2 m/s^2 and gains 2 %), hence 6 %.
UNCALIBRATED_ACC_TOLERANCE = 0.06


class StepError(AnalysisError):
    """A step that cannot be analysed. `kind` names the step, `reason` is a stable code:
    "too_few_reps", "wrong_movement", "sensor_moved", "no_still_period", "not_analysable", or
    the placement check's "sensors_swapped" / "sensor_misplaced" (`fusion.sensor_checks`)."""

    def __init__(self, kind: str, reason: str, message: str) -> None:
        self.kind = kind
        self.reason = reason
        super().__init__(f"step {kind!r}: {message}")


@dataclass(frozen=True)
class StepRep:
    """One rep (or rock) of a step; times on the step's clock (s), angles in deg."""

    rep: int
    start_s: float
    bottom_s: float
    end_s: float
    depth_deg: float  # thigh angle at the deepest point
    max_hip_flexion_deg: float
    wink_deg: float
    winks: bool
    onset_hip_flexion_deg: float | None  # None: no wink, or the onset lies in a long gap
    onset_thigh_deg: float | None
    quality: tuple[str, ...]


@dataclass(frozen=True)
class StepAnalysis:
    """Per-sample angles (deg) on the grid `t_s` (s), the reps and data-quality findings."""

    kind: str
    t_s: np.ndarray
    thigh_deg: np.ndarray
    pelvic_tilt_deg: np.ndarray
    hip_flexion_deg: np.ndarray
    reps: tuple[StepRep, ...]
    findings: tuple[QualityFinding, ...]
    placement: dict[str, PlacementCheck]
    # False: the angles in this posture are biased by an uncalibrated accelerometer's gains
    posture_reliable: bool = True
    # baseline: the sacrum's vertical over horizontal linear acceleration in the reps
    # (`fusion.assessment.movement`); None for other steps or when not measurable
    vertical_share: float | None = None

    @property
    def wink_reps(self) -> int:
        return sum(rep.winks for rep in self.reps)


def _traces(
    kind: str, sacrum: ImuRecording, thigh: ImuRecording, config: AnalysisConfig
) -> tuple[np.ndarray, FusedSensor, FusedSensor]:
    try:
        grid = common_grid(sacrum, thigh, config.grid_rate_hz)
        return (
            grid,
            fuse_sensor(sacrum, "sacrum", grid, config),
            fuse_sensor(thigh, "thigh", grid, config),
        )
    except AnalysisError as exc:
        raise StepError(kind, "not_analysable", str(exc)) from exc


def posture_problem(kind: str, thigh_deg: float, tilt_deg: float) -> str | None:
    """Why a step of `kind` did not start in its posture (thigh angle and pelvic tilt at rest,
    deg, with the assessment's calibration), or None when it did."""
    if kind in STANDING_KINDS:
        if abs(thigh_deg) > STANDING_MAX_DEG or abs(tilt_deg) > STANDING_MAX_DEG:
            return (
                f"wrong movement for the kind: it starts with the thigh {thigh_deg:.0f} deg and "
                f"the pelvis {tilt_deg:.0f} deg from the baseline's standing posture; a {kind} "
                "step starts standing still (was it recorded on all fours?)"
            )
        return None
    if tilt_deg < ALL_FOURS_MIN_TILT_DEG or abs(thigh_deg) > ALL_FOURS_MAX_THIGH_DEG:
        return (
            f"wrong movement for the kind: it starts with the pelvis tipped {tilt_deg:.0f} deg "
            f"and the thigh {thigh_deg:.0f} deg from vertical; a rock-back starts still on all "
            "fours (pelvis tipped forward 60-100 deg, thigh near vertical)"
        )
    return None


def _check_posture(kind: str, thigh_deg: float, tilt_deg: float) -> None:
    problem = posture_problem(kind, thigh_deg, tilt_deg)
    if problem is not None:
        raise StepError(kind, "wrong_movement", problem)


def _check_placement(
    kind: str, calibration: AssessmentCalibration, sacrum: FusedSensor, thigh: FusedSensor
) -> dict[str, PlacementCheck]:
    standing = kind in STANDING_KINDS
    checks = {
        name: check_placement(cal, trace.up, trace.gyr_radps, trace.still, standing)
        for name, cal, trace in (
            ("sacrum", calibration.sacrum, sacrum),
            ("thigh", calibration.thigh, thigh),
        )
    }
    moved = [name for name, check in checks.items() if check.moved]
    if moved:
        details = "; ".join(
            f"{name}: flexion axis {checks[name].axis_change_deg or 0:.0f} deg off"
            + (
                f", standing vertical {checks[name].vertical_change_deg:.0f} deg off"
                if checks[name].vertical_change_deg is not None
                else ""
            )
            for name in moved
        )
        raise StepError(
            kind,
            "sensor_moved",
            f"sensor moved: the {' and '.join(moved)} sensor sits differently than in the "
            f"baseline ({details}); re-strap it and record a new baseline, then repeat the step",
        )
    return checks


def raw_rest_acc_mps2(recording: ImuRecording, trace: FusedSensor) -> float:
    """Mean accelerometer magnitude (m/s^2) over the still window, from the recording itself:
    the fused trace's accelerometer may have been rescaled to g."""
    grid = trace.t_s
    start_s = float(grid[trace.still.start])
    stop_s = float(grid[max(trace.still.stop - 1, trace.still.start)])
    inside = (recording.t_s >= start_s) & (recording.t_s <= stop_s)
    if not inside.any():
        inside = np.argmin(np.abs(recording.t_s - start_s)) == np.arange(recording.t_s.size)
    return float(np.linalg.norm(recording.acc_mps2[inside], axis=1).mean())


def _uncalibrated(rest_mps2: float) -> bool:
    return rest_mps2 > 0 and abs(rest_mps2 / STANDARD_GRAVITY_MPS2 - 1) > UNCALIBRATED_ACC_TOLERANCE


def _posture_findings(
    calibration: AssessmentCalibration, sacrum_rest_mps2: float
) -> list[QualityFinding]:
    """The rock-back's angles are not trusted when the sacrum accelerometer is uncalibrated
    (the sensor that turns ~80 deg into the quadruped; the thigh hangs near vertical as when
    standing, and its rock stays within the squat's range)."""
    standing = calibration.sacrum_rest_acc_mps2
    if not (_uncalibrated(standing) or _uncalibrated(sacrum_rest_mps2)):
        return []
    return [
        QualityFinding(
            "acc_gain_posture",
            f"sacrum: the accelerometer reads gravity as {sacrum_rest_mps2:.2f} m/s^2 on all "
            f"fours and {standing:.2f} m/s^2 standing instead of {STANDARD_GRAVITY_MPS2:.2f}: "
            "it is uncalibrated, its axes' gains differ, and the angles on all fours are off by "
            "degrees; the rock-back is compared with a wider uncertainty (calibrate the sensor's "
            "accelerometer, or use another one)",
            "sacrum",
        )
    ]


def _check_squat_movement(
    kind: str, sacrum: ImuRecording, trace: FusedSensor, windows: list[RepWindow]
) -> float | None:
    """The baseline's squats must move the pelvis up and down, not back and forth as a
    rock-back does (its own start defines "standing", so no posture check can tell)."""
    share = vertical_share(sacrum, trace, windows, raw_rest_acc_mps2(sacrum, trace))
    if share is not None and share < MIN_SQUAT_VERTICAL_SHARE:
        raise StepError(
            kind,
            "wrong_movement",
            "wrong movement for the kind: the pelvis moved more forward and back than up and "
            f"down (vertical over horizontal acceleration {share:.2f}; a squat moves it mostly "
            f"up and down, at least {MIN_SQUAT_VERTICAL_SHARE}): was it recorded on all fours "
            "(a rock-back)? The baseline is squats from standing: stand still 2 s, then squat "
            "to your deepest comfortable depth at least 5 times, and record it again",
        )
    return share


def _long_gaps(sacrum: ImuRecording, thigh: ImuRecording, grid: np.ndarray) -> np.ndarray:
    """Grid samples inside a gap longer than `LONG_GAP_S` of either sensor: there the angles
    are interpolated between the stretches around it (`fusion.gaps`)."""
    gap: np.ndarray = gap_mask(sacrum.t_s, grid, LONG_GAP_S) | gap_mask(thigh.t_s, grid, LONG_GAP_S)
    return gap


def _onset_in_gap(
    window: RepWindow, thigh_deg: np.ndarray, tilt_deg: np.ndarray, rate_hz: float, gap: np.ndarray
) -> bool:
    """A long gap between the rep's start and its most posterior tilt hides where the tuck
    began: the tilt peak there may be an edge of the interpolated stretch, not the onset."""
    span = slice(window.start, window.end + 1)
    smoothed = tilt_deg.copy()
    smoothed[span] = smoothed_tilt_deg(tilt_deg[span], rate_hz)
    wink = measure_wink(thigh_deg, smoothed, window)
    return bool(gap[window.start : wink.trough_index + 1].any())


def _rock_windows(
    hip_flexion_deg: np.ndarray, thigh_deg: np.ndarray
) -> tuple[list[RepWindow], int]:
    """Rocks segmented on hip flexion; the bottom is where the thigh is deepest."""
    segmentation = segment_reps(hip_flexion_deg)
    windows = [
        RepWindow(w.start, w.start + int(np.argmax(thigh_deg[w.start : w.end + 1])), w.end)
        for w in segmentation.reps
    ]
    return windows, segmentation.incomplete


def analyse_step(
    kind: str,
    sacrum: ImuRecording,
    thigh: ImuRecording,
    calibration: AssessmentCalibration | None,
    config: AnalysisConfig | None = None,
) -> tuple[StepAnalysis, AssessmentCalibration]:
    """Analyse step `kind`; with `calibration` None the step must be the baseline and
    calibrates the assessment. Returns the analysis and the calibration used.
    Raises `StepError` naming the step and the reason when it cannot be analysed."""
    if kind not in STEP_KINDS:
        raise StepError(kind, "not_analysable", f"unknown step kind; use one of {STEP_KINDS}")
    config = config or AnalysisConfig()
    grid, sacrum_trace, thigh_trace = _traces(kind, sacrum, thigh, config)
    # Before anything is read from the angles: with the sensors exchanged every later check
    # measures the wrong segment and names the wrong cause ("recorded on all fours?").
    fault = placement_check(sacrum_trace.gyr_radps, thigh_trace.gyr_radps, sacrum_trace.rate_hz)
    if fault is not None:
        raise StepError(kind, fault.code, fault.message)
    placement: dict[str, PlacementCheck] = {}
    if calibration is None:
        if kind != "baseline":
            raise StepError(kind, "not_analysable", "the baseline must be analysed first")
        if not (sacrum_trace.still.trustworthy and thigh_trace.still.trustworthy):
            raise StepError(
                kind,
                "no_still_period",
                "no still standing period of 0.5 s in the first seconds; the baseline calibrates "
                "the sensors: stand still for 1-2 s before the first squat and record it again",
            )
        try:
            calibration = calibrate_baseline(
                sacrum_trace.up,
                sacrum_trace.gyr_radps,
                sacrum_trace.still,
                thigh_trace.up,
                thigh_trace.gyr_radps,
                thigh_trace.still,
            )
        except AnalysisError as exc:
            raise StepError(kind, "too_few_reps", str(exc)) from exc
        calibration = replace(
            calibration,
            sacrum_rest_acc_mps2=raw_rest_acc_mps2(sacrum, sacrum_trace),
            thigh_rest_acc_mps2=raw_rest_acc_mps2(thigh, thigh_trace),
        )
    angles = calibration.angles(sacrum_trace.up, thigh_trace.up)
    still = slice(thigh_trace.still.start, max(thigh_trace.still.stop, thigh_trace.still.start + 1))
    _check_posture(
        kind,
        float(np.median(angles.thigh_deg[still])),
        float(np.median(angles.pelvic_tilt_deg[still])),
    )
    if kind != "baseline":
        placement = _check_placement(kind, calibration, sacrum_trace, thigh_trace)
    if kind in STANDING_KINDS:
        segmentation = segment_reps(angles.thigh_deg, config.rep_thresholds)
        windows, incomplete = segmentation.reps, segmentation.incomplete
    else:
        windows, incomplete = _rock_windows(angles.hip_flexion_deg, angles.thigh_deg)
    share = (
        _check_squat_movement(kind, sacrum, sacrum_trace, windows) if kind == "baseline" else None
    )
    if len(windows) < MIN_REPS[kind]:
        movement = "rocks" if kind == "rock_back" else "squats"
        raise StepError(
            kind,
            "too_few_reps",
            f"too few reps: {len(windows)} complete {movement} found, at least {MIN_REPS[kind]} "
            "needed to measure the rep-to-rep spread; record the step again",
        )
    bad_samples = {
        "gap": sacrum_trace.in_gap | thigh_trace.in_gap,
        "clipping": sacrum_trace.clipped | thigh_trace.clipped,
    }
    threshold = wink_threshold(config.wink_threshold_deg)  # the battery's default threshold
    long_gap = _long_gaps(sacrum, thigh, grid)
    rate_hz = (grid.size - 1) / float(grid[-1] - grid[0])
    reps = []
    for number, window in enumerate(windows, start=1):
        metrics = rep_metrics(number, window, grid, angles, bad_samples, None, threshold)
        span = slice(window.start, window.end + 1)
        onset_hip = onset_thigh = None
        hidden = metrics.wink_onset_s is not None and _onset_in_gap(
            window, angles.thigh_deg, angles.pelvic_tilt_deg, rate_hz, long_gap
        )
        if metrics.wink_onset_s is not None and not hidden:
            peak = int(np.searchsorted(grid, metrics.wink_onset_s))
            onset_hip = float(angles.hip_flexion_deg[peak])
            onset_thigh = float(angles.thigh_deg[peak])
        reps.append(
            StepRep(
                rep=number,
                start_s=metrics.start_s,
                bottom_s=metrics.bottom_s,
                end_s=metrics.end_s,
                depth_deg=metrics.depth_deg,
                max_hip_flexion_deg=float(angles.hip_flexion_deg[span].max()),
                wink_deg=metrics.wink_deg,
                winks=metrics.butt_wink,
                onset_hip_flexion_deg=onset_hip,
                onset_thigh_deg=onset_thigh,
                quality=metrics.quality,
            )
        )
    findings = list(sacrum_trace.findings + thigh_trace.findings)
    posture = (
        _posture_findings(calibration, raw_rest_acc_mps2(sacrum, sacrum_trace))
        if kind == "rock_back"
        else []
    )
    findings += posture
    if incomplete:
        findings.append(
            QualityFinding(
                "incomplete_reps",
                f"{kind}: {incomplete} rep(s) cut off by the start or end of the recording were "
                "left out",
            )
        )
    analysis = StepAnalysis(
        kind=kind,
        t_s=grid,
        thigh_deg=angles.thigh_deg,
        pelvic_tilt_deg=angles.pelvic_tilt_deg,
        hip_flexion_deg=angles.hip_flexion_deg,
        reps=tuple(reps),
        findings=tuple(findings),
        placement=placement,
        posture_reliable=not posture,
        vertical_share=share,
    )
    return analysis, calibration
