"""Test harness: a private dbus-daemon and a fake BlueZ driving fake sensors.

The real bleak + bleak-retry-connector code path talks to it exactly as it would to
bluetoothd; the fake sensors send real protocol bytes made by the project's encoders.
"""

from .bluez import ADAPTER_PATH, FakeBlueZ
from .dbus_daemon import PrivateDbusDaemon, bluetoothctl_stub_dir, dbus_available
from .runner import FakeBlueZThread
from .sensors import FakeSensor, squat_signal

__all__ = [
    "ADAPTER_PATH",
    "FakeBlueZ",
    "FakeBlueZThread",
    "FakeSensor",
    "PrivateDbusDaemon",
    "bluetoothctl_stub_dir",
    "dbus_available",
    "squat_signal",
]
