"""Where the gateway hands everything that must not be lost: raw samples and set/rep events.

Storage (api/storage) implements `GatewaySink`; the gateway calls it directly (not through
the lossy pub/sub), in order, from the event loop thread:

    record_event(SetStarted)                    # before any sample of the set
    write_samples(RawSamples) ...               # every sample of every assigned sensor in the set
    record_event(RepStarted / WinkOnset / RepCompleted / Calibrated / QualityWarning /
                 SensorStatusChanged ...)       # every event except LiveAngles
    record_event(SetStopped)                    # after the last sample of the set
    storage_problem()                           # any time: None, or why nothing is stored now
    close()                                     # gateway shutdown: flush and release

Calls must not block the loop for long: buffer and write from a worker (the storage commits
at least once a second). A sink that raises is logged by the gateway and does not stop it.

What a client has seen must survive a crash: the gateway publishes a RepCompleted only after
the sink has stored it. It passes `on_stored`, which the sink calls (from any thread) with
True once the event is durable, or with False once it has given up storing it (logged), so
an event is never withheld for good. The sink should store such an event promptly, not at
its next tick. A RepCompleted with `correction=True` is a rep recorded before, its quality
codes since changed (a dead axis found later): the sink updates the stored rep.

While the sink cannot store anything (a full disk, an unreachable database) it keeps what
it can and retries, and `storage_problem()` says so in words (what fails and what to do);
the gateway then tells the athletes' clients, and publishes their reps at once marked
`stored=False` instead of holding them (again with `stored=True` once they are stored).
`MemorySink` keeps everything in memory (tests, benchmarks, `winkwatch gateway` without a
database).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

import numpy as np

from fusion.types import ImuRecording
from sensor_gateway.events import (
    GatewayEvent,
    Placement,
    RepCompleted,
    SetInfo,
    SetStarted,
    SetStopped,
)
from sensor_gateway.samples import SensorKind

# Called by a sink once an event is durable (True) or will never be (False): see the module
# docstring.
OnStored = Callable[[bool], None]


@dataclass(frozen=True)
class RawSamples:
    """A chunk of one sensor's samples during one set, in arrival order.

    `t_s` (N,) gateway clock after clock mapping (what the analysis used; increasing),
    `acc_mps2` (N, 3), `gyr_radps` (N, 3) sensor frame, as decoded.
    `sensor_time_s` (N,) the sensor's own clock when its protocol has one (unwrapped: one
    growing clock across its connections), else None.
    `received_s` (N,) gateway clock when each sample's packet arrived.
    `seq` packet sequence number of the chunk when the protocol has one, else None.
    """

    set_key: str
    athlete_id: str
    placement: Placement
    address: str
    kind: SensorKind
    t_s: np.ndarray
    acc_mps2: np.ndarray
    gyr_radps: np.ndarray
    received_s: np.ndarray
    sensor_time_s: np.ndarray | None = None
    seq: int | None = None

    def __len__(self) -> int:
        return int(self.t_s.shape[0])


@runtime_checkable
class GatewaySink(Protocol):
    """Durable destination of raw samples and events (implemented by the storage)."""

    def write_samples(self, samples: RawSamples) -> None: ...

    def record_event(self, event: GatewayEvent, on_stored: OnStored | None = None) -> None: ...

    def storage_problem(self) -> str | None:
        """None while storing works; else what fails and what to do, in words (any thread)."""
        ...

    def close(self) -> None: ...


class MemorySink:
    """`GatewaySink` that keeps everything in lists (tests, benchmarks, no-database runs)."""

    def __init__(self) -> None:
        self.samples: list[RawSamples] = []
        self.events: list[GatewayEvent] = []
        self.closed = False

    def write_samples(self, samples: RawSamples) -> None:
        self.samples.append(samples)

    def record_event(self, event: GatewayEvent, on_stored: OnStored | None = None) -> None:
        self.events.append(event)
        if on_stored is not None:
            on_stored(True)  # in memory: stored as soon as appended

    def storage_problem(self) -> str | None:
        return None

    def close(self) -> None:
        self.closed = True

    # -- queries for tests -----------------------------------------------------------------
    def sets(self) -> list[SetInfo]:
        return [e.set for e in self.events if isinstance(e, SetStarted)]

    def stopped(self, set_key: str) -> SetStopped | None:
        return next(
            (e for e in self.events if isinstance(e, SetStopped) and e.set.set_key == set_key), None
        )

    def reps(self, set_key: str) -> list[RepCompleted]:
        """The set's reps as stored: a correction replaces the rep of its number."""
        reps: dict[int, RepCompleted] = {}
        for e in self.events:
            if isinstance(e, RepCompleted) and e.set_key == set_key:
                reps[e.metrics.rep] = e
        return list(reps.values())

    def sample_count(self, set_key: str | None = None, placement: Placement | None = None) -> int:
        return sum(len(s) for s in self._chunks(set_key, placement))

    def recording(self, set_key: str, placement: Placement) -> ImuRecording:
        """All stored samples of one sensor in one set, as the analysis would read them back."""
        chunks = self._chunks(set_key, placement)
        if not chunks:
            raise KeyError(f"no samples for set {set_key} / {placement.value}")
        return ImuRecording(
            t_s=np.concatenate([c.t_s for c in chunks]),
            acc_mps2=np.concatenate([c.acc_mps2 for c in chunks]),
            gyr_radps=np.concatenate([c.gyr_radps for c in chunks]),
        )

    def _chunks(self, set_key: str | None, placement: Placement | None) -> list[RawSamples]:
        return [
            s
            for s in self.samples
            if (set_key is None or s.set_key == set_key)
            and (placement is None or s.placement == placement)
        ]
