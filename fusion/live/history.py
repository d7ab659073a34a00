"""Sample buffers of the live analyser: raw samples waiting for the grid, and the grid history."""

from __future__ import annotations

import numpy as np

PLACEMENTS = ("sacrum", "thigh")


class SensorBuffer:
    """Raw samples of one sensor not yet consumed by the grid (keeps one sample before)."""

    def __init__(self) -> None:
        self.t_s = np.empty(0)
        self.acc = np.empty((0, 3))
        self.gyr = np.empty((0, 3))

    def append(self, t_s: np.ndarray, acc: np.ndarray, gyr: np.ndarray) -> None:
        keep = t_s > (self.t_s[-1] if self.t_s.size else -np.inf)  # drop repeats and reorders
        self.t_s = np.concatenate([self.t_s, t_s[keep]])
        self.acc = np.concatenate([self.acc, acc[keep]])
        self.gyr = np.concatenate([self.gyr, gyr[keep]])

    def interpolate(self, grid: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        acc = np.column_stack([np.interp(grid, self.t_s, self.acc[:, k]) for k in range(3)])
        gyr = np.column_stack([np.interp(grid, self.t_s, self.gyr[:, k]) for k in range(3)])
        return acc, gyr

    def drop_before(self, t_s: float) -> None:
        first = max(int(np.searchsorted(self.t_s, t_s, side="right")) - 1, 0)
        self.t_s, self.acc, self.gyr = self.t_s[first:], self.acc[first:], self.gyr[first:]


class GridHistory:
    """Grid history: time, both up-vectors, both gyro rates, gap flags (ring-trimmed)."""

    def __init__(self) -> None:
        self.t_s = np.empty(0)
        self.up = {p: np.empty((0, 3)) for p in PLACEMENTS}
        self.gyr = {p: np.empty((0, 3)) for p in PLACEMENTS}
        self.in_gap = np.empty(0, dtype=bool)
        self.offset = 0  # absolute index of element 0

    def extend(
        self,
        t_s: np.ndarray,
        up: dict[str, np.ndarray],
        gyr: dict[str, np.ndarray],
        in_gap: np.ndarray,
    ) -> None:
        self.t_s = np.concatenate([self.t_s, t_s])
        for p in PLACEMENTS:
            self.up[p] = np.concatenate([self.up[p], up[p]])
            self.gyr[p] = np.concatenate([self.gyr[p], gyr[p]])
        self.in_gap = np.concatenate([self.in_gap, in_gap])

    def trim_before(self, absolute_index: int) -> None:
        cut = absolute_index - self.offset
        if cut <= 0:
            return
        self.t_s = self.t_s[cut:]
        for p in PLACEMENTS:
            self.up[p] = self.up[p][cut:]
            self.gyr[p] = self.gyr[p][cut:]
        self.in_gap = self.in_gap[cut:]
        self.offset = absolute_index

    @property
    def end(self) -> int:
        return self.offset + self.t_s.size
