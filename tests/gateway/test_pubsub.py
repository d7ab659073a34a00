"""Pub/sub: filtering, unsubscribe, and a slow subscriber never blocking the publisher."""

from __future__ import annotations

import asyncio

import pytest

from sensor_gateway.events import GatewayClock, LiveAngles, QualityWarning
from sensor_gateway.pubsub import EventBus, SubscriptionClosed

CLOCK = GatewayClock()


def _angles(athlete: str, t_s: float) -> LiveAngles:
    return LiveAngles(
        athlete_id=athlete,
        t_s=t_s,
        wall_utc=CLOCK.to_utc(t_s),
        set_key="k",
        set_t_s=0.0,
        thigh_deg=t_s,
        pelvic_tilt_deg=0.0,
        hip_flexion_deg=t_s,
    )


def _warning(athlete: str) -> QualityWarning:
    return QualityWarning(
        athlete_id=athlete, t_s=0.0, wall_utc=CLOCK.to_utc(0.0), code="x", message="y"
    )


def test_subscribers_get_only_their_athlete_and_types_in_order():
    async def main():
        bus = EventBus()
        everyone = bus.subscribe()
        alice = bus.subscribe(athlete_id="alice")
        warnings = bus.subscribe(event_types=[QualityWarning])
        for i in range(5):
            bus.publish(_angles("alice" if i % 2 == 0 else "bob", float(i)))
        bus.publish(_warning("bob"))
        got_all = [await everyone.get() for _ in range(6)]
        got_alice = [await alice.get() for _ in range(3)]
        got_warn = await warnings.get()
        assert [e.t_s for e in got_all[:5]] == [0, 1, 2, 3, 4]
        assert [e.t_s for e in got_alice] == [0, 2, 4]
        assert alice.pending == 0 and isinstance(got_warn, QualityWarning)

    asyncio.run(main())


def test_unsubscribe_ends_iteration_and_stops_delivery():
    async def main():
        bus = EventBus()
        sub = bus.subscribe()
        received = []

        async def consume():
            async for event in sub:
                received.append(event)

        task = asyncio.create_task(consume())
        bus.publish(_angles("a", 1.0))
        await asyncio.sleep(0)
        await asyncio.sleep(0)
        sub.unsubscribe()
        await asyncio.wait_for(task, 1.0)  # iteration ended by itself
        bus.publish(_angles("a", 2.0))
        assert [e.t_s for e in received] == [1.0]
        assert bus.subscriber_count == 0
        sub.unsubscribe()  # idempotent
        with pytest.raises(SubscriptionClosed):
            await sub.get()

    asyncio.run(main())


def test_slow_subscriber_drops_oldest_and_never_blocks_publisher():
    async def main():
        bus = EventBus()
        slow = bus.subscribe(max_queued=10)  # never reads while we publish
        fast = bus.subscribe(max_queued=10_000)
        for i in range(5000):
            bus.publish(_angles("a", float(i)))  # synchronous: returns without awaiting
        assert slow.dropped == 4990 and bus.dropped == 4990
        assert [(await slow.get()).t_s for _ in range(10)] == [float(i) for i in range(4990, 5000)]
        assert fast.pending == 5000 and fast.dropped == 0

    asyncio.run(main())


def test_disconnect_policy_closes_the_laggard_only():
    async def main():
        bus = EventBus()
        laggard = bus.subscribe(max_queued=3, overflow="disconnect")
        other = bus.subscribe()
        for i in range(4):
            bus.publish(_angles("a", float(i)))
        assert laggard.closed and "fell behind" in laggard.closed_reason
        assert laggard.dropped == 4
        assert [e async for e in laggard] == []
        assert other.pending == 4 and bus.subscriber_count == 1

    asyncio.run(main())


def test_waiting_subscriber_wakes_on_publish_and_on_bus_close():
    async def main():
        bus = EventBus()
        sub = bus.subscribe()
        waiter = asyncio.create_task(sub.get())
        await asyncio.sleep(0)
        bus.publish(_angles("a", 7.0))
        assert (await asyncio.wait_for(waiter, 1.0)).t_s == 7.0
        waiter = asyncio.create_task(sub.get())
        await asyncio.sleep(0)
        bus.close()
        with pytest.raises(SubscriptionClosed):
            await asyncio.wait_for(waiter, 1.0)

    asyncio.run(main())
