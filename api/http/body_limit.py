"""Refuse a request body larger than its route can use (413), before it is read into memory.

FastAPI reads and parses a body before it checks the token, so without a limit anyone who
can reach the port makes the server hold whatever they send: a 250 MB body with no token
raised the server's peak memory by 370 MB before its 401 (measured), and a few at once would
exhaust a Raspberry Pi. Every JSON body is small except an imported recording (two CSV texts
of up to `MAX_CSV_CHARS` each). A declared Content-Length over the limit is refused at once;
a body without one is counted as it arrives.
"""

from __future__ import annotations

import json
import re

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

MAX_BODY_BYTES = 1 << 20  # 1 MiB: every body but a recording import is far smaller
MAX_CSV_CHARS = 50_000_000  # per CSV of a recording import (schemas.StepImport)
MAX_RECORDING_BODY_BYTES = 2 * MAX_CSV_CHARS + MAX_BODY_BYTES
RECORDING_PATH = re.compile(r"/assessments/[^/]+/steps/[^/]+/recording")


def body_limit_bytes(path: str) -> int:
    """The largest body a request to `path` may carry."""
    return MAX_RECORDING_BODY_BYTES if RECORDING_PATH.fullmatch(path) else MAX_BODY_BYTES


def too_large_detail(limit_bytes: int) -> str:
    return (
        f"the request body is larger than {limit_bytes / (1 << 20):.0f} MiB, the most this "
        "endpoint takes; send a smaller body"
    )


class BodyLimitMiddleware:
    """Pure ASGI middleware (WebSockets and answers pass untouched)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = body_limit_bytes(scope["path"])
        declared = dict(scope["headers"]).get(b"content-length", b"")
        if declared.isdigit() and int(declared) > limit:
            await _refuse(send, limit)
            return
        received = 0

        async def counted_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:  # FastAPI passes an HTTPException from here on
                    raise HTTPException(413, too_large_detail(limit))
            return message

        await self.app(scope, counted_receive, send)


async def _refuse(send: Send, limit_bytes: int) -> None:
    body = json.dumps({"detail": too_large_detail(limit_bytes)}).encode()
    await send(
        {
            "type": "http.response.start",
            "status": 413,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                (b"connection", b"close"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
