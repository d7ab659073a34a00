"""`winkwatch serve --edge` / `winkwatch serve --central` (settings from WINKWATCH_* and
WINKWATCH_MQTT_* variables, see api.federation.mqtt)."""

from __future__ import annotations

import asyncio
import logging

import typer

from api.cli.common import fail, shown_database_url
from api.errors import WinkWatchError


def serve_federated(
    host: str | None, port: int | None, simulate: int, log_level: str, *, central: bool, edge: bool
) -> None:
    from api.cli.common import cli_settings
    from api.federation.mqtt import MqttSettings
    from api.federation.runtime import build_central, build_edge, serve_central, serve_edge
    from sensor_gateway.errors import ConfigError

    if central and edge:
        fail("choose --edge or --central, not both")
    if central and simulate:
        fail("the central server has no sensors; run --simulate on an edge")
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    logging.getLogger("alembic").setLevel(logging.WARNING)
    settings = cli_settings()
    host = host or settings.host
    port = settings.port if port is None else port
    try:
        mqtt = MqttSettings()
        if central:
            hub = build_central(settings, mqtt)
            typer.echo(
                f"WinkWatch central server on http://{host}:{port}; broker "
                f"{mqtt.host}:{mqtt.port}; database {shown_database_url(settings.database_url)}"
            )
            try:
                asyncio.run(serve_central(hub, host, port, log_level))
            except KeyboardInterrupt:
                pass
            return
        server, forwarder = build_edge(settings, mqtt, simulate=simulate)
    except (WinkWatchError, ConfigError) as exc:
        fail(str(exc))
        return
    typer.echo(
        f"WinkWatch edge gateway {settings.gateway_id} on http://{host}:{port}; forwarding to "
        f"broker {mqtt.host}:{mqtt.port}; outbox backlog {forwarder.outbox.backlog()} change(s)"
    )
    try:
        asyncio.run(serve_edge(server, forwarder, host, port, log_level))
    except KeyboardInterrupt:
        pass
