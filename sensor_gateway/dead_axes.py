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

Since when: the window that shows an axis dead is only the evidence; the axis may have stuck
earlier (while the sensor rested, or partway through the window before, judged alive). So at
each window's end the watch also keeps, per column, the value of its last sample and the time
of the first sample of the run holding that value (carried over from the windows before while
a window holds the same value throughout). When an axis is found dead, that run's start is
the first sample from which it read its one value (`DeadAxisFound.since_s`): the reps
measured from then on were fused from it (the gateway marks them).

Pure and synchronous: the gateway calls it from its event loop.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from fusion.sensor_checks import IMU_COLUMNS, DeadAxis, dead_axis
from sensor_gateway.batch_windows import MAX_WINDOW_SAMPLES, WINDOW_S, BatchWindow

MIN_WINDOW_SAMPLES = 30  # fewer (a long gap in the window): not judged
_COLUMNS = tuple(name for row in IMU_COLUMNS for name in row)  # acc x y z, then gyr x y z


@dataclass(frozen=True)
class DeadAxisFound:
    """A dead axis (`dead`) and `since_s` (data time, s): its first sample of the run of
    `dead.value` that the window showing it dead ends; every sample from then on read it."""

    dead: DeadAxis
    since_s: float


@dataclass
class _Window:
    set_key: str
    batches: BatchWindow
    said: bool = False
    # Per column (acc x y z, gyr x y z): the value at the end of the last window, and the
    # time of the first sample of the run holding it (NaN: no window yet).
    held_value: np.ndarray = field(default_factory=lambda: np.full(6, np.nan))
    held_since_s: np.ndarray = field(default_factory=lambda: np.full(6, np.nan))


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
    ) -> DeadAxisFound | None:
        """Take one batch of `address`'s samples in set `set_key` (times on one clock, s,
        increasing; acc m/s^2 and gyr rad/s, (n, 3)); the dead axis found when this batch
        completes a window, the first time in this set, and since when, else None."""
        window = self._windows.get(address)
        if window is None or window.set_key != set_key:
            batches = BatchWindow(self.window_s, self.max_samples)
            window = self._windows[address] = _Window(set_key, batches)
        if window.said or not t_s.size:
            return None
        closed = window.batches.add(t_s, acc_mps2, gyr_radps)
        if closed is None:
            return None
        times, acc, gyr = closed
        samples = times.size
        _hold_runs(window, times, np.hstack((acc, gyr)))
        if samples < self.min_samples:
            return None
        lowest = np.stack((acc.min(axis=0), gyr.min(axis=0)))
        highest = np.stack((acc.max(axis=0), gyr.max(axis=0)))
        dead = dead_axis(lowest, highest, samples)
        if dead is None:
            return None
        window.said = True
        return DeadAxisFound(dead, float(window.held_since_s[_COLUMNS.index(dead.column)]))

    def forget(self, address: str) -> None:
        self._windows.pop(address, None)


def _hold_runs(window: _Window, t_s: np.ndarray, values: np.ndarray) -> None:
    """Carry `window`'s per-column runs over one window's samples: `values` (n, 6) at `t_s`."""
    last = values[-1]
    differs = values != last
    changed = differs.any(axis=0)
    # the first sample after each column's last one that differs from its last value
    after_change = values.shape[0] - np.argmax(differs[::-1], axis=0)
    run_start_s = np.where(changed, t_s[np.minimum(after_change, t_s.size - 1)], t_s[0])
    continued = ~changed & (last == window.held_value)
    window.held_since_s = np.where(continued, window.held_since_s, run_start_s)
    window.held_value = last
