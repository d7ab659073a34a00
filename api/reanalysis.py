"""The offline analysis (fusion.pipeline.analyze_recordings) of a set's stored raw samples.

It starts from what the sensors really sent: when a sensor's own timestamps were stored
(codec raw-v2), its clock is mapped again over the whole set (sensor_gateway.clock.
map_clock_offline), which is exact from the first second, where the live mapping had not
yet learnt the sensor's drift. Sensors without timestamps keep their live mapping.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from sqlalchemy import func, select

from api.errors import ConflictError
from api.storage import sets as set_store
from api.storage.baselines import athlete_baseline
from api.storage.db import Database
from api.storage.models import Rep
from api.vocab import Placement, RepSource, SetStatus
from fusion.types import ImuRecording, QualityFinding

if TYPE_CHECKING:
    from fusion.pipeline import AnalysisResult


@dataclass(frozen=True)
class ReanalysisOutcome:
    reps_before: int
    reps_after: int
    wink_reps: int
    findings: tuple[QualityFinding, ...]


def analyse_stored_set(database: Database, set_id: int) -> AnalysisResult:
    """The offline analysis of a set's stored raw samples (the one way: `reanalyze`, rep
    detail and `plot --set` all use it): sensor clocks mapped again where stored, reps flagged
    against the athlete's current personal baseline. Raises NotFoundError, fusion
    AnalysisError."""
    from fusion.pipeline import analyze_recordings

    with database.sessions() as db:
        exercise_set = set_store.get_set(db, set_id)
        baseline = athlete_baseline(db, exercise_set.athlete_id)
        stored = set_store.load_set_recordings(db, set_id)
        sacrum = _remapped(db, set_id, Placement.SACRUM, stored.sacrum)
        thigh = _remapped(db, set_id, Placement.THIGH, stored.thigh)
    return analyze_recordings(sacrum, thigh, load_kg=stored.load_kg, baseline=baseline)


def reanalyze_set(database: Database, set_id: int) -> ReanalysisOutcome:
    """Analyse the stored samples again and replace the set's reps (one transaction); reps are
    flagged against the athlete's current personal baseline, as a new set would be."""
    with database.sessions() as db:
        if set_store.get_set(db, set_id).status == SetStatus.RECORDING.value:
            raise ConflictError(f"set {set_id} is still recording; stop it before re-analysing")
    from api.storage.angle_series import AngleSeries, keep_angle_series, raw_sample_count

    result = analyse_stored_set(database, set_id)  # raises fusion AnalysisError
    with database.sessions.begin() as db:
        # The set as it is now, locked (PostgreSQL) so that a correction waits for the new reps:
        # a load corrected (PATCH /sets/{id}) while the samples were analysed, the reps follow.
        exercise_set = set_store.get_set(db, set_id)
        db.refresh(exercise_set, with_for_update=True)
        before = db.scalar(select(func.count()).select_from(Rep).where(Rep.set_id == set_id)) or 0
        kept = tuple(set_store.recording_findings(exercise_set))  # e.g. raw samples lost
        after = set_store.replace_reps(
            db, set_id, result.reps, result.findings, RepSource.REANALYSIS
        )
        load_kg = exercise_set.load_kg
        if load_kg is not None and any(rep.load_kg != load_kg for rep in result.reps):
            set_store.update_set(db, set_id, load_kg=load_kg)
    with database.sessions() as db:  # rep detail shows what this analysis saw
        keep_angle_series(db, set_id, raw_sample_count(db, set_id), AngleSeries.of(result))
    return ReanalysisOutcome(
        reps_before=before,
        reps_after=after,
        wink_reps=sum(bool(r.butt_wink) for r in result.reps),
        findings=kept + result.findings,
    )


def _remapped(db, set_id: int, placement: Placement, recording: ImuRecording) -> ImuRecording:
    """`recording` with its times mapped again from the sensor's own clock, when stored."""
    from sensor_gateway.clock import map_clock_offline

    clock = set_store.load_sensor_clock(db, set_id, placement)
    if clock is None or clock.sensor_time_s.shape != recording.t_s.shape:
        return recording
    t_s = map_clock_offline(clock.sensor_time_s, clock.received_s)
    if t_s is None:
        return recording
    return ImuRecording(t_s=t_s, acc_mps2=recording.acc_mps2, gyr_radps=recording.gyr_radps)
