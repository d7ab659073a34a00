"""Samples a sensor took but never delivered: the one `Gap` type, how a gap is sized, which one
is reported, and every threshold that decides one.

Three places see a gap, each from what only it knows:

- the clock mapper (`sensor_gateway.clock`), inside a stream: a jump of the packet sequence
  number (`SEQUENCE`), of the sensor clock (`CLOCK`), or, for a count-timed sensor, receive
  times running persistently ahead of the mapped times (`LATE`);
- the BLE link (`sensor_gateway.ble.link`), across a reconnect: from the last batch delivered
  before the drop and the first one after it (`reconnect_gap`, `RECONNECT`), at the rate the
  sensor's timestamps were measured to step at (its own `SampleInterval`);
- the gateway, for a source that says it reconnected without sizing the gap: from when it said
  the sensor was disconnected, at the rate the sensor was measured to stream at
  (`SensorClockMapper.measured_rate_hz`; the nominal rate before any was measured).

`GapTracker` (one per sensor, owned by the gateway) decides which of them is reported, once:
the reconnect gap when the sensor streams again, and not the mapper's gap in the first batch
after it (the same samples, seen again as a sequence or clock jump).

Thresholds, all in one place:

- `SENSOR_CLOCK_WRAP_S`: sensor clocks are 32-bit microsecond counters; a gap is measured
  modulo their wrap (71.6 min).
- `CLOCK_DISAGREEMENT_TOLERANCE_S` (0.5 s): a reconnect gap on the sensor clock longer than the
  gap on the gateway clock by more than this means the sensor's clock restarted (a reboot); the
  gateway clock sizes it instead.
- `CLOCK_RESET_JUMP_S` (2 s): a timestamped sensor whose samples arrive this much later than
  mapped restarted (or stalled) its clock: the mapper starts a new epoch.
- `CLOCK_AHEAD_S` (`MAX_LATENCY_S`, 0.25 s): a timestamped sample mapped this much after it
  arrived: its clock jumped forward, for a sample cannot arrive before it was taken (mapped
  times are the minimum-latency line, which a fall of the minimum latency, itself below
  `MAX_LATENCY_S`, is all that can put after an arrival). Samples lost make the arrivals
  pause as long as the sensor clock does, so they never look like this: the mapper starts a
  new epoch and counts only what the arrivals leave room for (usually nothing: no gap). A
  jump forward by less than this is still taken for lost samples (the two cannot be told
  apart without a sequence number).
- `GAP_STEP_FACTOR` (1.5): a step of the sensor clock is a gap only when it is more than this
  many times the sensor's measured sample interval (`SampleInterval`: the median of its recent
  steps, from `INTERVAL_MIN_STEPS` on; the smallest step seen before). A sensor streams at its
  own rate, not always at the one it was asked for (52 Hz when asked for 100 Hz): a step of
  1/52 s is no lost sample. `SampleInterval.rate_hz` is also the rate every gap is sized at.
- `RATE_CHANGE_STEPS` (4) within `RATE_CHANGE_TOLERANCE` (5 %): a sensor whose rate falls
  mid-stream (100 -> 50 Hz: a firmware lowering its output rate) makes every later step look
  like a gap, and a gap step never enters the median. So that many gap steps in a row of
  about the same size are its new interval, and the estimate restarts from them. To the
  sensor clock alone, losing every other packet (a weak link) looks the same as half the
  rate, so a long step is first judged by what the packets themselves say (`step`):
  - a sequence number that jumped says packets were lost: a gap, never a new interval;
    its samples are counted at the interval the packets say (a packet's own step; one
    sample a packet: the sequence numbers count them), not the one measured before, which
    a rate changing as they are lost makes wrong (a fall doubled them, a rise hid them);
  - a packet of several samples steps at the interval the sensor samples at, whatever was
    lost before it: if the step before it is still longer than `GAP_STEP_FACTOR` of its own
    steps, samples were lost (a gap); if its own steps are as long, the rate fell (no gap,
    not even the first);
  - a one-sample packet with no sequence number jump to tell (or no sequence number): the
    clock alone cannot tell the two, and the run rule decides: the first step is reported,
    the rest are not. (A steady "1 lost" every packet from a sensor that really slowed down
    would be false for ever; a wrong adoption still marks where it began, and the stored
    sensor times keep the true sample times.) A real loss is one larger step followed by the
    old interval: still one gap of its size; two equal losses in a row report only the first
    (the stored times still show the second).
- `MAX_LATENCY_S` (0.25 s) for `LATE_CONFIRM_S` (0.2 s): a count-timed sensor whose samples
  arrive this much later than mapped, for this long, lost samples it cannot number: the mapper
  re-anchors the count (a `LATE` gap). BLE latency stays well below it unless the link fails,
  and a latency spike is shorter (the packets after it are on time).

Analysis has its own two, on the samples as stored (`fusion.resample.DEFAULT_MAX_GAP_S`, 0.05 s:
a gap worth a quality finding; `fusion.gaps.LONG_GAP_S`, 0.25 s: orientation is re-seeded
after it instead of integrated across).
"""

from __future__ import annotations

import bisect
import enum
import math
from collections import deque
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from sensor_gateway.samples import SampleBatch

SENSOR_CLOCK_WRAP_S = 2**32 * 1e-6
CLOCK_DISAGREEMENT_TOLERANCE_S = 0.5
CLOCK_RESET_JUMP_S = 2.0
MAX_LATENCY_S = 0.25
CLOCK_AHEAD_S = MAX_LATENCY_S
LATE_CONFIRM_S = 0.2
GAP_STEP_FACTOR = 1.5
INTERVAL_WINDOW_STEPS = 64  # recent steps the median is taken over
INTERVAL_MIN_STEPS = 8  # steps seen before the median is trusted
RATE_CHANGE_STEPS = 4  # equal gap steps in a row that are a new interval, not losses
RATE_CHANGE_TOLERANCE = 0.05  # how equal: relative to the first of them


class GapReason(enum.StrEnum):
    """How a gap was found."""

    SEQUENCE = "seq"  # packet sequence numbers jumped
    CLOCK = "clock"  # the sensor clock jumped (or restarted)
    LATE = "late"  # a count-timed sensor's samples arrived persistently late
    RECONNECT = "reconnect"  # the link dropped and came back


@dataclass(frozen=True)
class Gap:
    """Samples missing between two deliveries of one sensor, on the gateway clock.

    `start_s` is the time of the last sample (or batch) before the gap, `end_s` of the first
    after it. `missing_samples` is None only where a source could not size it (no rate known);
    the gateway sizes such a gap at the sensor's measured rate before reporting it.
    """

    start_s: float
    end_s: float
    missing_samples: int | None
    reason: GapReason

    @property
    def duration_s(self) -> float:
        return self.end_s - self.start_s

    @property
    def missing_text(self) -> str:
        """'1 sample', '300 samples' or 'samples' (not sized), for messages."""
        n = self.missing_samples
        return "samples" if n is None else f"{n} sample" if n == 1 else f"{n} samples"


class SampleInterval:
    """A sensor's real sample interval, measured from the steps of its clock (or count).

    Steps are added as the samples come: `add_batch` the steps within one packet (their mean,
    counting for all of them), `add_step` one step between packets that was not a gap. The
    interval is the median of the last `INTERVAL_WINDOW_STEPS` entries, so a few late,
    early or lost samples do not move it. `nominal_rate_hz` (the rate asked for; None when
    unknown) stands in until a step was seen. `step` follows a fall of the rate too: a run
    of `RATE_CHANGE_STEPS` equal gap steps is adopted as the new interval, unless the
    packets say samples were lost (a sequence number jump, or their own steps still at a
    shorter interval: the module docstring).
    """

    def __init__(self, nominal_rate_hz: float | None = None) -> None:
        self._recent: deque[float] = deque()
        self._sorted: list[float] = []
        self._packet_samples = (0, 0)  # samples in the packet before the last one, in the last
        self.clear(nominal_rate_hz)

    def clear(self, nominal_rate_hz: float | None = None) -> None:
        """Forget the steps seen (they were at another rate)."""
        self.nominal_rate_hz = nominal_rate_hz
        self.steps_seen = 0
        self._recent.clear()
        self._sorted.clear()
        self._smallest_s = math.inf
        self._gap_run_s: list[float] = []  # gap steps in a row of about the same size
        self._packet_step_s: float | None = None  # within the last packet; None: one sample

    def add_batch(self, first_s: float, last_s: float, n: int) -> None:
        """A packet of `n` samples from sensor time `first_s` to `last_s`: its steps are
        measured, and the next `step` (the one before this packet) is judged against them."""
        self._packet_step_s = None
        self._packet_samples = (self._packet_samples[1], n)
        if n > 1 and last_s > first_s:
            self._packet_step_s = (last_s - first_s) / (n - 1)
            self._add(self._packet_step_s, n - 1)

    def add_step(self, step_s: float) -> None:
        """One step between packets that was not a gap."""
        if step_s > 0:
            self._add(step_s, 1)

    def _add(self, step_s: float, count: int) -> None:
        self.steps_seen += count
        self._smallest_s = min(self._smallest_s, step_s)
        self._recent.append(step_s)
        bisect.insort(self._sorted, step_s)
        if len(self._recent) > INTERVAL_WINDOW_STEPS:
            old = self._recent.popleft()
            del self._sorted[bisect.bisect_left(self._sorted, old)]

    @property
    def interval_s(self) -> float | None:
        """The median of the recent steps; 1 / nominal rate before any; None if neither."""
        k = len(self._sorted)
        if k:
            mid = k // 2
            return self._sorted[mid] if k % 2 else 0.5 * (self._sorted[mid - 1] + self._sorted[mid])
        return 1.0 / self.nominal_rate_hz if self.nominal_rate_hz else None

    @property
    def rate_hz(self) -> float | None:
        """Samples per second of the sensor's clock as it streams (`1 / interval_s`)."""
        interval_s = self.interval_s
        return 1.0 / interval_s if interval_s else None

    def step(self, step_s: float, packets_lost: int | None = None) -> int:
        """Judge one step between packets (`missing_in_step`) and, unless it is a gap, add
        it: the samples lost in it. `step_s` ends at the first sample of the packet given
        last to `add_batch`; `packets_lost` is what the sequence numbers say of the step (None
        when the sensor sends none). A step is a loss when the packets say so
        (`packets_lost` > 0, even where the clock alone saw none, or the packet's own steps
        still at a shorter interval), sized at their interval (`_lost_in_step`); else it
        may be a new, longer interval: when the packet's own steps are as long, or (one-sample
        packets) when it is the size of the gap step just before it (within
        `RATE_CHANGE_TOLERANCE`; the first of them is reported), it is not a loss: 0. Once
        `RATE_CHANGE_STEPS` of them are in a row, the estimate restarts from them."""
        packet_step_s = self._packet_step_s
        if packets_lost is not None and packets_lost > 0:
            self._gap_run_s.clear()  # samples lost, whatever the clock's steps before it
            return self._lost_in_step(step_s, packets_lost)
        missing = self.missing_in_step(step_s)
        if missing == 0:
            self._gap_run_s.clear()
            self.add_step(step_s)
            return 0
        if packet_step_s is not None and step_s > GAP_STEP_FACTOR * packet_step_s:
            self._gap_run_s.clear()
            return self._lost_in_step(step_s, packets_lost)
        rate_fell = packet_step_s is not None  # its own samples step as long: the sensor said
        run = self._gap_run_s
        if run and abs(step_s - run[0]) <= RATE_CHANGE_TOLERANCE * run[0]:
            run.append(step_s)
            if len(run) >= RATE_CHANGE_STEPS:  # the sensor streams slower now
                self._restart_from(run)
            return 0
        self._gap_run_s = [step_s]  # the first step at a lower rate (or, unsaid, a loss)
        return 0 if rate_fell else missing

    def _lost_in_step(self, step_s: float, packets_lost: int | None) -> int:
        """Samples lost in a step the packets call a loss, sized at the interval they sample
        at, not the one measured before (the rate may have changed as they were lost): the
        packet's own step; in a stream of one-sample packets (this one and the one before it)
        the sequence number counts them, one sample each, and the step measures the interval
        (`packets_lost` + 1 of them)."""
        packet_step_s = self._packet_step_s
        if packet_step_s is not None:
            return _samples_lost_in(step_s, packet_step_s)
        if packets_lost is not None and packets_lost > 0 and self._packet_samples == (1, 1):
            self.add_step(step_s / (packets_lost + 1))
            return packets_lost
        return self.missing_in_step(step_s)  # (a short last packet of a longer stream too)

    def _restart_from(self, steps_s: list[float]) -> None:
        """Forget the steps seen (at the old rate) and measure from `steps_s` on."""
        steps_s = list(steps_s)
        self.clear(self.nominal_rate_hz)
        for s in steps_s:
            self._add(s, 1)

    def missing_in_step(self, step_s: float) -> int:
        """Samples lost in a step of `step_s` between two samples: 0 unless the step is more
        than `GAP_STEP_FACTOR` measured intervals (the smallest step seen, including this
        one, until `INTERVAL_MIN_STEPS` were seen: a slower sensor's first step is no gap)."""
        if self.steps_seen >= INTERVAL_MIN_STEPS:
            reference_s = self.interval_s
        elif self.steps_seen:
            reference_s = min(self._smallest_s, step_s)
        else:
            return 0  # the first step: nothing to tell a slow sensor from a lost sample
        if not reference_s or not step_s > GAP_STEP_FACTOR * reference_s:
            return 0
        return _samples_lost_in(step_s, reference_s)


def _samples_lost_in(step_s: float, interval_s: float) -> int:
    """Samples lost in a gap step of `step_s` at `interval_s` a sample: at least one."""
    return max(1, int(round(step_s / interval_s)) - 1)


def packets_lost_between(last_seq: int | None, seq: int | None) -> int | None:
    """Packets the sequence numbers say were lost between two packets (`seq` unwrapped, as the
    decoders give it): None when either has none, or the counter went back (it restarted)."""
    if last_seq is None or seq is None or seq <= last_seq:
        return None
    return seq - last_seq - 1


def missing_samples(
    last_before: SampleBatch, first_after: SampleBatch, rate_hz: float | None
) -> int | None:
    """Samples taken by the sensor between the last one delivered before a gap and the first
    one delivered after it.

    Exact from sensor timestamps when both batches carry them (and the clock did not
    restart); otherwise estimated from the gateway receive times at `rate_hz`, counting the
    samples of `first_after` as taken just before it arrived. None when no rate is known.
    """
    if rate_hz is None or rate_hz <= 0:
        return None
    wall_gap_s = first_after.received_s - last_before.received_s
    if last_before.sensor_time_s is not None and first_after.sensor_time_s is not None:
        sensor_gap_s = (
            float(first_after.sensor_time_s[0]) - float(last_before.sensor_time_s[-1])
        ) % SENSOR_CLOCK_WRAP_S
        if sensor_gap_s <= wall_gap_s + CLOCK_DISAGREEMENT_TOLERANCE_S:
            return max(0, round(sensor_gap_s * rate_hz) - 1)
    n_first = int(first_after.acc_mps2.shape[0])
    return max(0, math.floor(wall_gap_s * rate_hz + 0.5) - n_first)


def reconnect_gap(last_before: SampleBatch, first_after: SampleBatch, rate_hz: float | None) -> Gap:
    """The gap across a reconnect, between the batches received either side of it."""
    return Gap(
        last_before.received_s,
        first_after.received_s,
        missing_samples(last_before, first_after, rate_hz),
        GapReason.RECONNECT,
    )


class GapTracker:
    """Decides, for one sensor, which gaps are reported (see the module docstring)."""

    def __init__(self) -> None:
        self.disconnected_at_s: float | None = None  # since the first drop not yet recovered
        self._reconnect_reported = False

    def disconnected(self, at_s: float) -> None:
        """The link dropped (a later drop before it streams again changes nothing)."""
        if self.disconnected_at_s is None:
            self.disconnected_at_s = at_s

    def streaming(self, reported: Gap | None, at_s: float, rate_hz: float) -> Gap | None:
        """The sensor streams (again) at `at_s`: the reconnect gap to report, or None when it
        had not dropped. The source's own account (`reported`) wins; missing parts come from
        the drop time and `rate_hz`, the rate the sensor streamed at (as measured)."""
        start_s = reported.start_s if reported is not None else self.disconnected_at_s
        if start_s is None:
            return None
        end_s = reported.end_s if reported is not None else at_s
        missing = reported.missing_samples if reported is not None else None
        if missing is None:
            missing = max(0, int(round((end_s - start_s) * rate_hz)))
        self.disconnected_at_s = None
        self._reconnect_reported = True
        return Gap(start_s, end_s, missing, GapReason.RECONNECT)

    def batch(self, mapped: Gap | None) -> Gap | None:
        """The mapper's gap before a batch, unless it is the reconnect gap reported already."""
        after_reconnect, self._reconnect_reported = self._reconnect_reported, False
        return None if after_reconnect else mapped
