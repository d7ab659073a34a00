"""Re-run the offline analysis (fusion.pipeline.analyze_recordings) on a set's raw samples."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select

from api.errors import ConflictError, NotFoundError
from api.storage import sets as set_store
from api.storage.db import Database
from api.storage.models import Rep
from api.vocab import Placement, RepSource, SetStatus
from fusion.types import QualityFinding


@dataclass(frozen=True)
class ReanalysisOutcome:
    reps_before: int
    reps_after: int
    wink_reps: int
    findings: tuple[QualityFinding, ...]


def reanalyze_set(database: Database, set_id: int) -> ReanalysisOutcome:
    """Analyse the stored samples again and replace the set's reps (one transaction)."""
    from fusion.pipeline import analyze_recordings

    with database.sessions() as db:
        row = set_store.get_set(db, set_id)
        if row.status == SetStatus.RECORDING.value:
            raise ConflictError(f"set {set_id} is still recording; stop it before re-analysing")
        placements = set_store.raw_placements(db, set_id)
        missing = [p.value for p in Placement if p not in placements]
        if missing:
            raise NotFoundError(f"raw {' and '.join(missing)} samples of set", set_id)
        sacrum = set_store.load_raw(db, set_id, Placement.SACRUM)
        thigh = set_store.load_raw(db, set_id, Placement.THIGH)
        load_kg = row.load_kg
    result = analyze_recordings(sacrum, thigh, load_kg=load_kg)  # raises fusion AnalysisError
    with database.sessions.begin() as db:
        before = db.scalar(select(func.count()).select_from(Rep).where(Rep.set_id == set_id))
        after = set_store.replace_reps(db, set_id, result.reps, result.findings, RepSource.REANALYSIS)
    return ReanalysisOutcome(reps_before=before, reps_after=after,
                             wink_reps=sum(bool(r.butt_wink) for r in result.reps),
                             findings=result.findings)
