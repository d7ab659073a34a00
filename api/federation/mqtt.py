"""MQTT connection settings and clients (paho-mqtt 2, MQTT v5).

paho-mqtt is the Eclipse reference client: its network loop runs in its own thread, which
fits the synchronous SQLAlchemy work on both ends (the edge reads SQLite, the central writes
PostgreSQL) without bridging into asyncio; MQTT v5 gives reason codes (a publish the ACL
refuses is answered "not authorized"), session expiry and message expiry (stale commands).

Settings come from WINKWATCH_MQTT_* variables:

| variable | default | what |
| --- | --- | --- |
| `WINKWATCH_MQTT_HOST` / `_PORT` | 127.0.0.1 / 1883 | the broker (8883 with TLS) |
| `WINKWATCH_MQTT_USERNAME` | the gateway id | broker user (the ACL keys topics on it) |
| `WINKWATCH_MQTT_PASSWORD` or `_PASSWORD_FILE` | none | its password (a file keeps it out of `ps`) |
| `WINKWATCH_MQTT_TLS_CA_FILE` | none | CA certificate: turns TLS on, server certificate verified |
| `WINKWATCH_MQTT_TLS_CERT_FILE` / `_KEY_FILE` | none | client certificate instead of / besides a password |
| `WINKWATCH_MQTT_SESSION_EXPIRY_S` | 7 days | how long the broker keeps a disconnected client's session |
"""

from __future__ import annotations

import asyncio
import ssl
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from pydantic import Field
from pydantic_settings import SettingsConfigDict

from api.federation.errors import FederationError
from sensor_gateway.config import EnvSettings

KEEPALIVE_S = 15  # the broker publishes a gateway's last will ~1.5 keepalives after it vanished
RECONNECT_MIN_DELAY_S = 1
RECONNECT_MAX_DELAY_S = 5  # a broker back after an outage is used again within 5 s


class MqttSettings(EnvSettings):
    model_config = SettingsConfigDict(env_prefix="WINKWATCH_MQTT_", extra="ignore")

    host: str = "127.0.0.1"
    port: int = Field(default=1883, ge=1, le=65535)
    username: str | None = None
    password: str | None = None
    password_file: Path | None = None
    tls_ca_file: Path | None = None
    tls_cert_file: Path | None = None
    tls_key_file: Path | None = None
    session_expiry_s: int = Field(default=7 * 24 * 3600, ge=0)

    def secret(self) -> str | None:
        if self.password is not None:
            return self.password
        if self.password_file is None:
            return None
        try:
            return self.password_file.read_text().strip()
        except OSError as exc:
            raise FederationError(
                f"cannot read WINKWATCH_MQTT_PASSWORD_FILE {self.password_file}: {exc}"
            ) from exc


def make_client(
    settings: MqttSettings,
    client_id: str,
    *,
    username: str,
    will: tuple[str, bytes] | None = None,
    persistent: bool = True,
) -> mqtt.Client:
    """A client set up with credentials, TLS and (persistent) session; not yet connected."""
    client = mqtt.Client(
        CallbackAPIVersion.VERSION2,
        client_id=client_id,
        protocol=MQTTProtocolVersion.MQTTv5,
        reconnect_on_failure=True,
    )
    client.username_pw_set(settings.username or username, settings.secret())
    if settings.tls_ca_file is not None or settings.tls_cert_file is not None:
        try:
            client.tls_set(
                ca_certs=str(settings.tls_ca_file) if settings.tls_ca_file else None,
                certfile=str(settings.tls_cert_file) if settings.tls_cert_file else None,
                keyfile=str(settings.tls_key_file) if settings.tls_key_file else None,
                cert_reqs=ssl.CERT_REQUIRED,
            )
        except OSError as exc:  # ssl.SSLError too: a file that is not a PEM certificate or key
            files = (
                f"WINKWATCH_MQTT_TLS_{name}_FILE={path}"
                for name, path in (
                    ("CA", settings.tls_ca_file),
                    ("CERT", settings.tls_cert_file),
                    ("KEY", settings.tls_key_file),
                )
                if path is not None
            )
            raise FederationError(
                f"cannot use the TLS files ({', '.join(files)}): {exc.strerror or exc}; "
                "check the paths and that they hold PEM certificates and the matching key"
            ) from exc
    if will is not None:
        client.will_set(will[0], will[1], qos=1, retain=True)
    client.reconnect_delay_set(RECONNECT_MIN_DELAY_S, RECONNECT_MAX_DELAY_S)
    client.max_queued_messages_set(0)
    client.user_data_set({"persistent": persistent})
    return client


def connect(client: mqtt.Client, settings: MqttSettings, *, persistent: bool = True) -> None:
    """Start connecting in the background (paho's thread reconnects by itself)."""
    properties = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
    properties.SessionExpiryInterval = settings.session_expiry_s if persistent else 0
    client.connect_async(
        settings.host,
        settings.port,
        keepalive=KEEPALIVE_S,
        clean_start=not persistent,
        properties=properties,
    )
    client.loop_start()


def expiring(seconds: int) -> Properties:
    """PUBLISH properties: the broker drops the message if not delivered within `seconds`."""
    properties = Properties(PacketTypes.PUBLISH)  # type: ignore[no-untyped-call]
    properties.MessageExpiryInterval = seconds
    return properties


def reason_failed(reason_code: Any) -> bool:
    return bool(getattr(reason_code, "is_failure", False))


def resolve(future: asyncio.Future[dict[str, Any]], answer: dict[str, Any]) -> None:
    """Hand an answer that came over MQTT (a reply, an answer) to the one waiting for it (call
    on its event loop: `loop.call_soon_threadsafe(resolve, future, answer)`)."""
    if not future.done():
        future.set_result(answer)
