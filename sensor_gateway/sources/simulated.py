"""Simulated sensors: `fusion.simulator` sets streamed as sensor-like packets.

Each simulated athlete wears two sensors (sacrum, thigh) and performs a sequence of sets
back to back (each set begins and ends standing, so the stream never pauses). Packets carry
what real ones do: a sequence number, the sensor's own timestamps (the simulator's clock
with its drift, plus an arbitrary epoch), several samples each; packets the simulator lost
never arrive (their sequence numbers are skipped). Each packet is received after its last
sample was taken plus a one-sided latency (`LatencyModel`), in order per sensor.

Delivery is paced in real time (`realtime=True`, the default: the gateway clock is the
process's monotonic clock) or as fast as possible on a virtual clock for benchmarks.
With `encoding="winkwatch"` every packet is encoded with the WinkWatch GATT profile
encoder when the set is prepared and decoded by `WinkWatchDecoder` on delivery, so the
gateway sees exactly what the BLE path would hand it.

Ground truth for tests: a sample taken at simulator true time `t` belongs to gateway
clock `set_base_s + t`, and the mapped time should be that plus `LatencyModel.min_s`.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import dataclasses
import heapq
import itertools
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal, TypeVar

import numpy as np

from fusion.simulator import SimulatedSet, SquatSetSpec, random_spec, simulate_set
from sensor_gateway.discovery import DiscoveredSensor
from sensor_gateway.events import Placement, SetVariant
from sensor_gateway.samples import (
    BatchCallback,
    LinkState,
    SampleBatch,
    SensorKind,
    SensorStatus,
    StatusCallback,
)

if TYPE_CHECKING:
    from sensor_gateway.protocols.winkwatch import WinkWatchDecoder

Encoding = Literal["none", "winkwatch"]
T = TypeVar("T")
SENSOR_EPOCH_S = 1000.0  # sensor clocks start far from the gateway's: mapping must find it
SIMULATED_RSSI_DBM = -60  # what simulated sensors report as their signal and battery
SIMULATED_BATTERY_PCT = 100
YIELD_EVERY_PACKETS = 64  # fast mode: let other tasks (subscribers) run this often


@dataclass(frozen=True)
class LatencyModel:
    """Receive latency of a packet: `min_s` + exponential(`mean_extra_s`), with rare spikes."""

    min_s: float = 0.004
    mean_extra_s: float = 0.004
    spike_probability: float = 0.005
    spike_s: tuple[float, float] = (0.02, 0.1)

    def draw(self, rng: np.random.Generator, count: int) -> np.ndarray:
        latency = self.min_s + rng.exponential(self.mean_extra_s, count)
        spikes = rng.random(count) < self.spike_probability
        latency[spikes] += rng.uniform(*self.spike_s, int(spikes.sum()))
        return latency


@dataclass
class SimulatedAthlete:
    """One simulated athlete: two sensor addresses and the sets they perform.

    `sets`: the specs to perform in order; None repeats `random_spec` sets forever.
    `seed` makes everything reproducible.
    """

    athlete_id: str
    sets: list[SquatSetSpec] | None = None
    seed: int = 0
    variant: SetVariant = SetVariant.BACK_SQUAT
    load_kg: float | None = 80.0
    sacrum_address: str = ""
    thigh_address: str = ""

    def __post_init__(self) -> None:
        self.sacrum_address = self.sacrum_address or f"SIM-{self.athlete_id}-SACRUM".upper()
        self.thigh_address = self.thigh_address or f"SIM-{self.athlete_id}-THIGH".upper()

    def address(self, placement: Placement) -> str:
        return self.sacrum_address if placement is Placement.SACRUM else self.thigh_address


@dataclass(frozen=True)
class PlayedSet:
    """A set as it was streamed: the simulation (truth) and where its true t=0 lies on the gateway clock."""

    athlete_id: str
    index: int
    simulated: SimulatedSet
    base_s: float  # gateway clock of simulator true time 0
    first_received_s: float
    last_received_s: float


SetHook = Callable[[SimulatedAthlete, PlayedSet], None]


@dataclass(order=True)
class _Packet:
    received_s: float
    order: int
    address: str = field(compare=False)
    seq: int = field(compare=False)
    acc_mps2: np.ndarray = field(compare=False)
    gyr_radps: np.ndarray = field(compare=False)
    sensor_time_s: np.ndarray = field(compare=False)
    payload: bytes | None = field(compare=False, default=None)


# (when, "start" | "packet" | "end", the packet or the athlete and set a hook is called with)
_FeedItem = tuple[float, str, "_Packet | tuple[SimulatedAthlete, PlayedSet]"]


class _SensorClockState:
    """A simulated sensor's continuing clock and packet counter across sets."""

    def __init__(self, epoch_s: float) -> None:
        self.epoch_s = epoch_s
        self.next_seq = 0
        self.last_received_s = -np.inf


class SimulatedSource:
    """`SampleSource` streaming simulated athletes (see module docstring)."""

    def __init__(
        self,
        athletes: list[SimulatedAthlete],
        *,
        realtime: bool = True,
        encoding: Encoding = "none",
        latency: LatencyModel = LatencyModel(),
        start_s: float | None = None,
        on_set_start: SetHook | None = None,
        on_set_end: SetHook | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if encoding not in ("none", "winkwatch"):
            raise ValueError(f"encoding must be 'none' or 'winkwatch', got {encoding!r}")
        self.athletes = athletes
        self.realtime = realtime
        self.encoding: Encoding = encoding
        self.latency = latency
        self.start_s = start_s
        self.on_set_start = on_set_start
        self.on_set_end = on_set_end
        self.clock = clock
        self.played: list[PlayedSet] = []
        self.packets_sent = 0
        self.samples_sent = 0
        self._prepared: list[list[tuple[PlayedSet, list[_Packet]]]] | None = None
        self._prepared_relative = False

    # -- preparation -----------------------------------------------------------------------
    def prepare(self, start_s: float | None = None) -> None:
        """Simulate and packetise every finite set now (so a benchmark times delivery only)."""
        if any(a.sets is None for a in self.athletes):
            raise ValueError("prepare() needs finite `sets` for every athlete")
        # Without an explicit start, times are relative and shifted to the clock when run()
        # starts, so the time spent preparing does not show up as a backlog.
        self._prepared_relative = start_s is None and self.start_s is None
        base = 0.0 if self._prepared_relative else self._base(start_s)
        self._prepared = [list(self._athlete_sets(a, base, i)) for i, a in enumerate(self.athletes)]

    def _base(self, start_s: float | None) -> float:
        if start_s is not None:
            return start_s
        if self.start_s is not None:
            return self.start_s
        return self.clock() + 0.05

    def _athlete_sets(
        self, athlete: SimulatedAthlete, base_s: float, index: int
    ) -> Iterator[tuple[PlayedSet, list[_Packet]]]:
        rng = np.random.default_rng([athlete.seed, index, 7])
        clocks = {
            p: _SensorClockState(SENSOR_EPOCH_S * (1 + k) + 100.0 * rng.random())
            for k, p in enumerate(Placement)
        }
        specs = (
            iter(athlete.sets)
            if athlete.sets is not None
            else (random_spec(rng) for _ in itertools.count())
        )
        next_base_s = base_s + rng.uniform(0.0, 0.01)
        for set_index, spec in enumerate(specs):
            sim = simulate_set(spec, seed=int(rng.integers(2**31)))
            packets: list[_Packet] = []
            for placement in Placement:
                packets += self._packetise(
                    athlete, placement, sim, next_base_s, clocks[placement], rng
                )
            packets.sort()
            played = PlayedSet(
                athlete.athlete_id,
                set_index,
                sim,
                next_base_s,
                packets[0].received_s,
                packets[-1].received_s,
            )
            yield played, packets
            duration_s = max(
                float(sim.sacrum_truth.true_t_s[-1]), float(sim.thigh_truth.true_t_s[-1])
            )
            next_base_s += duration_s + 0.02

    def _packetise(
        self,
        athlete: SimulatedAthlete,
        placement: Placement,
        sim: SimulatedSet,
        base_s: float,
        clock: _SensorClockState,
        rng: np.random.Generator,
    ) -> list[_Packet]:
        recording = sim.sacrum if placement is Placement.SACRUM else sim.thigh
        truth = sim.sacrum_truth if placement is Placement.SACRUM else sim.thigh_truth
        sensor_spec = sim.spec.sacrum if placement is Placement.SACRUM else sim.spec.thigh
        rate_hz = sensor_spec.rate_hz
        per_packet = sensor_spec.samples_per_packet
        # Original sample index (before loss) from the sensor clock: losses are whole packets.
        index = np.rint((recording.t_s - recording.t_s[0]) * rate_hz).astype(np.int64)
        packet_of = index // per_packet
        starts = np.flatnonzero(np.r_[True, packet_of[1:] != packet_of[:-1]])
        ends = np.r_[starts[1:], packet_of.size]
        last_true_s = truth.true_t_s[ends - 1]
        received = base_s + last_true_s + self.latency.draw(rng, starts.size)
        received = np.maximum.accumulate(np.maximum(received, clock.last_received_s))  # in order
        sensor_time_s = clock.epoch_s + base_s + recording.t_s
        address = athlete.address(placement)
        seq0 = clock.next_seq - int(packet_of[0])
        packets = []
        for k, (a, b) in enumerate(zip(starts, ends)):
            packet = _Packet(
                float(received[k]),
                0,
                address,
                seq0 + int(packet_of[a]),
                recording.acc_mps2[a:b],
                recording.gyr_radps[a:b],
                sensor_time_s[a:b],
            )
            if self.encoding == "winkwatch":
                packet.payload = _encode_winkwatch(packet, rate_hz)
            packets.append(packet)
        clock.next_seq = seq0 + int(packet_of[-1]) + 1
        clock.last_received_s = float(received[-1])
        return packets

    # -- finding sensors to pair -----------------------------------------------------------
    async def discover(self, timeout_s: float) -> list[DiscoveredSensor]:
        """Every simulated sensor, as a scan would hear it (no radio: answered at once)."""
        return [
            DiscoveredSensor(
                address=athlete.address(placement),
                name=f"Simulated {placement.value} {athlete.athlete_id}",
                kind=SensorKind.SIMULATED,
                rssi_dbm=SIMULATED_RSSI_DBM,
                battery_pct=SIMULATED_BATTERY_PCT,
            )
            for athlete in self.athletes
            for placement in Placement
        ]

    # -- streaming -------------------------------------------------------------------------
    async def run(self, on_batch: BatchCallback, on_status: StatusCallback) -> None:
        """Stream every athlete's sets (forever when a `sets` is None) until cancelled."""
        if self._prepared is not None and self._prepared_relative:
            self._shift_prepared(self._base(None))
        athlete_sets: list[Iterable[tuple[PlayedSet, list[_Packet]]]]
        prefetch: concurrent.futures.ThreadPoolExecutor | None = None
        if self._prepared is not None:
            athlete_sets = list(self._prepared)
        else:
            base_s = self._base(None)
            athlete_sets = [self._athlete_sets(a, base_s, i) for i, a in enumerate(self.athletes)]
            if self.realtime:
                # Simulating a set takes ~0.1-0.2 s of CPU: done on the loop, it would hold
                # up every other packet and client for that long at each set start.
                prefetch = concurrent.futures.ThreadPoolExecutor(
                    max_workers=1, thread_name_prefix="simulated-sets"
                )
                athlete_sets = [_prefetched(iter(sets), prefetch) for sets in athlete_sets]
        try:
            await self._stream(athlete_sets, on_batch, on_status)
        finally:
            if prefetch is not None:
                prefetch.shutdown(wait=False, cancel_futures=True)

    async def _stream(
        self,
        athlete_sets: list[Iterable[tuple[PlayedSet, list[_Packet]]]],
        on_batch: BatchCallback,
        on_status: StatusCallback,
    ) -> None:
        feeds = [self._athlete_feed(a, sets) for a, sets in zip(self.athletes, athlete_sets)]
        decoders = self._decoders()
        now = self._base(None) if self._prepared is None else self.clock()
        for athlete in self.athletes:
            for placement in Placement:
                on_status(
                    SensorStatus(
                        athlete.address(placement),
                        LinkState.STREAMING,
                        now,
                        battery_pct=SIMULATED_BATTERY_PCT,
                        rssi_dbm=SIMULATED_RSSI_DBM,
                        detail="simulated",
                    )
                )
        sent_since_yield = 0
        for item in heapq.merge(*feeds, key=lambda item: item[0]):
            at_s, kind, payload = item
            if self.realtime:
                delay_s = at_s - self.clock()
                if delay_s > 0:
                    await asyncio.sleep(delay_s)
            if isinstance(payload, _Packet):
                self._deliver(payload, decoders, on_batch)
                sent_since_yield += 1
                if not self.realtime and sent_since_yield >= YIELD_EVERY_PACKETS:
                    sent_since_yield = 0
                    await asyncio.sleep(0)
            else:
                athlete, played = payload
                hook = self.on_set_start if kind == "start" else self.on_set_end
                if kind == "start":
                    self.played.append(played)
                if hook is not None:
                    hook(athlete, played)
        for athlete in self.athletes:
            for placement in Placement:
                on_status(
                    SensorStatus(
                        athlete.address(placement),
                        LinkState.GONE,
                        self.clock() if self.realtime else at_s,
                        detail="simulation ended",
                    )
                )

    def _shift_prepared(self, offset_s: float) -> None:
        shifted = []
        for sets in self._prepared or []:
            athlete_sets = []
            for played, packets in sets:
                for packet in packets:
                    packet.received_s += offset_s
                played = dataclasses.replace(
                    played,
                    base_s=played.base_s + offset_s,
                    first_received_s=played.first_received_s + offset_s,
                    last_received_s=played.last_received_s + offset_s,
                )
                athlete_sets.append((played, packets))
            shifted.append(athlete_sets)
        self._prepared = shifted
        self._prepared_relative = False

    def _athlete_feed(
        self, athlete: SimulatedAthlete, sets: Iterable[tuple[PlayedSet, list[_Packet]]]
    ) -> Iterator[_FeedItem]:
        """(time, kind, payload) in time order: 'start' hook, packets, 'end' hook, per set."""
        for played, packets in sets:
            yield (played.first_received_s - 1e-6, "start", (athlete, played))
            for packet in packets:
                yield (packet.received_s, "packet", packet)
            yield (played.last_received_s + 1e-6, "end", (athlete, played))

    def _decoders(self) -> dict[str, WinkWatchDecoder] | None:
        if self.encoding != "winkwatch":
            return None
        from sensor_gateway.protocols.winkwatch import WinkWatchDecoder

        return {
            a.address(p): WinkWatchDecoder(a.address(p)) for a in self.athletes for p in Placement
        }

    def _deliver(
        self,
        packet: _Packet,
        decoders: dict[str, WinkWatchDecoder] | None,
        on_batch: BatchCallback,
    ) -> None:
        if decoders is not None and packet.payload is not None:
            batch = decoders[packet.address].feed(packet.payload, packet.received_s)
            if batch is None:
                return
        else:
            batch = SampleBatch(
                address=packet.address,
                kind=SensorKind.SIMULATED,
                received_s=packet.received_s,
                acc_mps2=packet.acc_mps2,
                gyr_radps=packet.gyr_radps,
                sensor_time_s=packet.sensor_time_s,
                seq=packet.seq,
            )
        self.packets_sent += 1
        self.samples_sent += int(batch.acc_mps2.shape[0])
        on_batch(batch)


_END = object()


def _prefetched(items: Iterator[T], executor: concurrent.futures.Executor) -> Iterator[T]:
    """`items` in order, each next one computed in `executor` while the current one is used."""
    upcoming = executor.submit(next, items, _END)
    while (item := upcoming.result()) is not _END:
        upcoming = executor.submit(next, items, _END)
        yield item  # type: ignore[misc]


def _encode_winkwatch(packet: _Packet, rate_hz: float) -> bytes:
    from sensor_gateway.protocols import winkwatch

    acc_counts, gyr_counts = winkwatch.quantize(packet.acc_mps2, packet.gyr_radps)
    return winkwatch.encode_packet(
        packet.seq,
        int(round(packet.sensor_time_s[0] * 1e6)),
        int(round(1e6 / rate_hz)),
        acc_counts,
        gyr_counts,
    )
