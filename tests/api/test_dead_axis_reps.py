"""A dead sensor axis found after reps were stored: the stored reps are marked (the live
gateway with the database sink, a simulated set whose sacrum gyroscope axis dies mid-set)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from pathlib import Path

from sqlalchemy import select

from api.storage import sets as set_store
from api.storage.models import Rep
from api.storage.recorder import DatabaseSink
from sensor_gateway.config import Assignments, GatewaySettings
from sensor_gateway.events import GatewayEvent, RepCompleted
from sensor_gateway.gateway import Gateway
from sensor_gateway.samples import BatchCallback, SampleBatch, StatusCallback
from sensor_gateway.sources.simulated import SimulatedAthlete, SimulatedSource
from tests.api.helpers import athlete_key
from tests.gateway.test_live_edges import FIVE_REPS, stuck_gyr_y_from


class _Altered:
    """A source whose batches pass through `alter` (what a faulty sensor sends instead)."""

    def __init__(self, source: SimulatedSource, alter: Callable[[SampleBatch], SampleBatch]):
        self.source = source
        self.alter = alter

    async def run(self, on_batch: BatchCallback, on_status: StatusCallback) -> None:
        await self.source.run(lambda batch: on_batch(self.alter(batch)), on_status)


def _stored_reps(database, set_key: str) -> dict[int, str]:
    with database.sessions() as db:
        row = set_store.set_by_key(db, set_key)
        if row is None:
            return {}
        return {r.rep: r.quality for r in db.scalars(select(Rep).where(Rep.set_id == row.id))}


def test_reps_stored_before_a_dead_axis_was_found_are_marked_in_the_database(
    database, tmp_path: Path
) -> None:
    """The sacrum's gyroscope y axis dies 5 s into the set (between reps 1 and 2); the watch
    says so about 9 s in, after rep 2 was stored. Rep 2's stored row then carries
    sacrum_dead_axis too (updated, not a second row), before the corrected rep reaches the
    phone; reps 3-5 carry it as stored; rep 1 does not."""
    ana = athlete_key(database, "Ana")
    athlete = SimulatedAthlete(ana, sets=[FIVE_REPS], seed=11)
    sink = DatabaseSink(database, gateway_id="gw-test", commit_interval_s=1.0)
    store = Assignments()
    store.assign(athlete.sacrum_address, "simulated", ana, "sacrum")
    store.assign(athlete.thigh_address, "simulated", ana, "thigh")
    gateway = Gateway(GatewaySettings(config_file=tmp_path / "gateway.json"), store, sink=sink)
    source = SimulatedSource(
        [athlete],
        realtime=False,
        start_s=100.0,
        on_set_start=lambda a, p: gateway.start_set(a.athlete_id, now_s=p.first_received_s),
        on_set_end=lambda a, p: gateway.stop_set(a.athlete_id, now_s=p.last_received_s),
    )
    gateway.add_source(_Altered(source, stuck_gyr_y_from(athlete.sacrum_address, 105.0)))
    published: list[tuple[RepCompleted, dict[int, str]]] = []
    publish = gateway.bus.publish

    def checking_publish(event: GatewayEvent) -> None:
        if isinstance(event, RepCompleted):
            published.append((event, _stored_reps(database, event.set_key)))
        publish(event)

    gateway.bus.publish = checking_publish  # type: ignore[method-assign]
    asyncio.run(gateway.run(stop_when_sources_end=True))

    (set_key,) = {event.set_key for event, _ in published}
    code = "sacrum_dead_axis"
    stored = _stored_reps(database, set_key)
    assert sorted(stored) == [1, 2, 3, 4, 5]  # one row per rep: the correction updated rep 2
    assert [n for n in sorted(stored) if code in stored[n].split(";")] == [2, 3, 4, 5]
    corrections = [(event, seen) for event, seen in published if event.correction]
    assert [event.metrics.rep for event, _ in corrections] == [2]
    (correction, seen_then) = corrections[0]
    assert code in correction.metrics.quality
    assert code in seen_then[2].split(";")  # stored before the phone was shown it
    with database.sessions() as db:
        row = set_store.set_by_key(db, set_key)
        assert row is not None
        findings = json.loads(row.findings_json or "[]")
    (said,) = [f for f in findings if f["code"] == "sensor_dead_axis"]
    assert said["sensor"] == "sacrum" and f"are marked {code}" in said["message"]
