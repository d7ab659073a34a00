"""Is an athlete ready for a set? Their two sensors, stillness now, and their placement.

For the ready panel before Start (`Gateway.readiness`), from what the gateway sees even
outside a set: each assigned sensor's health (`sensor_gateway.health`), how long both
sensors have been still (calibration takes the set's first still moment, so the athlete
stands still when the set starts: `CALIBRATION_STILL_S` is the advice), and the placement
check of `fusion.sensor_checks` on the last `motion.WINDOW_S` seconds (it needs a squat:
until one is seen the placement is "not checked yet").
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from fusion.calibration import STILL_GYR_RADPS
from fusion.sensor_checks import (
    LIVE_FAULT_MESSAGES,
    MIN_ROTATION_PATH_DEG,
    SensorFault,
    placement_check,
    rotation_path_deg,
)
from sensor_gateway.config import SensorAssignment
from sensor_gateway.events import Placement
from sensor_gateway.health import HealthLevel, SensorHealth, sensor_health
from sensor_gateway.motion import RecentMotion
from sensor_gateway.samples import SensorKind
from sensor_gateway.sensors import SensorSnapshot

CALIBRATION_STILL_S = 2.0  # stand still this long at the start: the analyser needs 0.5 s
CHECK_RATE_HZ = 50.0  # the placement check's common grid


@dataclass(frozen=True)
class SensorReadiness:
    placement: Placement
    address: str | None  # None: no sensor assigned to this placement
    kind: SensorKind | None
    health: SensorHealth
    battery_pct: int | None = None
    rssi_dbm: int | None = None


@dataclass(frozen=True)
class Readiness:
    """`missing`: placements without a streaming sensor. `placement_code`:
    `sensors_swapped` / `sensor_misplaced` (fusion.sensor_checks) or None; `placement_checked`
    False until a squat was seen in the window. `still_s`: both sensors still this long now."""

    athlete_id: str
    sensors: tuple[SensorReadiness, ...]
    missing: tuple[Placement, ...]
    still_s: float
    placement_checked: bool
    placement_code: str | None
    placement_message: str

    @property
    def ready(self) -> bool:
        return not self.missing and self.placement_code is None

    @property
    def advice(self) -> str:
        if self.missing:
            one = len(self.missing) == 1
            names = " and ".join(p.value for p in self.missing)
            it = "it" if one else "them"
            return (
                f"the {names} sensor{'' if one else 's'} {'is' if one else 'are'} not "
                f"streaming: switch {it} on and keep {it} near the gateway, or start anyway "
                f"with the override (the set is marked as started without {it}: no angles or "
                "reps without both)"
            )
        if self.placement_code is not None:
            return self.placement_message
        if self.still_s < CALIBRATION_STILL_S:
            return f"stand still for {CALIBRATION_STILL_S:g} s: the set calibrates from it"
        return "ready: start the set while standing still"


def assess_readiness(
    athlete_id: str,
    assigned: dict[Placement, SensorAssignment],
    snapshots: list[SensorSnapshot],
    motion: RecentMotion,
    now_s: float,
) -> Readiness:
    by_address = {s.address: s for s in snapshots}
    sensors = []
    for placement in Placement:
        assignment = assigned.get(placement)
        snapshot = by_address.get(assignment.address) if assignment else None
        if assignment is None:
            health = SensorHealth(
                HealthLevel.BAD, "no sensor assigned: pair one on the Sensors tab", False
            )
            sensors.append(SensorReadiness(placement, None, None, health))
        elif snapshot is None:
            health = SensorHealth(HealthLevel.BAD, "not seen yet: switch it on", False)
            sensors.append(SensorReadiness(placement, assignment.address, assignment.kind, health))
        else:
            sensors.append(
                SensorReadiness(
                    placement,
                    assignment.address,
                    snapshot.kind,
                    sensor_health(snapshot, now_s),
                    snapshot.battery_pct,
                    snapshot.rssi_dbm,
                )
            )
    missing = tuple(s.placement for s in sensors if not s.health.streaming)
    series = {
        s.placement: motion.series(s.address) for s in sensors if s.address and s.health.streaming
    }
    still_s = min(_still_for_s(*series[p], now_s) for p in Placement) if len(series) == 2 else 0.0
    checked, code, message = False, None, "squat once: the placement is checked on a squat"
    if len(series) == 2:
        fault, moved = _placement(series[Placement.SACRUM], series[Placement.THIGH])
        if moved:
            checked = True
            code = fault.code if fault else None
            message = (
                f"{LIVE_FAULT_MESSAGES[fault.code]} (seen on the last squat)"
                if fault
                else "sensors in place (checked on the last squat)"
            )
    return Readiness(athlete_id, tuple(sensors), missing, still_s, checked, code, message)


def _still_for_s(t_s: np.ndarray, gyr_radps: np.ndarray, now_s: float) -> float:
    """How long the sensor has been still up to its newest sample (0 when moving)."""
    if t_s.size == 0:
        return 0.0
    moving = np.flatnonzero(np.linalg.norm(gyr_radps, axis=1) >= STILL_GYR_RADPS)
    since_s = float(t_s[moving[-1]]) if moving.size else float(t_s[0])
    return max(0.0, min(float(t_s[-1]), now_s) - since_s)


def _placement(
    sacrum: tuple[np.ndarray, np.ndarray], thigh: tuple[np.ndarray, np.ndarray]
) -> tuple[SensorFault | None, bool]:
    """(fusion.sensor_checks fault or None, whether enough movement was seen to judge)."""
    start_s = max(sacrum[0][0], thigh[0][0]) if sacrum[0].size and thigh[0].size else 0.0
    end_s = min(sacrum[0][-1], thigh[0][-1]) if sacrum[0].size and thigh[0].size else 0.0
    if end_s - start_s < 1.0:
        return None, False
    grid = np.arange(start_s, end_s, 1.0 / CHECK_RATE_HZ)
    on_grid = [
        np.column_stack([np.interp(grid, t, g[:, a]) for a in range(3)]) for t, g in (sacrum, thigh)
    ]
    moved = max(rotation_path_deg(g, CHECK_RATE_HZ) for g in on_grid) >= MIN_ROTATION_PATH_DEG
    return placement_check(on_grid[0], on_grid[1], CHECK_RATE_HZ), moved
