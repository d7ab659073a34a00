"""Live streams per athlete or for the whole gym: WebSocket `/live/ws` and SSE `/live/events`.

Messages are `sensor_gateway.events.event_to_dict` of every gateway event (live angles at
most `live_angles_rate_hz` per athlete, wink onsets, reps, sets, sensor status with battery
and gaps). Each client has a bounded queue in the gateway's pub/sub; a client that falls
behind by more than `live_queue_size` messages is disconnected (WebSocket close 1013, SSE
stream ends with an `error` event), so it never slows the gateway or other clients.
WebSocket clients that cannot send headers pass the token as `?token=`.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

from fastapi import APIRouter, Query, Request, WebSocket, WebSocketDisconnect, status
from fastapi.responses import StreamingResponse
from starlette.concurrency import run_in_threadpool

from api.http.deps import Reader, principal_for
from api.http.routes.common import OptionalId
from sensor_gateway.events import GatewayEvent, LiveAngles, event_to_dict
from sensor_gateway.pubsub import Subscription, SubscriptionClosed

router = APIRouter(prefix="/live", tags=["live"])

WS_CLOSE_TRY_AGAIN = 1013  # RFC 6455 "try again later": used when a client fell behind


class AngleThrottle:
    """Passes at most `rate_hz` LiveAngles per athlete; every other event passes."""

    def __init__(self, rate_hz: float) -> None:
        self.min_interval_s = 1.0 / rate_hz
        self._last_s: dict[str | None, float] = {}

    def allows(self, event: GatewayEvent) -> bool:
        if not isinstance(event, LiveAngles):
            return True
        last = self._last_s.get(event.athlete_id)
        # 10% slack so a source at exactly the target rate is not halved by jitter.
        if last is not None and event.t_s - last < 0.9 * self.min_interval_s:
            return False
        self._last_s[event.athlete_id] = event.t_s
        return True


def _subscribe(app, athlete_id: int | None) -> Subscription | None:
    gateway = app.state.service.gateway
    if gateway is None:
        return None
    return gateway.bus.subscribe(
        athlete_id=None if athlete_id is None else str(athlete_id),
        max_queued=app.state.settings.live_queue_size,
        overflow="disconnect",
    )


async def _messages(app, subscription: Subscription) -> AsyncIterator[dict]:
    throttle = AngleThrottle(app.state.settings.live_angles_rate_hz)
    async for event in subscription:
        if throttle.allows(event):
            yield event_to_dict(event)


@router.websocket("/ws")
async def live_websocket(
    websocket: WebSocket,
    athlete_id: OptionalId = None,
    token: str | None = Query(None, description="bearer token, if no header"),
):
    """Everything happening live for one athlete (`athlete_id`) or the whole gym (omit it)."""
    header = websocket.headers.get("authorization", "")
    secret = header[7:].strip() if header.lower().startswith("bearer ") else token
    principal = await run_in_threadpool(principal_for, websocket.app.state.database, secret)
    await websocket.accept()  # then close with a reason a browser client can read
    if principal is None:
        await websocket.close(
            code=status.WS_1008_POLICY_VIOLATION,
            reason="missing, unknown or revoked token; pass ?token=<token>",
        )
        return
    subscription = _subscribe(websocket.app, athlete_id)
    if subscription is None:
        await websocket.close(
            code=WS_CLOSE_TRY_AGAIN, reason="no gateway is running in this server"
        )
        return
    try:
        async for message in _messages(websocket.app, subscription):
            await websocket.send_text(json.dumps(message))
        reason = subscription.closed_reason or "gateway stopped"
        await websocket.close(code=WS_CLOSE_TRY_AGAIN, reason=reason[:120])
    except (WebSocketDisconnect, RuntimeError):
        pass  # client went away mid-send
    finally:
        subscription.unsubscribe()


@router.get(
    "/events",
    response_class=StreamingResponse,
    responses={200: {"content": {"text/event-stream": {}}}},
)
async def live_events(request: Request, _: Reader, athlete_id: OptionalId = None):
    """The same stream as `/live/ws` as Server-Sent Events (`event: <type>`, `data: <json>`)."""
    subscription = _subscribe(request.app, athlete_id)

    async def stream() -> AsyncIterator[str]:
        if subscription is None:
            yield 'event: error\ndata: {"detail": "no gateway is running in this server"}\n\n'
            return
        try:
            yield ": connected\n\n"
            async for message in _messages(request.app, subscription):
                yield f"event: {message['type']}\ndata: {json.dumps(message)}\n\n"
            detail = json.dumps({"detail": subscription.closed_reason or "gateway stopped"})
            yield f"event: error\ndata: {detail}\n\n"
        except SubscriptionClosed:
            pass
        finally:
            subscription.unsubscribe()

    return StreamingResponse(
        stream(), media_type="text/event-stream", headers={"Cache-Control": "no-store"}
    )
