"""Samples a sensor took but never delivered: the one `Gap` type, how a gap is sized, which one
is reported, and every threshold that decides one.

Three places see a gap, each from what only it knows:

- the clock mapper (`sensor_gateway.clock`), inside a stream: a jump of the packet sequence
  number (`SEQUENCE`), of the sensor clock (`CLOCK`), or, for a count-timed sensor, receive
  times running persistently ahead of the mapped times (`LATE`);
- the BLE link (`sensor_gateway.ble.link`), across a reconnect: from the last batch delivered
  before the drop and the first one after it (`reconnect_gap`, `RECONNECT`);
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
- `MAX_LATENCY_S` (0.25 s) for `LATE_CONFIRM_S` (0.2 s): a count-timed sensor whose samples
  arrive this much later than mapped, for this long, lost samples it cannot number: the mapper
  re-anchors the count (a `LATE` gap). BLE latency stays well below it unless the link fails,
  and a latency spike is shorter (the packets after it are on time).

Analysis has its own two, on the samples as stored (`fusion.resample.DEFAULT_MAX_GAP_S`, 0.05 s:
a gap worth a quality finding; `fusion.gaps.LONG_GAP_S`, 0.25 s: orientation is re-seeded
after it instead of integrated across).
"""

from __future__ import annotations

import enum
import math
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
