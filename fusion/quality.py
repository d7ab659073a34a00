"""Data-quality findings: said in plain words, never hidden.

Each check is a pure function returning `QualityFinding`s (fusion.types) with a stable
`code` for machines and a message for people.
"""

from __future__ import annotations

import numpy as np

from fusion.calibration import SegmentCalibration
from fusion.types import STANDARD_GRAVITY_MPS2, ImuRecording, QualityFinding

REST_GRAVITY_TOLERANCE_MPS2 = 0.5  # a calibrated accelerometer reads 9.81 +- ~0.2 at rest
CLIP_MIN_ACC_MPS2 = 2 * STANDARD_GRAVITY_MPS2  # plateaus below 2 g are posture, not clipping
CLIP_MIN_GYR_RADPS = np.radians(50.0)  # below the smallest common range (125 dps)
MIN_RECORDING_S = 2.0


def gap_findings(recording: ImuRecording, sensor: str, max_gap_s: float) -> list[QualityFinding]:
    """Intervals between samples longer than `max_gap_s` (lost packets, dropped link)."""
    starts = recording.long_interval_starts(max_gap_s)
    long = recording.t_s[starts + 1] - recording.t_s[starts]
    if long.size == 0:
        return []
    nominal_s = recording.median_interval_s
    missing = int(np.sum(np.round(long / nominal_s) - 1))
    return [
        QualityFinding(
            "gaps",
            f"{sensor}: {long.size} gap(s) in the samples, about {missing} sample(s) missing, "
            f"longest {long.max():.3f} s; angles are interpolated across them",
            sensor,
        )
    ]


# The thigh angle finds the reps: across a thigh gap this long it is interpolated, and a rep
# (2-3 s; its bottom alone ~1 s) done then is missed without a trace (probed: a 3.4-s gap over
# rep 3 of 5 gave 4 reps and only the gap count).
HIDDEN_REP_GAP_S = 1.0


def hidden_rep_findings(recording: ImuRecording, grid: np.ndarray) -> list[QualityFinding]:
    """Thigh gaps within the analysed `grid` (s) long enough to hide a rep, said with when."""
    starts = recording.long_interval_starts(HIDDEN_REP_GAP_S)
    t_s = recording.t_s
    inside = [
        (float(t_s[k]), float(t_s[k + 1]))
        for k in starts.tolist()
        if t_s[k + 1] > grid[0] and t_s[k] < grid[-1]
    ]
    if not inside:
        return []
    spans = ", ".join(f"{a:.1f}-{b:.1f} s" for a, b in inside[:5])
    more = f" and {len(inside) - 5} more" if len(inside) > 5 else ""
    return [
        QualityFinding(
            "thigh_gap_hides_reps",
            f"thigh: no samples over {spans}{more}: the reps are found on the thigh angle, "
            "which is interpolated there, so a rep done then is not counted or measured; "
            "keep the thigh sensor in range and record the set again if one was",
            "thigh",
        )
    ]


def rep_not_counted_message(
    rep: int, sensor: str, gap_s: tuple[float, float], span_s: tuple[float, float]
) -> str:
    """Why rep `rep` is not counted (`fusion.reps.hidden_boundary`): `sensor` sent nothing
    over `gap_s` within the rep's stretch `span_s` (s from the set's start), live and
    offline alike (code `thigh_gap_hides_reps`)."""
    return (
        f"rep {rep} not counted: the {sensor} sensor sent nothing over "
        f"{gap_s[0]:.1f}-{gap_s[1]:.1f} s ({gap_s[1] - gap_s[0]:.1f} s), from the way up "
        "to back in a squat, so where one rep ended and the next began cannot be told "
        f"(the {span_s[0]:.1f}-{span_s[1]:.1f} s stretch may hold two reps); keep the "
        f"{sensor} sensor in range of the gateway. The raw samples are stored"
    )


def _plateau_at_extreme(
    values: np.ndarray, lowest: np.ndarray, highest: np.ndarray, floor: float
) -> np.ndarray:
    """Samples that sit at the axis' extreme absolute value for 2+ consecutive samples.

    `lowest`, `highest` (3,): each column's extremes (`ImuRecording.sample_bounds`). |v| >= t
    is v >= t or v <= -t, and only a side that reaches t is compared: no |values| copy."""
    clipped = np.zeros(values.shape[0], dtype=bool)
    for axis in range(values.shape[1]):
        extreme = max(-lowest[axis], highest[axis])
        if extreme < floor:
            continue
        level = extreme * (1 - 1e-6)
        column = values[:, axis]
        at_extreme = column >= level if highest[axis] >= level else None
        if -lowest[axis] >= level:
            below = column <= -level
            at_extreme = below if at_extreme is None else at_extreme | below
        if at_extreme is None:  # a NaN extreme: nothing compares as clipped
            continue
        repeated = at_extreme[1:] & at_extreme[:-1]
        clipped[1:] |= repeated
        clipped[:-1] |= repeated
    return clipped


def clipping_mask(recording: ImuRecording) -> np.ndarray:
    """Per-sample flag: accelerometer or gyroscope stuck at its range limit."""
    if len(recording) == 0:
        return np.zeros(0, dtype=bool)
    lowest, highest = recording.sample_bounds
    clipped: np.ndarray = _plateau_at_extreme(
        recording.acc_mps2, lowest[0], highest[0], CLIP_MIN_ACC_MPS2
    ) | _plateau_at_extreme(recording.gyr_radps, lowest[1], highest[1], CLIP_MIN_GYR_RADPS)
    return clipped


def clipping_findings(clipped: np.ndarray, sensor: str) -> list[QualityFinding]:
    """Finding for a per-sample `clipping_mask`, if any sample clipped."""
    count = int(np.count_nonzero(clipped))
    if count == 0:
        return []
    return [
        QualityFinding(
            "clipping",
            f"{sensor}: {count} sample(s) stuck at the sensor's range limit (clipping); "
            "choose a larger range (e.g. +-16 g, +-2000 dps)",
            sensor,
        )
    ]


def rest_gravity_finding(rest_acc_norm_mps2: float, sensor: str) -> list[QualityFinding]:
    """The accelerometer's magnitude at rest should be g; far off means it is uncalibrated."""
    if abs(rest_acc_norm_mps2 - STANDARD_GRAVITY_MPS2) <= REST_GRAVITY_TOLERANCE_MPS2:
        return []
    return [
        QualityFinding(
            "gravity_off",
            f"{sensor}: accelerometer reads {rest_acc_norm_mps2:.2f} m/s^2 at rest instead of "
            f"{STANDARD_GRAVITY_MPS2:.2f}: it is uncalibrated; rescaled to g for fusion, but "
            "calibrate the sensor (six-position test) for trustworthy numbers",
            sensor,
        )
    ]


def calibration_findings(cal: SegmentCalibration, sensor: str) -> list[QualityFinding]:
    findings = []
    if not cal.still.trustworthy:
        findings.append(
            QualityFinding(
                "no_still_period",
                f"{sensor}: no still standing period at the start; the vertical was taken from "
                "the standing moments between reps, so angles may be offset by a few degrees: "
                "stand still for 1-2 s before the first rep",
                sensor,
            )
        )
    if cal.planar_share < 0.6:
        findings.append(
            QualityFinding(
                "out_of_plane",
                f"{sensor}: only {100 * cal.planar_share:.0f}% of the rotation is about one axis; "
                "the flexion axis is uncertain (lots of twisting or a loose strap)",
                sensor,
            )
        )
    return findings


def overlap_findings(sacrum: ImuRecording, thigh: ImuRecording) -> list[QualityFinding]:
    start = max(sacrum.t_s[0], thigh.t_s[0])
    end = min(sacrum.t_s[-1], thigh.t_s[-1])
    lost = max(sacrum.t_s[-1], thigh.t_s[-1]) - min(sacrum.t_s[0], thigh.t_s[0]) - (end - start)
    if lost <= 0.5:
        return []
    return [
        QualityFinding(
            "partial_overlap",
            f"the two sensors overlap for {end - start:.1f} s only; {lost:.1f} s recorded by one "
            "sensor alone is not analysed",
        )
    ]
