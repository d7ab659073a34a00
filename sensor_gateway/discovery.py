"""Finding sensors to pair, through the running gateway's sources.

A source that can find sensors (the BLE source: what its continuous scan hears, or one
scan of its own while it streams nothing; the simulated source: its simulated sensors)
implements `DiscoveringSource`; `Gateway.discover` asks every such source at once.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from sensor_gateway.samples import SensorKind


@dataclass(frozen=True)
class DiscoveredSensor:
    """A sensor heard while looking for sensors: what a coach needs to pick it."""

    address: str
    name: str | None
    kind: SensorKind
    rssi_dbm: int | None
    battery_pct: int | None


@runtime_checkable
class DiscoveringSource(Protocol):
    async def discover(self, timeout_s: float) -> list[DiscoveredSensor]:
        """The sensors heard within `timeout_s` seconds (raises GatewayError subclasses, e.g.
        AdapterUnavailableError, when it cannot look)."""
        ...
