"""Live dead-axis watch: is an accelerometer or gyroscope axis of a sensor dead while it streams?

Offline, `fusion.pipeline` refuses a recording with an axis that reads one value in every
sample while the sensor turns (`fusion.sensor_checks.dead_axis`). Live, such a sensor streams
angles and reps that are wrong without a sign, so the gateway runs the same check on each
sensor's samples of a set, one window of `WINDOW_S` (data time) at a time: a batch only
appends its arrays to the window (no per-sample work); once the window spans `WINDOW_S` (or
holds `MAX_WINDOW_SAMPLES`), its columns' extremes are taken and checked, and the window
starts again. A window at rest (standing between reps) is not judged; the next one with a rep
is. A dead axis is said once per sensor and set (the gateway makes it a `sensor_dead_axis`
warning); after that the sensor is not checked again in that set.

Pure and synchronous: the gateway calls it from its event loop.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from fusion.sensor_checks import DeadAxis, dead_axis

# A few seconds: in a set of squats a window this long holds some of a rep (the gyroscope
# spans several rad/s); a working axis shows its noise in far fewer samples.
WINDOW_S = 3.0
MIN_WINDOW_SAMPLES = 30  # fewer (a long gap in the window): not judged
MAX_WINDOW_SAMPLES = 4096  # a window is checked at this size at the latest (bounded memory)


@dataclass
class _Window:
    set_key: str
    chunks: list[tuple[np.ndarray, np.ndarray]] = field(default_factory=list)
    samples: int = 0
    start_s: float = 0.0
    said: bool = False


class DeadAxisWatch:
    """Per sensor address: the current window of its set's samples and whether it was said."""

    def __init__(
        self,
        window_s: float = WINDOW_S,
        *,
        min_samples: int = MIN_WINDOW_SAMPLES,
        max_samples: int = MAX_WINDOW_SAMPLES,
    ) -> None:
        self.window_s = window_s
        self.min_samples = min_samples
        self.max_samples = max_samples
        self._windows: dict[str, _Window] = {}

    def add(
        self,
        address: str,
        set_key: str,
        t_s: np.ndarray,
        acc_mps2: np.ndarray,
        gyr_radps: np.ndarray,
    ) -> DeadAxis | None:
        """Take one batch of `address`'s samples in set `set_key` (times on one clock, s; acc
        m/s^2 and gyr rad/s, (n, 3)); the dead axis found when this batch completes a window,
        the first time in this set, else None."""
        window = self._windows.get(address)
        if window is None or window.set_key != set_key:
            window = self._windows[address] = _Window(set_key)
        if window.said or not t_s.size:
            return None
        if not window.chunks:
            window.start_s = float(t_s[0])
        window.chunks.append((acc_mps2, gyr_radps))
        window.samples += t_s.size
        if float(t_s[-1]) - window.start_s < self.window_s and window.samples < self.max_samples:
            return None
        chunks, samples = window.chunks, window.samples
        window.chunks, window.samples = [], 0
        if samples < self.min_samples:
            return None
        acc = np.concatenate([c[0] for c in chunks]) if len(chunks) > 1 else chunks[0][0]
        gyr = np.concatenate([c[1] for c in chunks]) if len(chunks) > 1 else chunks[0][1]
        lowest = np.stack((acc.min(axis=0), gyr.min(axis=0)))
        highest = np.stack((acc.max(axis=0), gyr.max(axis=0)))
        dead = dead_axis(lowest, highest, samples)
        if dead is not None:
            window.said = True
        return dead

    def forget(self, address: str) -> None:
        self._windows.pop(address, None)
