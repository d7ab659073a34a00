"""The FastAPI application factory. `/` is left free for the dashboard; OpenAPI at /docs."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

from fastapi import FastAPI

from api.gateway_port import GatewayPort, LiveService
from api.http.body_limit import BodyLimitMiddleware
from api.http.errors import document_error_responses, install_error_handlers
from api.http.guard import FailedAuthLimiter
from api.http.security_headers import install_security_headers
from api.live_fanout import LiveFanout
from api.settings import Settings
from api.storage.db import Database, open_database
from api.storage.recorder import DatabaseSink

API_DESCRIPTION = """Rep-by-rep butt-wink data: athletes, sensors, sessions, sets, reps,
summaries, CSV export and live streams. Every endpoint except `/health` needs
`Authorization: Bearer <token>` (create one with `winkwatch token create`); changes need an
admin token. Angles in degrees, times of a rep in seconds since its set started."""

AUTH_FAILURE_WINDOW_S = 60.0  # settings.auth_failures_per_minute counts within this window


def create_app(
    settings: Settings | None = None,
    gateway: GatewayPort | None = None,
    *,
    database: Database | None = None,
    sink: DatabaseSink | None = None,
    service: Callable[..., LiveService] = LiveService,
) -> FastAPI:
    """Build the app; building it opens and writes nothing.

    Without `database`, the one of `settings` is opened (and its schema upgraded) when the
    app starts and closed when it stops. With a `gateway`, pass the `sink` the gateway writes
    into (see `api.runtime`), so that starting a set through the API and the gateway's own
    records meet in one place. `service` makes what the routes act through (a `LiveService`,
    or the central server's subclass), called with the fields of `LiveService`. Recovering sets a previous run left recording is the
    runtime's job (`api.runtime.build_server`), before the gateway writes anything new.
    """
    settings = settings or Settings()
    live_fanout = (
        None
        if gateway is None
        else LiveFanout(
            gateway.bus,
            max_queued=settings.live_queue_size,
            stored_set_id=sink.stored_set_id if sink is not None else None,
        )
    )

    def provide(app: FastAPI, database: Database) -> None:
        """What the route dependencies (`api.http.deps`) hand to the routes."""
        app.state.settings = settings
        app.state.database = database
        app.state.service = service(
            database=database,
            gateway_id=settings.gateway_id,
            gateway=gateway,
            sink=sink,
            live_fanout=live_fanout,
        )

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        opened = database
        if opened is None:
            opened = open_database(settings.database_url, settings.database_schema)
            provide(app, opened)
        try:
            yield
        finally:
            if database is None:
                opened.dispose()

    app = FastAPI(
        title="WinkWatch", version="0.1.0", description=API_DESCRIPTION, lifespan=lifespan
    )
    if database is not None:
        provide(app, database)
    app.state.auth_limiter = FailedAuthLimiter(
        settings.auth_failures_per_minute, AUTH_FAILURE_WINDOW_S
    )
    install_error_handlers(app)
    app.add_middleware(BodyLimitMiddleware)  # inside the security headers: its 413 gets them
    install_security_headers(app)

    from api.http.routes import (
        access,
        assessments,
        athletes,
        depth_guard,
        explanations,
        exports,
        health,
        live,
        ready,
        reps,
        sensors,
        sessions,
        sets,
        vocabulary,
    )

    # Matched in this order, each router's routes tried in turn: the rep list, the
    # busiest read, first (about 60 us a request less than behind the others).
    for module in (
        reps,
        health,
        access,
        vocabulary,
        athletes,
        depth_guard,
        explanations,
        ready,
        sensors,
        sessions,
        sets,
        exports,
        live,
        assessments,
    ):
        app.include_router(module.router)
    from api.dashboard import install_dashboard

    install_dashboard(app)  # the phone dashboard at `/`
    document_error_responses(app)
    return app
