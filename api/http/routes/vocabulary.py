"""GET /vocabulary: the closed vocabularies, so clients (the dashboard) keep no copy of them."""

from __future__ import annotations

from fastapi import APIRouter

from api.http.deps import Reader
from api.http.schemas import StepTerm, Term, Vocabulary
from api.vocab import (
    SET_VARIANT_LABELS,
    STEP_LABELS,
    VALUE_WORDS,
    VERDICT_LABELS,
    Placement,
    SetStatus,
    SetVariant,
    StepKind,
)
from fusion.assessment.kinds import MIN_REPS
from sensor_gateway.samples import LinkState, SensorKind

router = APIRouter(tags=["vocabulary"])


@router.get("/vocabulary", response_model=Vocabulary)
def vocabulary(_: Reader) -> Vocabulary:
    """Set variants (with the label to show), placements, set statuses, sensor kinds, link
    states, assessment steps (with the reps each needs), verdict fields and values."""
    return Vocabulary(
        set_variants=[Term(value=v.value, label=SET_VARIANT_LABELS[v]) for v in SetVariant],
        placements=[Term(value=p.value, label=p.value) for p in Placement],
        set_statuses=[Term(value=s.value, label=s.value) for s in SetStatus],
        sensor_kinds=[Term(value=k.value, label=k.value.replace("_", " ")) for k in SensorKind],
        link_states=[Term(value=s.value, label=s.value) for s in LinkState],
        step_kinds=[
            StepTerm(value=k.value, label=STEP_LABELS[k.value], min_reps=MIN_REPS[k.value])
            for k in StepKind
        ],
        verdict_fields=[Term(value=k, label=v) for k, v in VERDICT_LABELS.items()],
        verdict_values=[Term(value=k, label=v) for k, v in VALUE_WORDS.items()],
    )
