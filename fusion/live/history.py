"""Sample buffers of the live analyser: raw samples waiting for the grid, and the grid history.

Both are ring-like buffers over preallocated arrays (`RowBuffer`): appending writes in
place and dropping from the front moves a start index, so a packet costs no concatenation
of the whole history. The arrays they hand out are views, valid until the next append.
"""

from __future__ import annotations

import math
from bisect import bisect_right
from collections.abc import Sequence

import numpy as np

PLACEMENTS = ("sacrum", "thigh")


class RowBuffer:
    """Rows of `width` values, appended at the end and dropped from the front.

    Amortized O(rows appended): the live rows are moved to the front (or into an array twice
    as large) only when the end of the array is reached.
    """

    def __init__(self, width: int, capacity: int = 256, dtype: type = float) -> None:
        self._data: np.ndarray = np.empty((capacity, width), dtype=dtype)
        self._start = 0
        self._stop = 0

    def __len__(self) -> int:
        return self._stop - self._start

    @property
    def rows(self) -> np.ndarray:
        """The live rows, (n, width): a view, valid until the next `append`."""
        return self._data[self._start : self._stop]

    def append(self, block: np.ndarray | Sequence[Sequence[float]]) -> None:
        """Rows (n, width): an array, or plain-float rows (written in place, no temporary
        array: a packet's few rows)."""
        n = len(block)
        if self._stop + n > self._data.shape[0]:
            live = self._stop - self._start
            if 2 * (live + n) > self._data.shape[0]:
                grown = np.empty((2 * (live + n), self._data.shape[1]), dtype=self._data.dtype)
                grown[:live] = self._data[self._start : self._stop]
                self._data = grown
            else:
                self._data[:live] = self._data[self._start : self._stop].copy()
            self._start, self._stop = 0, live
        self._data[self._stop : self._stop + n] = block
        self._stop += n

    def drop_front(self, count: int) -> None:
        self._start += min(max(count, 0), self._stop - self._start)

    def clear(self) -> None:
        self._start = self._stop = 0


# SensorBuffer columns: time, acc xyz, gyr xyz.
_T, _ACC, _GYR = 0, slice(1, 4), slice(4, 7)
_PAIR = np.array([0, 1])
_COMPACT_ROWS = 16  # consumed rows dropped from the lists once this many have gathered


class SensorBuffer:
    """Raw samples of one sensor not yet consumed by the grid (keeps one sample before).

    Plain-float rows [t, ax, ay, az, gx, gy, gz] (a packet's few samples cost more as numpy
    calls than as floats) and their times, with a start index: consumed rows are dropped by
    moving it, and removed from the lists in bulk now and then.
    """

    def __init__(self) -> None:
        self._rows: list[list[float]] = []
        self._times: list[float] = []
        self._start = 0

    def _live(self) -> np.ndarray:
        return np.array(self._rows[self._start :], dtype=float).reshape(-1, 7)

    @property
    def t_s(self) -> np.ndarray:
        return np.array(self._times[self._start :], dtype=float)

    @property
    def acc(self) -> np.ndarray:
        return self._live()[:, _ACC]

    @property
    def gyr(self) -> np.ndarray:
        return self._live()[:, _GYR]

    @property
    def size(self) -> int:
        return len(self._times) - self._start

    def first_t_s(self) -> float:
        return self._times[self._start]

    def last_t_s(self) -> float:
        return self._times[-1]

    def append(self, t_s: np.ndarray, acc: np.ndarray, gyr: np.ndarray) -> None:
        """Samples (n,), (n, 3), (n, 3); those not later than every one before them (repeats
        and reorders) are dropped."""
        self.append_values(
            np.asarray(t_s, dtype=float).reshape(-1).tolist(),
            np.asarray(acc, dtype=float).reshape(-1, 3).tolist(),
            np.asarray(gyr, dtype=float).reshape(-1, 3).tolist(),
        )

    def append_rows(self, block: np.ndarray) -> None:
        """Rows (n, 7) of time, acc, gyr (see `append`)."""
        rows = np.asarray(block, dtype=float).reshape(-1, 7)
        self.append(rows[:, _T], rows[:, _ACC], rows[:, _GYR])

    def append_values(
        self, t_s: list[float], acc: list[list[float]], gyr: list[list[float]]
    ) -> None:
        """`append` of plain floats (the caller has checked the lengths match)."""
        times, rows = self._times, self._rows
        previous = times[-1] if len(times) > self._start else -math.inf
        for t, a, g in zip(t_s, acc, gyr):
            if t > previous:
                times.append(t)
                rows.append([t, *a, *g])
                previous = t

    def _drop_front(self, count: int) -> None:
        self._start += min(max(count, 0), self.size)
        if self._start >= _COMPACT_ROWS:
            del self._rows[: self._start]
            del self._times[: self._start]
            self._start = 0

    def interpolate(
        self, grid: np.ndarray, max_gap_s: float
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Linear interpolation of acc and gyr at `grid` (within the buffered span), and which
        grid instants lie strictly inside an interval between samples longer than `max_gap_s`
        (`fusion.resample.gap_mask`). Then drops the samples no longer needed (all but the last
        one at or before grid[-1])."""
        rows = self._live()
        t_s = rows[:, _T]
        after = np.searchsorted(t_s, grid, side="right")
        keep_from = int(after[-1]) - 1
        # The interval of each instant (ufuncs: np.clip costs 3x); like np.interp, an instant
        # past either end (by rounding of the grid) takes the end value.
        below = np.maximum(np.minimum(after, t_s.size - 1) - 1, 0)
        pairs = rows[below[:, None] + _PAIR]  # (m, 2, 7): the samples before and after
        t0, t1 = pairs[:, 0, _T], pairs[:, 1, _T]
        span = t1 - t0
        v0 = pairs[:, 0, 1:]
        weight = np.minimum(np.maximum((grid - t0) / span, 0.0), 1.0)
        values = v0 + weight[:, None] * (pairs[:, 1, 1:] - v0)
        lost = span > max_gap_s
        if lost.any():
            lost &= (grid > t0) & (grid < t1)
        self._drop_front(keep_from)
        return values[:, 0:3], values[:, 3:6], lost

    def interpolate_rows(
        self, grid: list[float], max_gap_s: float
    ) -> tuple[list[list[float]], list[list[float]], list[bool]]:
        """`interpolate` on plain floats, for a few grid instants: per instant [ax, ay, az]
        and [gx, gy, gz], and its gap flag. The same arithmetic as `interpolate`, operation
        for operation, whatever the number of rows buffered."""
        rows, times, start = self._rows, self._times, self._start
        last = len(times) - 1
        acc: list[list[float]] = []
        gyr: list[list[float]] = []
        lost: list[bool] = []
        after = start
        for t_s in grid:
            after = bisect_right(times, t_s, start)
            below = max(min(after, last) - 1, start)
            t0, ax0, ay0, az0, gx0, gy0, gz0 = rows[below]
            t1, ax1, ay1, az1, gx1, gy1, gz1 = rows[below + 1]
            span = t1 - t0
            w = min(max((t_s - t0) / span, 0.0), 1.0)
            acc.append([ax0 + w * (ax1 - ax0), ay0 + w * (ay1 - ay0), az0 + w * (az1 - az0)])
            gyr.append([gx0 + w * (gx1 - gx0), gy0 + w * (gy1 - gy0), gz0 + w * (gz1 - gz0)])
            lost.append(span > max_gap_s and t0 < t_s < t1)
        self._drop_front(after - start - 1)
        return acc, gyr, lost

    def drop_before(self, t_s: float) -> None:
        self._drop_front(bisect_right(self._times, t_s, self._start) - self._start - 1)


# GridHistory columns: time, up sacrum, up thigh, gyr sacrum, gyr thigh, gap flag.
_UP = {"sacrum": slice(1, 4), "thigh": slice(4, 7)}
_GRID_GYR = {"sacrum": slice(7, 10), "thigh": slice(10, 13)}
_GAP = 13
GRID_WIDTH = 14


class GridHistory:
    """Grid history: time, both up-vectors, both gyro rates, gap flags (ring-trimmed).

    `t_s`, `up[p]`, `gyr[p]` are views of the live rows (valid until the next `extend`).
    """

    def __init__(self) -> None:
        self._rows = RowBuffer(GRID_WIDTH, capacity=1024)
        self.offset = 0  # absolute index of element 0

    @property
    def t_s(self) -> np.ndarray:
        return self._rows.rows[:, 0]

    @property
    def up(self) -> dict[str, np.ndarray]:
        rows = self._rows.rows
        return {p: rows[:, _UP[p]] for p in PLACEMENTS}

    @property
    def gyr(self) -> dict[str, np.ndarray]:
        rows = self._rows.rows
        return {p: rows[:, _GRID_GYR[p]] for p in PLACEMENTS}

    @property
    def in_gap(self) -> np.ndarray:
        flags: np.ndarray = self._rows.rows[:, _GAP] != 0.0
        return flags

    @property
    def size(self) -> int:
        return len(self._rows)

    def first_t_s(self) -> float:
        return float(self._rows.rows[0, 0])

    def last_up(self, placement: str) -> np.ndarray:
        return self._rows.rows[-1, _UP[placement]].copy()

    def extend(
        self,
        t_s: np.ndarray,
        up: dict[str, np.ndarray],
        gyr: dict[str, np.ndarray],
        in_gap: np.ndarray,
    ) -> None:
        block = np.empty((t_s.size, GRID_WIDTH))
        block[:, 0] = t_s
        for p in PLACEMENTS:
            block[:, _UP[p]] = up[p]
            block[:, _GRID_GYR[p]] = gyr[p]
        block[:, _GAP] = in_gap
        self._rows.append(block)

    def extend_rows(self, rows: list[list[float]]) -> None:
        """`extend` with the rows already laid out as plain floats (`GRID_WIDTH` each)."""
        self._rows.append(rows)

    def trim_before(self, absolute_index: int) -> None:
        cut = absolute_index - self.offset
        if cut <= 0:
            return
        self._rows.drop_front(cut)
        self.offset = absolute_index

    @property
    def end(self) -> int:
        return self.offset + len(self._rows)
