"""A private Mosquitto broker (config, password file and ACL in a temp dir, random port) and
a TCP relay whose link can be cut, for the federation tests and benchmarks."""

from __future__ import annotations

import getpass
import os
import shutil
import signal
import socket
import subprocess
import threading
import time
from dataclasses import dataclass
from pathlib import Path

MOSQUITTO = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
MOSQUITTO_PASSWD = shutil.which("mosquitto_passwd") or "/usr/bin/mosquitto_passwd"

ACL = """\
# The central server reads everything the gateways send and writes their down topics.
user central
topic read winkwatch/v1/gw/+/up/#
topic write winkwatch/v1/gw/+/down/#

# Every gateway (MQTT username = gateway id) publishes only its own up topics and reads only
# its own down topics: it cannot publish as another gateway.
pattern write winkwatch/v1/gw/%u/up/#
pattern read winkwatch/v1/gw/%u/down/#
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def mosquitto_available() -> bool:
    return Path(MOSQUITTO).exists() and Path(MOSQUITTO_PASSWD).exists()


@dataclass(frozen=True)
class BrokerTls:
    """A TLS listener: the broker's certificate and the CA that signed it (and the clients').
    With `client_certificates`, a client must present a certificate from that CA and its
    common name is its MQTT username (no password): identity by certificate."""

    ca_file: Path
    cert_file: Path
    key_file: Path
    client_certificates: bool = False


class Mosquitto:
    """`mosquitto -c DIR/mosquitto.conf` on 127.0.0.1:PORT with users and the ACL above
    (on TLS with `tls`)."""

    def __init__(
        self, directory: Path, users: dict[str, str], tls: BrokerTls | None = None
    ) -> None:
        self.directory = directory
        self.port = free_port()
        self.users = users
        directory.mkdir(parents=True, exist_ok=True)
        (directory / "data").mkdir(exist_ok=True)
        passwd = directory / "passwd"
        passwd.touch(mode=0o600)
        for user, password in users.items():
            subprocess.run([MOSQUITTO_PASSWD, "-b", str(passwd), user, password], check=True)
        (directory / "acl").write_text(ACL)
        self.tls = tls
        listener = ""
        if tls is not None:
            listener = (
                f"cafile {tls.ca_file}\ncertfile {tls.cert_file}\nkeyfile {tls.key_file}\n"
                "tls_version tlsv1.2\n"
            )
            if tls.client_certificates:
                listener += "require_certificate true\nuse_identity_as_username true\n"
        authentication = (
            "" if tls is not None and tls.client_certificates else f"password_file {passwd}\n"
        )
        (directory / "mosquitto.conf").write_text(
            # Run as whoever runs the tests (as root, mosquitto would switch to its own user).
            f"user {getpass.getuser()}\n"
            f"listener {self.port} 127.0.0.1\n"
            f"{listener}"
            "allow_anonymous false\n"
            f"{authentication}"
            f"acl_file {directory / 'acl'}\n"
            "persistence true\n"
            f"persistence_location {directory / 'data'}/\n"
            "autosave_interval 60\n"
            f"log_dest file {directory / 'mosquitto.log'}\n"
            "log_type error\nlog_type warning\nlog_type notice\nlog_type information\n"
        )
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> Mosquitto:
        self.process = subprocess.Popen(
            [MOSQUITTO, "-c", str(self.directory / "mosquitto.conf")],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10.0
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                    return self
            except OSError:
                if self.process.poll() is not None:
                    raise RuntimeError(f"mosquitto exited: {self.log()}") from None
                time.sleep(0.05)
        raise RuntimeError(f"mosquitto did not listen on {self.port}: {self.log()}")

    def kill(self) -> None:
        """kill -9: whatever the broker had not saved is gone."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.kill()

    def log(self) -> str:
        path = self.directory / "mosquitto.log"
        return path.read_text()[-3000:] if path.exists() else ""

    def env(self, user: str) -> dict[str, str]:
        """WINKWATCH_MQTT_* for a client of this broker."""
        return {
            "WINKWATCH_MQTT_HOST": "127.0.0.1",
            "WINKWATCH_MQTT_PORT": str(self.port),
            "WINKWATCH_MQTT_USERNAME": user,
            "WINKWATCH_MQTT_PASSWORD": self.users[user],
        }


class LinkRelay:
    """127.0.0.1:port -> target: a network link that `cut()` breaks (connections reset,
    new ones refused) and `restore()` mends."""

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.port = free_port()
        self._connections: list[socket.socket] = []
        self._lock = threading.Lock()
        self._server: socket.socket | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> LinkRelay:
        server = socket.socket()
        server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        server.bind(("127.0.0.1", self.port))
        server.listen(16)
        self._server = server
        self._thread = threading.Thread(target=self._accept, args=(server,), daemon=True)
        self._thread.start()
        return self

    def cut(self) -> None:
        if self._server is not None:
            self._server.close()
            self._server = None
        with self._lock:
            for connection in self._connections:
                try:
                    connection.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
                connection.close()
            self._connections.clear()

    def restore(self) -> None:
        self.start()

    def _accept(self, server: socket.socket) -> None:
        while True:
            try:
                client, _ = server.accept()
            except OSError:
                return
            try:
                upstream = socket.create_connection(("127.0.0.1", self.target_port), timeout=2)
            except OSError:
                client.close()
                continue
            with self._lock:
                self._connections += [client, upstream]
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(a, b), daemon=True).start()

    @staticmethod
    def _pump(source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        finally:
            for s in (source, sink):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass


def child_env(extra: dict[str, str]) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("WINKWATCH_")}
    env.update(extra)
    return env
