"""Security headers on every HTTP answer (the dashboard above all).

- Content-Security-Policy: scripts, styles, images and connections from this server only;
  no inline script, no plugins, and no framing (`frame-ancestors 'none'`, plus the older
  X-Frame-Options for browsers without CSP level 2), so another page cannot load the
  dashboard in a frame and trick a coach into clicking its buttons.
- X-Content-Type-Options: nosniff (a CSV or JSON answer is never run as a script).
- Referrer-Policy: no-referrer (links out of the dashboard carry nothing from it).

The interactive API docs (/docs, /redoc) load Swagger UI / ReDoc with inline script from a
CDN, so they get every header except the CSP.
"""

from __future__ import annotations

from fastapi import FastAPI
from starlette.types import ASGIApp, Message, Receive, Scope, Send

CONTENT_SECURITY_POLICY = "; ".join(
    (
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    )
)
SECURITY_HEADERS: tuple[tuple[bytes, bytes], ...] = (
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
)
DOCS_PATHS = ("/docs", "/redoc")


class SecurityHeadersMiddleware:
    """Pure ASGI middleware (works for streaming answers too; WebSockets pass untouched)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = list(SECURITY_HEADERS)
        if not scope["path"].startswith(DOCS_PATHS):
            headers.append((b"content-security-policy", CONTENT_SECURITY_POLICY.encode()))

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                present = {name.lower() for name, _ in message.get("headers", [])}
                extra = [(name, value) for name, value in headers if name not in present]
                message = {**message, "headers": [*message.get("headers", []), *extra]}
            await send(message)

        await self.app(scope, receive, send_with_headers)


def install_security_headers(app: FastAPI) -> None:
    app.add_middleware(SecurityHeadersMiddleware)
