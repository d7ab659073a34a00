"""Closed vocabularies shared by storage, HTTP schemas and the CLI (stored as their values)."""

from __future__ import annotations

from enum import Enum

from sensor_gateway.events import Placement, SetVariant

__all__ = ["Placement", "RepSource", "SetStatus", "SetVariant", "TokenRole"]


class SetStatus(str, Enum):
    RECORDING = "recording"
    COMPLETED = "completed"
    INTERRUPTED = "interrupted"  # the gateway stopped (crash, power loss) while recording


class TokenRole(str, Enum):
    READ = "read"  # dashboards: GET endpoints and live streams
    ADMIN = "admin"  # everything, including changes


class RepSource(str, Enum):
    LIVE = "live"  # reps emitted by the live analyser while recording
    REANALYSIS = "reanalysis"  # reps from `winkwatch reanalyze` on the stored raw samples
