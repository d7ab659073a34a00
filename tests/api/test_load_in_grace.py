"""The coach corrects a set's load (PATCH /sets/{id}) right after stopping it, while the stop
still waits out its grace for the last samples on their way: every rep of the set, the one
finished in the grace too, is stored and published with the corrected load, and a PATCH once
the set has closed corrects its stored reps.

A simulated set (fusion.simulator) is streamed through the real gateway, its live analysis,
the DatabaseSink and the HTTP API, all on one event loop and one gateway clock that the test
sets to each packet's arrival (the simulation runs as fast as possible)."""

from __future__ import annotations

import asyncio
import functools

import httpx2

from api.http import create_app
from fusion.simulator import SquatSetSpec
from sensor_gateway.config import Assignments, GatewaySettings
from sensor_gateway.events import GatewayClock, RepCompleted, SetStopped, StopReason
from sensor_gateway.gateway import Gateway
from sensor_gateway.samples import SampleBatch, SensorStatus
from sensor_gateway.sink import MemorySink
from sensor_gateway.sources.simulated import SimulatedAthlete, SimulatedSource
from tests.api.helpers import SACRUM_ADDRESS, THIGH_ADDRESS, gateway_with_sink

SPEC = SquatSetSpec(reps=3, wink_deg=0.0, standing_end_s=3.0)
SEED = 11
START_S = 1000.0  # gateway clock when the set starts
# The grace ends once both sensors' streams have passed the stop (as they do in a gym), not
# after STOP_GRACE_S of this machine's time: the PATCH lands in it however slow the run is.
LONG_GRACE_S = 60.0


class _TestClock(GatewayClock):
    """The gateway clock, set by the test to each packet's arrival."""

    def __init__(self, t_s: float) -> None:
        super().__init__()
        self.t_s = t_s

    def now_s(self) -> float:  # type: ignore[override]
        return self.t_s


Received = SampleBatch | SensorStatus


def _received_s(item: Received) -> float:
    return item.received_s if isinstance(item, SampleBatch) else item.at_s


def _recorded_set() -> list[Received]:
    """What Ana's two sensors send during one simulated set, in arrival order."""
    athlete = SimulatedAthlete(
        "ana", sets=[SPEC], seed=SEED, sacrum_address=SACRUM_ADDRESS, thigh_address=THIGH_ADDRESS
    )
    items: list[Received] = []
    source = SimulatedSource([athlete], realtime=False, start_s=START_S)
    asyncio.run(source.run(items.append, items.append))
    return items


def _deliver(gateway: Gateway, clock: _TestClock, item: Received) -> None:
    clock.t_s = _received_s(item)
    if isinstance(item, SampleBatch):
        gateway.on_batch(item)
    else:
        gateway.on_status(item)


def _last_rep_end_s(items: list[Received], tmp_path) -> float:
    """When the live analysis completes the set's last rep, streamed without a stop."""
    store = Assignments()
    store.assign(SACRUM_ADDRESS, "simulated", "ana", "sacrum")
    store.assign(THIGH_ADDRESS, "simulated", "ana", "thigh")
    clock = _TestClock(START_S)
    settings = GatewaySettings(config_file=tmp_path / "whole.json")
    gateway = Gateway(settings, store, sink=MemorySink(), clock=clock)
    info = gateway.start_set("ana", load_kg=80.0)
    for item in items:
        _deliver(gateway, clock, item)
    reps = gateway.sink.reps(info.set_key)
    assert len(reps) == SPEC.reps
    return reps[-1].t_s


def _client(app, admin: str) -> httpx2.AsyncClient:
    """The API in this event loop, as the coach (admin) calls it."""
    return httpx2.AsyncClient(
        transport=httpx2.ASGITransport(app=app),
        base_url="http://gateway",
        headers={"Authorization": f"Bearer {admin}"},
        timeout=60,
    )


async def _start(client: httpx2.AsyncClient, athlete_key: str) -> int:
    """Start an 80 kg back squat set (the sensors have sent nothing yet: override)."""
    body = {"athlete_id": int(athlete_key), "variant": "back_squat", "load_kg": 80}
    started = await client.post("/sets", json={**body, "override_missing_sensors": True})
    assert started.status_code == 201, started.text
    set_id: int = started.json()["id"]
    return set_id


def test_a_load_corrected_in_the_stops_grace_is_the_load_of_every_rep(
    database, db_target, tmp_path
) -> None:
    # The stop's grace (STOP_GRACE_S) keeps the last rep's samples in transit; a PATCH of the
    # load in it was stored on the set but not given to the live analysis (the gateway no
    # longer counts a set in its grace as recording): the rep finished in the grace was
    # stored and published with the old load, the reps before it with the new one.
    items = _recorded_set()
    stop_s = _last_rep_end_s(items, tmp_path) + 0.03  # its last samples still on their way
    clock = _TestClock(START_S)
    ana, gateway, sink, admin, settings = gateway_with_sink(database, db_target, tmp_path, clock)
    gateway.stop_set_after_grace = functools.partial(  # type: ignore[method-assign]
        gateway.stop_set_after_grace, grace_s=LONG_GRACE_S
    )
    app = create_app(settings, gateway, database=database, sink=sink)
    published = gateway.bus.subscribe(athlete_id=ana, event_types=(RepCompleted, SetStopped))

    async def main() -> tuple[list, list]:
        async with _client(app, admin) as client:
            set_id = await _start(client, ana)
            before = [i for i in items if _received_s(i) <= stop_s]
            for item in before:
                _deliver(gateway, clock, item)
            sink.flush()  # what the sink's writer has stored meanwhile: reps 1 and 2
            assert gateway.rep_count(ana) == SPEC.reps - 1

            clock.t_s = stop_s
            stop = asyncio.create_task(client.post(f"/sets/{set_id}/stop"))
            while ana in gateway.active_sets():
                await asyncio.sleep(0.001)
            patched = await client.patch(f"/sets/{set_id}", json={"load_kg": 100})
            assert patched.status_code == 200, patched.text
            assert patched.json()["load_kg"] == 100.0
            # it came in the grace: the set still live, its last rep still to come
            assert gateway.rep_count(ana) == SPEC.reps - 1 and not stop.done()
            for item in items[len(before) :]:  # the last samples arrive: the grace ends
                _deliver(gateway, clock, item)
            stopped = await asyncio.wait_for(stop, timeout=30)
            assert stopped.status_code == 200, stopped.text
            assert stopped.json()["load_kg"] == 100.0
            reps = await client.get("/reps", params={"set_id": set_id})
            in_grace = sorted((r["rep"], r["load_kg"]) for r in reps.json()["items"])

            # The reverse edge: the set has closed; a correction changes its stored reps.
            closed = await client.patch(f"/sets/{set_id}", json={"load_kg": 120})
            assert closed.status_code == 200 and closed.json()["load_kg"] == 120.0
            reps = await client.get("/reps", params={"set_id": set_id})
            after_close = sorted((r["rep"], r["load_kg"]) for r in reps.json()["items"])
            return in_grace, after_close

    in_grace, after_close = asyncio.run(main())
    assert in_grace == [(1, 100.0), (2, 100.0), (3, 100.0)]
    assert after_close == [(1, 120.0), (2, 120.0), (3, 120.0)]
    events = list(iter(published.get_nowait, None))
    reps_out = [e for e in events if isinstance(e, RepCompleted)]
    assert [e.metrics.rep for e in reps_out] == [1, 2, 3]
    assert reps_out[-1].metrics.load_kg == 100.0  # the rep finished in the grace, as published
    (set_stopped,) = [e for e in events if isinstance(e, SetStopped)]
    assert set_stopped.set.load_kg == 100.0 and set_stopped.rep_count == SPEC.reps


def test_a_load_corrected_while_the_closed_sets_last_rep_waits_in_the_sink(
    database, db_target, tmp_path
) -> None:
    # The gateway closed the set itself (idle: no rep for a while), its last rep and its
    # stop handed to the sink but not yet committed by its writer: a PATCH then corrected the
    # reps stored so far, and the writer stored the last one afterwards with the old load.
    items = _recorded_set()
    clock = _TestClock(START_S)
    ana, gateway, sink, admin, settings = gateway_with_sink(database, db_target, tmp_path, clock)
    app = create_app(settings, gateway, database=database, sink=sink)

    async def main() -> list:
        async with _client(app, admin) as client:
            set_id = await _start(client, ana)
            for item in items:
                _deliver(gateway, clock, item)
            gateway.stop_set(ana, StopReason.IDLE)  # what its ticker does
            patched = await client.patch(f"/sets/{set_id}", json={"load_kg": 100})
            assert patched.status_code == 200 and patched.json()["load_kg"] == 100.0
            sink.flush()  # the writer's next commit
            reps = await client.get("/reps", params={"set_id": set_id})
            return sorted((r["rep"], r["load_kg"]) for r in reps.json()["items"])

    assert asyncio.run(main()) == [(1, 100.0), (2, 100.0), (3, 100.0)]
