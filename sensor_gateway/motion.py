"""The last seconds of each assigned sensor's angular rate, also outside sets.

What the ready check before a set needs (`sensor_gateway.readiness`): is the athlete
standing still now, and did the last squat move the thigh sensor more than the sacrum one.
Mapped gateway-clock times, rad/s in the sensor frame; only `WINDOW_S` is kept.
"""

from __future__ import annotations

import collections
from dataclasses import dataclass, field

import numpy as np

WINDOW_S = 20.0


@dataclass
class _Recent:
    chunks: collections.deque[tuple[np.ndarray, np.ndarray]] = field(
        default_factory=collections.deque
    )
    ends_s: collections.deque[float] = field(default_factory=collections.deque)  # last t_s each


class RecentMotion:
    """Per sensor address: the angular rate of the last `WINDOW_S` seconds."""

    def __init__(self, window_s: float = WINDOW_S) -> None:
        self.window_s = window_s
        self._sensors: dict[str, _Recent] = {}

    def add(self, address: str, t_s: np.ndarray, gyr_radps: np.ndarray) -> None:
        recent = self._sensors.setdefault(address, _Recent())
        recent.chunks.append((t_s, gyr_radps))
        newest = float(t_s[-1])
        recent.ends_s.append(newest)
        ends, horizon_s = recent.ends_s, newest - self.window_s
        while ends and ends[0] < horizon_s:
            recent.chunks.popleft()
            ends.popleft()

    def forget(self, address: str) -> None:
        self._sensors.pop(address, None)

    def series(self, address: str) -> tuple[np.ndarray, np.ndarray]:
        """(t_s (n,), gyr_radps (n, 3)) in time order; empty when nothing is kept."""
        recent = self._sensors.get(address)
        if recent is None or not recent.chunks:
            return np.empty(0), np.empty((0, 3))
        t_s = np.concatenate([c[0] for c in recent.chunks])
        gyr = np.concatenate([c[1] for c in recent.chunks])
        order = np.argsort(t_s, kind="stable")
        return t_s[order], gyr[order]
