"""The demo's scripted athletes never replace or stop a set that a coach started by hand."""

from __future__ import annotations

import asyncio

from api.demo_scenario import build_demo_server, demo_settings
from sensor_gateway.events import SetStarted, SetStopped


def test_demo_script_leaves_a_coachs_set_alone(tmp_path) -> None:
    server = build_demo_server(demo_settings(tmp_path, "127.0.0.1", 0), tmp_path, realtime=False)
    gateway = server.gateway
    athletes = sorted(gateway.assignments.athletes())
    coach_athlete = athletes[-1]
    coach_set = gateway.start_set(coach_athlete, "goblet_squat", 16.0, "coach")
    events = gateway.bus.subscribe(event_types=(SetStarted, SetStopped), max_queued=100_000)

    async def run_for_a_while() -> None:
        task = asyncio.create_task(gateway.run())
        # Virtual clock: the scripted programme runs many sets per wall second.
        for _ in range(200):
            await asyncio.sleep(0.05)
            started = [e for e in _drain(events, seen) if isinstance(e, SetStarted)]
            if sum(e.athlete_id != coach_athlete for e in started) >= 4:
                break
        still_running.append(gateway.active_sets().get(coach_athlete))
        gateway.request_stop()
        await task

    seen: list = []
    still_running: list = []
    asyncio.run(run_for_a_while())
    server.database.dispose()
    others = [e for e in seen if isinstance(e, SetStarted) and e.athlete_id != coach_athlete]
    assert len(others) >= 2, "the scripted athlete did not run its programme"
    mine = [e for e in seen if e.athlete_id == coach_athlete]
    assert not [e for e in mine if isinstance(e, SetStarted)], "the script started a set"
    assert not [e for e in mine if isinstance(e, SetStopped)], "the script stopped it"
    assert still_running[0] is not None and still_running[0].set_key == coach_set.set_key


def _drain(subscription, into: list) -> list:
    while (event := subscription.get_nowait()) is not None:
        into.append(event)
    return into
