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

from fusion.errors import require_finite, require_finite_result, require_rate_hz
from fusion.reps import RepWindow

BOTTOM_EXIT_DEG = 3.0  # the bottom ends once the thigh is this far above its deepest angle
WINK_SMOOTHING_S = 0.1


def smoothed_tilt_deg(tilt_deg: np.ndarray, rate_hz: float) -> np.ndarray:
    """Centred `WINK_SMOOTHING_S` moving average of a tilt trace (deg), edges held."""
    require_rate_hz(rate_hz)
    require_finite(tilt_deg, "tilt_deg")
    with np.errstate(over="ignore", invalid="ignore"):  # an overflow is refused below
        smoothed = smoothed_tilts_deg(
            tilt_deg, np.zeros(1, dtype=np.intp), np.array([tilt_deg.size]), rate_hz
        )
        total = float(np.add.reduce(smoothed))
    require_finite_result(total, tilt_deg, "tilt_deg", "deg")
    return smoothed


def smoothed_tilts_deg(
    tilt_deg: np.ndarray, offsets: np.ndarray, lengths: np.ndarray, rate_hz: float
) -> np.ndarray:
    """`smoothed_tilt_deg` of each segment `tilt_deg[offsets[k] : offsets[k] + lengths[k]]`
    (segments back to back), all in one pass; a segment shorter than the average is kept."""
    width = int(round(WINK_SMOOTHING_S * rate_hz))
    if width <= 1 or not np.any(lengths >= width):
        return tilt_deg
    longest = int(lengths.max())
    if lengths.size * longest > 2 * int(lengths.sum()) + 4096:
        # Lengths too uneven for one row per segment (a long rep among short ones): each
        # segment on its own, the same arithmetic as a row of the table below.
        one = np.zeros(1, dtype=np.intp)
        return np.concatenate(
            [
                smoothed_tilts_deg(tilt_deg[first : first + count], one, np.array([count]), rate_hz)
                for first, count in zip(offsets.tolist(), lengths.tolist())
            ]
        )
    # One row per segment, each edge-held to the longest's padded length, and one running sum
    # along the rows: a segment's means see only its own samples, and are the same bits as
    # when it is smoothed alone (np.convolve took a BLAS dot per output, ~2x the time; these
    # means differ from its by float rounding, < 1e-10 deg).
    within = np.arange(longest + width - 1) - width // 2
    source = offsets[:, None] + np.clip(within, 0, (lengths - 1)[:, None])
    sums = np.empty((lengths.size, source.shape[1] + 1))
    sums[:, 0] = 0.0
    np.cumsum(np.take(tilt_deg, source), axis=1, out=sums[:, 1:])
    means = sums[:, width:] - sums[:, :-width]  # (segments, longest): the window sums
    means /= width
    smoothed: np.ndarray = means[np.arange(longest) < lengths[:, None]]
    short = lengths < width
    if short.any():
        return np.where(np.repeat(short, lengths), tilt_deg, smoothed)
    return smoothed


def in_bottom(thigh_deg: np.ndarray | float, deepest_deg: np.ndarray | float) -> np.ndarray | bool:
    """Whether a thigh angle is still "around the bottom" of a rep whose deepest thigh angle
    so far is `deepest_deg` (or per sample): within `BOTTOM_EXIT_DEG` of it (the wink window, offline and live)."""
    return np.asarray(thigh_deg) >= deepest_deg - BOTTOM_EXIT_DEG


@dataclass(frozen=True)
class WinkMeasurement:
    """Indices on the analysis grid and amplitudes in deg."""

    peak_index: int  # peak anterior tilt during the descent: where the wink would begin
    trough_index: int  # most posterior tilt around the bottom
    wink_deg: float  # tilt at peak - tilt at trough (>= 0)


def measure_wink(thigh_deg: np.ndarray, tilt_deg: np.ndarray, rep: RepWindow) -> WinkMeasurement:
    """Measure the posterior pelvic rotation around the bottom of one rep."""
    span = slice(rep.start, rep.end + 1)
    winks = _segment_winks(
        thigh_deg[span],
        tilt_deg[span],
        np.zeros(1, dtype=np.intp),
        np.array([rep.end - rep.start + 1]),
        np.array([rep.bottom - rep.start]),
    )
    return WinkMeasurement(
        rep.start + int(winks.peak[0]), rep.start + int(winks.trough[0]), float(winks.wink_deg[0])
    )


# Lumbopelvic rhythm of the early descent, fitted where the thigh is between these fractions
# of the rep's excursion (before any wink can start, after the first settling).
RHYTHM_FIT_FRACTIONS = (0.1, 0.6)
RHYTHM_NEAR_BOTTOM_FRACTION = 0.8  # "near the bottom": thigh past this share of the excursion
MIN_RHYTHM_FIT_SAMPLES = 5


@dataclass(frozen=True)
class RepWink:
    """One rep's wink (`peak_index`, `trough_index` from the rep's start, `wink_deg`) and
    `rhythm_lag_deg`: the pelvis' lag behind the lifter's own lumbopelvic rhythm near the
    bottom, deg.

    A line tilt = a + b x thigh is fitted to the rep's early descent; near the bottom (from
    where the thigh passes `RHYTHM_NEAR_BOTTOM_FRACTION` of its excursion on the way down to
    the end of the wink window) the largest "tilt expected from that rhythm minus tilt
    measured" is the lag. A pelvis that keeps to its rhythm lags ~0; a wink lags by its
    amplitude plus the tilt the rhythm would still have added. None when the descent has too
    few samples for the fit.
    """

    peak_index: int
    trough_index: int
    wink_deg: float
    rhythm_lag_deg: float | None


@dataclass(frozen=True)
class _Winks:
    """Per segment: peak and trough (from its start), the wink amplitude; `after` (per
    sample, from the segment's start) and `bottom_stop` (end of the wink window)."""

    peak: np.ndarray
    trough: np.ndarray
    wink_deg: np.ndarray
    position: np.ndarray
    bottom_stop: np.ndarray


def _first_where(
    condition: np.ndarray, position: np.ndarray, offsets: np.ndarray, none: int
) -> np.ndarray:
    """Per segment: the first `position` where `condition` holds, or `none`."""
    return np.minimum.reduceat(np.where(condition, position, none), offsets)


def _segment_winks(
    thigh_deg: np.ndarray,
    tilt_deg: np.ndarray,
    offsets: np.ndarray,
    lengths: np.ndarray,
    bottoms: np.ndarray,
) -> _Winks:
    """`measure_wink` of back-to-back segments (rep k: `offsets[k]`, `lengths[k]` samples,
    bottom `bottoms[k]` from its start), all in one pass: peak = first maximum of the tilt
    up to the bottom, trough = first minimum from the peak to the end of the wink window."""
    none = int(lengths.max()) + 1
    position = np.arange(thigh_deg.size) - np.repeat(offsets, lengths)
    bottom = np.repeat(bottoms, lengths)
    descent = position <= bottom
    highest = np.maximum.reduceat(np.where(descent, tilt_deg, -np.inf), offsets)
    peak = _first_where(
        descent & (tilt_deg == np.repeat(highest, lengths)), position, offsets, none
    )
    deepest = thigh_deg[offsets + bottoms]
    risen = (position >= bottom) & ~in_bottom(thigh_deg, np.repeat(deepest, lengths))
    bottom_stop = np.minimum(_first_where(risen, position, offsets, none), lengths)
    window = (position >= np.repeat(peak, lengths)) & (position < np.repeat(bottom_stop, lengths))
    lowest = np.minimum.reduceat(np.where(window, tilt_deg, np.inf), offsets)
    trough = _first_where(
        window & (tilt_deg == np.repeat(lowest, lengths)), position, offsets, none
    )
    wink = tilt_deg[offsets + peak] - tilt_deg[offsets + trough]
    return _Winks(peak, trough, wink, position, bottom_stop)


def rep_winks(
    thigh_deg: np.ndarray,
    tilt_deg: np.ndarray,
    offsets: np.ndarray,
    lengths: np.ndarray,
    bottoms: np.ndarray,
    rate_hz: float,
) -> list[RepWink]:
    """Wink and rhythm lag of each rep in back-to-back segments of the thigh angle and the
    raw tilt (rep k: `offsets[k]`, `lengths[k]` samples, bottom `bottoms[k]` from its start),
    all reps in one pass; the tilt is smoothed per rep (`smoothed_tilt_deg`)."""
    tilt = smoothed_tilts_deg(tilt_deg, offsets, lengths, rate_hz)
    winks = _segment_winks(thigh_deg, tilt, offsets, lengths, bottoms)
    lags = _rhythm_lags_deg(thigh_deg, tilt, offsets, lengths, bottoms, winks)
    return [
        RepWink(peak, trough, wink, lag)
        for peak, trough, wink, lag in zip(
            winks.peak.tolist(), winks.trough.tolist(), winks.wink_deg.tolist(), lags
        )
    ]


def _rhythm_lags_deg(
    thigh_deg: np.ndarray,
    tilt_deg: np.ndarray,
    offsets: np.ndarray,
    lengths: np.ndarray,
    bottoms: np.ndarray,
    winks: _Winks,
) -> list[float | None]:
    """`RepWink.rhythm_lag_deg` of every segment (see there), in one pass."""
    position = winks.position
    standing = thigh_deg[offsets]
    excursion = thigh_deg[offsets + bottoms] - standing
    descent = position <= np.repeat(bottoms, lengths)
    rising = excursion > 0
    share = (thigh_deg - np.repeat(standing, lengths)) / np.repeat(
        np.where(rising, excursion, 1.0), lengths
    )
    fit = descent & (share >= RHYTHM_FIT_FRACTIONS[0]) & (share <= RHYTHM_FIT_FRACTIONS[1])
    count = np.add.reduceat(fit.astype(np.intp), offsets)
    spread = np.maximum.reduceat(np.where(fit, thigh_deg, -np.inf), offsets) - np.minimum.reduceat(
        np.where(fit, thigh_deg, np.inf), offsets
    )
    fitted = rising & (count >= MIN_RHYTHM_FIT_SAMPLES) & (spread > 0)
    used = np.maximum(count, 1)
    x_mean = np.add.reduceat(np.where(fit, thigh_deg, 0.0), offsets) / used
    y_mean = np.add.reduceat(np.where(fit, tilt_deg, 0.0), offsets) / used
    dx = np.where(fit, thigh_deg - np.repeat(x_mean, lengths), 0.0)
    dy = tilt_deg - np.repeat(y_mean, lengths)
    sxx = np.add.reduceat(dx * dx, offsets)
    slope = np.add.reduceat(dx * dy, offsets) / np.where(fitted, sxx, 1.0)  # least squares
    intercept = y_mean - slope * x_mean
    near = _first_where(
        descent & (share >= RHYTHM_NEAR_BOTTOM_FRACTION), position, offsets, int(lengths.max()) + 1
    )
    first = np.minimum(near, bottoms)
    stop = np.maximum(winks.trough, bottoms) + 1
    span = (position >= np.repeat(first, lengths)) & (position < np.repeat(stop, lengths))
    expected = np.repeat(intercept, lengths) + np.repeat(slope, lengths) * thigh_deg
    lag = np.maximum.reduceat(np.where(span, expected - tilt_deg, -np.inf), offsets)
    return [float(v) if ok else None for v, ok in zip(lag.tolist(), fitted.tolist())]
