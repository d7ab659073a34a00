"""Live streams per athlete or for the whole gym: WebSocket `/live/ws` and SSE `/live/events`.

Messages are `sensor_gateway.events.event_to_dict` of every gateway event (live angles at
most the gateway's `live_angles_rate_hz` per athlete, wink onsets, reps, sets, sensor status with battery
and gaps), serialized once per event for all clients (`api.http.live_fanout`). Each client
has a bounded queue; a client that falls behind by more than `live_queue_size` messages is
disconnected (WebSocket close 1013, SSE stream ends with an `error` event), so it never
slows the gateway or other clients.

With `batch=true` each WebSocket frame is a JSON array of one or more such messages, in
order: everything queued for that client when the socket is free (e.g. the few seconds of
angles a set's calibration releases at once) goes out as one frame, one send instead of one
per message. The dashboard asks for it; without it, one message per frame.

WebSocket authentication: an `Authorization: Bearer <token>` header, or (browsers, which
cannot set headers) `{"token": "<token>"}` as the first message, within AUTH_TIMEOUT_S.
Never in the URL: URLs end up in access logs. The server reads the socket all along, so a
client that goes away is noticed at once even on a quiet stream.

A stream checks its token again every TOKEN_RECHECK_S (through the token cache, so one
database look-up per token however many streams use it): once the token is revoked the
stream ends (WebSocket close 1008, SSE an `error` event), as its requests get 401.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator

from fastapi import APIRouter, FastAPI, Request, WebSocket, WebSocketDisconnect, status
from fastapi.responses import StreamingResponse
from starlette.concurrency import run_in_threadpool

from api.http.deps import (
    AuthLimiterDep,
    DatabaseDep,
    Reader,
    ServiceDep,
    SettingsDep,
    bearer_secret,
    client_address,
    principal_cached,
    principal_for,
)
from api.http.guard import FailedAuthLimiter, origin_allowed, too_many_attempts_detail
from api.http.routes.common import OptionalId
from api.live_fanout import LiveClient
from api.storage.db import Database

router = APIRouter(prefix="/live", tags=["live"])

WS_CLOSE_TRY_AGAIN = 1013  # RFC 6455 "try again later": fell behind, or no gateway
WS_CLOSE_TOO_MANY_ATTEMPTS = 4429  # application code (4000-4999), mirrors HTTP 429
AUTH_TIMEOUT_S = 10.0  # a browser client must send its token message this soon
MAX_CLIENT_MESSAGE_BYTES = 4096  # clients only ever send the token message
TOKEN_MESSAGE_HELP = 'send {"token": "<token>"} as the first message'
MAX_CLOSE_REASON_BYTES = 123  # RFC 6455: a close frame's reason fits in 123 bytes
TOKEN_RECHECK_S = 2.0  # an open stream's token is checked again this often
TOKEN_REVOKED = "the token was revoked; sign in again with a valid token"

logger = logging.getLogger(__name__)


def close_reason(text: str) -> str:
    """`text` cut to what a WebSocket close frame can carry."""
    return text.encode("utf-8")[:MAX_CLOSE_REASON_BYTES].decode("utf-8", "ignore")


async def _end_when_revoked(
    app: FastAPI, database: Database, secret: str, client: LiveClient
) -> None:
    """Close `client` (its stream ends) once `secret` no longer names a valid token. A
    database that cannot be asked keeps the stream: requests say 503 meanwhile."""
    while not client.closed:
        await asyncio.sleep(TOKEN_RECHECK_S)
        try:
            principal = await principal_cached(app, database, secret)
        except Exception:
            logger.warning("cannot check a live stream's token; checking again later")
            continue
        if principal is None:
            client.close(TOKEN_REVOKED)
            return


async def _token_message(websocket: WebSocket) -> str | None:
    """The token of the client's first message, or None if it is missing or malformed."""
    try:
        text = await asyncio.wait_for(websocket.receive_text(), AUTH_TIMEOUT_S)
    except (TimeoutError, KeyError):  # KeyError: a binary message
        return None
    if len(text) > MAX_CLIENT_MESSAGE_BYTES:
        return None
    try:
        message = json.loads(text)
    except ValueError:
        return None
    token = message.get("token") if isinstance(message, dict) else None
    return token if isinstance(token, str) else None


async def _authenticate(
    websocket: WebSocket, database: Database, limiter: FailedAuthLimiter
) -> str | None:
    """Accept the socket and check its token: the token, or None after closing the socket
    with a readable reason."""
    client = client_address(websocket)
    await websocket.accept()  # then close with a reason a browser client can read
    if "token" in websocket.query_params:
        await websocket.close(
            code=status.WS_1008_POLICY_VIOLATION,
            reason="never put a token in the URL (logs keep it); " + TOKEN_MESSAGE_HELP,
        )
        return None
    retry_after_s = limiter.retry_after_s(client)
    if retry_after_s > 0:
        await websocket.close(
            code=WS_CLOSE_TOO_MANY_ATTEMPTS,
            reason=close_reason(too_many_attempts_detail(retry_after_s)),
        )
        return None
    secret = bearer_secret(websocket)
    if secret is None:
        try:
            secret = await _token_message(websocket)
        except WebSocketDisconnect:  # gone before its token message (the page was closed)
            return None
        if secret is None:
            await websocket.close(code=status.WS_1008_POLICY_VIOLATION, reason=TOKEN_MESSAGE_HELP)
            return None
    principal = await run_in_threadpool(principal_for, database, secret)
    if principal is None:
        limiter.record_failure(client)
        await websocket.close(
            code=status.WS_1008_POLICY_VIOLATION, reason="unknown or revoked token"
        )
        return None
    return secret


async def _read_until_closed(websocket: WebSocket) -> None:
    """Read (and ignore) what the client sends until it goes away."""
    while True:
        message = await websocket.receive()
        if message["type"] == "websocket.disconnect":
            return


async def _send_stream(websocket: WebSocket, client: LiveClient, batch: bool) -> None:
    while (message := await client.next()) is not None:
        if batch:
            texts = [message.text, *(m.text for m in client.drain())]
            await websocket.send_text("[" + ",".join(texts) + "]")
        else:
            await websocket.send_text(message.text)
    reason = client.closed_reason or "gateway stopped"
    code = status.WS_1008_POLICY_VIOLATION if reason == TOKEN_REVOKED else WS_CLOSE_TRY_AGAIN
    await websocket.close(code=code, reason=close_reason(reason))


@router.websocket("/ws")
async def live_websocket(
    websocket: WebSocket,
    settings: SettingsDep,
    service: ServiceDep,
    database: DatabaseDep,
    limiter: AuthLimiterDep,
    athlete_id: OptionalId = None,
    batch: bool = False,
) -> None:
    """Everything happening live for one athlete (`athlete_id`) or the whole gym (omit it);
    `batch`: each frame a JSON array of the messages queued for this client."""
    if not origin_allowed(
        websocket.headers.get("origin"), websocket.headers.get("host"), settings.allowed_origins
    ):
        await websocket.close(code=status.WS_1008_POLICY_VIOLATION)  # handshake answered 403
        return
    secret = await _authenticate(websocket, database, limiter)
    if secret is None:
        return
    fanout = service.live_fanout
    if fanout is None:
        await websocket.close(
            code=WS_CLOSE_TRY_AGAIN, reason="no gateway is running in this server"
        )
        return
    client = fanout.connect(None if athlete_id is None else str(athlete_id))
    reader = asyncio.create_task(_read_until_closed(websocket), name="live-ws-reader")
    sender = asyncio.create_task(_send_stream(websocket, client, batch), name="live-ws-sender")
    watcher = asyncio.create_task(
        _end_when_revoked(websocket.app, database, secret, client), name="live-ws-token"
    )
    try:
        await asyncio.wait((reader, sender), return_when=asyncio.FIRST_COMPLETED)
    finally:
        client.close("client went away")
        for task in (reader, sender, watcher):
            task.cancel()
        # the client's disconnect, or a send to a closed socket, ends a task with an error
        await asyncio.gather(reader, sender, watcher, return_exceptions=True)


@router.get(
    "/events",
    response_class=StreamingResponse,
    responses={200: {"content": {"text/event-stream": {}}}},
)
async def live_events(
    request: Request,
    service: ServiceDep,
    database: DatabaseDep,
    _: Reader,
    athlete_id: OptionalId = None,
):
    """The same stream as `/live/ws` as Server-Sent Events (`event: <type>`, `data: <json>`)."""
    secret = bearer_secret(request) or ""  # Reader has checked it
    fanout = service.live_fanout
    client = (
        None if fanout is None else fanout.connect(None if athlete_id is None else str(athlete_id))
    )

    async def stream() -> AsyncIterator[str]:
        if client is None:
            yield 'event: error\ndata: {"detail": "no gateway is running in this server"}\n\n'
            return
        watcher = asyncio.create_task(
            _end_when_revoked(request.app, database, secret, client), name="live-sse-token"
        )
        try:
            yield ": connected\n\n"
            while (message := await client.next()) is not None:
                yield f"event: {message.type}\ndata: {message.text}\n\n"
            detail = json.dumps({"detail": client.closed_reason or "gateway stopped"})
            yield f"event: error\ndata: {detail}\n\n"
        finally:
            client.close("client went away")
            watcher.cancel()

    return StreamingResponse(
        stream(), media_type="text/event-stream", headers={"Cache-Control": "no-store"}
    )
