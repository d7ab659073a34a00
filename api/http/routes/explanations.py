"""What each number means, per athlete (api.explanations): read by the dashboard, changed
by an admin (the athlete's own words, or an explanation hidden)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path
from sqlalchemy.orm import Session

from api.explanations import EXPLANATION_KEYS, EXPLANATIONS, default_text
from api.http.deps import Admin, DbDep, Reader
from api.http.routes.common import IdPath
from api.http.schemas import ExplanationPublic, ExplanationsPublic, ExplanationUpdate
from api.storage import explanations as store
from api.storage.baselines import athlete_baseline
from fusion.baseline import DEFAULT_WINK_THRESHOLD_DEG, wink_threshold

router = APIRouter(prefix="/athletes", tags=["athletes"])
# Listed in the schema; an unknown key stays the storage's own 422 naming the keys.
KeyPath = Annotated[str, Path(json_schema_extra={"enum": list(EXPLANATION_KEYS)})]


def _explanations(db: Session, athlete_id: int) -> ExplanationsPublic:
    changed = store.overrides(db, athlete_id)
    threshold = wink_threshold(DEFAULT_WINK_THRESHOLD_DEG, athlete_baseline(db, athlete_id))
    items = []
    for explanation in EXPLANATIONS:
        default = default_text(explanation, threshold)
        row = changed.get(explanation.key)
        own = row.text if row is not None and row.text else None
        items.append(
            ExplanationPublic(
                key=explanation.key,
                label=explanation.label,
                text=own or default,
                default_text=default,
                custom=own is not None,
                shown=True if row is None else row.shown,
            )
        )
    return ExplanationsPublic(
        athlete_id=athlete_id,
        threshold_deg=round(threshold.threshold_deg, 2),
        threshold_source=threshold.source,
        items=items,
    )


@router.get("/{athlete_id}/explanations", response_model=ExplanationsPublic)
def get_explanations(athlete_id: IdPath, db: DbDep, _: Reader):
    """Every explanation as this athlete's dashboard shows it, with the threshold in use."""
    return _explanations(db, athlete_id)


@router.put("/{athlete_id}/explanations/{key}", response_model=ExplanationsPublic)
def put_explanation(athlete_id: IdPath, key: KeyPath, body: ExplanationUpdate, db: DbDep, _: Admin):
    """The athlete's own text for explanation `key` (empty: the default), shown or hidden."""
    text = (body.text or "").strip() or None
    store.set_override(db, athlete_id, key, text, body.shown)
    return _explanations(db, athlete_id)


@router.delete("/{athlete_id}/explanations/{key}", response_model=ExplanationsPublic)
def delete_explanation(athlete_id: IdPath, key: KeyPath, db: DbDep, _: Admin):
    """Back to the default text, shown."""
    store.clear_override(db, athlete_id, key)
    return _explanations(db, athlete_id)
