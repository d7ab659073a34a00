"""Per-athlete explanations of the dashboard's numbers: an admin's text, or hidden
(api.explanations has the defaults). No row: the default text, shown."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from api.errors import InvalidInputError
from api.explanations import EXPLANATION_KEYS
from api.storage import catalog
from api.storage.models import AthleteExplanation


def overrides(db: Session, athlete_id: int) -> dict[str, AthleteExplanation]:
    """The athlete's changed explanations by key (unknown athletes: NotFoundError)."""
    catalog.get_athlete(db, athlete_id)
    rows = db.scalars(select(AthleteExplanation).where(AthleteExplanation.athlete_id == athlete_id))
    return {row.key: row for row in rows}


def _check_key(key: str) -> None:
    if key not in EXPLANATION_KEYS:
        raise InvalidInputError(f"explanation {key!r}: use one of {', '.join(EXPLANATION_KEYS)}")


def set_override(db: Session, athlete_id: int, key: str, text: str | None, shown: bool) -> None:
    """The athlete's own `text` (None: the default) for explanation `key`, shown or hidden."""
    _check_key(key)
    catalog.get_athlete(db, athlete_id)
    row = db.get(AthleteExplanation, (athlete_id, key))
    if row is None:
        row = AthleteExplanation(athlete_id=athlete_id, key=key)
        db.add(row)
    row.text, row.shown = text, shown
    db.flush()


def clear_override(db: Session, athlete_id: int, key: str) -> None:
    """Back to the default text, shown."""
    _check_key(key)
    catalog.get_athlete(db, athlete_id)
    row = db.get(AthleteExplanation, (athlete_id, key))
    if row is not None:
        db.delete(row)
        db.flush()
