"""Errors of the BLE layer. Per-sensor failures are statuses, never exceptions; these are
for what stops the whole radio side (no adapter, bad configuration)."""

from __future__ import annotations

from sensor_gateway.errors import GatewayError


class BleError(GatewayError):
    """Root of the BLE layer's exceptions (a GatewayError, like every error of the package)."""


class AdapterUnavailableError(BleError):
    """No usable Bluetooth adapter (missing, powered off, or BlueZ not reachable)."""


class SensorConfigError(BleError, ValueError):
    """A sensor to stream is described wrongly (unknown kind, unsupported rate, bad address)."""
