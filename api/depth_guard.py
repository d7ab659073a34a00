"""The athlete's depth guard: their prescribed ceiling (newest assessment) with the coach's
settings (on/off, margin), as the live analyser takes it (`fusion.live.depth_guard`).

Stored per athlete, not per phone: the margin is the coach's call for this lifter, and the
gateway needs it when a set starts, whichever client starts it. Whether the phone beeps or
vibrates is the phone's own choice (kept in its browser storage).
"""

from __future__ import annotations

from dataclasses import dataclass

from api.storage import catalog
from api.storage.db import Database
from api.storage.models import Athlete
from fusion.live.depth_guard import DEFAULT_MARGIN_DEG, DepthGuard, is_usable_ceiling


@dataclass(frozen=True)
class DepthGuardSettings:
    on: bool
    margin_deg: float
    ceiling_thigh_deg: float | None  # None: no assessment has prescribed one yet

    @property
    def guard(self) -> DepthGuard | None:
        """What the analyser gets: None when off, without a prescribed ceiling, or with one
        no guard can cue before (at or above standing)."""
        if not self.on or self.ceiling_thigh_deg is None:
            return None
        if not is_usable_ceiling(self.ceiling_thigh_deg):
            return None
        return DepthGuard(self.ceiling_thigh_deg, self.margin_deg)

    @property
    def explanation(self) -> str:
        if self.ceiling_thigh_deg is None:
            return (
                "no depth ceiling yet: run an assessment whose squats wink; its prescription "
                "sets the ceiling the guard cues at"
            )
        if not is_usable_ceiling(self.ceiling_thigh_deg):
            return (
                f"the prescribed ceiling ({self.ceiling_thigh_deg:.1f} deg thigh angle) is at or "
                "above standing: this lifter winked within the prescription's margin of the top, "
                "so no depth can be guarded; check the sensors and repeat the assessment"
            )
        if not self.on:
            return "the depth guard is off for this athlete"
        guard = self.guard
        assert guard is not None
        return (
            f"in loaded sets the phone cues when the thigh is about to pass "
            f"{guard.cue_level_deg:.0f} deg (the ceiling {self.ceiling_thigh_deg:.0f} deg minus "
            f"a {self.margin_deg:g}-deg margin), {guard.lookahead_s:g} s ahead so the lifter "
            "can brake before the wink"
        )


def depth_guard_settings(athlete: Athlete) -> DepthGuardSettings:
    prescription = athlete.prescription or {}
    ceiling = prescription.get("depth_ceiling_thigh_deg")
    margin = athlete.depth_guard_margin_deg
    return DepthGuardSettings(
        on=bool(athlete.depth_guard_on),
        margin_deg=DEFAULT_MARGIN_DEG if margin is None else float(margin),
        ceiling_thigh_deg=None if ceiling is None else float(ceiling),
    )


def athlete_depth_guard(database: Database, athlete_id: int) -> DepthGuard | None:
    """What a set of the athlete starting now is guarded with (None: off or no ceiling)."""
    with database.sessions() as db:
        return depth_guard_settings(catalog.get_athlete(db, athlete_id)).guard
