"""Live mirrored-axis watch: do a sensor's gyroscope and accelerometer disagree in sign?

Offline, `fusion.pipeline` refuses a recording whose accelerometer and gyroscope do not form
one right-handed frame (`fusion.sensor_checks.mirrored_axis`: a firmware or driver that flips
an axis of one or both). Live, such a sensor streams angles and reps that are wrong without a
sign, so the gateway runs the same check on each sensor's samples of a set. Cheap, as the
dead-axis watch (`sensor_gateway.dead_axes`): a batch only appends its arrays to the current
window of `WINDOW_S` (data time; no per-sample work); when that window closes it joins the
last `KEPT_WINDOWS` windows (bounded memory), and if those turned the sensor through
`MIN_ROTATION_DEG` or more (a squat or two; standing still says nothing about handedness),
`mirrored_axis` runs on them. A mirror is said once per sensor and set (the gateway makes it a
`sensor_mirrored_axis` warning and marks the set's reps); after that the sensor is not checked
again in that set.

The samples are the gateway's mapped times, not a resampled grid: the check takes their rate
from the median interval, and marks the first sample after a longer interval (a lost packet)
as a gap, so no difference or average spans it.

Pure and synchronous: the gateway calls it from its event loop.
"""

from __future__ import annotations

import collections
from dataclasses import dataclass, field

import numpy as np

from fusion.rows import row_norms
from fusion.sensor_checks import MirroredAxis, mirrored_axis
from sensor_gateway.batch_windows import (
    MAX_WINDOW_SAMPLES,
    WINDOW_S,
    BatchWindow,
    Samples,
    joined,
)

# Judged over the last 4 windows (12 s: three or four reps). The offline check sees a whole set;
# a few reps give it the same correlations, and a shorter stretch than a rep (a pelvis that
# only starts to tilt) would judge the hip's acceleration rather than the rotation.
KEPT_WINDOWS = 4
MIN_ROTATION_DEG = 60.0  # the kept windows' gyroscope path; a sensor at rest: ~10 deg in 12 s
GAP_INTERVALS = 1.5  # an interval this many times the median one: samples were lost


@dataclass
class _Sensor:
    set_key: str
    batches: BatchWindow
    said: bool = False
    suspected: MirroredAxis | None = None  # what the last check found
    # the last closed windows: (t_s (n,), acc (n, 3), gyr (n, 3))
    windows: collections.deque[Samples] = field(
        default_factory=lambda: collections.deque(maxlen=KEPT_WINDOWS)
    )


class MirroredAxisWatch:
    """Per sensor address: its set's last windows of samples and whether a mirror was said."""

    def __init__(
        self,
        window_s: float = WINDOW_S,
        *,
        max_samples: int = MAX_WINDOW_SAMPLES,
        min_rotation_deg: float = MIN_ROTATION_DEG,
    ) -> None:
        self.window_s = window_s
        self.max_samples = max_samples
        self.min_rotation_deg = min_rotation_deg
        self._sensors: dict[str, _Sensor] = {}

    def add(
        self,
        address: str,
        set_key: str,
        t_s: np.ndarray,
        acc_mps2: np.ndarray,
        gyr_radps: np.ndarray,
    ) -> MirroredAxis | None:
        """Take one batch of `address`'s samples in set `set_key` (times on one clock, s,
        increasing; acc m/s^2 and gyr rad/s, (n, 3)); the mirror found when this batch closes
        a window, the first time in this set, else None."""
        sensor = self._sensors.get(address)
        if sensor is None or sensor.set_key != set_key:
            batches = BatchWindow(self.window_s, self.max_samples)
            sensor = self._sensors[address] = _Sensor(set_key, batches)
        if sensor.said or not t_s.size:
            return None
        closed = sensor.batches.add(t_s, acc_mps2, gyr_radps)
        if closed is None:
            return None
        sensor.windows.append(closed)
        mirrored = self._check(*joined(sensor.windows))
        # said when two checks in a row find it: one stretch of unusual motion (a rep's start
        # seen alone) can fool one check (probed: 1 of 100 good simulated sensors)
        confirmed = mirrored if mirrored is not None and sensor.suspected is not None else None
        sensor.suspected = mirrored
        sensor.said = confirmed is not None
        return confirmed

    def forget(self, address: str) -> None:
        self._sensors.pop(address, None)

    def _check(self, t_s: np.ndarray, acc: np.ndarray, gyr: np.ndarray) -> MirroredAxis | None:
        """`mirrored_axis` of the kept samples, when they turned the sensor far enough."""
        if t_s.size < 3:
            return None
        intervals_s = np.diff(t_s)
        interval_s = float(np.median(intervals_s))
        if not interval_s > 0:
            return None
        rotation_deg = float(np.degrees(row_norms(gyr).sum() * interval_s))
        if rotation_deg < self.min_rotation_deg:
            return None
        in_gap = np.concatenate(([False], intervals_s > GAP_INTERVALS * interval_s))
        return mirrored_axis(acc, gyr, 1.0 / interval_s, in_gap)
