"""Athletes' personal baselines (fusion.baseline) in the database.

A baseline is learned from reps the coach knows do not wink (a warm-up set, an assessment's
steps, reps above the athlete's known onset): `baseline_from_sets` computes it from the
stored reps of given sets, `set_baseline` stores it on the athlete, `athlete_baseline`
reads it back for the live gateway and for `winkwatch analyze --athlete`.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from api.errors import ConflictError, InvalidInputError, NotFoundError
from api.storage.catalog import get_athlete
from api.storage.models import ExerciseSet, Rep
from api.vocab import SetStatus
from fusion.baseline import PersonalBaseline, personal_baseline


def athlete_baseline(db: Session, athlete_id: int) -> PersonalBaseline | None:
    athlete = get_athlete(db, athlete_id)
    if athlete.baseline_reps is None:
        return None
    return PersonalBaseline(
        float(athlete.baseline_centre_deg or 0.0),
        float(athlete.baseline_spread_deg or 0.0),
        int(athlete.baseline_reps),
    )


def set_baseline(db: Session, athlete_id: int, baseline: PersonalBaseline | None) -> None:
    """Store (or with None clear) the athlete's baseline."""
    athlete = get_athlete(db, athlete_id)
    athlete.baseline_centre_deg = None if baseline is None else baseline.centre_deg
    athlete.baseline_spread_deg = None if baseline is None else baseline.spread_deg
    athlete.baseline_reps = None if baseline is None else baseline.reps
    db.flush()


def baseline_from_sets(db: Session, athlete_id: int, set_ids: Sequence[int]) -> PersonalBaseline:
    """The baseline of every stored rep of `set_ids` (finished sets of this athlete that do
    not wink)."""
    get_athlete(db, athlete_id)
    if not set_ids:
        raise InvalidInputError("give at least one set whose reps do not wink")
    rows = db.execute(
        select(ExerciseSet.id, ExerciseSet.athlete_id, ExerciseSet.status).where(
            ExerciseSet.id.in_(set_ids)
        )
    ).all()
    owners = {row.id: row.athlete_id for row in rows}
    missing = sorted(set(set_ids) - set(owners))
    if missing:  # 404, as an unknown athlete_id in a body is
        others = f" (and {', '.join(map(str, missing[1:]))})" if len(missing) > 1 else ""
        raise NotFoundError("set", f"{missing[0]}{others}")
    foreign = sorted(i for i, owner in owners.items() if owner != athlete_id)
    if foreign:
        raise InvalidInputError(f"set(s) {foreign} belong to another athlete")
    recording = sorted(row.id for row in rows if row.status == SetStatus.RECORDING.value)
    if recording:  # its reps so far only: the baseline would miss the rest
        raise ConflictError(
            f"set {recording[0]} is still recording; stop it before taking the baseline from it"
        )
    winks = db.scalars(select(Rep.wink_deg).where(Rep.set_id.in_(set_ids))).all()
    if not winks:
        raise InvalidInputError(f"set(s) {sorted(set_ids)} have no reps")
    return personal_baseline(winks)
