"""Map each sensor's clock to the gateway clock; detect lost packets.

A packet's receive time is its sample time plus a latency that is never negative (radio
connection interval, retransmissions, the OS): `received_s = t_true + latency_s`. Against
the sensor's own clock (offset and drift of tens to hundreds of ppm):

    received_s - sensor_s = a + b * (sensor_s - ref_s) + latency_s,    latency_s >= 0

so the line we want is the *lower envelope* of the points (sensor_s, received_s - sensor_s):
the minimum-delay line fit (Moon, Skelly & Towsley 1999, for network clock skew). Choosing
the line below every point that maximises its height at the points' mean sensor time is a
linear programme whose solution is the lower-convex-hull edge above that mean; that is
what `lower_envelope_line` computes. Points are reduced to one per `bucket_s` of sensor
time (the lowest-delay packet of the bucket) and the fit uses the last `fit_window_s`.

What remains unobservable is the constant minimum latency: mapped times are the sample
times plus the smallest latency seen (a few ms over BLE). Both sensors of an athlete go
through the same radio and see nearly the same minimum, so their alignment is much better
than either's absolute time.

Protocols without a sensor clock (WitMotion): the sensor time of sample k is k / nominal
rate, and the same fit then estimates the sensor's true rate (slope b) and offset. Lost
packets are detected from sequence numbers (when the protocol has them), from jumps of the
sensor clock, and for count-timed sensors from the receive times running ahead of the
mapped times by more than `max_latency_s` (then the count is re-anchored). The `Gap` type
and every threshold that decides a gap are in `sensor_gateway.gaps`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from sensor_gateway.gaps import (
    CLOCK_AHEAD_S,
    CLOCK_DISAGREEMENT_TOLERANCE_S,
    CLOCK_RESET_JUMP_S,
    LATE_CONFIRM_S,
    MAX_LATENCY_S,
    SENSOR_CLOCK_WRAP_S,
    Gap,
    GapReason,
    SampleInterval,
    packets_lost_between,
)
from sensor_gateway.samples import SampleBatch

DEFAULT_BUCKET_S = 1.0  # one envelope point per second of sensor time
DEFAULT_FIT_WINDOW_S = 120.0  # drift of a crystal is stable over minutes
# Drift is fitted only over at least this much sensor time; before, offset only (100 ppm
# over 5 s is 0.5 ms).
DEFAULT_MIN_FIT_SPAN_S = 5.0
MIN_STEP_S = 1e-6  # mapped times are kept strictly increasing by at least this


@dataclass(frozen=True)
class MappedBatch:
    """Gateway-clock times `t_s` (N,) of one batch's samples, and a gap before it if any.

    `sensor_time_s` (N,) the batch's sensor times as one growing clock across the sensor's
    connections (a decoder unwraps its clock within one connection only), None when it has
    no clock.
    """

    t_s: np.ndarray
    gap: Gap | None = None
    clock_reset: bool = False
    sensor_time_s: np.ndarray | None = None


def lower_envelope_line(x: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    """Line y = a + b * x below every point, as high as possible at mean(x) -> (a, b).

    `x` must be strictly increasing. One point gives a flat line through it.
    """
    n = x.shape[0]
    if n == 0:
        raise ValueError("need at least one point")
    if n == 1:
        return float(y[0]), 0.0
    hull: list[int] = []  # lower convex hull (monotone chain), indices into x/y
    for i in range(n):
        while len(hull) >= 2:
            o, p = hull[-2], hull[-1]
            cross = (x[p] - x[o]) * (y[i] - y[o]) - (y[p] - y[o]) * (x[i] - x[o])
            if cross <= 0:
                hull.pop()
            else:
                break
        hull.append(i)
    x_mean = float(np.mean(x))
    for left, right in zip(hull, hull[1:]):
        if x[left] <= x_mean <= x[right]:
            slope = (y[right] - y[left]) / (x[right] - x[left])
            return float(y[left] - slope * x[left]), float(slope)
    # x_mean always lies within [x[0], x[-1]], covered by the hull edges.
    raise AssertionError("unreachable: mean outside the hull")


def map_clock_offline(
    sensor_s: np.ndarray,
    received_s: np.ndarray,
    *,
    bucket_s: float = DEFAULT_BUCKET_S,
    min_fit_span_s: float = DEFAULT_MIN_FIT_SPAN_S,
) -> np.ndarray | None:
    """Gateway-clock times of a whole recorded set's samples from what the sensor sent
    (its timestamps `sensor_s` (N,) and packet receive times `received_s` (N,)).

    The same minimum-delay line as the live mapper, but fitted once over the whole set
    (non-causal), so the first seconds (mapped live before any drift was known) are mapped
    as well as the rest. None when the sensor times cannot be used as one clock (missing,
    not increasing: a clock reset; or jumping forward, its samples arriving `CLOCK_AHEAD_S`
    earlier against it from one second to the next), in which case the live mapping, which
    starts a new epoch there, is all there is.
    """
    sensor_s = np.asarray(sensor_s, dtype=float)
    received_s = np.asarray(received_s, dtype=float)
    if (
        sensor_s.size < 2
        or sensor_s.shape != received_s.shape
        or not (np.all(np.isfinite(sensor_s)) and np.all(np.isfinite(received_s)))
        or not np.all(np.diff(sensor_s) > 0)
    ):
        return None
    x = sensor_s - sensor_s[0]
    y = received_s - sensor_s
    bucket = np.floor(x / bucket_s).astype(np.int64)
    order = np.lexsort((y, bucket))  # by bucket, lowest delay first
    first = np.ones(order.size, dtype=bool)
    first[1:] = bucket[order][1:] != bucket[order][:-1]
    xs, ys = x[order][first], y[order][first]
    if np.any(np.diff(ys) < -CLOCK_AHEAD_S):  # one line cannot map both sides of the jump
        return None
    if xs[-1] - xs[0] >= min_fit_span_s:
        offset_s, drift = lower_envelope_line(xs, ys)
    else:
        offset_s, drift = float(np.min(y)), 0.0
    mapped: np.ndarray = sensor_s + offset_s + drift * x
    return mapped


class SensorClockMapper:
    """Online mapping of one sensor's samples to the gateway clock (see module docstring).

    `nominal_rate_hz` times the samples of sensors whose batches carry no `sensor_time_s`,
    and sizes gaps until the real sample interval has been seen. `interval` is that measured
    interval (`gaps.SampleInterval`): a step of the sensor clock is a gap only when it is
    clearly longer than it.
    """

    def __init__(
        self,
        nominal_rate_hz: float,
        *,
        bucket_s: float = DEFAULT_BUCKET_S,
        fit_window_s: float = DEFAULT_FIT_WINDOW_S,
        min_fit_span_s: float = DEFAULT_MIN_FIT_SPAN_S,
        max_latency_s: float = MAX_LATENCY_S,
    ) -> None:
        if not nominal_rate_hz > 0:
            raise ValueError(f"nominal_rate_hz must be positive, got {nominal_rate_hz}")
        self.nominal_rate_hz = float(nominal_rate_hz)
        self.bucket_s = bucket_s
        self.fit_window_s = fit_window_s
        self.min_fit_span_s = min_fit_span_s
        self.max_latency_s = max_latency_s
        self.offset_s = math.nan  # a: (received - sensor) at the reference sensor time
        self.drift = 0.0  # b: gateway seconds gained per sensor second (ppm * 1e-6)
        self._ref_s = 0.0
        self._points_x: list[float] = []  # one lowest-delay point per completed bucket
        self._points_y: list[float] = []
        self._bucket_index: int | None = None
        self._bucket_best: tuple[float, float] | None = None
        self.interval = SampleInterval(self.nominal_rate_hz)
        self._last_sensor_s: float | None = None
        self._last_received_s = -math.inf
        self._clock_wraps_s = 0.0  # added to sensor times: wraps before this connection
        self._last_t_s = -math.inf
        self._last_seq: int | None = None
        self._count = 0  # samples counted, for count-timed sensors
        self._late_since_s: float | None = None
        self.samples_mapped = 0
        self.gaps = 0
        self.samples_missing = 0
        self.clock_resets = 0

    # -- public -----------------------------------------------------------------------------
    def map(self, batch: SampleBatch) -> MappedBatch:
        """Gateway-clock times of `batch`'s samples (strictly increasing across calls)."""
        n = int(batch.acc_mps2.shape[0])
        missing_by_seq = self._missing_packets(batch.seq)
        timestamped = batch.sensor_time_s is not None
        if timestamped:
            sensor_s = self._unwrapped(np.asarray(batch.sensor_time_s, dtype=float), batch)
        else:
            self._count += (missing_by_seq or 0) * n
            sensor_s = (self._count + np.arange(n)) / self.nominal_rate_hz
            self._count += n
        # A packet's few samples: plain floats where they save numpy calls, the same arithmetic.
        sensor_list: list[float] = sensor_s.tolist()
        first_s, last_s = sensor_list[0], sensor_list[-1]
        self.interval.add_batch(first_s, last_s, n)

        reset = self._check_reset(first_s, last_s, batch.received_s, timestamped)
        previous_last_s = self._last_sensor_s
        self._add_point(last_s, batch.received_s)
        offset_s, drift, ref_s = self.offset_s, self.drift, self._ref_s
        first_t_s = first_s + offset_s + drift * (first_s - ref_s)

        gap = None
        if reset:
            # sized from the new epoch, anchored on this batch's arrival: what the arrivals
            # leave room for (a clock that jumped while they went on: nothing, no gap)
            interval_s = self.interval.interval_s or 1.0 / self.nominal_rate_hz
            missing = max(0, int(round((first_t_s - self._last_t_s) / interval_s)) - 1)
            if missing > 0:  # (none before the first batch: its _last_t_s is -inf)
                reason = GapReason.CLOCK if timestamped else GapReason.LATE
                gap = Gap(self._last_t_s, first_t_s, missing, reason)
        elif previous_last_s is not None:
            gap = self._gap(previous_last_s, first_s, n, first_t_s, missing_by_seq, timestamped)
        self._last_sensor_s = last_s
        self._last_received_s = batch.received_s

        # Strictly increasing even while the fit settles (it may step back by a few ms).
        floor_s = self._last_t_s
        mapped: list[float] = []
        for s, step in zip(sensor_list, _min_steps_s(n)):
            t = s + offset_s + drift * (s - ref_s)
            lowest = floor_s + step
            mapped.append(lowest if lowest > t else t)  # max(t, lowest), NaN included
        t_s = np.array(mapped)
        self._last_t_s = mapped[-1]
        self.samples_mapped += n
        if gap is not None:
            self.gaps += 1
            self.samples_missing += gap.missing_samples or 0
        return MappedBatch(
            t_s=t_s, gap=gap, clock_reset=reset, sensor_time_s=sensor_s if timestamped else None
        )

    @property
    def measured_rate_hz(self) -> float:
        """Samples per gateway second as the sensor streams them: the median of its recent
        sample steps outside gaps (on its clock, or its count; `interval`), in gateway seconds
        through the fitted drift; the nominal rate until a step was seen. What a gap's length
        in seconds is sized with: a sensor streams at its own rate, not always at the one it
        was asked for."""
        rate_hz = self.interval.rate_hz
        if self.interval.steps_seen == 0 or rate_hz is None:
            return self.nominal_rate_hz
        return rate_hz / (1.0 + self.drift)

    def adopt_nominal_rate(self, rate_hz: float) -> bool:
        """Use the sensor's configured rate if nothing was timed since the (re)start."""
        if not rate_hz > 0 or self._last_sensor_s is not None or rate_hz == self.nominal_rate_hz:
            return False
        self.nominal_rate_hz = float(rate_hz)
        self.interval.clear(self.nominal_rate_hz)  # the steps seen were at another rate
        return True

    def restart(self) -> None:
        """The sensor reconnected: its sample count / sequence restart; the drift is kept."""
        self._count = 0
        self._last_sensor_s = None
        self._last_seq = None
        self._reset_points()

    # -- internals --------------------------------------------------------------------------
    def _unwrapped(self, sensor_s: np.ndarray, batch: SampleBatch) -> np.ndarray:
        """`sensor_s` on one clock across connections: a clock behind the last sample that,
        measured modulo the wrap, went on no faster than the gateway clock wrapped before
        this connection (`gaps.missing_samples` sizes such a reconnect gap the same way)."""
        out: np.ndarray = sensor_s + self._clock_wraps_s
        first_s, last_s = float(out[0]), self._last_sensor_s
        if last_s is None or not first_s < last_s:
            return out
        step_s = (first_s - last_s) % SENSOR_CLOCK_WRAP_S
        wall_s = batch.received_s - self._last_received_s
        if step_s > wall_s + CLOCK_DISAGREEMENT_TOLERANCE_S:
            return out  # the clock restarted (or a stale packet): `_check_reset` judges
        wraps_s = SENSOR_CLOCK_WRAP_S * round((last_s + step_s - first_s) / SENSOR_CLOCK_WRAP_S)
        self._clock_wraps_s += wraps_s
        return out + wraps_s

    def _missing_packets(self, seq: int | None) -> int | None:
        """Packets lost before this one by its sequence number; None when unknown (no
        sequence number, the first packet, or the sensor restarted its counter)."""
        last = self._last_seq
        if seq is not None:
            self._last_seq = seq
        return packets_lost_between(last, seq)

    def _check_reset(
        self, first_s: float, last_s: float, received_s: float, timestamped: bool
    ) -> bool:
        """Start a new mapping epoch when the sensor clock (or sample count) is discontinuous;
        `first_s` / `last_s` the batch's first and last sensor times."""
        if math.isnan(self.offset_s):
            self._reset_points(anchor_s=first_s)
            return False
        if self._last_sensor_s is not None and first_s < self._last_sensor_s - 1e-9:
            reset = True  # sensor clock went backwards: it restarted
        else:
            residual_s = received_s - (last_s + self.offset_s + self.drift * (last_s - self._ref_s))
            if timestamped:  # arriving before it was taken: the clock jumped forward
                reset = residual_s > CLOCK_RESET_JUMP_S or residual_s < -CLOCK_AHEAD_S
            else:
                reset = self._count_timing_lost(residual_s, received_s)
        if reset:
            self.clock_resets += 1
            self._reset_points(anchor_s=first_s)
        return reset

    def _count_timing_lost(self, residual_s: float, received_s: float) -> bool:
        """Count-timed sensor: are the receive times persistently off the mapped times?

        Persistently behind: samples were lost with no sequence number to tell. Ahead: the
        nominal rate is far off. A latency spike is not persistent: the packets that follow
        it arrive on time again, so only `LATE_CONFIRM_S` of being off triggers a re-anchor.
        """
        if abs(residual_s) <= self.max_latency_s:
            self._late_since_s = None
            return False
        if self._late_since_s is None:
            self._late_since_s = received_s
        if received_s - self._late_since_s < LATE_CONFIRM_S:
            return False
        self._late_since_s = None
        return True

    def _reset_points(self, anchor_s: float | None = None) -> None:
        self._points_x.clear()
        self._points_y.clear()
        self._bucket_index = None
        self._bucket_best = None
        self.offset_s = math.nan
        if anchor_s is not None:
            self._ref_s = anchor_s

    def _add_point(self, sensor_s: float, received_s: float) -> None:
        x = sensor_s - self._ref_s
        y = received_s - sensor_s
        bucket = math.floor(x / self.bucket_s)
        if bucket != self._bucket_index:
            if self._bucket_best is not None:
                self._points_x.append(self._bucket_best[0])
                self._points_y.append(self._bucket_best[1])
                horizon = x - self.fit_window_s
                while self._points_x and self._points_x[0] < horizon:
                    self._points_x.pop(0)
                    self._points_y.pop(0)
            self._bucket_index = bucket
            self._bucket_best = (x, y)
            self._refit()
            return
        assert self._bucket_best is not None
        best_x, best_y = self._bucket_best
        if y - self.drift * x < best_y - self.drift * best_x:
            self._bucket_best = (x, y)
            if len(self._points_x) < 2:  # while warming up, follow every improvement
                self._refit()

    def _refit(self) -> None:
        """Fit the envelope to the completed buckets plus the current bucket's best point.

        Every point has latency >= 0, so the partial bucket is as valid as the others.
        The drift is only estimated once the points span `min_fit_span_s`: over a shorter
        span latency jitter would dominate it.
        """
        assert self._bucket_best is not None
        xs = np.asarray(self._points_x + [self._bucket_best[0]])
        ys = np.asarray(self._points_y + [self._bucket_best[1]])
        if xs[-1] - xs[0] >= self.min_fit_span_s:
            self.offset_s, self.drift = lower_envelope_line(xs, ys)
        else:
            self.offset_s = float(np.min(ys - self.drift * xs))

    def _to_gateway(self, sensor_s: np.ndarray) -> np.ndarray:
        return sensor_s + self.offset_s + self.drift * (sensor_s - self._ref_s)

    def _gap(
        self,
        previous_last_s: float,
        first_s: float,
        n: int,
        first_t_s: float,
        missing_by_seq: int | None,
        timestamped: bool,
    ) -> Gap | None:
        step_s = first_s - previous_last_s
        if timestamped:
            missing = self.interval.step(step_s, missing_by_seq)  # a step no gap is measured
            if missing <= 0:
                return None
        elif missing_by_seq:
            missing = missing_by_seq * n
        else:
            self.interval.add_step(step_s)  # the next count: one sample interval
            return None
        gap_start_s = float(self._to_gateway(np.array([previous_last_s]))[0])
        reason = GapReason.SEQUENCE if missing_by_seq else GapReason.CLOCK
        return Gap(gap_start_s, first_t_s, missing, reason)


_MIN_STEPS_S: dict[int, list[float]] = {}


def _min_steps_s(n: int) -> list[float]:
    """MIN_STEP_S * (1, 2, ..., n): how far past the last mapped time each sample must be."""
    steps = _MIN_STEPS_S.get(n)
    if steps is None:
        steps = (MIN_STEP_S * (1 + np.arange(n))).tolist()
        if n <= 64:  # packet sizes: a handful of them
            _MIN_STEPS_S[n] = steps
    return steps
