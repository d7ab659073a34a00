"""Dependencies of the routes: database session, settings, caller's token, gateway service."""

from __future__ import annotations

import math
import time
from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, FastAPI, HTTPException, status
from fastapi.concurrency import run_in_threadpool
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.orm import Session
from starlette.requests import HTTPConnection

from api.auth import Principal, authenticate, hash_secret
from api.gateway_port import LiveService
from api.http.guard import FailedAuthLimiter, too_many_attempts_detail
from api.http.lean_route import Decline, fast_resolver
from api.settings import Settings
from api.storage.db import Database

_bearer = HTTPBearer(auto_error=False, description="token from `winkwatch token create`")


# The app factory puts these on `app.state`; routes get them only through the dependencies
# below (HTTPConnection: the same for HTTP requests and WebSockets). They are `async def`:
# FastAPI runs a plain `def` dependency in a worker thread, two thread hops per request for
# an attribute read.


async def get_database(connection: HTTPConnection) -> Database:
    database: Database = connection.app.state.database
    return database


def get_db(database: Annotated[Database, Depends(get_database)]) -> Iterator[Session]:
    """One transaction per request: committed when the route returns, before the answer is
    sent (`DbDep` has scope "function"), rolled back if it raises. A commit that fails
    raises into the error handlers (503), so a 2xx is only ever sent for stored data."""
    db = database.sessions()
    try:
        yield db
        db.commit()
    except BaseException:
        db.rollback()
        raise
    finally:
        db.close()


async def get_settings(connection: HTTPConnection) -> Settings:
    settings: Settings = connection.app.state.settings
    return settings


async def get_service(connection: HTTPConnection) -> LiveService:
    """Sets and sensors through the live gateway (or the database alone without one)."""
    return app_service(connection.app)


def app_service(app: FastAPI) -> LiveService:
    """The service an app's routes act through (for the runtime that composes the app)."""
    service: LiveService = app.state.service
    return service


async def get_auth_limiter(connection: HTTPConnection) -> FailedAuthLimiter:
    limiter: FailedAuthLimiter = connection.app.state.auth_limiter
    return limiter


def client_address(connection: HTTPConnection) -> str:
    """The peer address a request came from (what failed token attempts are counted by)."""
    return connection.client.host if connection.client is not None else "unknown"


def bearer_secret(connection: HTTPConnection) -> str | None:
    """The token of the request's `Authorization: Bearer <token>` header, None without one."""
    header = connection.headers.get("authorization", "")
    return header[7:].strip() if header.lower().startswith("bearer ") else None


def principal_for(database: Database, secret: str | None) -> Principal | None:
    if not secret:
        return None
    with database.sessions() as db:
        return authenticate(db, secret)


async def require_reader(
    connection: HTTPConnection,
    database: Annotated[Database, Depends(get_database)],
    limiter: Annotated[FailedAuthLimiter, Depends(get_auth_limiter)],
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Principal:
    client = client_address(connection)
    secret = credentials.credentials if credentials else None
    retry_after_s = limiter.retry_after_s(client) if secret else 0.0
    if retry_after_s > 0:  # a blocked client's tokens are not even looked at
        raise HTTPException(
            status.HTTP_429_TOO_MANY_REQUESTS,
            too_many_attempts_detail(retry_after_s),
            headers={"Retry-After": str(max(1, math.ceil(retry_after_s)))},
        )
    principal = await principal_cached(connection.app, database, secret) if secret else None
    if principal is None:
        if secret:
            limiter.record_failure(client)
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            "missing, unknown or revoked token; send `Authorization: Bearer <token>` with a token "
            "from `winkwatch token create`",
            headers={"WWW-Authenticate": "Bearer"},
        )
    return principal


# Known tokens are looked up in the database at most once per this many seconds, so most
# requests need no session (nor worker thread) for auth; a revoked token (`winkwatch
# token revoke`, possibly from another process) stops working within this time.
TOKEN_CACHE_TTL_S = 2.0
TOKEN_CACHE_MAX_ENTRIES = 1000


def _token_cache(app: FastAPI) -> dict[str, tuple[Principal, float]]:
    cache: dict[str, tuple[Principal, float]] | None = getattr(app.state, "token_cache", None)
    if cache is None:
        cache = app.state.token_cache = {}
    return cache


async def principal_cached(app: FastAPI, database: Database, secret: str) -> Principal | None:
    """The principal of `secret` (None: unknown or revoked), looked up in the database at
    most once per TOKEN_CACHE_TTL_S: by requests, and by live streams checking their token."""
    cache = _token_cache(app)
    digest = hash_secret(secret)
    hit = cache.get(digest)
    now_s = time.monotonic()
    if hit is not None and hit[1] > now_s:
        return hit[0]
    principal = await run_in_threadpool(principal_for, database, secret)
    if principal is None:
        cache.pop(digest, None)
        return None
    if len(cache) >= TOKEN_CACHE_MAX_ENTRIES:
        cache.clear()
    cache[digest] = (principal, now_s + TOKEN_CACHE_TTL_S)
    return principal


# The routes' lean path (`api.http.lean_route`): the same values without FastAPI solving
# the dependency tree, or `Decline` and FastAPI solves it as above.


@fast_resolver(get_database)
async def _database_fast(connection: HTTPConnection) -> Database:
    return await get_database(connection)


@fast_resolver(require_reader)
async def _reader_fast(connection: HTTPConnection) -> Principal:
    """`require_reader`'s principal for a token remembered in the token cache and a client
    that is not blocked; anything else (no or another scheme, unknown, expired, blocked)
    declines, and `require_reader` answers it (401, 429, a database look-up). The token is
    read from the ASGI scope as `HTTPBearer` reads it (the first Authorization header,
    "<scheme> <credentials>", the scheme "bearer" in any case, the credentials stripped),
    without building its Headers, Address and credentials objects (~0.03 ms)."""
    scope = connection.scope
    for name, value in scope["headers"]:
        if name == b"authorization":
            scheme, _, param = value.decode("latin-1").partition(" ")
            secret = param.strip()
            break
    else:
        raise Decline
    if not (scheme and secret) or scheme.lower() != "bearer":
        raise Decline
    app = connection.app
    limiter: FailedAuthLimiter = app.state.auth_limiter
    peer = scope.get("client")
    if limiter.retry_after_s(peer[0] if peer else "unknown") > 0:
        raise Decline
    hit = _token_cache(app).get(hash_secret(secret))
    if hit is None or hit[1] <= time.monotonic():
        raise Decline
    return hit[0]


def require_admin(principal: Annotated[Principal, Depends(require_reader)]) -> Principal:
    if not principal.is_admin:
        raise HTTPException(
            status.HTTP_403_FORBIDDEN,
            f"token {principal.name!r} is read-only; this needs an admin token",
        )
    return principal


DbDep = Annotated[Session, Depends(get_db, scope="function")]
DatabaseDep = Annotated[Database, Depends(get_database)]
SettingsDep = Annotated[Settings, Depends(get_settings)]
ServiceDep = Annotated[LiveService, Depends(get_service)]
AuthLimiterDep = Annotated[FailedAuthLimiter, Depends(get_auth_limiter)]
Reader = Annotated[Principal, Depends(require_reader)]
Admin = Annotated[Principal, Depends(require_admin)]
