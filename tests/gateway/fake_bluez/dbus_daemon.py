"""A private D-Bus daemon for tests: session-like config, unix socket in a temporary folder."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

DBUS_DAEMON = shutil.which("dbus-daemon") or "/usr/bin/dbus-daemon"

_CONFIG = """<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>session</type>
  <listen>unix:path={socket}</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow send_destination="*" eavesdrop="true"/>
    <allow eavesdrop="true"/>
    <allow own="*"/>
  </policy>
</busconfig>
"""


class PrivateDbusDaemon:
    """Runs `dbus-daemon` on a unix socket of its own; `address` is the bus address."""

    def __init__(self) -> None:
        self._dir = Path(tempfile.mkdtemp(prefix="winkwatch-dbus-"))
        self._process: subprocess.Popen[bytes] | None = None
        self.address = ""

    def start(self) -> str:
        socket = self._dir / "bus"
        config = self._dir / "bus.conf"
        config.write_text(_CONFIG.format(socket=socket), encoding="utf-8")
        self._process = subprocess.Popen(
            [DBUS_DAEMON, "--nofork", "--print-address=1", f"--config-file={config}"],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
        )
        assert self._process.stdout is not None
        line = self._process.stdout.readline().decode().strip()
        if not line:
            self.stop()
            raise RuntimeError("dbus-daemon did not start; is the dbus-daemon package installed?")
        self.address = line
        return line

    def stop(self) -> None:
        if self._process is not None:
            self._process.terminate()
            try:
                self._process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
            if self._process.stdout is not None:
                self._process.stdout.close()
            self._process = None
        shutil.rmtree(self._dir, ignore_errors=True)


def bluetoothctl_stub_dir(parent: Path) -> Path:
    """A folder holding a `bluetoothctl` that prints a BlueZ version, for bleak's check."""
    folder = parent / "bin"
    folder.mkdir(parents=True, exist_ok=True)
    stub = folder / "bluetoothctl"
    stub.write_text("#!/bin/sh\necho 5.72\n", encoding="utf-8")
    stub.chmod(0o755)
    return folder


def dbus_available() -> bool:
    return os.access(DBUS_DAEMON, os.X_OK)
