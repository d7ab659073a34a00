"""The depth guard through the whole gateway: simulated athletes who wink at a known depth,
the cue published before the wink, against the simulator's true onsets."""

from __future__ import annotations

import asyncio

from fusion.live.depth_guard import DepthGuard
from fusion.simulator import SquatSetSpec
from sensor_gateway.config import Assignments, GatewaySettings
from sensor_gateway.events import DepthCeilingNear, SetStarted, WinkOnset, event_to_dict
from sensor_gateway.gateway import Gateway
from sensor_gateway.sink import MemorySink
from sensor_gateway.sources.simulated import SimulatedAthlete, SimulatedSource

ONSET_DEG = 80.0
SPEC = SquatSetSpec(reps=4, depth_deg=102.0, wink_deg=12.0, wink_onset_deg=ONSET_DEG)


def _run(tmp_path, guard: DepthGuard | None, load_kg: float | None):
    settings = GatewaySettings(config_file=tmp_path / "gateway.json")
    store = Assignments()
    athlete = SimulatedAthlete("ana", sets=[SPEC], seed=21, load_kg=load_kg)
    store.assign(athlete.sacrum_address, "winkwatch", "ana", "sacrum")
    store.assign(athlete.thigh_address, "winkwatch", "ana", "thigh")
    gateway = Gateway(settings, store, sink=MemorySink())
    arrival: dict[int, float] = {}
    published: list[tuple[object, float]] = []
    source = SimulatedSource(
        [athlete],
        realtime=False,
        encoding="winkwatch",
        on_set_start=lambda a, p: gateway.start_set(
            "ana", a.variant, a.load_kg, now_s=p.first_received_s - 1e-3, depth_guard=guard
        ),
    )
    gateway.add_source(source)

    original = gateway.on_batch

    def on_batch(batch):
        arrival[0] = batch.received_s
        original(batch)

    gateway.on_batch = on_batch  # type: ignore[method-assign]
    publish = gateway.bus.publish

    def timed(event):
        published.append((event, arrival.get(0, float("nan"))))
        publish(event)

    gateway.bus.publish = timed  # type: ignore[method-assign]
    asyncio.run(gateway.run(stop_when_sources_end=True))
    return published, source.played[0]


def test_the_cue_reaches_the_bus_before_the_true_wink_and_before_the_wink_event(tmp_path) -> None:
    guard = DepthGuard(ONSET_DEG - 4.0, margin_deg=3.0)
    published, played = _run(tmp_path, guard, load_kg=90.0)
    cues = [(e, t) for e, t in published if isinstance(e, DepthCeilingNear)]
    winks = [e for e, _ in published if isinstance(e, WinkOnset)]
    assert [e.rep for e, _ in cues] == [1, 2, 3, 4]
    assert len(winks) == 4
    order = [type(e) for e, _ in published if isinstance(e, (DepthCeilingNear, WinkOnset))]
    assert order == [DepthCeilingNear, WinkOnset] * 4
    for (cue, arrival_s), truth in zip(cues, played.simulated.reps, strict=True):
        assert truth.wink_onset_s is not None
        lead_s = played.base_s + truth.wink_onset_s - arrival_s  # published this long before
        assert lead_s >= 0.15, (truth.rep, lead_s)
        wire = event_to_dict(cue)
        assert wire["type"] == "depth_ceiling_near" and wire["athlete_id"] == "ana"
        assert wire["ceiling_thigh_deg"] == guard.ceiling_thigh_deg
    assert any(isinstance(e, SetStarted) for e, _ in published)


def test_no_cue_in_a_bodyweight_set_or_without_a_guard(tmp_path) -> None:
    published, _ = _run(tmp_path / "a", DepthGuard(ONSET_DEG - 4.0), load_kg=None)
    assert not [e for e, _ in published if isinstance(e, DepthCeilingNear)]
    published, _ = _run(tmp_path / "b", None, load_kg=90.0)
    assert not [e for e, _ in published if isinstance(e, DepthCeilingNear)]
    assert [e for e, _ in published if isinstance(e, WinkOnset)]
