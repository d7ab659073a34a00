"""docker/: the image's install steps run for real (no Docker engine needed), and the compose
file and systemd unit say what a Raspberry Pi gateway needs."""

from __future__ import annotations

import os
import re
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx2
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
DOCKER = ROOT / "docker"
INSTALL_DEFAULT_PREFIX = "/opt/winkwatch"
INSTALL_DEFAULT_USER = "winkwatch"
DATA_DIR = "/var/lib/winkwatch"


def _dockerfile_lines() -> list[str]:
    """Dockerfile instructions with continuation lines joined, comments dropped."""
    text = (DOCKER / "Dockerfile").read_text()
    text = re.sub(r"\\\n\s*", " ", text)
    return [
        line.strip()
        for line in text.splitlines()
        if line.strip() and not line.lstrip().startswith("#")
    ]


def _instructions(name: str) -> list[str]:
    return [
        line[len(name) + 1 :] for line in _dockerfile_lines() if line.upper().startswith(name + " ")
    ]


def _copy_sources(destination: Path) -> None:
    """Do the Dockerfile's COPY instructions into `destination` (standing for /src)."""
    for args in _instructions("COPY"):
        *sources, target = shlex.split(args)
        assert target.startswith("/src"), target
        for source in sources:
            assert source not in (".", "./"), "the image must not copy the whole tree (.venv, data)"
            origin = ROOT / source
            place = (
                destination / target[len("/src/") :]
                if not target.endswith("/")
                else destination / target[len("/src/") :] / origin.name
            )
            place.parent.mkdir(parents=True, exist_ok=True)
            if origin.is_dir():
                shutil.copytree(origin, place, ignore=shutil.ignore_patterns("__pycache__"))
            else:
                shutil.copy2(origin, place)


def test_dockerfile_is_slim_multi_arch_non_root_and_runs_install_sh() -> None:
    base = _instructions("FROM")
    assert len(base) == 1
    args = {
        line.split("=")[0]: line.split("=", 1)[1] for line in _instructions("ARG") if "=" in line
    }
    # The base is a build argument (tests/deploy/test_image.py passes a local Debian base);
    # the default for users is the official slim image.
    assert base[0] == "${BASE_IMAGE}" and args["BASE_IMAGE"].startswith("python:3.11-slim")
    runs = _instructions("RUN")
    assert any("/src/docker/install.sh" in run and "--no-system" not in run for run in runs), runs
    users = _instructions("USER")
    assert users and users[-1] == INSTALL_DEFAULT_USER
    assert any("/health" in line for line in _instructions("HEALTHCHECK"))
    assert _instructions("CMD") == ['["winkwatch", "serve"]']
    assert _instructions("STOPSIGNAL") == ["SIGINT"]
    env = " ".join(_instructions("ENV"))
    assert f"sqlite:///{DATA_DIR}/" in env and "WINKWATCH_HOST=0.0.0.0" in env
    assert any(DATA_DIR in line for line in _instructions("VOLUME"))


def test_compose_file_for_the_pi() -> None:
    compose = yaml.safe_load((DOCKER / "compose.yaml").read_text())
    service = compose["services"]["winkwatch"]
    assert service["network_mode"] == "host"
    assert service["restart"] in ("always", "unless-stopped")
    volumes = service["volumes"]
    assert (
        "${DBUS_SYSTEM_BUS_SOCKET:-/run/dbus/system_bus_socket}:/run/dbus/system_bus_socket"
        in volumes
    )
    named = [v.split(":")[0] for v in volumes if v.split(":")[1] == DATA_DIR]
    assert named and named[0] in compose["volumes"]
    # The image's HEALTHCHECK applies (it follows WINKWATCH_PORT); none to drift here.
    assert "healthcheck" not in service
    build = service["build"]
    assert (DOCKER / build["context"] / build["dockerfile"]).resolve() == (
        DOCKER / "Dockerfile"
    ).resolve()
    environment = service["environment"]
    assert environment["WINKWATCH_DATABASE_URL"].startswith(f"sqlite:///{DATA_DIR}/")
    assert environment["DBUS_SYSTEM_BUS_ADDRESS"] == "unix:path=/run/dbus/system_bus_socket"


def test_systemd_unit_matches_the_install_script() -> None:
    text = (DOCKER / "winkwatch.service").read_text()
    sections: dict[str, dict[str, list[str]]] = {}
    current = None
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("["):
            current = sections.setdefault(line.strip("[]"), {})
            continue
        key, value = line.split("=", 1)
        current.setdefault(key, []).append(value)
    service = sections["Service"]
    assert service["ExecStart"] == [f"{INSTALL_DEFAULT_PREFIX}/bin/winkwatch serve"]
    assert service["User"] == [INSTALL_DEFAULT_USER] and service["SupplementaryGroups"] == [
        "bluetooth"
    ]
    assert service["KillSignal"] == ["SIGINT"] and service["Restart"] == ["on-failure"]
    assert f"WINKWATCH_DATABASE_URL=sqlite:///{DATA_DIR}/winkwatch.db" in service["Environment"]
    assert "bluetooth.service" in sections["Unit"]["After"][0]
    assert sections["Install"]["WantedBy"] == ["multi-user.target"]
    install = (DOCKER / "install.sh").read_text()
    assert (
        f"prefix={INSTALL_DEFAULT_PREFIX}\n" in install
        and f"user={INSTALL_DEFAULT_USER}\n" in install
    )
    if shutil.which("systemd-analyze"):
        check = subprocess.run(
            ["systemd-analyze", "verify", str(DOCKER / "winkwatch.service")],
            capture_output=True,
            text=True,
        )
        problems = [
            line
            for line in (check.stdout + check.stderr).splitlines()
            if re.search(r"Unknown (key|section)|Invalid|Failed to parse|Missing '='", line)
        ]
        assert not problems, problems


def test_install_script_refuses_bad_arguments(tmp_path) -> None:
    missing = subprocess.run(
        ["bash", str(DOCKER / "install.sh"), "--no-system", str(tmp_path / "nope")],
        capture_output=True,
        text=True,
    )
    assert missing.returncode == 2 and "source directory or wheel" in missing.stderr
    unknown = subprocess.run(
        ["bash", str(DOCKER / "install.sh"), "--frobnicate"], capture_output=True, text=True
    )
    assert unknown.returncode == 2 and "--frobnicate" in unknown.stderr


@pytest.mark.slow
def test_install_script_builds_a_venv_that_serves_the_dashboard(tmp_path) -> None:
    """The Dockerfile's COPY + install.sh (minus the system steps CI cannot do), then the
    installed (not editable) `winkwatch demo` serves the dashboard and the API."""
    source, prefix = tmp_path / "src", tmp_path / "opt"
    _copy_sources(source)
    env = dict(os.environ, PYTHON=sys.executable)
    env.pop("VIRTUAL_ENV", None)
    install = subprocess.run(
        [
            "bash",
            str(source / "docker" / "install.sh"),
            "--no-system",
            "--prefix",
            str(prefix),
            str(source),
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=900,
    )
    assert install.returncode == 0, install.stderr[-3000:]
    assert "0.1.0" in install.stdout
    winkwatch = prefix / "bin" / "winkwatch"
    helptext = subprocess.run(
        [str(winkwatch), "--help"], capture_output=True, text=True, check=True
    ).stdout
    for command in ("demo", "plot", "serve", "analyze"):
        assert command in helptext

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    demo = subprocess.Popen(
        [str(winkwatch), "demo", "--port", str(port), "--data-dir", str(tmp_path / "data")],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=tmp_path,
        env=dict(env, HOME=str(tmp_path)),
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                page = httpx2.get(f"http://127.0.0.1:{port}/", timeout=2)
                break
            except httpx2.TransportError:
                assert time.monotonic() < deadline and demo.poll() is None, demo.stderr.read()[
                    -2000:
                ]
                time.sleep(0.3)
        assert page.status_code == 200 and "WinkWatch" in page.text
        assert httpx2.get(f"http://127.0.0.1:{port}/dashboard/static/app.js").status_code == 200
        assert httpx2.get(f"http://127.0.0.1:{port}/health").json()["gateway"] is True
    finally:
        demo.send_signal(signal.SIGINT)
        demo.communicate(timeout=40)
    assert demo.returncode == 0
