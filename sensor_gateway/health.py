"""A sensor's health in words a coach can act on: good / check / bad, with the reason.

From the gateway's snapshot of the sensor (`sensor_gateway.sensors.SensorSnapshot`) at the
gateway-clock instant `now_s`. The worst finding decides; each reason says what to do.

- bad: not streaming (never seen, disconnected, gone, or silent for `SILENT_S`), battery at
  or below `BATTERY_BAD_PCT`;
- check: battery at or below `BATTERY_LOW_PCT`, signal weaker than `WEAK_SIGNAL_DBM` (BLE
  links start dropping packets near -90 dBm), more than `LOSS_CHECK_SHARE` of the samples
  lost, a clock drifting more than `DRIFT_CHECK_PPM` (crystals are within ~100 ppm; more means
  timestamps that jump);
- good: otherwise.
"""

from __future__ import annotations

import enum
import math
from dataclasses import dataclass

from sensor_gateway.samples import LinkState
from sensor_gateway.sensors import SensorSnapshot

SILENT_S = 5.0  # no sample for this long: not streaming (a busy gateway can lag seconds)
BATTERY_BAD_PCT = 10
BATTERY_LOW_PCT = 25
WEAK_SIGNAL_DBM = -85
LOSS_CHECK_SHARE = 0.02
DRIFT_CHECK_PPM = 500.0


class HealthLevel(str, enum.Enum):
    GOOD = "good"
    CHECK = "check"
    BAD = "bad"


@dataclass(frozen=True)
class SensorHealth:
    level: HealthLevel
    reason: str  # what is wrong and what to do ("streaming, battery 80 %" when good)
    streaming: bool


def is_streaming(snapshot: SensorSnapshot, now_s: float) -> bool:
    """Samples are arriving: the link streams and the last batch came within `SILENT_S`."""
    return snapshot.state is LinkState.STREAMING and now_s - snapshot.last_received_s <= SILENT_S


def sensor_health(snapshot: SensorSnapshot, now_s: float) -> SensorHealth:
    streaming = is_streaming(snapshot, now_s)
    battery = snapshot.battery_pct
    if not streaming:
        return SensorHealth(HealthLevel.BAD, _not_streaming(snapshot, now_s), False)
    if battery is not None and battery <= BATTERY_BAD_PCT:
        return SensorHealth(HealthLevel.BAD, f"battery {battery} %: charge it before the set", True)
    problems = []
    if battery is not None and battery <= BATTERY_LOW_PCT:
        problems.append(f"battery low ({battery} %): charge it after this set")
    if snapshot.rssi_dbm is not None and snapshot.rssi_dbm < WEAK_SIGNAL_DBM:
        problems.append("weak signal: bring the gateway closer or clear the line of sight")
    taken = snapshot.samples + snapshot.samples_missing
    if taken and snapshot.samples_missing / taken > LOSS_CHECK_SHARE:
        share = snapshot.samples_missing / taken
        problems.append(f"{share:.0%} of its samples lost: bring the gateway closer")
    if math.isfinite(snapshot.drift_ppm) and abs(snapshot.drift_ppm) > DRIFT_CHECK_PPM:
        problems.append("its clock runs unusually fast or slow: restart the sensor")
    if problems:
        return SensorHealth(HealthLevel.CHECK, "; ".join(problems), True)
    text = "streaming" + (f", battery {battery} %" if battery is not None else "")
    return SensorHealth(HealthLevel.GOOD, text, True)


def _not_streaming(snapshot: SensorSnapshot, now_s: float) -> str:
    if snapshot.samples == 0:
        return "not seen yet: switch it on and keep it near the gateway"
    if snapshot.state is LinkState.GONE:
        return "gone: the gateway gave up; switch the sensor off and on"
    if snapshot.state is LinkState.DISCONNECTED:
        return "disconnected, reconnecting: keep it near the gateway"
    silent_s = now_s - snapshot.last_received_s
    return f"no samples for {silent_s:.0f} s: check it is switched on and charged"
