"""Athletes deleted on the central server are deleted on every edge, and stay deleted.

A coach who deletes an athlete centrally (`DELETE /athletes/{id}`) expects her gone
everywhere. In the transaction that deletes her central rows, `delete_centrally` records

- a **tombstone** keyed by her `uid` (`federation_tombstones`, kept for good: a random id, no
  personal data): an athlete row with that uid from any edge is never stored again, so a late
  change from a platform (or a platform uploading its whole database again) cannot bring her
  back;
- one **copy** per edge database that had her (`federation_tombstone_copies`: origin, that
  edge's local id, gateway): rows from that edge that belong to her local id (sets, reps,
  sessions, assessments, calibrations; a sensor only loses the pairing) are dropped on
  arrival, and the central server publishes the tombstone, retained, on that gateway's
  `down/profile/<uid>` (in place of her profile) until that edge's own delete of her is
  stored; then the retained message is cleared (empty payload). Retained, so an edge that
  was offline for days gets it when it reconnects; re-published from PostgreSQL every
  `PROFILE_SWEEP_S`, so a broker that lost it (killed before it saved) sends it again.

Her sets' local ids on each such edge are remembered too (`federation_rows` rows of the
pseudo-table `DEAD_SETS`: local id of the set -> that edge's local id of her): a raw chunk
carries only its set, and a set of hers still recording there keeps sending chunks until the
edge applies the tombstone. They are dropped on arrival like her other rows (one log line per
batch, `api.federation.inbox`), and forgotten with her copy.

The edge deletes her (with her sets, reps and raw samples) through its own service, so its
outbox carries those deletes up like any other change, and her sensors are freed on its
running gateway. Its mappings of her rows were already removed centrally (`federation_rows`,
so a central id is never looked up again for them), and the copy is removed when her delete
arrives: after that, a local id the edge's SQLite reuses is a new athlete.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from api.storage import catalog
from api.storage.models import (
    Assessment,
    Athlete,
    AthleteTombstone,
    Calibration,
    ExerciseSet,
    FederationInbox,
    FederationRow,
    RawChunk,
    Rep,
    Sensor,
    TombstoneCopy,
    TrainingSession,
)

# `FederationRow.table_name` of a set of an athlete deleted centrally, from that edge: local_id
# the edge's set id, central_id the edge's local id of the athlete (no central row is left).
DEAD_SETS = "sets_of_deleted_athletes"


@dataclass(frozen=True)
class Deleted:
    uid: str
    freed: list[Sensor]  # sensors taken off her centrally
    gateways: frozenset[str]  # the platforms told to delete her


def delete_centrally(db: Session, athlete_id: int, *, delete_sets: bool) -> Deleted:
    """Delete the athlete here (`catalog.delete_athlete`, its refusals unchanged) and record
    her tombstone and the edge copies still to be deleted (one transaction: the caller's)."""
    athlete = catalog.get_athlete(db, athlete_id)
    uid = athlete.uid
    copies = db.execute(
        select(FederationRow.origin, FederationRow.local_id, FederationInbox.gateway_id)
        .join(FederationInbox, FederationInbox.origin == FederationRow.origin)
        .where(FederationRow.table_name == "athletes", FederationRow.central_id == athlete_id)
    ).all()
    set_ids = select(ExerciseSet.id).where(ExerciseSet.athlete_id == athlete_id)
    local_athletes = {origin: local_id for origin, local_id, _ in copies}
    her_sets = db.execute(
        select(FederationRow.origin, FederationRow.local_id).where(
            FederationRow.table_name == "sets", FederationRow.central_id.in_(set_ids)
        )
    ).all()
    owned = {
        "athletes": select(Athlete.id).where(Athlete.id == athlete_id),
        "sets": set_ids,
        "reps": select(Rep.id).where(Rep.athlete_id == athlete_id),
        "raw_chunks": select(RawChunk.id).where(RawChunk.set_id.in_(set_ids)),
        "calibrations": select(Calibration.id).where(Calibration.athlete_id == athlete_id),
        "assessments": select(Assessment.id).where(Assessment.athlete_id == athlete_id),
        "sessions": select(TrainingSession.id).where(TrainingSession.athlete_id == athlete_id),
    }
    for table, ids in owned.items():
        db.execute(
            delete(FederationRow).where(
                FederationRow.table_name == table, FederationRow.central_id.in_(ids)
            )
        )
    freed = catalog.delete_athlete(db, athlete_id, delete_sets=delete_sets)
    db.merge(AthleteTombstone(uid=uid, delete_sets=delete_sets))
    db.flush()
    for origin, local_id, gateway_id in copies:
        db.merge(TombstoneCopy(origin=origin, local_id=local_id, uid=uid, gateway_id=gateway_id))
    for origin, set_id in her_sets:
        if origin in local_athletes:
            add_dead_set(db, origin, set_id, local_athletes[origin])
    db.flush()
    return Deleted(uid, freed, frozenset(g for _, _, g in copies))


def is_tombstoned(db: Session, uid: object) -> bool:
    return isinstance(uid, str) and db.get(AthleteTombstone, uid) is not None


def dead_local_athletes(db: Session, origin: str) -> set[int]:
    """This edge database's local ids of athletes deleted centrally and not yet there."""
    return set(db.scalars(select(TombstoneCopy.local_id).where(TombstoneCopy.origin == origin)))


def add_copy(db: Session, origin: str, gateway_id: str, local_id: int, uid: str) -> None:
    """An edge sent a row of a deleted athlete the central server did not know it had."""
    db.merge(TombstoneCopy(origin=origin, local_id=local_id, uid=uid, gateway_id=gateway_id))


def dead_local_sets(db: Session, origin: str) -> dict[int, int]:
    """This edge database's sets of athletes deleted centrally: set id -> athlete id (local)."""
    rows = db.execute(
        select(FederationRow.local_id, FederationRow.central_id).where(
            FederationRow.origin == origin, FederationRow.table_name == DEAD_SETS
        )
    )
    return {int(set_id): int(athlete_id) for set_id, athlete_id in rows}


def add_dead_set(db: Session, origin: str, set_id: int, athlete_id: int) -> None:
    """Set `set_id` of that edge belongs to its athlete `athlete_id`, deleted centrally."""
    db.merge(
        FederationRow(origin=origin, table_name=DEAD_SETS, local_id=set_id, central_id=athlete_id)
    )


def copy_deleted(db: Session, origin: str, local_id: int) -> tuple[str, str] | None:
    """The edge deleted its copy (its delete is being stored): (gateway, uid) to clear."""
    copy = db.get(TombstoneCopy, (origin, local_id))
    if copy is None:
        return None
    db.execute(
        delete(FederationRow).where(
            FederationRow.origin == origin,
            FederationRow.table_name == DEAD_SETS,
            FederationRow.central_id == local_id,
        )
    )
    db.delete(copy)
    return copy.gateway_id, copy.uid


def pending(db: Session) -> list[tuple[str, str, bool]]:
    """(gateway, uid, delete_sets) of every edge copy not yet deleted there."""
    rows = db.execute(
        select(TombstoneCopy.gateway_id, TombstoneCopy.uid, AthleteTombstone.delete_sets)
        .join(AthleteTombstone, AthleteTombstone.uid == TombstoneCopy.uid)
        .distinct()
        .order_by(TombstoneCopy.gateway_id, TombstoneCopy.uid)
    )
    return [(g, u, bool(d)) for g, u, d in rows]


def pending_deletions(db: Session) -> list[tuple[str, str, bool, datetime]]:
    """(gateway, uid, delete_sets, deleted_at) of every athlete deleted centrally that a
    gateway has not deleted yet (its delete not stored here), oldest first."""
    rows = db.execute(
        select(
            TombstoneCopy.gateway_id,
            TombstoneCopy.uid,
            AthleteTombstone.delete_sets,
            AthleteTombstone.deleted_at,
        )
        .join(AthleteTombstone, AthleteTombstone.uid == TombstoneCopy.uid)
        .distinct()
        .order_by(AthleteTombstone.deleted_at, TombstoneCopy.gateway_id, TombstoneCopy.uid)
    )
    return [(g, u, bool(d), at) for g, u, d, at in rows]


def tombstone_message(uid: str, delete_sets: bool) -> dict[str, Any]:
    return {"uid": uid, "deleted": True, "delete_sets": delete_sets}


def tombstone_payload(uid: str, delete_sets: bool) -> bytes:
    return json.dumps(tombstone_message(uid, delete_sets), sort_keys=True).encode()
