"""Butt-wink measurement per rep.

Wink (docs/domain.md): from the peak anterior pelvic tilt reached during the descent, how far the
pelvis rotates posteriorly around the bottom before it re-extends on the way up. The window
for "around the bottom" ends once the thigh is `BOTTOM_EXIT_DEG` shallower than the rep's
depth on the way up, so the normal un-tilting of the ascent is not counted as a wink.
Wink onset depth = thigh angle where that posterior rotation begins (the tilt peak).

The tilt is first smoothed by a centred `WINK_SMOOTHING_S` moving average (`smoothed_tilt_deg`):
a wink takes 0.3-1 s, while soft tissue under the sacrum sensor and sensor noise shake at
3-10 Hz and would otherwise add their peak-to-peak to every rep's amplitude (on the
simulator with 1-deg sacrum wobble the no-wink median falls from 1.55 to 0.95 deg; on the
real correct reps from 2.58 to 2.42 deg, butt-wink reps 12.98 -> 12.70 deg).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from fusion.reps import RepWindow

BOTTOM_EXIT_DEG = 3.0  # the bottom ends once the thigh is this far above its deepest angle
WINK_SMOOTHING_S = 0.1


def smoothed_tilt_deg(tilt_deg: np.ndarray, rate_hz: float) -> np.ndarray:
    """Centred `WINK_SMOOTHING_S` moving average of a tilt trace (deg), edges held."""
    width = int(round(WINK_SMOOTHING_S * rate_hz))
    if width <= 1 or tilt_deg.size < width:
        return tilt_deg
    padded = np.pad(tilt_deg, (width // 2, width - 1 - width // 2), mode="edge")
    return np.convolve(padded, np.ones(width) / width, mode="valid")


def in_bottom(thigh_deg: np.ndarray | float, deepest_deg: float) -> np.ndarray | bool:
    """Whether a thigh angle is still "around the bottom" of a rep whose deepest thigh angle
    so far is `deepest_deg`: within `BOTTOM_EXIT_DEG` of it (the wink window, offline and live)."""
    return np.asarray(thigh_deg) >= deepest_deg - BOTTOM_EXIT_DEG


@dataclass(frozen=True)
class WinkMeasurement:
    """Indices on the analysis grid and amplitudes in deg."""

    peak_index: int  # peak anterior tilt during the descent: where the wink would begin
    trough_index: int  # most posterior tilt around the bottom
    wink_deg: float  # tilt at peak - tilt at trough (>= 0)


def measure_wink(thigh_deg: np.ndarray, tilt_deg: np.ndarray, rep: RepWindow) -> WinkMeasurement:
    """Measure the posterior pelvic rotation around the bottom of one rep."""
    descent = tilt_deg[rep.start : rep.bottom + 1]
    peak = rep.start + int(np.argmax(descent))
    after_bottom = thigh_deg[rep.bottom : rep.end + 1]
    risen = np.flatnonzero(~in_bottom(after_bottom, float(thigh_deg[rep.bottom])))
    bottom_stop = rep.bottom + (int(risen[0]) if risen.size else after_bottom.size)
    window = tilt_deg[peak:bottom_stop]
    trough = peak + int(np.argmin(window))
    return WinkMeasurement(peak, trough, float(tilt_deg[peak] - tilt_deg[trough]))


# Lumbopelvic rhythm of the early descent, fitted where the thigh is between these fractions
# of the rep's excursion (before any wink can start, after the first settling).
RHYTHM_FIT_FRACTIONS = (0.1, 0.6)
RHYTHM_NEAR_BOTTOM_FRACTION = 0.8  # "near the bottom": thigh past this share of the excursion
MIN_RHYTHM_FIT_SAMPLES = 5


def rhythm_lag_deg(
    thigh_deg: np.ndarray, tilt_deg: np.ndarray, rep: RepWindow, wink: WinkMeasurement
) -> float | None:
    """The pelvis' lag behind the lifter's own lumbopelvic rhythm near the bottom, deg.

    A line tilt = a + b x thigh is fitted to this rep's early descent; near the bottom (from
    where the thigh passes `RHYTHM_NEAR_BOTTOM_FRACTION` of its excursion on the way down to
    the end of the wink window) the largest "tilt expected from that rhythm minus tilt
    measured" is the lag. A pelvis that keeps to its rhythm lags ~0; a wink lags by its
    amplitude plus the tilt the rhythm would still have added. None when the descent has too
    few samples for the fit.
    """
    standing = float(thigh_deg[rep.start])
    excursion = float(thigh_deg[rep.bottom]) - standing
    if excursion <= 0:
        return None
    descent_thigh = thigh_deg[rep.start : rep.bottom + 1]
    descent_tilt = tilt_deg[rep.start : rep.bottom + 1]
    share = (descent_thigh - standing) / excursion
    fit = (share >= RHYTHM_FIT_FRACTIONS[0]) & (share <= RHYTHM_FIT_FRACTIONS[1])
    if np.count_nonzero(fit) < MIN_RHYTHM_FIT_SAMPLES or np.ptp(descent_thigh[fit]) <= 0:
        return None
    x, y = descent_thigh[fit], descent_tilt[fit]
    x_mean, y_mean = float(x.mean()), float(y.mean())
    dx = x - x_mean
    slope = float(dx @ (y - y_mean)) / float(dx @ dx)  # least-squares line (np.polyfit deg 1)
    intercept = y_mean - slope * x_mean
    near = np.flatnonzero(share >= RHYTHM_NEAR_BOTTOM_FRACTION)
    first = rep.start + (int(near[0]) if near.size else rep.bottom - rep.start)
    stop = max(wink.trough_index, rep.bottom) + 1
    expected = intercept + slope * thigh_deg[first:stop]
    return float(np.max(expected - tilt_deg[first:stop]))
