"""Composition of the two roles: `winkwatch serve --edge` and `winkwatch serve --central`.

An edge is the ordinary server (gateway + local SQLite + API + dashboard) plus an
`EdgeForwarder`. The central server is the API and dashboard on PostgreSQL with no sensors
of its own: its "gateway" is the `CentralHub`, and `CentralService` acts on the edges.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from functools import partial
from typing import TYPE_CHECKING

from fastapi import FastAPI

from api.federation.central import CentralHub
from api.federation.edge import EdgeForwarder
from api.federation.mqtt import MqttSettings
from api.federation.routes import install_central_routes
from api.federation.service import CentralService
from api.http.app import create_app
from api.http.deps import app_service
from api.runtime import Server, build_server, http_server, serve
from api.settings import Settings
from api.storage.db import Database, open_database

if TYPE_CHECKING:
    import uvicorn

CENTRAL_GATEWAY_ID = "central"  # the central server records no sets of its own


def build_edge(
    settings: Settings, mqtt: MqttSettings, *, simulate: int = 0, realtime: bool = True
) -> tuple[Server, EdgeForwarder]:
    server = build_server(settings, simulate=simulate, realtime=realtime)
    forwarder = EdgeForwarder(
        server.database, settings.gateway_id, mqtt, service=app_service(server.app)
    )
    return server, forwarder


async def serve_edge(
    server: Server, forwarder: EdgeForwarder, host: str, port: int, log_level: str = "info"
) -> None:
    forwarder.start(asyncio.get_running_loop(), server.gateway.bus)
    try:
        await serve(server, host, port, log_level)
    finally:
        forwarder.stop()


@dataclass
class Central:
    app: FastAPI
    hub: CentralHub
    database: Database


def build_central(settings: Settings, mqtt: MqttSettings) -> Central:
    settings = settings.model_copy(update={"gateway_id": CENTRAL_GATEWAY_ID})
    database = open_database(settings.database_url, settings.database_schema)
    hub = CentralHub(database, mqtt)
    # Live streams fed by the hub's bus; the routes act on the edges through the hub.
    app = create_app(settings, hub, database=database, service=partial(CentralService, hub=hub))
    install_central_routes(app)
    return Central(app=app, hub=hub, database=database)


async def serve_central(
    central: Central,
    host: str,
    port: int,
    log_level: str = "info",
    *,
    http: uvicorn.Server | None = None,
) -> None:
    import uvicorn

    central.hub.start(asyncio.get_running_loop())
    http = http or uvicorn.Server(
        uvicorn.Config(
            central.app,
            host=host,
            port=port,
            log_level=log_level,
            lifespan="on",
            timeout_graceful_shutdown=5,  # live streams to browsers end with the server
        )
    )
    try:
        await http.serve()
    finally:
        central.hub.stop()
        central.database.dispose()


__all__ = ["build_central", "build_edge", "http_server", "serve_central", "serve_edge"]
