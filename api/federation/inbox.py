"""Central inbox: apply a batch of edge changes exactly once, in one transaction.

`federation_inbox` holds, per edge database (`origin`), the last change applied. A batch
covers (prev_seq, seq] of that edge's outbox; it is applied only if prev_seq <= last_seq
(nothing missing before it), and then only its changes after last_seq. The rows and the new
last_seq commit together, so a batch delivered again (QoS 1 redelivery, resend after a lost
acknowledgement, a restarted edge) changes nothing, and a batch that overtook a lost one is
refused until the missing one is sent again.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, insert, select, update
from sqlalchemy.orm import Session

from api.federation import tombstones
from api.federation.errors import FederationError
from api.federation.tables import Replicated, replicated, row_from_json
from api.storage.db import Database
from api.storage.models import FederationInbox, FederationRow, utc_now

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ApplyResult:
    last_seq: int  # everything up to here is stored: the acknowledgement to send back
    applied: int  # changes applied by this call
    status: str  # "applied", "duplicate" or "gap"
    athlete_ids: frozenset[int] = frozenset()  # central athletes whose row this batch changed
    # (gateway, uid) of athletes deleted centrally whose delete on that edge this batch stored
    tombstones_cleared: frozenset[tuple[str, str]] = frozenset()
    tombstones_added: bool = False  # an edge sent a deleted athlete it was not known to have


def apply_batch(database: Database, gateway_id: str, message: dict[str, Any]) -> ApplyResult:
    """Store one `up/data` batch from `gateway_id` (the topic's id, checked by the broker)."""
    try:
        origin = str(message["origin"])
        prev_seq = int(message["prev_seq"])
        seq = int(message["seq"])
        changes = list(message["changes"])
    except (KeyError, TypeError, ValueError) as exc:
        raise FederationError(f"malformed data batch from {gateway_id}: {exc}") from exc
    with database.sessions.begin() as db:
        inbox = db.scalar(
            select(FederationInbox).where(FederationInbox.origin == origin).with_for_update()
        )
        if inbox is None:
            inbox = FederationInbox(origin=origin, gateway_id=gateway_id, last_seq=0)
            db.add(inbox)
            db.flush()
        elif inbox.gateway_id != gateway_id:
            raise FederationError(
                f"gateway {gateway_id} sent data of database {origin}, which belongs to gateway "
                f"{inbox.gateway_id}; refused"
            )
        last = inbox.last_seq
        if seq <= last:
            return ApplyResult(last, 0, "duplicate")
        if prev_seq > last:
            return ApplyResult(last, 0, "gap")
        mapper = _IdMap(db, origin, gateway_id)
        applied = 0
        athletes: set[int] = set()
        for change in changes:
            if int(change["seq"]) <= last:
                continue
            stored = _apply_change(db, mapper, change)
            if stored is not None and change["table"] == "athletes":
                athletes.add(stored)
            applied += 1
        inbox.last_seq = seq
        inbox.updated_at = utc_now()
        mapper.log_dropped()
        return ApplyResult(
            seq,
            applied,
            "applied",
            frozenset(athletes),
            frozenset(mapper.cleared),
            mapper.tombstones_added,
        )


class _IdMap:
    """(table, edge id) -> central id for one origin, cached for the transaction."""

    def __init__(self, db: Session, origin: str, gateway_id: str = "") -> None:
        self._db = db
        self.origin = origin
        self.gateway_id = gateway_id
        self._cache: dict[tuple[str, int], int | None] = {}
        # Local ids of athletes deleted centrally that this edge has not deleted yet.
        self.dead_athletes = tombstones.dead_local_athletes(db, origin)
        # Their sets (set -> athlete, local ids): those deleted centrally, those skipped here.
        self.dead_sets = tombstones.dead_local_sets(db, origin)
        # (table, set or athlete, her local id) -> rows of hers dropped in this batch
        self.dropped: dict[tuple[str, str, int], int] = {}
        self.cleared: set[tuple[str, str]] = set()
        self.tombstones_added = False

    def log_dropped(self) -> None:
        """One line per kind of row of athletes deleted centrally that this batch dropped."""
        for (table, owner, local), count in sorted(self.dropped.items()):
            whose = (
                f"set {local} (athlete {self.dead_sets[local]} there)"
                if owner == "sets" and local in self.dead_sets
                else f"athlete {local} there"
            )
            log.info(
                "gateway %s: dropped %d %s row%s of %s, deleted centrally: not stored (the "
                "platform deletes her data when it applies the tombstone)",
                self.gateway_id,
                count,
                table,
                "" if count == 1 else "s",
                whose,
            )

    def mark_dead_set(self, set_id: int, athlete_id: int) -> None:
        self.dead_sets[set_id] = athlete_id
        tombstones.add_dead_set(self._db, self.origin, set_id, athlete_id)

    def get(self, table: str, local_id: int) -> int | None:
        key = (table, local_id)
        if key not in self._cache:
            row = self._db.get(FederationRow, (self.origin, table, local_id))
            self._cache[key] = None if row is None else row.central_id
        return self._cache[key]

    def put(self, table: str, local_id: int, central_id: int) -> None:
        self._db.merge(
            FederationRow(
                origin=self.origin, table_name=table, local_id=local_id, central_id=central_id
            )
        )
        self._cache[(table, local_id)] = central_id

    def forget(self, table: str, local_id: int) -> None:
        self._db.execute(
            delete(FederationRow).where(
                FederationRow.origin == self.origin,
                FederationRow.table_name == table,
                FederationRow.local_id == local_id,
            )
        )
        self._cache[(table, local_id)] = None


def _apply_change(db: Session, ids: _IdMap, change: dict[str, Any]) -> int | None:
    """Apply one change; the central id of the row stored (None: deleted or skipped)."""
    spec = replicated(str(change["table"]))
    local_id = int(change["id"])
    central_id = ids.get(spec.table_name, local_id)
    row = change.get("row")
    if spec.table_name == "athletes":
        if row is None and local_id in ids.dead_athletes:  # the edge applied the tombstone
            ids.dead_athletes.discard(local_id)
            cleared = tombstones.copy_deleted(db, ids.origin, local_id)
            if cleared is not None:
                ids.cleared.add(cleared)
        elif row is not None and tombstones.is_tombstoned(db, row.get("uid")):
            # Deleted centrally: never stored again; her rows from this edge are dropped too.
            if local_id not in ids.dead_athletes:
                tombstones.add_copy(db, ids.origin, ids.gateway_id, local_id, str(row["uid"]))
                ids.dead_athletes.add(local_id)
                ids.tombstones_added = True
            if central_id is not None:
                ids.forget(spec.table_name, local_id)
            key = ("athletes", "athletes", local_id)
            ids.dropped[key] = ids.dropped.get(key, 0) + 1
            return None
    if row is None:  # deleted on the edge (now, or since this change was queued)
        if central_id is not None:
            if not spec.keep_on_delete:
                db.execute(delete(spec.model).where(spec.id_column == central_id))
            ids.forget(spec.table_name, local_id)
        return None
    values = _translated(spec, ids, row_from_json(spec, row), local_id)
    if values is None:
        return None
    model, id_column = spec.model, spec.id_column
    if central_id is None and spec.natural_key is not None:
        central_id = db.scalar(
            select(id_column).where(spec.column(spec.natural_key) == values[spec.natural_key])
        )
    if central_id is None:
        central_id = db.execute(insert(model).values(**values).returning(id_column)).scalar_one()
    else:
        db.execute(update(model).where(id_column == central_id).values(**values))
    ids.put(spec.table_name, local_id, central_id)
    return int(central_id)


def _of_deleted_athlete(ids: _IdMap, target: str, local: int) -> bool:
    if target == "athletes":
        return local in ids.dead_athletes
    return target == "sets" and local in ids.dead_sets


def _translated(
    spec: Replicated, ids: _IdMap, values: dict[str, Any], local_id: int | None = None
) -> dict[str, Any] | None:
    """Edge foreign keys replaced by central ids; None (change skipped) if one is unknown or
    the row belongs to an athlete deleted centrally."""
    for column, target in spec.foreign_keys.items():
        local = values.get(column)
        if local is None or not _of_deleted_athlete(ids, target, int(local)):
            continue
        if spec.table_name == "sensors":  # the sensor stays, without her
            values[column] = None
            values["placement"] = None
            continue
        if spec.table_name == "sets" and local_id is not None and local_id not in ids.dead_sets:
            # her raw chunks (which name only the set) go too, in this batch and later ones
            ids.mark_dead_set(local_id, int(local))
        key = (spec.table_name, target, int(local))
        ids.dropped[key] = ids.dropped.get(key, 0) + 1
        return None  # a row of an athlete deleted on the central server: not stored
    for column, target in spec.foreign_keys.items():
        local = values.get(column)
        if local is None:
            continue
        central = ids.get(target, int(local))
        if central is None:
            if spec.column(column).nullable:
                values[column] = None
                continue
            log.error(
                "%s row refers to %s %s that never reached the central server; skipped",
                spec.table_name,
                target,
                local,
            )
            return None
        values[column] = central
    return values
