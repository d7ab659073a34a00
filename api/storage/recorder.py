"""`DatabaseSink`: the gateway's durable sink (sensor_gateway.sink.GatewaySink) on the database.

The gateway calls `write_samples` / `record_event` from its event loop; they only append
to an in-memory list. A writer thread commits everything pending in one transaction every
`commit_interval_s` (at most 1 s): one compressed raw chunk per sensor, the reps, the
calibrations, set starts and stops. So a `kill -9` loses at most the last interval, and the
database is never half-written (each flush is one transaction). If the database is
unreachable, the pending data is kept and retried on the next tick (bounded, see
MAX_PENDING_SAMPLES).

While flushes fail (a full disk, an unreachable database) `storage_problem()` says so in
words, what fails and what to do, for the gateway (which tells the live clients) and
`health()` counts what waits in memory and what was lost (raw samples beyond
MAX_PENDING_SAMPLES, what was still waiting when the sink closed) for GET /health. The log
says when storing fails, every SUMMARY_EVERY_S while it does, and when it works again;
never a line per retry. `close()` is bounded (CLOSE_TIMEOUT_S): a shutdown while storing
fails makes one last attempt and then logs what was not stored; the findings of the raw
samples lost are tried alone, and else kept in a file the next start writes into their sets
(api.storage.lost_samples).

An event recorded with `on_stored` (a rep, which the gateway publishes only once stored)
wakes the writer at once, and `on_stored` is called after the transaction holding it has
committed (or after the item was given up as unstorable), so what a client saw survives a
kill -9.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import TypeVar

import numpy as np
from sqlalchemy.exc import OperationalError, SQLAlchemyError
from sqlalchemy.orm import Session

from api.errors import NotFoundError, WinkWatchError
from api.storage import catalog
from api.storage import sets as set_store
from api.storage.db import Database, is_disk_full
from api.storage.lost_samples import LostSamples, add_finding, lost_finding, save_unwritten
from api.storage.models import Athlete, ExerciseSet
from api.storage.raw_codec import NO_SEQ, SensorClock
from api.vocab import Placement, SetStatus
from sensor_gateway.events import (
    Calibrated,
    GatewayEvent,
    LiveAngles,
    QualityWarning,
    RepCompleted,
    SensorStatusChanged,
    SetInfo,
    SetStarted,
    SetStopped,
)
from sensor_gateway.sink import OnStored, RawSamples

log = logging.getLogger(__name__)
T = TypeVar("T")

# ~70 s of 7 sensors at 200 Hz: what is kept while the database is unreachable before the
# oldest raw samples are dropped (with an error logged) to bound memory.
MAX_PENDING_SAMPLES = 100_000
# While storing fails, a log line says what waits and what was lost this often.
SUMMARY_EVERY_S = 30.0
# A close (shutdown) waits this long for a flush in progress, then makes one last attempt.
CLOSE_TIMEOUT_S = 2.0


@dataclass(frozen=True)
class StorageHealth:
    """What the sink has not stored, and why (GET /health). Counts are since the sink
    started; `waiting_*` are kept in memory and retried, `lost_*` will never be stored."""

    problem: str | None  # None while storing works; else what fails and what to do
    error: str | None  # the database's own words for the last failure (kept after it)
    failing_since: datetime | None
    waiting_samples: int
    waiting_reps: int
    lost_samples: int
    lost_reps: int
    lost_events: int  # other events: set starts and stops, calibrations, warnings

    @property
    def ok(self) -> bool:
        return self.problem is None


def storage_failure(exc: BaseException) -> str:
    """What fails, in a few words, for a failed commit `exc`."""
    if is_disk_full(exc):
        return "the database's disk is full"
    return f"the database cannot be written ({_short_error(exc)})"


def storage_problem_text(exc: BaseException, interval_s: float) -> str:
    """What fails and what to do, in words, for a failed commit `exc`."""
    what = (
        "Free disk space on the disk holding the database (old exports, logs)"
        if is_disk_full(exc)
        else "Check that the database server is running and reachable"
    )
    return (
        f"{storage_failure(exc)}: reps and raw samples are not being stored. {what}; storing "
        f"resumes by itself, no restart needed. Meanwhile they wait in memory, retried every "
        f"{interval_s:g} s (raw samples: the last {MAX_PENDING_SAMPLES:,}, about 70 s of 7 "
        "sensors), and are lost if the server stops"
    )


def _short_error(exc: BaseException) -> str:
    """The database's own words (SQLAlchemy's statement and parameters left out)."""
    text = str(getattr(exc, "orig", None) or exc).strip()
    return (text.splitlines() or [exc.__class__.__name__])[0][:300]


@dataclass
class _OpenSet:
    set_id: int
    athlete_id: int
    started_s: float  # gateway clock at the set start; stored times are relative to it
    started_at: datetime  # the same instant in UTC, as stored
    chunk_index: dict[str, int]


def resolve_athlete_key(db: Session, athlete_key: str) -> int:
    """Database id of the gateway's athlete key, which is the id as a string (the gateway is
    told its assignments from the database: api.sensor_assignments). Raises NotFoundError for
    any other key: athletes are never created behind the coach's back."""
    if athlete_key.isdigit() and db.get(Athlete, int(athlete_key)) is not None:
        return int(athlete_key)
    raise NotFoundError("athlete", athlete_key)


class DatabaseSink:
    """Buffers gateway output and commits it at least every `commit_interval_s`."""

    def __init__(
        self,
        database: Database,
        *,
        gateway_id: str,
        commit_interval_s: float = 1.0,
        start_thread: bool = True,
        unwritten_findings_file: Path | None = None,
    ) -> None:
        self._db = database
        # Where close() keeps the findings of lost samples it could not write (lost_samples).
        self._unwritten_findings_file = unwritten_findings_file
        self.gateway_id = gateway_id
        self.commit_interval_s = commit_interval_s
        self._lock = threading.Lock()  # guards _pending and _pending_samples
        self._flush_lock = threading.Lock()  # one flush at a time
        self._pending: list[GatewayEvent | RawSamples] = []
        self._pending_samples = 0
        # on_stored callbacks of pending events, by id() of the event object (kept alive
        # by _pending until the callback has run).
        self._on_stored: dict[int, OnStored] = {}
        self._wake = threading.Event()  # an event waits to be stored: flush now
        self._open_sets: dict[str, _OpenSet] = {}
        self._stop = threading.Event()
        self.flushes = 0
        self.failed_flushes = 0
        self.dropped_samples = 0  # raw samples lost: beyond MAX_PENDING_SAMPLES, or at close
        self.lost_reps = 0
        self.lost_events = 0
        self.last_error: str | None = None
        self._problem: str | None = None  # set while flushes fail (see storage_problem)
        self._failure: str | None = None  # the same in a few words
        self._disk_was_full = False  # the last failed flush's cause: a smaller write may fit
        self._failing_since: datetime | None = None
        self._failing_since_s = 0.0
        self._next_summary_s = 0.0
        self._dropped_when_failing = 0  # dropped_samples when the current failure began
        # Dropped raw samples not yet said in their set's findings, by (set_key, placement);
        # written into the set with the first flush that commits (guarded by _lock).
        self._lost: dict[tuple[str, str], LostSamples] = {}
        self._lost_in_flight: dict[tuple[str, str], LostSamples] = {}
        self._closed = False
        self._thread: threading.Thread | None = None
        if start_thread:
            self.start()

    def start(self) -> None:
        """Start the writer thread (committing every `commit_interval_s`)."""
        if self._thread is None:
            self._thread = threading.Thread(
                target=self._run, name="winkwatch-db-writer", daemon=True
            )
            self._thread.start()

    # -- GatewaySink, called from the gateway's event loop: never blocks on the database ----
    def write_samples(self, samples: RawSamples) -> None:
        with self._lock:
            self._pending.append(samples)
            self._pending_samples += len(samples)
            while self._pending_samples > MAX_PENDING_SAMPLES and self._drop_oldest_samples():
                pass

    def record_event(self, event: GatewayEvent, on_stored: OnStored | None = None) -> None:
        if isinstance(event, LiveAngles):
            if on_stored is not None:
                on_stored(True)
            return  # derived, 20 Hz: re-computable from the raw samples
        with self._lock:
            self._pending.append(event)
            if on_stored is not None:
                self._on_stored[id(event)] = on_stored
        if on_stored is not None:
            self._wake.set()

    def storage_problem(self) -> str | None:
        """None while storing works; else what fails and what to do (any thread)."""
        return self._problem

    def health(self) -> StorageHealth:
        """What waits, what was lost and why (any thread)."""
        with self._lock:
            waiting_samples = self._pending_samples
            waiting_reps = sum(map(_is_new_rep, self._pending))
        return StorageHealth(
            problem=self._problem,
            error=self.last_error,
            failing_since=self._failing_since,
            waiting_samples=waiting_samples,
            waiting_reps=waiting_reps,
            lost_samples=self.dropped_samples,
            lost_reps=self.lost_reps,
            lost_events=self.lost_events,
        )

    def close(self) -> None:
        """Stop the writer and commit what is left (idempotent), within about
        CLOSE_TIMEOUT_S: if storing fails, what could not be stored is logged and counted as
        lost."""
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=CLOSE_TIMEOUT_S)
        if self._closed:
            return
        if not self._flush_lock.acquire(timeout=CLOSE_TIMEOUT_S):
            self._give_up_pending("a commit still hung when the server stopped")
            self._keep_lost_findings()
            return
        try:
            if not self._flush_locked():
                self._give_up_pending(self._failure or "storing failed")
                # Not when the database is unreachable: a second try would only wait again.
                if not (self._disk_was_full and self._write_lost_alone()):
                    self._keep_lost_findings()
            self._closed = True
        finally:
            self._flush_lock.release()

    def _write_lost_alone(self) -> bool:
        """At close, after the last flush failed: the lost samples' findings alone, a few
        hundred bytes where the flush needed room for raw chunks (a full disk may take them).
        True if there were none (for a stored set) or they were committed."""
        with self._lock:
            if not any(set_key in self._open_sets for set_key, _ in self._lost):
                return True
        try:
            self._transaction(self._write_lost)
        except (SQLAlchemyError, WinkWatchError) as exc:
            log.warning(
                "the findings of the lost raw samples cannot be stored either (%s)",
                _short_error(exc),
            )
            return False
        log.warning("the findings of the lost raw samples are stored in their sets")
        return True

    def _keep_lost_findings(self) -> None:
        """At close, when the database takes nothing: the findings of the lost samples in
        the unwritten findings file, for the next start (api.storage.lost_samples)."""
        with self._lock:
            lost, self._lost = self._lost, {}
        findings = self._lost_findings(lost)
        if not findings:
            return
        path = self._unwritten_findings_file
        sets = ", ".join(sorted({self._set_name(key) for key, _ in findings}))
        if path is None:
            log.error("the findings of the lost raw samples of %s are not kept anywhere", sets)
            return
        try:
            save_unwritten(path, findings)
        except OSError as exc:
            log.error(
                "the findings of the lost raw samples of %s cannot be kept in %s either (%s): "
                "only this log says those sets miss raw samples",
                sets,
                path,
                exc,
            )
            return
        log.warning(
            "the findings of the lost raw samples of %s are kept in %s; the next start writes "
            "them into their sets",
            sets,
            path,
        )

    # -- synchronous helpers for the HTTP layer -----------------------------------------------
    def ensure_set(
        self,
        info: SetInfo,
        session_id: int | None = None,
        *,
        missing_sensors: Sequence[Placement] = (),
    ) -> int:
        """Database id of the gateway's set, creating its row now if the writer has not yet
        (in `session_id`, marked as started without `missing_sensors`), in one transaction: a
        failure stores nothing of it. A set of this gateway the athlete still records is
        completed in the same transaction (the set the new one replaces).

        Writes what is pending first, so the reps of a set the new one replaces land before.
        """
        self.flush()

        def open_it(db: Session) -> int:
            opened = self._open_set(db, info, session_id)
            if missing_sensors:
                row = set_store.get_set(db, opened.set_id)
                row.missing_sensors = ",".join(p.value for p in missing_sensors)
            return opened.set_id

        with self._flush_lock:
            return self._transaction(open_it)

    # -- writer ---------------------------------------------------------------------------------
    def _run(self) -> None:
        while not self._stop.is_set():
            self._wake.wait(self.commit_interval_s)
            self._wake.clear()
            if self._stop.is_set():
                return  # close() commits what is left
            self.flush()

    def flush(self) -> bool:
        """Commit everything pending in one transaction; False (data kept) if that failed."""
        with self._flush_lock:
            return self._flush_locked()

    def _flush_locked(self) -> bool:
        with self._lock:
            batch, self._pending = self._pending, []
            self._pending_samples = 0
        if not batch:
            return True
        try:
            self._write_transaction(batch)
            self._report_stored(batch)
        except OperationalError as exc:  # database unreachable, locked or full: retry later
            self.failed_flushes += 1
            return self._keep_for_retry(batch, exc)
        except (SQLAlchemyError, WinkWatchError) as exc:
            # Retrying the same batch would fail again: store item by item, skip the bad one.
            self.failed_flushes += 1
            self.last_error = f"{exc.__class__.__name__}: {_short_error(exc)}"
            log.error(
                "gateway data rejected by the database (%s); storing item by item",
                self.last_error,
            )
            for index, item in enumerate(batch):
                try:
                    self._write_transaction([item])
                except OperationalError as item_exc:  # unreachable now: not the item's fault
                    return self._keep_for_retry(batch[index:], item_exc)
                except (SQLAlchemyError, WinkWatchError) as item_exc:
                    log.error(
                        "dropped one %s that cannot be stored: %s",
                        type(item).__name__,
                        _short_error(item_exc),
                    )
                    self._count_lost([item])
                    self._report_stored([item], stored=False)
                    continue
                self._report_stored([item])
        self.flushes += 1
        self._storing_again()
        return True

    def _keep_for_retry(self, batch: list[GatewayEvent | RawSamples], exc: Exception) -> bool:
        """Put `batch` back before what is pending, for the next try (a failed flush: False)."""
        self.last_error = f"{exc.__class__.__name__}: {_short_error(exc)}"
        self._disk_was_full = is_disk_full(exc)
        with self._lock:
            self._pending = batch + self._pending
            self._pending_samples = sum(len(i) for i in self._pending if isinstance(i, RawSamples))
            while self._pending_samples > MAX_PENDING_SAMPLES and self._drop_oldest_samples():
                pass
        now_s = time.monotonic()
        if self._problem is None:
            self._failing_since = datetime.now(UTC)
            self._failing_since_s = now_s
            self._dropped_when_failing = self.dropped_samples
            self._next_summary_s = now_s + SUMMARY_EVERY_S
            self._problem = storage_problem_text(exc, self.commit_interval_s)
            self._failure = storage_failure(exc)
            log.error("storing gateway data failed (%s): %s", self.last_error, self._problem)
        elif now_s >= self._next_summary_s:
            self._next_summary_s = now_s + SUMMARY_EVERY_S
            health = self.health()
            log.error(
                "storing gateway data still fails after %.0f s (%s): %s raw samples and %d reps "
                "wait in memory; %s raw samples lost so far",
                now_s - self._failing_since_s,
                self.last_error,
                f"{health.waiting_samples:,}",
                health.waiting_reps,
                f"{health.lost_samples:,}",
            )
        return False

    def _storing_again(self) -> None:
        """After a flush that committed: say so once if storing had failed."""
        if self._problem is None:
            return
        lost = self.dropped_samples - self._dropped_when_failing
        log.warning(
            "storing gateway data again after %.0f s of failures: what waited is stored%s",
            time.monotonic() - self._failing_since_s,
            f"; {lost:,} raw samples were lost meanwhile (beyond {MAX_PENDING_SAMPLES:,} "
            "kept in memory)"
            if lost
            else ", nothing was lost",
        )
        self._problem = None
        self._failing_since = None

    def _report_stored(self, batch: list[GatewayEvent | RawSamples], stored: bool = True) -> None:
        with self._lock:
            callbacks = [self._on_stored.pop(id(item), None) for item in batch]
        for callback in callbacks:
            if callback is not None:
                try:
                    callback(stored)
                except Exception:
                    log.exception("on_stored callback failed")

    def _count_lost(self, items: Sequence[GatewayEvent | RawSamples]) -> None:
        for item in items:
            if isinstance(item, RawSamples):
                self.dropped_samples += len(item)
            elif _is_new_rep(item):
                self.lost_reps += 1
            else:
                self.lost_events += 1

    def _give_up_pending(self, why: str) -> None:
        """The sink closes with data it could not store: count it as lost and say what."""
        with self._lock:
            batch, self._pending = self._pending, []
            self._pending_samples = 0
        self._closed = True
        if not batch:
            return
        self._count_lost(batch)
        samples = [item for item in batch if isinstance(item, RawSamples)]
        with self._lock:  # their sets' findings say them too (with the samples dropped before)
            for chunk in samples:
                self._add_lost_chunk(chunk)
        per_sensor: dict[tuple[str, str], float] = defaultdict(float)
        for chunk in samples:
            if len(chunk):
                key = (chunk.athlete_id, chunk.placement.value)
                per_sensor[key] += float(chunk.t_s[-1] - chunk.t_s[0])
        reps = [item for item in batch if _is_new_rep(item)]
        corrections = [item for item in batch if _is_correction(item)]
        others = len(batch) - len(samples) - len(reps) - len(corrections)
        log.error(
            "not stored, the server stopped while %s: %s raw samples (%s), %d reps (%s)%s and "
            "%d other events (set starts/stops, warnings); %s raw samples were lost before, in "
            "all %s",
            why,
            f"{sum(map(len, samples)):,}",
            ", ".join(f"athlete {a} {p} ~{s:.0f} s" for (a, p), s in sorted(per_sensor.items()))
            or "none",
            len(reps),
            self._reps_named(reps) or "none",
            # A correction's rep is stored: only its late quality codes (a dead axis) are lost.
            f", {len(corrections)} corrections of stored reps (the new quality of "
            f"{self._reps_named(corrections)})"
            if corrections
            else "",
            others,
            f"{self.dropped_samples - sum(map(len, samples)):,}",
            f"{self.dropped_samples:,}",
        )
        self._report_stored(batch, stored=False)

    def _write_transaction(self, batch: list[GatewayEvent | RawSamples]) -> None:
        self._transaction(lambda db: self._write(db, batch))

    def _transaction(self, work: Callable[[Session], T]) -> T:
        """`work(db)` in one transaction; if it fails, the open sets are as before it (an id
        of a row that was rolled back is no set's: SQLite hands it to the next one)."""
        open_sets_before = {
            k: replace(v, chunk_index=defaultdict(int, v.chunk_index))
            for k, v in self._open_sets.items()
        }
        try:
            with self._db.sessions.begin() as db:
                return work(db)
        except BaseException:
            self._open_sets = open_sets_before  # nothing of it was committed
            with self._lock:  # the findings were not written: say them with the next flush
                for key, lost in self._lost_in_flight.items():
                    self._add_lost(key, lost)
            raise
        finally:
            self._lost_in_flight = {}

    def _reps_named(self, reps: Sequence[GatewayEvent | RawSamples]) -> str:
        """'athlete 1 set 3: rep 2, 3; ...' for `reps` (RepCompleted events)."""
        reps_by_set: dict[tuple[str | None, str], list[int]] = defaultdict(list)
        for rep in reps:
            assert isinstance(rep, RepCompleted)
            reps_by_set[(rep.athlete_id, rep.set_key)].append(rep.metrics.rep)
        return "; ".join(
            f"athlete {athlete} {self._set_name(key)}: rep {', '.join(map(str, numbers))}"
            for (athlete, key), numbers in reps_by_set.items()
        )

    def _set_name(self, set_key: str) -> str:
        opened = self._open_sets.get(set_key)
        return f"set {opened.set_id}" if opened is not None else f"set {set_key[:8]} (not stored)"

    def _drop_oldest_samples(self) -> bool:
        """Drop the oldest pending raw samples (under `_lock`); False when there are none.
        The first drop of a failure is logged; the rest are counted (summary lines)."""
        for index, item in enumerate(self._pending):
            if isinstance(item, RawSamples):
                del self._pending[index]
                self._pending_samples -= len(item)
                if self.dropped_samples == self._dropped_when_failing:
                    log.error(
                        "storing has failed for too long: %s raw samples wait in memory, so the "
                        "oldest are dropped from now on (counted in GET /health), first %d of %s",
                        f"{MAX_PENDING_SAMPLES:,}",
                        len(item),
                        item.address,
                    )
                self.dropped_samples += len(item)
                self._add_lost_chunk(item)
                return True
        return False

    def _add_lost_chunk(self, chunk: RawSamples) -> None:
        """Count the samples of `chunk`, not stored, for its set's finding (under `_lock`)."""
        if len(chunk):
            self._add_lost(
                (chunk.set_key, chunk.placement.value),
                LostSamples(len(chunk), float(chunk.t_s[0]), float(chunk.t_s[-1])),
            )

    def _add_lost(self, key: tuple[str, str], lost: LostSamples) -> None:
        """Count `lost` for its set's finding (under `_lock`)."""
        known = self._lost.get(key)
        if known is None:
            self._lost[key] = replace(lost)
        else:
            known.merge(lost)

    def _write_lost(self, db: Session, set_key: str | None = None) -> None:
        """Add a RAW_SAMPLES_LOST finding to each open set (or only `set_key`) whose raw
        samples were dropped: which sensor, how long, from when, how many."""
        with self._lock:
            keys = [
                k
                for k in self._lost
                if k[0] in self._open_sets and (set_key is None or k[0] == set_key)
            ]
            taken = {k: self._lost.pop(k) for k in keys}
        self._lost_in_flight.update(taken)
        for key, finding in self._lost_findings(taken):
            add_finding(set_store.get_set(db, self._open_sets[key].set_id), finding)

    def _lost_findings(
        self, lost: dict[tuple[str, str], LostSamples]
    ) -> list[tuple[str, dict[str, object]]]:
        """(set key, RAW_SAMPLES_LOST finding) of each of `lost` whose set is open here."""
        why = self._failure or "storing failed"
        return [
            (key, lost_finding(placement, samples, opened.started_s, opened.started_at, why))
            for (key, placement), samples in sorted(lost.items())
            if (opened := self._open_sets.get(key)) is not None
        ]

    def _write(self, db: Session, batch: list[GatewayEvent | RawSamples]) -> None:
        samples: dict[tuple[str, str], list[RawSamples]] = defaultdict(list)
        for item in batch:
            if isinstance(item, RawSamples):
                samples[(item.set_key, item.placement.value)].append(item)
                continue
            # Samples before an event of the same set are written first (keeps order simple).
            if isinstance(item, SetStopped):
                self._write_samples(db, samples, only_set=item.set.set_key)
            self._write_event(db, item)
        self._write_samples(db, samples)
        self._write_lost(db)

    def stored_set_id(self, set_key: str) -> int | None:
        """Database id of a set this sink has stored and is still recording (any thread)."""
        opened = self._open_sets.get(set_key)
        return opened.set_id if opened is not None else None

    def _open_set(self, db: Session, info: SetInfo, session_id: int | None = None) -> _OpenSet:
        known = self._open_sets.get(info.set_key)
        if known is not None:
            return known
        row = set_store.set_by_key(db, info.set_key)
        if row is None:
            athlete_id = resolve_athlete_key(db, info.athlete_id)
            row = set_store.start_set(
                db,
                athlete_id,
                info.variant,
                load_kg=info.load_kg,
                notes=info.notes,
                session_id=session_id,
                gateway_id=self.gateway_id,
                set_key=info.set_key,
                started_at=info.started_utc,
                close_running=True,
            )
        opened = _OpenSet(
            set_id=row.id,
            athlete_id=row.athlete_id,
            started_s=info.started_s,
            started_at=row.started_at,
            chunk_index=defaultdict(int),
        )
        self._open_sets[info.set_key] = opened
        return opened

    def _write_event(self, db: Session, event: GatewayEvent) -> None:
        if isinstance(event, SetStarted):
            self._open_set(db, event.set)
        elif isinstance(event, SetStopped):
            opened = self._open_set(db, event.set)
            row = set_store.get_set(db, opened.set_id)
            if row.status == SetStatus.RECORDING.value:
                set_store.finish_set(
                    db, opened.set_id, SetStatus.COMPLETED, ended_at=event.wall_utc
                )
            self._write_lost(db, event.set.set_key)
            self._open_sets.pop(event.set.set_key, None)
        elif isinstance(event, RepCompleted):
            rep_set = self._open_sets.get(event.set_key)
            if rep_set is None:
                log.warning("rep of unknown set %s not stored", event.set_key)
                return
            row = set_store.get_set(db, rep_set.set_id)
            if event.correction:
                set_store.correct_live_rep_quality(db, row, event.metrics)
            else:
                set_store.add_reps(db, row, [event.metrics])  # set-relative already
        elif isinstance(event, Calibrated):
            calibrated_set = self._open_sets.get(event.set_key)
            if calibrated_set is not None:
                set_store.add_calibration(
                    db,
                    calibrated_set.athlete_id,
                    calibrated_set.set_id,
                    event.ok,
                    event.message,
                    at=event.wall_utc,
                )
        elif isinstance(event, QualityWarning) and event.set_key in self._open_sets:
            row = set_store.get_set(db, self._open_sets[event.set_key].set_id)
            findings = json.loads(row.findings_json or "[]")
            findings.append(
                {
                    "code": event.code,
                    "message": event.message,
                    "sensor": event.placement.value if event.placement else None,
                    "rep": event.rep,
                }
            )
            row.findings_json = json.dumps(findings)
        elif isinstance(event, SensorStatusChanged) and event.kind is not None:
            if catalog.sensor_by_address(db, event.address) is None:
                catalog.register_sensor(db, event.address, event.kind.value)

    def _write_samples(
        self,
        db: Session,
        samples: dict[tuple[str, str], list[RawSamples]],
        only_set: str | None = None,
    ) -> None:
        for key in [k for k in samples if only_set is None or k[0] == only_set]:
            chunks = samples.pop(key)
            set_key, placement = key
            opened = self._open_sets.get(set_key)
            if opened is None:
                log.warning(
                    "%d samples of unknown set %s not stored", sum(map(len, chunks)), set_key
                )
                continue
            t_s = np.concatenate([c.t_s for c in chunks]) - opened.started_s
            acc = np.concatenate([c.acc_mps2 for c in chunks])
            gyr = np.concatenate([c.gyr_radps for c in chunks])
            index = opened.chunk_index[placement]
            opened.chunk_index[placement] = index + 1
            set_store.add_raw_chunk(
                db,
                opened.set_id,
                chunks[0].placement,
                chunks[0].address,
                index,
                t_s,
                acc,
                gyr,
                _sensor_clock(chunks, opened.started_s),
            )
            row = db.get_one(ExerciseSet, opened.set_id)
            row.recorded_s = max(row.recorded_s, float(t_s[-1]))


def _is_new_rep(item: GatewayEvent | RawSamples) -> bool:
    """A rep to store (not a correction of a stored one: /health's rep counts skip those)."""
    return isinstance(item, RepCompleted) and not item.correction


def _is_correction(item: GatewayEvent | RawSamples) -> bool:
    return isinstance(item, RepCompleted) and item.correction


def _sensor_clock(chunks: list[RawSamples], started_s: float) -> SensorClock:
    """Per sample: receive time (set-relative), the sensor's own time and packet seq."""
    return SensorClock(
        received_s=np.concatenate([np.broadcast_to(c.received_s, len(c)) for c in chunks])
        - started_s,
        sensor_time_s=np.concatenate(
            [
                np.full(len(c), np.nan) if c.sensor_time_s is None else c.sensor_time_s
                for c in chunks
            ]
        ),
        seq=np.concatenate(
            [np.full(len(c), NO_SEQ if c.seq is None else c.seq, dtype=np.int64) for c in chunks]
        ),
    )


def recover_after_restart(database: Database, gateway_id: str) -> list[int]:
    """Mark the sets this gateway left `recording` as interrupted; returns their ids."""
    with database.sessions.begin() as db:
        return set_store.mark_interrupted(db, gateway_id)


__all__ = [
    "DatabaseSink",
    "StorageHealth",
    "recover_after_restart",
    "resolve_athlete_key",
    "storage_problem_text",
]
