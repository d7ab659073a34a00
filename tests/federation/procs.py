"""`winkwatch serve --edge/--central` as child processes, for the end-to-end tests/benchmarks."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx2

from tests.federation.infra import child_env, free_port


class Served:
    def __init__(self, args: list[str], env: dict[str, str], log: Path) -> None:
        self.args = args
        self.env = env
        self.log_path = log
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> Served:
        log = self.log_path.open("ab")
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "api.cli.main",
                "serve",
                *self.args,
                "--port",
                str(self.port),
                "--log-level",
                "warning",
            ],
            env=child_env(self.env),
            stdout=log,
            stderr=log,
        )
        return self

    def wait_healthy(self, timeout_s: float = 60.0) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            assert self.process is not None and self.process.poll() is None, self.log()
            try:
                if httpx2.get(f"{self.url}/health", timeout=1.0).status_code == 200:
                    return
            except httpx2.TransportError:
                pass
            time.sleep(0.2)
        raise AssertionError(f"{self.args} not healthy: {self.log()}")

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def kill9(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=10)

    def interrupt(self, timeout_s: float = 60.0) -> int:
        assert self.process is not None
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
        try:
            return self.process.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            self.process.kill()
            raise

    def ensure_stopped(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait()

    def log(self) -> str:
        return self.log_path.read_text()[-4000:] if self.log_path.exists() else ""


def edge(tmp: Path, gateway_id: str, mqtt_env: dict[str, str], simulate: int = 1) -> Served:
    env = {
        "WINKWATCH_DATABASE_URL": f"sqlite:///{tmp / f'{gateway_id}.db'}",
        "WINKWATCH_GATEWAY_ID": gateway_id,
        "WINKWATCH_GATEWAY_CONFIG_FILE": str(tmp / f"{gateway_id}.json"),
        **mqtt_env,
    }
    return Served(["--edge", "--simulate", str(simulate)], env, tmp / f"{gateway_id}.log")


def central(tmp: Path, url: str, schema: str | None, mqtt_env: dict[str, str]) -> Served:
    env = {"WINKWATCH_DATABASE_URL": url, **mqtt_env}
    if schema:
        env["WINKWATCH_DATABASE_SCHEMA"] = schema
    return Served(["--central"], env, tmp / "central.log")
