"""Butt-wink measurement per rep.

Wink (DOMAIN.md): from the peak anterior pelvic tilt reached during the descent, how far the
pelvis rotates posteriorly around the bottom before it re-extends on the way up. The window
for "around the bottom" ends once the thigh is `BOTTOM_EXIT_DEG` shallower than the rep's
depth on the way up, so the normal un-tilting of the ascent is not counted as a wink.
Wink onset depth = thigh angle where that posterior rotation begins (the tilt peak).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from fusion.reps import RepWindow

BOTTOM_EXIT_DEG = 3.0  # the bottom ends once the thigh is this far above its deepest angle


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
    risen = np.flatnonzero(after_bottom < thigh_deg[rep.bottom] - BOTTOM_EXIT_DEG)
    bottom_stop = rep.bottom + (int(risen[0]) if risen.size else after_bottom.size)
    window = tilt_deg[peak:bottom_stop]
    trough = peak + int(np.argmin(window))
    return WinkMeasurement(peak, trough, float(tilt_deg[peak] - tilt_deg[trough]))
