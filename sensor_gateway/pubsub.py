"""In-process async publish/subscribe of gateway events.

`EventBus.publish` is synchronous and never waits: each subscriber has a bounded queue; when a
subscriber falls behind, either its oldest events are dropped (default, counted in
`Subscription.dropped`) or it is disconnected (`overflow="disconnect"`, its iteration ends
and `closed_reason` says why). So a slow WebSocket client can never stall the sensors.

    sub = bus.subscribe(athlete_id="alice")          # or athlete_id=None for everyone
    async for event in sub: ...                       # ends when sub.unsubscribe() is called
    sub.unsubscribe()                                 # idempotent

All methods must be called from the thread running the event loop (the gateway's loop).
"""

from __future__ import annotations

import asyncio
import collections
from collections.abc import Iterable
from typing import Literal

from sensor_gateway.errors import GatewayError
from sensor_gateway.events import GatewayEvent

DEFAULT_MAX_QUEUED = 1000  # ~10 s of a busy athlete (20 Hz angles + reps + status)

Overflow = Literal["drop_oldest", "disconnect"]


class Subscription:
    """One subscriber: an async iterator of events with its own bounded queue."""

    def __init__(
        self,
        bus: EventBus,
        *,
        athlete_id: str | None,
        event_types: tuple[type[GatewayEvent], ...] | None,
        max_queued: int,
        overflow: Overflow,
    ) -> None:
        if max_queued < 1:
            raise ValueError(f"max_queued must be >= 1, got {max_queued}")
        if overflow not in ("drop_oldest", "disconnect"):
            raise ValueError(f"overflow must be 'drop_oldest' or 'disconnect', got {overflow!r}")
        self._bus = bus
        self.athlete_id = athlete_id
        self.event_types = event_types
        self.max_queued = max_queued
        self.overflow: Overflow = overflow
        self._queue: collections.deque[GatewayEvent] = collections.deque()
        self._wakeup = asyncio.Event()
        self.dropped = 0
        self.delivered = 0
        self.closed_reason: str | None = None

    # -- publisher side -------------------------------------------------------------------
    def wants(self, event: GatewayEvent) -> bool:
        if self.athlete_id is not None and event.athlete_id != self.athlete_id:
            return False
        return self.event_types is None or isinstance(event, self.event_types)

    def _offer(self, event: GatewayEvent) -> None:
        if len(self._queue) >= self.max_queued:
            if self.overflow == "disconnect":
                self.dropped += len(self._queue) + 1
                self._queue.clear()
                self._close(f"fell behind by more than {self.max_queued} events; disconnected")
                return
            self._queue.popleft()
            self.dropped += 1
        self._queue.append(event)
        self._wakeup.set()

    # -- subscriber side ------------------------------------------------------------------
    @property
    def closed(self) -> bool:
        return self.closed_reason is not None

    @property
    def pending(self) -> int:
        return len(self._queue)

    def unsubscribe(self) -> None:
        """Stop receiving events; a pending `get`/iteration ends. Safe to call twice."""
        self._close("unsubscribed")

    def get_nowait(self) -> GatewayEvent | None:
        """Next queued event, or None if there is none right now."""
        if not self._queue:
            return None
        self.delivered += 1
        return self._queue.popleft()

    async def get(self) -> GatewayEvent:
        """Wait for the next event; raise `SubscriptionClosed` once closed and drained."""
        while True:
            event = self.get_nowait()
            if event is not None:
                return event
            if self.closed:
                raise SubscriptionClosed(self.closed_reason or "closed")
            self._wakeup.clear()
            await self._wakeup.wait()

    def __aiter__(self) -> Subscription:
        return self

    async def __anext__(self) -> GatewayEvent:
        try:
            return await self.get()
        except SubscriptionClosed:
            raise StopAsyncIteration from None

    def __enter__(self) -> Subscription:
        return self

    def __exit__(self, *exc: object) -> None:
        self.unsubscribe()

    def _close(self, reason: str, *, keep_pending: bool = False) -> None:
        if self.closed:
            return
        self.closed_reason = reason
        if not keep_pending:
            self._queue.clear()
        self._bus._remove(self)
        self._wakeup.set()


class SubscriptionClosed(GatewayError):
    """The subscription was closed (unsubscribed, or disconnected for falling behind)."""


class EventBus:
    """Fan-out of gateway events to any number of subscribers; publishing never blocks."""

    def __init__(self, *, default_max_queued: int = DEFAULT_MAX_QUEUED) -> None:
        self.default_max_queued = default_max_queued
        self._subscriptions: list[Subscription] = []
        # The same subscriptions by the athlete they follow (None: every athlete), so that an
        # event is offered to its athlete's subscribers only, not to every phone of the gym.
        self._by_athlete: dict[str | None, list[Subscription]] = {}
        self.published = 0
        self.dropped = 0  # events dropped across all subscribers (incl. disconnected ones)

    def subscribe(
        self,
        *,
        athlete_id: str | None = None,
        event_types: Iterable[type[GatewayEvent]] | None = None,
        max_queued: int | None = None,
        overflow: Overflow = "drop_oldest",
    ) -> Subscription:
        """Subscribe to events of one athlete (or all when None), optionally of some types only."""
        sub = Subscription(
            self,
            athlete_id=athlete_id,
            event_types=tuple(event_types) if event_types is not None else None,
            max_queued=max_queued or self.default_max_queued,
            overflow=overflow,
        )
        self._subscriptions.append(sub)
        self._by_athlete.setdefault(athlete_id, []).append(sub)
        return sub

    @property
    def subscriber_count(self) -> int:
        return len(self._subscriptions)

    def publish(self, event: GatewayEvent) -> None:
        """Hand `event` to every interested subscriber. O(subscribers), never waits."""
        self.published += 1
        athlete_id = event.athlete_id
        if athlete_id is not None:
            self._offer(self._by_athlete.get(athlete_id), event)
        self._offer(self._by_athlete.get(None), event)

    def _offer(self, subscriptions: list[Subscription] | None, event: GatewayEvent) -> None:
        for sub in tuple(subscriptions or ()):
            if sub.wants(event):
                before = sub.dropped
                sub._offer(event)
                self.dropped += sub.dropped - before

    def close(self) -> None:
        """End every subscription (gateway shutdown); queued events can still be read."""
        for sub in tuple(self._subscriptions):
            sub._close("gateway stopped", keep_pending=True)

    def _remove(self, sub: Subscription) -> None:
        try:
            self._subscriptions.remove(sub)
        except ValueError:
            return
        group = self._by_athlete[sub.athlete_id]
        group.remove(sub)
        if not group:
            del self._by_athlete[sub.athlete_id]
