"""Fan-out of gateway events to live stream clients, serialized once per event.

One subscription on the gateway bus feeds every WebSocket and SSE client. Each event is
turned into JSON text once (live angles arrive already thinned, once, by the gateway to
`WINKWATCH_GATEWAY_LIVE_ANGLES_RATE_HZ`); the same text is then offered to each interested client's bounded queue. So the cost
per event is one `json.dumps` plus one deque append per client, and a client that stops
reading (queue full: behind by more than `max_queued` messages) is dropped without slowing
the gateway or anyone else. When the gateway stops, every client's stream ends.

`set_started` and `rep_completed` messages carry the stored set's database id (`set_id`):
the gateway publishes them only once the sink has stored them, so a page can link the set
and its reps at once instead of asking for the id later.

All methods must be called from the thread running the event loop (the gateway's loop).
"""

from __future__ import annotations

import asyncio
import collections
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass

from sensor_gateway.events import GatewayEvent, RepCompleted, SetStarted, event_to_dict
from sensor_gateway.pubsub import EventBus, Subscription

log = logging.getLogger(__name__)

# The fan-out's own subscription on the gateway bus: it only copies references, so it never
# falls far behind; this bound only matters if the event loop stalls for seconds.
FANOUT_QUEUE_EVENTS = 10_000


@dataclass(frozen=True)
class LiveMessage:
    """One event as sent to clients: its wire type, athlete key and JSON text."""

    type: str
    athlete_id: str | None
    text: str


class LiveClient:
    """One stream client: a bounded queue of messages for one athlete (or all: None)."""

    def __init__(self, fanout: LiveFanout, athlete_id: str | None, max_queued: int) -> None:
        self._fanout = fanout
        self.athlete_id = athlete_id
        self.max_queued = max_queued
        self._queue: collections.deque[LiveMessage] = collections.deque()
        self._wakeup = asyncio.Event()
        self.closed_reason: str | None = None

    @property
    def closed(self) -> bool:
        return self.closed_reason is not None

    def offer(self, message: LiveMessage) -> None:
        if self.closed or (self.athlete_id is not None and message.athlete_id != self.athlete_id):
            return
        if len(self._queue) >= self.max_queued:
            self.close(f"fell behind by more than {self.max_queued} messages; disconnected")
            return
        self._queue.append(message)
        self._wakeup.set()

    def drain(self) -> list[LiveMessage]:
        """Every message queued now (without waiting)."""
        queued = list(self._queue)
        self._queue.clear()
        return queued

    async def next(self) -> LiveMessage | None:
        """The next message; None once the client is closed (queued messages are dropped
        only when it was closed for falling behind or by the caller)."""
        while True:
            if self._queue:
                return self._queue.popleft()
            if self.closed:
                return None
            self._wakeup.clear()
            await self._wakeup.wait()

    def close(self, reason: str = "closed", *, keep_pending: bool = False) -> None:
        """Stop receiving; a waiting `next()` returns None. Safe to call twice."""
        if self.closed:
            return
        self.closed_reason = reason
        if not keep_pending:
            self._queue.clear()
        self._fanout._remove(self)
        self._wakeup.set()


class LiveFanout:
    """Serializes each gateway event once and hands the text to every interested client."""

    def __init__(
        self,
        bus: EventBus,
        *,
        max_queued: int,
        stored_set_id: Callable[[str], int | None] | None = None,
    ) -> None:
        self._bus = bus
        self.max_queued = max_queued
        self._stored_set_id = stored_set_id  # set key -> database id (the sink's)
        self._clients: set[LiveClient] = set()
        self._task: asyncio.Task[None] | None = None
        self.stopped_reason: str | None = None
        self.serialized = 0  # events turned into JSON (once each, whatever the client count)

    @property
    def client_count(self) -> int:
        return len(self._clients)

    def connect(self, athlete_id: str | None) -> LiveClient:
        """A new client; already closed (with the reason) if the gateway has stopped."""
        client = LiveClient(self, athlete_id, self.max_queued)
        if self.stopped_reason is not None:
            client.close(self.stopped_reason)
            return client
        self._clients.add(client)
        if self._task is None:
            subscription = self._bus.subscribe(
                max_queued=FANOUT_QUEUE_EVENTS, overflow="drop_oldest"
            )
            self._task = asyncio.get_running_loop().create_task(
                self._run(subscription), name="live-fanout"
            )
        return client

    def publish(self, event: GatewayEvent) -> None:
        """Serialize once, offer to every client (synchronous, never waits)."""
        if not self._clients:
            return
        data = event_to_dict(event)
        set_key = (
            event.set.set_key
            if isinstance(event, SetStarted)
            else event.set_key
            if isinstance(event, RepCompleted)
            else None
        )
        if set_key is not None and self._stored_set_id is not None:
            data["set_id"] = self._stored_set_id(set_key)
        message = LiveMessage(type=data["type"], athlete_id=event.athlete_id, text=json.dumps(data))
        self.serialized += 1
        for client in tuple(self._clients):
            client.offer(message)

    async def _run(self, subscription: Subscription) -> None:
        reason = "server stopping"
        try:
            async for event in subscription:
                self.publish(event)
            reason = subscription.closed_reason or "gateway stopped"
        finally:
            subscription.unsubscribe()
            self.stop(reason)

    def stop(self, reason: str = "gateway stopped") -> None:
        """End every client's stream (what is queued can still be read)."""
        if self.stopped_reason is None:
            self.stopped_reason = reason
        for client in tuple(self._clients):
            client.close(self.stopped_reason, keep_pending=True)

    def _remove(self, client: LiveClient) -> None:
        self._clients.discard(client)
