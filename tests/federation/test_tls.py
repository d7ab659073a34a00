"""TLS between the gateways, the broker and the central server: a private Mosquitto with a TLS
listener (certificates made in the test's temp dir by a throwaway CA).

- Identity by client certificate (`require_certificate`, `use_identity_as_username`): each
  gateway's certificate names it, the ACL keys on that name; an edge forwards over TLS, its
  changes are stored centrally and acknowledged; its certificate cannot publish as another
  gateway; a client without a certificate, or one that does not trust the broker's CA, gets
  no connection.
- Server-verified TLS with per-gateway passwords, configured through WINKWATCH_MQTT_*."""

from __future__ import annotations

import json
import ssl
import threading

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion
from sqlalchemy import func, select

from api.federation import topics
from api.federation.central import CentralHub
from api.federation.edge import EdgeForwarder
from api.federation.mqtt import MqttSettings
from api.storage import catalog
from api.storage.db import open_database
from api.storage.models import Athlete
from tests.federation.certs import CertificateAuthority
from tests.federation.conftest import USERS
from tests.federation.infra import BrokerTls, Mosquitto, mosquitto_available
from tests.federation.test_broker import LoopThread, wait_until

pytestmark = pytest.mark.skipif(not mosquitto_available(), reason="mosquitto is not installed")


@pytest.fixture
def ca(tmp_path) -> CertificateAuthority:
    return CertificateAuthority(tmp_path / "pki")


def _tls_broker(tmp_path, ca: CertificateAuthority, *, client_certificates: bool) -> Mosquitto:
    issued = ca.issue("broker", server=True)
    tls = BrokerTls(ca.cert, issued.cert, issued.key, client_certificates=client_certificates)
    return Mosquitto(tmp_path / "mosquitto", USERS, tls=tls).start()


def _cert_settings(broker: Mosquitto, ca: CertificateAuthority, identity: str) -> MqttSettings:
    issued = ca.issue(identity)
    return MqttSettings(
        host="127.0.0.1",
        port=broker.port,
        tls_ca_file=ca.cert,
        tls_cert_file=issued.cert,
        tls_key_file=issued.key,
    )


def _forward_one_athlete(tmp_path, database, central: MqttSettings, edge: MqttSettings) -> None:
    loop = LoopThread()
    hub = CentralHub(database, central).start(loop.loop)
    edge_db = open_database(f"sqlite:///{tmp_path / 'edge.db'}")
    forwarder = EdgeForwarder(edge_db, "gw-a", edge).start()
    try:
        with edge_db.sessions.begin() as db:
            catalog.create_athlete(db, "over TLS")
        wait_until(lambda: forwarder.outbox.backlog() == 0, 20, "the outbox to drain over TLS")
        with database.sessions() as db:
            assert db.scalar(select(Athlete.name)) == "over TLS"
        wait_until(lambda: hub.gateways.get("gw-a", {}).get("online"), 5, "retained status")
    finally:
        forwarder.stop(drain_s=0)
        hub.stop()
        loop.close()
        edge_db.dispose()


def test_gateways_identified_by_client_certificates_over_tls(tmp_path, ca, database) -> None:
    broker = _tls_broker(tmp_path, ca, client_certificates=True)
    try:
        _forward_one_athlete(
            tmp_path,
            database,
            _cert_settings(broker, ca, "central"),
            _cert_settings(broker, ca, "gw-a"),
        )
        assert _connects(broker, ca, certificate=True)  # the probe itself works
        # gw-a's certificate cannot publish as gw-b: the ACL keys on the certificate's name.
        intruder = _raw_client("gw-a-raw")
        intruder.tls_set(
            ca_certs=str(ca.cert),
            certfile=str(ca.directory / "gw-a.crt"),
            keyfile=str(ca.directory / "gw-a.key"),
        )
        acks: dict[int, object] = {}
        intruder.on_publish = lambda _c, _u, mid, reason, _p: acks.__setitem__(mid, reason)
        intruder.connect("127.0.0.1", broker.port)
        intruder.loop_start()
        try:
            forged = {"origin": "f" * 32, "prev_seq": 0, "seq": 1, "changes": []}
            info = intruder.publish(topics.up("gw-b", "data"), json.dumps(forged), qos=1)
            own = intruder.publish(topics.up("gw-a", "live"), b"{}", qos=1)
            wait_until(lambda: len(acks) == 2, 5, "the broker's answers")
            assert acks[info.mid].value == 135  # 0x87 Not authorized
            assert acks[own.mid].value in (0, 16)  # its own topic: accepted
        finally:
            intruder.loop_stop()
            intruder.disconnect()
        # No certificate: no connection.
        assert not _connects(broker, ca, certificate=False)
        # A client that does not trust the broker's CA refuses the broker.
        other_ca = CertificateAuthority(tmp_path / "other-pki", name="Some other CA")
        stranger = _raw_client("stranger")
        stranger.tls_set(ca_certs=str(other_ca.cert))
        with pytest.raises(ssl.SSLCertVerificationError):
            stranger.connect("127.0.0.1", broker.port)
        with database.sessions() as db:
            assert db.scalar(select(func.count()).select_from(Athlete)) == 1
    finally:
        broker.stop()


def test_tls_with_passwords_configured_from_the_environment(
    tmp_path, ca, database, monkeypatch
) -> None:
    broker = _tls_broker(tmp_path, ca, client_certificates=False)
    try:
        settings = {}
        for user in ("central", "gw-a"):
            password_file = tmp_path / f"{user}.password"
            password_file.write_text(USERS[user] + "\n")
            monkeypatch.setenv("WINKWATCH_MQTT_HOST", "127.0.0.1")
            monkeypatch.setenv("WINKWATCH_MQTT_PORT", str(broker.port))
            monkeypatch.setenv("WINKWATCH_MQTT_USERNAME", user)
            monkeypatch.setenv("WINKWATCH_MQTT_PASSWORD_FILE", str(password_file))
            monkeypatch.setenv("WINKWATCH_MQTT_TLS_CA_FILE", str(ca.cert))
            settings[user] = MqttSettings()
        assert settings["gw-a"].tls_ca_file == ca.cert
        _forward_one_athlete(tmp_path, database, settings["central"], settings["gw-a"])
    finally:
        broker.stop()


def _connects(broker: Mosquitto, ca: CertificateAuthority, *, certificate: bool) -> bool:
    """Whether a client trusting `ca` gets a CONNACK success within 3 s (the handshake fails,
    or the broker drops the connection, without a certificate)."""
    client = _raw_client("probe")
    client.tls_set(
        ca_certs=str(ca.cert),
        certfile=str(ca.directory / "gw-a.crt") if certificate else None,
        keyfile=str(ca.directory / "gw-a.key") if certificate else None,
    )
    accepted = threading.Event()
    client.on_connect = lambda _c, _u, _f, reason, _p: reason.is_failure or accepted.set()
    try:
        client.connect("127.0.0.1", broker.port)
    except OSError:
        return False
    client.loop_start()
    try:
        return accepted.wait(3.0)
    finally:
        client.loop_stop()
        client.disconnect()


def _raw_client(client_id: str) -> mqtt.Client:
    return mqtt.Client(
        CallbackAPIVersion.VERSION2, client_id=client_id, protocol=MQTTProtocolVersion.MQTTv5
    )


@pytest.mark.parametrize("problem", ["missing", "not-pem"])
def test_tls_files_that_cannot_be_used_are_named(tmp_path, monkeypatch, problem) -> None:
    # Found by probing: a mistyped WINKWATCH_MQTT_TLS_CA_FILE ended `serve --central` and
    # `serve --edge` with paho's FileNotFoundError (or ssl.SSLError) traceback.
    from typer.testing import CliRunner

    from api.cli.main import app

    ca_file = tmp_path / "ca.pem"
    if problem == "not-pem":
        ca_file.write_text("t_s,ax_mps2\n")
    monkeypatch.setenv("WINKWATCH_DATABASE_URL", f"sqlite:///{tmp_path / 'central.db'}")
    monkeypatch.setenv("WINKWATCH_GATEWAY_CONFIG_FILE", str(tmp_path / "gateway.json"))
    monkeypatch.setenv("WINKWATCH_MQTT_TLS_CA_FILE", str(ca_file))
    result = CliRunner().invoke(app, ["serve", "--central"])
    assert result.exit_code == 2, (result.exception, result.output)
    assert f"error: cannot use the TLS files (WINKWATCH_MQTT_TLS_CA_FILE={ca_file})" in (
        result.stderr
    )
    assert "Traceback" not in result.output
