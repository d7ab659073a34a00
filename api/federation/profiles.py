"""Athlete profiles down to the edges: the personal baseline and prescription follow the athlete.

An athlete is one central athlete across platforms (same `uid`); what the edges record flows
up. What an edge needs to coach the athlete flows down: the personal baseline (its wink
threshold), the segment lengths and the newest assessment's prescription, learned from the
athlete's history wherever it was recorded, and whether the coach archived the athlete (an
edge archives her too: out of its lists, her sensors freed; a set she is recording there is
stopped first, by the edge forwarder). The central server publishes it retained on
`G/down/profile/<uid>` to every gateway that knows the athlete (after each batch that changed
an athlete, and every `PROFILE_SWEEP_S` for edits made on the central server itself), and
sends it inside every command about the athlete (pair a sensor, start a set), so a platform
that sees the athlete for the first time has it before the first rep.

An edge applies a profile to its local athlete of that uid; a command may create that
athlete, a retained message only updates one that exists (an athlete deleted on the edge is
not brought back). A profile is not applied while the edge's own change of that athlete waits
in its outbox: the profile predates it (the central server publishes again once it stored the
edge's change). The change a profile makes is not sent back up: the central server already
has it, and an echo could overwrite a newer edit made meanwhile on another platform.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from api.federation.errors import FederationError
from api.storage import catalog
from api.storage.db import Database
from api.storage.models import Athlete, FederationChange

# The athlete columns a profile carries (besides `uid`).
PROFILE_FIELDS = (
    "name",
    "baseline_centre_deg",
    "baseline_spread_deg",
    "baseline_reps",
    "femur_cm",
    "shank_cm",
    "prescription_json",
    "archived_at",
)
PROFILE_SWEEP_S = 5.0  # how often the central server looks for profiles edited on itself
_FLOAT_FIELDS = ("baseline_centre_deg", "baseline_spread_deg", "femur_cm", "shank_cm")


@dataclass(frozen=True)
class AppliedProfile:
    athlete_id: int  # the local athlete
    freed: list[str]  # addresses of the sensors taken off her (archived): tell the gateway


def athlete_profile(athlete: Athlete) -> dict[str, Any]:
    """The profile of a (central) athlete, JSON-ready (`archived_at` ISO 8601 or None)."""
    profile = {"uid": athlete.uid, **{name: getattr(athlete, name) for name in PROFILE_FIELDS}}
    if athlete.archived_at is not None:
        profile["archived_at"] = athlete.archived_at.isoformat()
    return profile


def profile_payload(profile: dict[str, Any]) -> bytes:
    return json.dumps(profile, sort_keys=True, separators=(",", ":")).encode()


def _checked(profile: dict[str, Any]) -> dict[str, Any]:
    uid = profile.get("uid")
    if not isinstance(uid, str) or not 1 <= len(uid) <= 32:
        raise FederationError(f"athlete profile without a valid uid: {uid!r}")
    values: dict[str, Any] = {}
    for name in PROFILE_FIELDS:
        if name not in profile:
            continue
        value = profile[name]
        if name in _FLOAT_FIELDS and value is not None:
            value = float(value)
            if not math.isfinite(value):
                raise FederationError(f"athlete profile {uid}: {name} is not a number")
        elif name == "baseline_reps" and value is not None:
            value = int(value)
        elif name in ("name", "prescription_json") and value is not None:
            value = str(value)
        elif name == "archived_at" and value is not None:
            value = _utc_instant(uid, value)
        values[name] = value
    if values.get("name") is None:
        values.pop("name", None)
    return {"uid": uid, **values}


def _utc_instant(uid: str, value: Any) -> datetime:
    try:
        instant = datetime.fromisoformat(str(value))
    except ValueError:
        raise FederationError(
            f"athlete profile {uid}: archived_at {value!r} is not a time"
        ) from None
    return instant.replace(tzinfo=UTC) if instant.tzinfo is None else instant.astimezone(UTC)


def apply_profile(
    database: Database, profile: dict[str, Any], *, create: bool
) -> AppliedProfile | None:
    """Give the local athlete with the profile's uid its baseline, lengths, prescription and
    archived state (archiving frees her sensors; refused with `ConflictError` while she records
    a set here: stop it first).

    With `create`, an athlete not yet known here is created; else such a profile is ignored
    (None). The update is not queued for the central server (it came from there)."""
    values = _checked(profile)
    uid = values.pop("uid")
    with database.sessions.begin() as db:
        athlete = db.scalar(select(Athlete).where(Athlete.uid == uid))
        if athlete is None:
            if not create:
                return None
            athlete = Athlete(uid=uid, name=values.get("name") or uid)
            for name, value in values.items():
                setattr(athlete, name, value)
            db.add(athlete)
            db.flush()
            return AppliedProfile(athlete.id, [])
        changed = {k: v for k, v in values.items() if getattr(athlete, k) != v}
        if not changed or _changed_here(db, athlete.id):
            return AppliedProfile(athlete.id, [])
        archiving = changed.get("archived_at") is not None
        if archiving:
            catalog.refuse_while_recording(db, athlete, "archiving")
        for name, value in changed.items():
            setattr(athlete, name, value)
        db.flush()  # one UPDATE: its trigger queued the newest change, under our write lock
        _forget_echo(db, athlete.id)
        freed = catalog.unassign_sensors_of(db, athlete.id) if archiving else []
        return AppliedProfile(athlete.id, [sensor.address for sensor in freed])


def _changed_here(db: Session, athlete_id: int) -> bool:
    """The athlete changed here and the central server has not stored it yet: the profile is
    older than this edge's copy (its newer state is on the way up, and comes back down)."""
    pending = db.scalar(
        select(func.count())
        .select_from(FederationChange)
        .where(FederationChange.table_name == "athletes", FederationChange.row_id == athlete_id)
    )
    return bool(pending)


def _forget_echo(db: Session, athlete_id: int) -> None:
    """Drop the outbox change the profile's own update just queued (if the edge federates)."""
    newest = db.scalar(select(func.max(FederationChange.seq)))
    db.execute(
        delete(FederationChange).where(
            FederationChange.seq == newest,
            FederationChange.table_name == "athletes",
            FederationChange.row_id == athlete_id,
            FederationChange.op == "update",
        )
    )
