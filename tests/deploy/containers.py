"""Building docker/Dockerfile with buildah and running it with podman, for tests/deploy.

No Docker engine and no container registry here: the base image is a Debian bookworm minbase
made by `debian_base.sh` (debootstrap + `buildah from scratch`), passed as BASE_IMAGE.
podman on this kernel needs the runc runtime (crun fails on its cgroups), cgroupfs and file
events (no systemd as PID 1), and explicit ulimits (the defaults ask for more than this
sandbox lets runc set).
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import httpx2
import pytest

ROOT = Path(__file__).resolve().parents[2]
DEBIAN_BASE_SCRIPT = Path(__file__).with_name("debian_base.sh")
ARM64_WHEELS_SCRIPT = Path(__file__).with_name("arm64_wheels.sh")
BUILD_WHEELS = "/run/wheels"
DATA_DIR = "/var/lib/winkwatch"
BUS_IN_CONTAINER = "/run/dbus/system_bus_socket"

PODMAN = ["podman", "--runtime", "runc", "--cgroup-manager", "cgroupfs", "--events-backend", "file"]
ULIMITS = ["--ulimit", "nofile=4096:4096", "--ulimit", "nproc=4096:4096"]
# Mounted read-only for the build when present (TLS to PyPI may be intercepted here); the
# tests check no copy of it ends up in the image.
HOST_CA_BUNDLE = Path("/etc/ssl/certs/ca-certificates.crt")
BUILD_CA = "/run/build-ca.crt"
BUILD_TIMEOUT_S = 3600.0
START_TIMEOUT_S = 120.0  # the arm64 image starts under emulation


def require_container_tools(*, arm64: bool = False) -> None:
    """Skip (or fail, where CI asks for these tests) when buildah/podman cannot run here."""
    problems = [
        f"{tool} is not installed"
        for tool in ("buildah", "podman", "runc", "debootstrap")
        if shutil.which(tool) is None
    ]
    if os.geteuid() != 0:
        problems.append("the image tests need root (rootful buildah and podman)")
    if arm64 and not arm64_emulation_enabled():
        problems.append(
            "qemu-aarch64 is not enabled in binfmt_misc (qemu-user-static, binfmt-support; "
            "mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc)"
        )
    if problems:
        reason = "; ".join(problems) + " (.ci/install-system-packages sets these up)"
        if os.environ.get("WINKWATCH_REQUIRE_CONTAINER_TESTS") == "1":
            pytest.fail(reason)
        pytest.skip(reason)


def arm64_emulation_enabled() -> bool:
    entry = Path("/proc/sys/fs/binfmt_misc/qemu-aarch64")
    if not entry.is_file():
        return False
    text = entry.read_text()
    # F: the interpreter is opened when registered, so it works inside a container's root.
    flags = next((line.split()[1] for line in text.splitlines() if line.startswith("flags:")), "")
    return text.startswith("enabled") and "F" in flags


def run(
    command: list[str], *, timeout_s: float = 120.0, check: bool = True
) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(command, capture_output=True, text=True, timeout=timeout_s)
    if check and result.returncode != 0:
        raise AssertionError(
            f"{' '.join(command[:6])} ... exited {result.returncode}:\n"
            f"{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
        )
    return result


def podman(
    *args: str, timeout_s: float = 120.0, check: bool = True
) -> subprocess.CompletedProcess[str]:
    return run([*PODMAN, *args], timeout_s=timeout_s, check=check)


def debian_base(arch: str) -> str:
    """The local bookworm base image for `arch` (made once, then reused)."""
    result = run(["bash", str(DEBIAN_BASE_SCRIPT), arch], timeout_s=BUILD_TIMEOUT_S)
    return result.stdout.strip().splitlines()[-1]


def arm64_wheelhouse() -> Path:
    """The folder of arm64 wheels cross-compiled here for what PyPI lacks (made once)."""
    result = run(["bash", str(ARM64_WHEELS_SCRIPT)], timeout_s=BUILD_TIMEOUT_S)
    return Path(result.stdout.strip().splitlines()[-1])


@dataclass(frozen=True)
class BuiltImage:
    tag: str
    arch: str
    base: str
    build_s: float
    size_bytes: int
    base_size_bytes: int


def host_service_uid(base: str) -> int:
    """A uid (100-999) of an account of this host that the base image does not use: the
    container's user gets it, as on the Pi, so that the host's D-Bus daemon knows it."""
    root = Path(podman("image", "mount", base).stdout.strip())
    try:
        taken = {int(line.split(":")[2]) for line in (root / "etc/passwd").read_text().splitlines()}
    finally:
        podman("image", "unmount", base, check=False)
    candidates = [
        int(fields[2])
        for fields in (line.split(":") for line in Path("/etc/passwd").read_text().splitlines())
        if len(fields) > 2 and 100 <= int(fields[2]) < 1000 and int(fields[2]) not in taken
    ]
    if not candidates:
        pytest.skip("no host account with a uid 100-999 to run the container's user as")
    return max(candidates)


def build_image(arch: str, tag: str, *, wheelhouse: Path | None = None) -> BuiltImage:
    """docker/Dockerfile, unchanged, on the local Debian base (docker image format, which
    keeps HEALTHCHECK), its user given the uid of a host account (see host_service_uid).
    `wheelhouse`: a folder of wheels pip may take before PyPI's (mounted for the build only)."""
    base = debian_base(arch)
    command = [
        "buildah", "bud", "--runtime", "runc", "--format", "docker", "--arch", arch, *ULIMITS,
        "--build-arg", f"BASE_IMAGE={base}", "--build-arg", f"WINKWATCH_UID={host_service_uid(base)}",
        "-f", str(ROOT / "docker" / "Dockerfile"), "-t", tag,
    ]  # fmt: skip
    if HOST_CA_BUNDLE.is_file():
        command += ["-v", f"{HOST_CA_BUNDLE}:{BUILD_CA}:ro", "--build-arg", f"PIP_CERT={BUILD_CA}"]
    if wheelhouse is not None:
        command += ["-v", f"{wheelhouse}:{BUILD_WHEELS}:ro"]
        command += ["--build-arg", f"PIP_FIND_LINKS={BUILD_WHEELS}"]
    start = time.monotonic()
    run([*command, str(ROOT)], timeout_s=BUILD_TIMEOUT_S)
    build_s = time.monotonic() - start
    return BuiltImage(
        tag=tag,
        arch=arch,
        base=base,
        build_s=build_s,
        size_bytes=int(image_inspect(tag)["Size"]),
        base_size_bytes=int(image_inspect(base)["Size"]),
    )


def prebuilt_image(tag: str, arch: str) -> BuiltImage:
    """An image built earlier from docker/Dockerfile on the local base (build time unknown)."""
    base = f"localhost/winkwatch-debian-base:bookworm-{arch}"
    return BuiltImage(
        tag=tag,
        arch=arch,
        base=base,
        build_s=float("nan"),
        size_bytes=int(image_inspect(tag)["Size"]),
        base_size_bytes=int(image_inspect(base)["Size"]),
    )


def image_inspect(tag: str) -> dict:
    return json.loads(podman("image", "inspect", tag).stdout)[0]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def run_container(
    image: BuiltImage,
    name: str,
    volume: str,
    bus_socket: Path,
    port: int,
    *command: str,
    options: tuple[str, ...] = (),
) -> None:
    """As docker/compose.yaml runs it: host network, the data volume, the D-Bus socket. The
    server listens on loopback only (the compose default is every interface). `options`:
    more `podman run` options."""
    podman(
        "run", "--detach", "--name", name, "--arch", image.arch, "--network", "host", *ULIMITS,
        *options,
        "--volume", f"{volume}:{DATA_DIR}", "--volume", f"{bus_socket}:{BUS_IN_CONTAINER}",
        "--env", "WINKWATCH_HOST=127.0.0.1", "--env", f"WINKWATCH_PORT={port}",
        image.tag, *command,
    )  # fmt: skip


def wait_healthy(name: str, port: int, timeout_s: float = START_TIMEOUT_S) -> dict:
    """GET /health until it answers; fails with the container's log if it stops first."""
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            response = httpx2.get(f"http://127.0.0.1:{port}/health", timeout=3)
            if response.status_code == 200:
                return response.json()
        except httpx2.TransportError:
            pass
        running = podman("inspect", "--format", "{{.State.Running}}", name, check=False)
        if running.stdout.strip() != "true" or time.monotonic() > deadline:
            logs = podman("logs", name, check=False)
            raise AssertionError(
                f"{name} did not answer /health on port {port} (running: {running.stdout.strip()}):"
                f"\n{logs.stdout[-3000:]}\n{logs.stderr[-3000:]}"
            )
        time.sleep(0.5)


def remove_container(name: str) -> None:
    podman("rm", "--force", "--time", "5", name, check=False)


PRIVATE_SYSTEM_BUS_CONFIG = """<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>session</type>
  <listen>unix:path={socket}</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow user="*"/>
    <allow send_destination="*" eavesdrop="true"/>
    <allow eavesdrop="true"/>
    <allow own="*"/>
  </policy>
</busconfig>
"""


class PrivateSystemBus:
    """A dbus-daemon standing in for the host's system bus (the tests never touch the real
    one): any local user may connect, as the container's `winkwatch` user does."""

    def __init__(self, folder: Path) -> None:
        self.socket = folder / "system_bus_socket"
        self._config = folder / "bus.conf"
        self._process: subprocess.Popen[bytes] | None = None

    def start(self) -> Path:
        self._config.write_text(PRIVATE_SYSTEM_BUS_CONFIG.format(socket=self.socket))
        self._process = subprocess.Popen(
            ["dbus-daemon", "--nofork", "--print-address=1", f"--config-file={self._config}"],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
        )
        assert self._process.stdout is not None
        if not self._process.stdout.readline():
            raise AssertionError("dbus-daemon did not start")
        self.socket.chmod(0o666)  # the container's user is not the daemon's
        return self.socket

    def stop(self) -> None:
        if self._process is not None:
            self._process.terminate()
            self._process.wait(timeout=10)
            if self._process.stdout is not None:
                self._process.stdout.close()
            self._process = None


# Run inside the container as its user: connect to the mounted system bus and ask the daemon
# which uid it sees on the other end.
BUS_PEER_UID_SCRIPT = """
import asyncio
from dbus_fast import BusType, Message
from dbus_fast.aio import MessageBus

async def main():
    bus = await MessageBus(bus_type=BusType.SYSTEM).connect()
    reply = await bus.call(Message(
        destination="org.freedesktop.DBus", path="/org/freedesktop/DBus",
        interface="org.freedesktop.DBus", member="GetConnectionUnixUser",
        signature="s", body=[bus.unique_name]))
    print(reply.body[0])
    bus.disconnect()

asyncio.run(main())
"""
