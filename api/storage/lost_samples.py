"""Raw samples that could not be stored, said on their set as a RAW_SAMPLES_LOST finding.

The sink (api.storage.recorder) counts them per set and sensor (`LostSamples`) and writes the
finding with the first commit that works again. A server stopped while storing still fails
cannot: its last attempts fail too, and the counts live only in memory. It then keeps the
findings in a small JSON file on the gateway's own disk, next to its id (`save_unwritten`),
and the next start writes them into their sets and deletes the file (`write_saved`).

Why a file, not the set marked at the next start: only this process knows what was lost, and
the database refuses writes; a file is the one durable place left, and it holds the finding
ready-made (the next start needs nothing but the set's key). A file whose disk is full too
(SQLite on the same disk) cannot be written either: then only the log says it.
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from api.storage import sets as set_store
from api.storage.db import Database
from api.storage.models import ExerciseSet

log = logging.getLogger(__name__)

RAW_SAMPLES_LOST = set_store.RAW_SAMPLES_LOST
Finding = dict[str, object]  # {"code", "message", "sensor", "rep"}, as findings_json holds


@dataclass
class LostSamples:
    """Raw samples of one sensor of one set that were not stored (gateway clock, s)."""

    samples: int
    first_s: float
    last_s: float

    def merge(self, other: LostSamples) -> None:
        self.samples += other.samples
        self.first_s = min(self.first_s, other.first_s)
        self.last_s = max(self.last_s, other.last_s)


def lost_finding(
    placement: str, lost: LostSamples, set_started_s: float, set_started_at: datetime, why: str
) -> Finding:
    """The finding for `lost` samples of the `placement` sensor of a set that started at
    `set_started_s` (gateway clock) = `set_started_at` (UTC); `why`: what failed."""
    offset_s = lost.first_s - set_started_s
    at = set_started_at + timedelta(seconds=offset_s)
    return {
        "code": RAW_SAMPLES_LOST,
        "message": (
            f"raw samples lost while storing failed ({why}): {placement} "
            f"~{lost.last_s - lost.first_s:.0f} s from {at:%H:%M:%S} UTC ({offset_s:.0f} s "
            f"into the set), {lost.samples:,} samples; its stored raw data (exports, "
            "reanalyze) has a gap there"
        ),
        "sensor": placement,
        "rep": None,
    }


def add_finding(row: ExerciseSet, finding: Finding) -> None:
    """Append `finding` to the set's findings, unless it is there already (a file written
    again after a start that stored it but could not delete the file)."""
    findings = json.loads(row.findings_json or "[]")
    if finding not in findings:
        findings.append(finding)
        row.findings_json = json.dumps(findings)


def unwritten_findings_path(directory: Path, gateway_id: str) -> Path:
    """The file of the findings gateway `gateway_id` could not write, in `directory`."""
    safe_id = "".join(c if c.isalnum() or c in "-_." else "_" for c in gateway_id)
    return Path(directory) / f"unstored_findings-{safe_id}.json"


def save_unwritten(path: Path, findings: list[tuple[str, Finding]]) -> None:
    """Keep (set key, finding) pairs in `path`, added to those already there (a start that
    could not write them yet), written whole or not at all. A `path` that cannot be read is
    set aside (`set_aside`), not added to. Raises OSError."""
    kept = _read_or_set_aside(path) if path.exists() else []
    kept += [{"set_key": key, "finding": finding} for key, finding in findings]
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(kept, handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp_name, path)
    except BaseException:
        Path(tmp_name).unlink(missing_ok=True)
        raise


def write_saved(database: Database, path: Path) -> int:
    """Write the findings a previous run kept in `path` into their sets and delete the file;
    returns how many were written. A set that was never stored gets nothing (logged). If the
    database refuses the write, the file stays for the next start (logged); so does a file
    that cannot be deleted once written (logged: the next start does not say them twice)."""
    if not path.exists():
        return 0
    try:
        saved = _read_or_set_aside(path)
    except OSError as exc:
        log.error(
            "%s (findings of raw samples a previous run could not store) cannot be read (%s); "
            "kept for the next start",
            path,
            exc,
        )
        return 0
    if not path.exists():  # set aside: nothing of it to write
        return 0
    written = 0
    try:
        with database.sessions.begin() as db:
            for entry in saved:
                written += _write_one(db, str(entry["set_key"]), entry["finding"])
    except SQLAlchemyError as exc:
        log.error(
            "the findings of raw samples the previous run could not store (%s) cannot be "
            "written yet (%s); kept for the next start",
            path,
            exc.__class__.__name__,
        )
        return 0
    log.warning(
        "%d finding(s) of raw samples lost when the previous run stopped while storing failed "
        "written into their sets (from %s)",
        written,
        path,
    )
    try:
        path.unlink(missing_ok=True)
    except OSError as exc:  # written already: a later start finds them there (add_finding)
        log.error(
            "%s cannot be deleted (%s): its findings are in their sets, and a later start "
            "does not add them twice; delete it by hand",
            path,
            exc,
        )
    return written


def _write_one(db: Session, set_key: str, finding: Finding) -> int:
    row = set_store.set_by_key(db, set_key)
    if row is None:
        log.error("set %s was never stored: its lost samples (%s) stay unsaid", set_key, finding)
        return 0
    add_finding(row, finding)
    return 1


def set_aside(path: Path) -> Path:
    """Where an unreadable findings file `path` is moved, for a person to read."""
    return path.with_name(path.name + ".unreadable")


def _read_or_set_aside(path: Path) -> list[dict]:
    """The entries of `path`; [] if it is not a findings file (cut short by a power loss,
    edited by hand): it is then moved to `set_aside(path)` (logged), so that neither a start
    nor a stop stumbles on it again, and nothing of it goes into a set. Raises OSError."""
    try:
        return _read(path)
    except ValueError as exc:
        aside = set_aside(path)
        os.replace(path, aside)
        log.error(
            "%s (findings of raw samples a previous run could not store) cannot be read (%s): "
            "moved to %s and not written into any set. Its sets may not say that they miss "
            "raw samples: read it, then delete it",
            path,
            exc,
            aside,
        )
        return []


def _read(path: Path) -> list[dict]:
    """Raises ValueError when `path` is not a list of {set_key, finding} with whole findings."""
    entries = json.loads(path.read_text(encoding="utf-8"))  # UnicodeDecodeError is one
    if not isinstance(entries, list) or not all(
        isinstance(e, dict) and isinstance(e.get("set_key"), str) and _is_finding(e.get("finding"))
        for e in entries
    ):
        raise ValueError("not a list of {set_key, finding: {code, message, sensor, rep}}")
    return entries


def _is_finding(finding: object) -> bool:
    return (
        isinstance(finding, dict)
        and finding.keys() == {"code", "message", "sensor", "rep"}
        and finding["code"] == RAW_SAMPLES_LOST
        and isinstance(finding["message"], str)
    )
