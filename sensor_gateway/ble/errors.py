"""Errors of the BLE layer. Per-sensor failures are statuses, never exceptions; these are
for what stops the whole radio side (no adapter, bad configuration)."""

from __future__ import annotations


class BleError(Exception):
    """Root of the BLE layer's exceptions."""


class AdapterUnavailableError(BleError):
    """No usable Bluetooth adapter (missing, powered off, or BlueZ not reachable)."""


class SensorConfigError(BleError, ValueError):
    """A sensor to stream is described wrongly (unknown kind, unsupported rate, bad address)."""
