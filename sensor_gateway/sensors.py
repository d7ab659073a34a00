"""The gateway's book of sensors: who wears each one, its link, its clock and its gaps.

`SensorRegistry` owns one `SensorState` per sensor address (created on first sight, or listed
as assigned and not seen yet), keeps each state's assignment in step with the
`Assignments` (whatever changes them, the registry follows at once), maps every batch's sample times to the gateway clock and decides which gaps
are reported (`sensor_gateway.gaps.GapTracker`). It publishes nothing: the `Gateway` turns
what it returns into events. Called from the gateway's event-loop thread only.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from sensor_gateway.clock import MappedBatch, SensorClockMapper
from sensor_gateway.config import Assignments, SensorAssignment
from sensor_gateway.events import Placement
from sensor_gateway.gaps import Gap, GapTracker
from sensor_gateway.samples import LinkState, SampleBatch, SensorKind, SensorStatus


@dataclass
class SensorState:
    """What the gateway knows about one sensor (mutable, owned by the registry)."""

    address: str
    kind: SensorKind
    mapper: SensorClockMapper
    assignment: SensorAssignment | None = None
    state: LinkState = LinkState.CONNECTING
    battery_pct: int | None = None
    rssi_dbm: int | None = None
    timestamped: bool | None = None
    gaps: GapTracker = field(default_factory=GapTracker)
    batches: int = 0
    samples: int = 0
    last_received_s: float = -math.inf


@dataclass(frozen=True)
class SensorSnapshot:
    """A sensor as shown to clients."""

    address: str
    kind: SensorKind
    athlete_id: str | None
    placement: Placement | None
    state: LinkState
    battery_pct: int | None
    rssi_dbm: int | None
    samples: int
    gaps: int
    samples_missing: int
    drift_ppm: float
    last_received_s: float


@dataclass(frozen=True)
class BatchSeen:
    """A well-formed batch as the registry booked it: the sensor, its samples' gateway-clock
    times and the gap before them that is to be reported (None: none, or reported already)."""

    sensor: SensorState
    mapped: MappedBatch
    gap: Gap | None


class SensorRegistry:
    """Every sensor seen or assigned (see the module docstring)."""

    def __init__(
        self, assignments: Assignments, *, default_rate_hz: float, max_latency_s: float
    ) -> None:
        self.assignments = assignments
        self.default_rate_hz = default_rate_hz
        self.max_latency_s = max_latency_s
        self._sensors: dict[str, SensorState] = {}
        assignments.on_change(self._refresh)

    # -- assignments -----------------------------------------------------------------------
    def assign(
        self,
        address: str,
        kind: SensorKind | str,
        athlete_id: str,
        placement: Placement | str,
        *,
        rate_hz: int | None = None,
    ) -> SensorAssignment:
        """Assign a sensor; takes effect with its next batch. Raises ConfigError."""
        return self.assignments.assign(address, kind, athlete_id, placement, rate_hz=rate_hz)

    def unassign(self, address: str) -> bool:
        return self.assignments.unassign(address)

    def replace(self, assignments: list[SensorAssignment]) -> None:
        """Replace every assignment (e.g. with the database's at start)."""
        self.assignments.replace(assignments)

    # -- what the sources report -----------------------------------------------------------
    def batch(self, batch: SampleBatch, n: int) -> BatchSeen:
        """Book a well-formed batch of `n` samples: clock mapping, counters, link, gap."""
        st = self.sensor(batch.address, batch.kind)
        st.timestamped = batch.sensor_time_s is not None
        if batch.nominal_rate_hz:
            st.mapper.adopt_nominal_rate(batch.nominal_rate_hz)
        mapped = st.mapper.map(batch)
        st.batches += 1
        st.samples += n
        st.last_received_s = batch.received_s
        st.state = LinkState.STREAMING
        return BatchSeen(st, mapped, st.gaps.batch(mapped.gap))

    def status(self, status: SensorStatus) -> tuple[SensorState, Gap | None]:
        """Book a link change: the sensor, and the reconnect gap to report if it streams again
        after a drop."""
        st = self.sensor(status.address, None)
        st.state = status.state
        if status.battery_pct is not None:
            st.battery_pct = status.battery_pct
        if status.rssi_dbm is not None:
            st.rssi_dbm = status.rssi_dbm
        gap: Gap | None = None
        if status.state is LinkState.DISCONNECTED:
            st.gaps.disconnected(status.at_s)
        elif status.state is LinkState.STREAMING:
            gap = st.gaps.streaming(status.gap, status.at_s, st.mapper.measured_rate_hz)
            if gap is not None and st.timestamped is False:
                st.mapper.restart()  # a count-timed sensor starts counting again
        return st, gap

    # -- reading ---------------------------------------------------------------------------
    def sensor(self, address: str, kind: SensorKind | None) -> SensorState:
        """The state of the sensor at `address` (created on first sight)."""
        key = address.strip().upper()
        st = self._sensors.get(key)
        if st is None:
            assignment = self.assignments.get(key)
            rate_hz = (
                assignment.rate_hz if assignment and assignment.rate_hz else self.default_rate_hz
            )
            st = SensorState(
                address=key,
                kind=kind or (assignment.kind if assignment else SensorKind.SIMULATED),
                mapper=SensorClockMapper(rate_hz, max_latency_s=self.max_latency_s),
                assignment=assignment,
            )
            self._sensors[key] = st
        elif kind is not None:
            st.kind = kind
        return st

    def seen(self, address: str) -> SensorState | None:
        """The state of the sensor at `address` if it has been heard from (created by none)."""
        return self._sensors.get(address.strip().upper())

    def snapshots(self) -> list[SensorSnapshot]:
        """Every sensor seen or assigned, with its link state and counters."""
        out = [
            SensorSnapshot(
                address=st.address,
                kind=st.kind,
                athlete_id=st.assignment.athlete_id if st.assignment else None,
                placement=st.assignment.placement if st.assignment else None,
                state=st.state,
                battery_pct=st.battery_pct,
                rssi_dbm=st.rssi_dbm,
                samples=st.samples,
                gaps=st.mapper.gaps,
                samples_missing=st.mapper.samples_missing,
                drift_ppm=st.mapper.drift * 1e6,
                last_received_s=st.last_received_s,
            )
            for st in self._sensors.values()
        ]
        out += [
            SensorSnapshot(
                address=a.address,
                kind=a.kind,
                athlete_id=a.athlete_id,
                placement=a.placement,
                state=LinkState.SCANNING,
                battery_pct=None,
                rssi_dbm=None,
                samples=0,
                gaps=0,
                samples_missing=0,
                drift_ppm=0.0,
                last_received_s=-math.inf,
            )
            for a in self.assignments.all()
            if a.address not in self._sensors
        ]
        return out

    def _refresh(self) -> None:
        for st in self._sensors.values():
            st.assignment = self.assignments.get(st.address)
