"""Fixtures shared by the gateway tests."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from tests.gateway.fake_bluez import FakeBlueZThread

# --- BLE: a private dbus-daemon with a fake BlueZ (the real bleak code path) -------------------


@pytest.fixture
def fake_bluez(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeBlueZThread]:
    """A fake BlueZ on a private system bus that bleak is pointed at; add sensors to it."""
    from tests.gateway.fake_bluez import (
        FakeBlueZThread,
        PrivateDbusDaemon,
        bluetoothctl_stub_dir,
        dbus_available,
    )

    if not dbus_available():
        pytest.skip("dbus-daemon is not installed (.ci/install-system-packages installs it)")
    daemon = PrivateDbusDaemon()
    address = daemon.start()
    # bleak reads this when its BlueZ manager (one per event loop) opens its bus connection
    monkeypatch.setenv("DBUS_SYSTEM_BUS_ADDRESS", address)
    monkeypatch.setenv("PATH", f"{bluetoothctl_stub_dir(tmp_path)}{os.pathsep}{os.environ['PATH']}")
    fake = FakeBlueZThread(address)
    try:
        yield fake
    finally:
        fake.close()
        daemon.stop()
