"""Edge outbox: every change of a replicated row, recorded in the same transaction.

SQLite triggers (installed by `Outbox.install`) append (table, row id, insert/update/delete)
to `federation_changes` inside the transaction that changes the row, whoever writes it (the
gateway's sink, an API edit, `winkwatch reanalyze` in another process). So a change is in the
outbox if and only if it is committed: a `kill -9`, a broker outage or a cut link can delay
forwarding but never lose or invent a change.

`read_batch(after_seq)` returns the next changes in commit order, each with the row as it is
now (a later change of the same row is sent again; applying a newer state twice is harmless).
A batch covers the sequence interval (prev_seq, seq]: the central server applies it only if
it has everything up to prev_seq, which makes delivery exactly-once and in order over an
at-least-once transport. `acknowledge(seq)` deletes what the central server has stored.

The first time a database is federated it gets an `origin` (a UUID, written once): every
existing row is queued then, so a gateway that ran alone for months uploads its history.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import delete, func, or_, select, text
from sqlalchemy.orm import Session

from api.federation.errors import FederationError
from api.federation.tables import REPLICATED, row_to_json
from api.storage.db import Database
from api.storage.models import FederationChange, FederationMeta

ORIGIN_KEY = "origin"
ACKED_KEY = "acked_seq"
MAX_BATCH_CHANGES = 200
MAX_BATCH_BYTES = 256_000  # a raw chunk is ~5-7 kB as JSON; the broker allows far more


@dataclass
class Batch:
    origin: str
    prev_seq: int
    seq: int
    changes: list[dict[str, Any]] = field(default_factory=list)
    size_bytes: int = 0

    def payload(self, gateway_id: str) -> bytes:
        return json.dumps(
            {
                "v": 1,
                "gateway_id": gateway_id,
                "origin": self.origin,
                "prev_seq": self.prev_seq,
                "seq": self.seq,
                "changes": self.changes,
            },
            separators=(",", ":"),
        ).encode()


def _trigger_sql(table: str) -> list[str]:
    return [
        f"CREATE TRIGGER IF NOT EXISTS federation_{table}_{op} AFTER {op.upper()} ON {table} "
        f"BEGIN INSERT INTO federation_changes (table_name, row_id, op) "
        f"VALUES ('{table}', {'OLD' if op == 'delete' else 'NEW'}.id, '{op}'); END"
        for op in ("insert", "update", "delete")
    ]


class Outbox:
    """The edge database's outbox (SQLite only: an edge keeps working without a network)."""

    def __init__(self, database: Database) -> None:
        if database.engine.dialect.name != "sqlite":
            raise FederationError(
                "an edge gateway keeps its own SQLite database; unset WINKWATCH_DATABASE_URL "
                "(or point it at a sqlite:/// file) and let the central server use PostgreSQL"
            )
        self._db = database
        self.origin = self.install()

    def install(self) -> str:
        """Create the triggers and, the first time, this database's origin and initial sync."""
        with self._db.sessions.begin() as db:
            triggers = set(
                db.scalars(text("SELECT name FROM sqlite_master WHERE type = 'trigger'"))
            )
            for table in REPLICATED:
                for statement in _trigger_sql(table):
                    db.execute(text(statement))
            origin = db.get(FederationMeta, ORIGIN_KEY)
            if origin is not None:
                new_tables = [t for t in REPLICATED if f"federation_{t}_insert" not in triggers]
                _queue_newly_replicated(db, new_tables)
                return origin.value
            new_origin = uuid.uuid4().hex
            db.add(FederationMeta(key=ORIGIN_KEY, value=new_origin))
            db.add(FederationMeta(key=ACKED_KEY, value="0"))
            for table, spec in REPLICATED.items():
                for row_id in db.scalars(select(spec.id_column).order_by(spec.id_column)):
                    db.add(FederationChange(table_name=table, row_id=row_id, op="insert"))
            return new_origin

    def acked_seq(self) -> int:
        with self._db.sessions() as db:
            meta = db.get(FederationMeta, ACKED_KEY)
            return int(meta.value) if meta is not None else 0

    def backlog(self) -> int:
        """Changes not yet acknowledged by the central server."""
        with self._db.sessions() as db:
            return int(db.scalar(select(func.count()).select_from(FederationChange)) or 0)

    def acknowledge(self, seq: int) -> int:
        """The central server stored everything up to `seq`: forget it. Returns the acked seq."""
        with self._db.sessions.begin() as db:
            meta = db.get(FederationMeta, ACKED_KEY)
            acked = int(meta.value) if meta is not None else 0
            if seq <= acked:
                return acked
            db.execute(delete(FederationChange).where(FederationChange.seq <= seq))
            db.merge(FederationMeta(key=ACKED_KEY, value=str(seq)))
            return seq

    def read_batch(
        self,
        after_seq: int,
        max_changes: int = MAX_BATCH_CHANGES,
        max_bytes: int = MAX_BATCH_BYTES,
    ) -> Batch | None:
        """The changes after `after_seq` (at most `max_changes` / about `max_bytes`), or None."""
        with self._db.sessions() as db:
            changes = list(
                db.scalars(
                    select(FederationChange)
                    .where(FederationChange.seq > after_seq)
                    .order_by(FederationChange.seq)
                    .limit(max_changes)
                )
            )
            if not changes:
                return None
            rows = _current_rows(db, changes)
            batch = Batch(origin=self.origin, prev_seq=after_seq, seq=after_seq)
            for change in changes:
                row = rows.get((change.table_name, change.row_id))
                item = {
                    "seq": change.seq,
                    "table": change.table_name,
                    "id": change.row_id,
                    "op": change.op,
                    "row": row,
                }
                size = len(json.dumps(item, separators=(",", ":")))
                if batch.changes and batch.size_bytes + size > max_bytes:
                    break
                batch.changes.append(item)
                batch.size_bytes += size
                batch.seq = change.seq
            return batch


def _queue_newly_replicated(db: Session, tables: list[str]) -> None:
    """A database federated by an older WinkWatch: upload the rows of tables replicated since
    (e.g. assessments), then again the rows that refer to them (their foreign keys were sent
    untranslatable before)."""
    if not tables:
        return
    for table in tables:
        id_column = REPLICATED[table].id_column
        for row_id in db.scalars(select(id_column).order_by(id_column)):
            db.add(FederationChange(table_name=table, row_id=row_id, op="insert"))
    for table, spec in REPLICATED.items():
        columns = [c for c, target in spec.foreign_keys.items() if target in tables]
        if not columns or table in tables:
            continue
        referring = select(spec.id_column).where(
            or_(*(spec.column(c).is_not(None) for c in columns))
        )
        for row_id in db.scalars(referring.order_by(spec.id_column)):
            db.add(FederationChange(table_name=table, row_id=row_id, op="update"))


def _current_rows(
    db: Session, changes: list[FederationChange]
) -> dict[tuple[str, int], dict[str, Any]]:
    wanted: dict[str, set[int]] = {}
    for change in changes:
        if change.op != "delete":
            wanted.setdefault(change.table_name, set()).add(change.row_id)
    rows: dict[tuple[str, int], dict[str, Any]] = {}
    for table, ids in wanted.items():
        spec = REPLICATED.get(table)
        if spec is None:
            continue
        for row in db.scalars(select(spec.model).where(spec.id_column.in_(ids))):
            rows[(table, int(getattr(row, "id")))] = row_to_json(spec, row)  # noqa: B009
    return rows
