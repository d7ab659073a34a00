"""What every sensor source hands to the gateway: batches of decoded samples and status.

The radio side (BLE, simulated, replay) produces these; the live pipeline consumes them.
Gateway clock = `time.monotonic()` seconds of the gateway process.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum
from typing import Protocol

import numpy as np

from sensor_gateway.gaps import Gap


class SensorKind(str, Enum):
    WINKWATCH = "winkwatch"  # WinkWatch open GATT profile (firmware_notes/)
    WITMOTION = "witmotion"  # WitMotion BLE 5.0 (WT901BLECL, BWT901BLE5.0, WT9011DCL)
    MOVELLA_DOT = "movella_dot"  # Movella DOT, rate-quantities payload
    SIMULATED = "simulated"
    REPLAY = "replay"


@dataclass(frozen=True)
class SampleBatch:
    """Samples of one sensor decoded from one notification (or one simulated chunk).

    `acc_mps2` (N, 3) specific force and `gyr_radps` (N, 3) angular rate, sensor frame.
    `sensor_time_s` (N,) the device's own clock per sample when the protocol carries one,
    else None. `seq` the packet sequence number when the protocol carries one, else None.
    `received_s` gateway clock when the batch arrived. `nominal_rate_hz` the rate the sensor
    was configured to (None when unknown); protocols without timestamps need it.
    `range_checked`: a protocol decoder found every value finite and within the sensor's
    measuring range (`protocols.base.StreamDecoder`); the gateway checks the other batches
    (replayed files, simulated, any other source) against any IMU's range itself.
    """

    address: str
    kind: SensorKind
    received_s: float
    acc_mps2: np.ndarray
    gyr_radps: np.ndarray
    sensor_time_s: np.ndarray | None = None
    seq: int | None = None
    nominal_rate_hz: float | None = None
    range_checked: bool = False


class LinkState(str, Enum):
    SCANNING = "scanning"
    CONNECTING = "connecting"
    STREAMING = "streaming"
    DISCONNECTED = "disconnected"  # unexpected drop; reconnecting
    GONE = "gone"  # gave up (sensor vanished for good) or stopped


@dataclass(frozen=True)
class SensorStatus:
    """A change in one sensor's link, with battery and signal when known."""

    address: str
    state: LinkState
    at_s: float
    battery_pct: int | None = None
    rssi_dbm: int | None = None
    detail: str = ""
    # On STREAMING after a reconnect: the gap as the source saw it (`gaps.reconnect_gap`).
    gap: Gap | None = None


BatchCallback = Callable[[SampleBatch], None]
StatusCallback = Callable[[SensorStatus], None]


class SampleSource(Protocol):
    """Anything that streams sensors: BLE, simulated, replayed CSV.

    `run` streams until cancelled, calling `on_batch` for every batch and `on_status` on
    every link change; it never raises for a single sensor's failure (that is a status).
    """

    async def run(self, on_batch: BatchCallback, on_status: StatusCallback) -> None: ...
