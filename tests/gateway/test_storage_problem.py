"""A sink that cannot store (a full disk): the gateway tells the clients and no longer holds
the reps back, so the set's events, its stop included, still reach them.

Found by probing serve --simulate with the database's disk full: the phone got no rep after
the disk filled and never the set's set_stopped (held behind the unstored reps)."""

from __future__ import annotations

from dataclasses import replace

from sensor_gateway.events import QualityWarning, RepCompleted, SetStarted, SetStopped
from sensor_gateway.sink import MemorySink, OnStored
from sensor_gateway.sources.simulated import SimulatedAthlete
from tests.api.helpers import metrics
from tests.gateway.test_gateway import CLEAN_SPEC, _gateway, _run

PROBLEM = "the database's disk is full: free disk space"


class FullDiskSink(MemorySink):
    """Keeps everything, but stores (calls on_stored) only once `recover()` is called."""

    def __init__(self) -> None:
        super().__init__()
        self.problem: str | None = PROBLEM
        self.waiting: list[OnStored] = []

    def record_event(self, event, on_stored=None) -> None:
        if self.problem is None:
            super().record_event(event, on_stored)
            return
        self.events.append(event)
        if on_stored is not None:
            self.waiting.append(on_stored)

    def storage_problem(self) -> str | None:
        return self.problem

    def recover(self) -> None:
        self.problem = None
        for on_stored in self.waiting:
            on_stored(True)
        self.waiting = []


def _kinds(events) -> list[tuple]:
    out = []
    for e in events:
        if isinstance(e, SetStarted | SetStopped):
            out.append((type(e).__name__, e.set.set_key[:4]))
        elif isinstance(e, RepCompleted):
            out.append(("rep", e.set_key[:4], e.metrics.rep, e.stored))
        elif isinstance(e, QualityWarning) and e.code.startswith("storage"):
            out.append((e.code, e.set_key[:4]))
    return out


def test_reps_are_shown_marked_not_stored_and_again_once_stored(tmp_path) -> None:
    athlete = SimulatedAthlete("ann", sets=[CLEAN_SPEC, CLEAN_SPEC], seed=3)
    sink = FullDiskSink()
    gateway, source = _gateway(tmp_path, [athlete], sink=sink)
    started: list[str] = []

    def on_set_start(a, played) -> None:
        if started:  # the second set: space is back
            sink.recover()
        gateway.check_storage(played.first_received_s - 2e-3)  # as every tick does
        started.append(gateway.start_set(a.athlete_id, now_s=played.first_received_s).set_key)

    source.on_set_start = on_set_start
    (events,), _ = _run(gateway, {})
    first, second = (key[:4] for key in started)
    seen = _kinds(events)
    reps_first = [k for k in seen if k[0] == "rep" and k[1] == first]
    assert [k[2:] for k in reps_first] == [
        (1, False),
        (2, False),
        (3, False),
        (1, True),
        (2, True),
        (3, True),
    ], seen
    # Told at its start (the problem was known), the stop published, not held behind the reps
    assert seen.index(("storage_failing", first)) == seen.index(("SetStarted", first)) + 1
    assert seen.index(("SetStopped", first)) < seen.index(("rep", first, 1, True))
    # The second set stores again: its reps once each, stored
    assert [k[2:] for k in seen if k[0] == "rep" and k[1] == second] == [
        (1, True),
        (2, True),
        (3, True),
    ]
    warning = next(
        e for e in events if isinstance(e, QualityWarning) and e.code == "storage_failing"
    )
    assert PROBLEM in warning.message and warning.athlete_id == "ann"


def test_reps_held_when_storing_starts_failing_are_released(tmp_path) -> None:
    athlete = SimulatedAthlete("bea", sets=[CLEAN_SPEC], seed=4)
    sink = FullDiskSink()
    sink.problem = None  # stores at first
    gateway, _ = _gateway(tmp_path, [athlete], sink=sink, hooks=False)
    holding = {"on": False}
    record = sink.record_event

    def record_event(event, on_stored=None) -> None:
        if holding["on"] and on_stored is not None:  # the disk filled: this rep waits
            sink.events.append(event)
            sink.waiting.append(on_stored)
            return
        record(event, on_stored)

    sink.record_event = record_event  # type: ignore[method-assign]
    sub = gateway.bus.subscribe()
    gateway.start_set("bea", now_s=0.0)
    info = gateway.active_sets()["bea"]
    holding["on"] = True
    rep = RepCompleted(
        athlete_id="bea",
        t_s=1.0,
        wall_utc=info.started_utc,
        set_key=info.set_key,
        metrics=metrics(1),
    )
    gateway._dispatch([rep])
    gateway.stop_set("bea", now_s=2.0)
    held = list(iter(sub.get_nowait, None))
    assert not any(isinstance(e, RepCompleted | SetStopped) for e in held)  # held back
    sink.problem = PROBLEM
    gateway.check_storage(3.0)
    after = list(iter(sub.get_nowait, None))
    assert [type(e).__name__ for e in after] == ["RepCompleted", "SetStopped"]
    assert after[0] == replace(rep, stored=False)
