"""Outbox -> inbox replication without a broker: exactly once, in order, whoever wrote the row."""

from __future__ import annotations

import json

import numpy as np
import pytest
from sqlalchemy import func, select

from api.federation.errors import FederationError
from api.federation.inbox import apply_batch
from api.federation.outbox import Outbox
from api.storage import catalog
from api.storage import sets as set_store
from api.storage.db import open_database
from api.storage.models import Athlete, ExerciseSet, FederationChange, RawChunk, Rep
from api.vocab import Placement, SetStatus, SetVariant
from tests.api.helpers import metrics


def _edge(tmp_path, name="edge.db"):
    return open_database(f"sqlite:///{tmp_path / name}")


def _record_set(database, athlete_id: int, reps: int, chunks: int, gateway_id="gw-a") -> str:
    rng = np.random.default_rng(athlete_id)
    with database.sessions.begin() as db:
        row = set_store.start_set(db, athlete_id, SetVariant.BACK_SQUAT, gateway_id=gateway_id)
        set_key, set_id = row.set_key, row.id
        set_store.add_reps(db, row, [metrics(rep=i + 1, start_s=3.0 * i) for i in range(reps)])
        for index in range(chunks):
            t_s = index + np.arange(200) / 200.0
            for placement in Placement:
                set_store.add_raw_chunk(
                    db,
                    set_id,
                    placement,
                    f"AA:{placement.value}",
                    index,
                    t_s,
                    rng.normal(size=(200, 3)),
                    rng.normal(size=(200, 3)),
                )
        set_store.finish_set(db, set_id, SetStatus.COMPLETED)
    return set_key


def _drain(outbox: Outbox, central, gateway_id="gw-a", max_changes=7) -> int:
    """Send every batch once, acknowledging as the central answers; returns batches sent."""
    sent = 0
    while (batch := outbox.read_batch(outbox.acked_seq(), max_changes=max_changes)) is not None:
        result = apply_batch(central, gateway_id, _json(batch.payload(gateway_id)))
        outbox.acknowledge(result.last_seq)
        sent += 1
    return sent


def _json(payload: bytes) -> dict:
    return json.loads(payload)


def _counts(database, set_key: str) -> tuple[int, int, int]:
    with database.sessions() as db:
        set_id = db.scalar(select(ExerciseSet.id).where(ExerciseSet.set_key == set_key))
        reps = db.scalar(select(func.count()).select_from(Rep).where(Rep.set_id == set_id))
        samples = db.scalar(select(func.sum(RawChunk.n_samples)).where(RawChunk.set_id == set_id))
        chunks = db.scalar(
            select(func.count()).select_from(RawChunk).where(RawChunk.set_id == set_id)
        )
        return reps, int(samples or 0), chunks


def test_history_before_federation_is_uploaded_and_every_row_arrives_once(
    tmp_path, database
) -> None:
    edge = _edge(tmp_path)
    with edge.sessions.begin() as db:
        athlete_id = catalog.create_athlete(db, "Ana").id
    before = _record_set(edge, athlete_id, reps=3, chunks=2)  # recorded before federating
    outbox = Outbox(edge)
    after = _record_set(edge, athlete_id, reps=4, chunks=3)
    assert _drain(outbox, database) > 2
    assert _counts(database, before) == (3, 800, 4)
    assert _counts(database, after) == (4, 1200, 6)
    assert outbox.backlog() == 0
    with database.sessions() as db, edge.sessions() as e:
        central_athlete = db.scalar(select(Athlete).where(Athlete.name == "Ana"))
        assert central_athlete.uid == e.get(Athlete, athlete_id).uid
        payload = db.scalar(select(RawChunk.payload).order_by(RawChunk.id).limit(1))
        assert payload == e.scalar(select(RawChunk.payload).order_by(RawChunk.id).limit(1))


def test_redelivered_and_overtaking_batches_change_nothing(tmp_path, database) -> None:
    edge = _edge(tmp_path)
    outbox = Outbox(edge)
    with edge.sessions.begin() as db:
        athlete_id = catalog.create_athlete(db, "Ben").id
    key = _record_set(edge, athlete_id, reps=5, chunks=4)
    first = outbox.read_batch(0, max_changes=5)
    second = outbox.read_batch(first.seq, max_changes=5)
    # The second batch overtakes a lost first one: refused, nothing stored.
    gap = apply_batch(database, "gw-a", _json(second.payload("gw-a")))
    assert (gap.status, gap.last_seq) == ("gap", 0)
    for _ in range(3):  # QoS 1 may deliver the same message several times
        result = apply_batch(database, "gw-a", _json(first.payload("gw-a")))
    assert (result.status, result.last_seq) == ("duplicate", first.seq)
    # The edge restarts before the acknowledgement arrived and sends bigger batches from 0.
    _drain(outbox, database, max_changes=50)
    assert _counts(database, key) == (5, 1600, 8)


def test_edits_deletes_and_reanalysis_on_the_edge_follow(tmp_path, database) -> None:
    edge = _edge(tmp_path)
    outbox = Outbox(edge)
    with edge.sessions.begin() as db:
        athlete_id = catalog.create_athlete(db, "Cy").id
    key = _record_set(edge, athlete_id, reps=4, chunks=1)
    with edge.sessions.begin() as db:
        set_id = set_store.set_by_key(db, key).id
        set_store.update_set(db, set_id, variant=SetVariant.BOX_SQUAT, load_kg=80.0)
    _drain(outbox, database)
    with edge.sessions.begin() as db:  # reanalysis replaces the reps (bulk delete + insert)
        set_store.replace_reps(db, set_id, [metrics(rep=1), metrics(rep=2)], [], _source())
    _drain(outbox, database)
    with database.sessions() as db:
        central_set = db.scalar(select(ExerciseSet).where(ExerciseSet.set_key == key))
        reps = list(db.scalars(select(Rep).where(Rep.set_id == central_set.id)))
        assert central_set.variant == "box_squat" and central_set.load_kg == 80.0
        assert sorted(r.rep for r in reps) == [1, 2]
        assert {r.variant for r in reps} == {"box_squat"}


def test_a_gateway_cannot_feed_another_gateways_database(tmp_path, database) -> None:
    edge = _edge(tmp_path)
    outbox = Outbox(edge)
    with edge.sessions.begin() as db:
        catalog.create_athlete(db, "Dee")
    _drain(outbox, database, gateway_id="gw-a")
    with edge.sessions.begin() as db:
        catalog.create_athlete(db, "Eve")
    batch = outbox.read_batch(outbox.acked_seq())
    with pytest.raises(FederationError, match="belongs to gateway gw-a"):
        apply_batch(database, "gw-b", _json(batch.payload("gw-b")))


def test_edge_outbox_needs_sqlite(database) -> None:
    if database.engine.dialect.name == "sqlite":
        assert Outbox(database).acked_seq() == 0  # an edge's own SQLite store
        return
    with pytest.raises(FederationError, match="SQLite"):
        Outbox(database)  # a central PostgreSQL store is never an edge's outbox


def test_outbox_rows_are_written_in_the_same_transaction(tmp_path) -> None:
    edge = _edge(tmp_path)
    Outbox(edge)
    with pytest.raises(RuntimeError), edge.sessions.begin() as db:
        catalog.create_athlete(db, "rolled back")
        raise RuntimeError
    with edge.sessions() as db:
        assert db.scalar(select(func.count()).select_from(FederationChange)) == 0


def _source():
    from api.vocab import RepSource

    return next(iter(RepSource))


def _assessment_on_edge(edge, athlete_id: int) -> tuple[int, dict[str, str]]:
    """An assessment with two recorded steps and a stored report; (its id, kind -> set key)."""
    from api.storage import assessments as assessment_store

    keys = {
        kind: _record_set(edge, athlete_id, reps=3, chunks=1) for kind in ("baseline", "goblet")
    }
    with edge.sessions.begin() as db:
        assessment = assessment_store.create_assessment(db, athlete_id, notes="first battery")
        for kind, key in keys.items():
            assessment_store.attach_step(db, assessment.id, set_store.set_by_key(db, key).id, kind)
        report = {"prescription": {"depth_ceiling_thigh_deg": 86.7, "box_height_cm": 33.2}}
        steps = assessment_store.attached_step_ids(db, assessment.id)
        assessment_store.save_results(db, assessment.id, steps, {"sacrum": [1.0, 0.0]}, report)
        return assessment.id, keys


def _central_assessment(central, uid: str) -> tuple[object, dict[str, str]]:
    from api.storage import assessments as assessment_store
    from api.storage.models import Assessment

    with central.sessions() as db:
        athlete = db.scalar(select(Athlete).where(Athlete.uid == uid))
        assessment = db.scalar(select(Assessment).where(Assessment.athlete_id == athlete.id))
        steps = assessment_store.step_sets(db, assessment.id)
        return assessment, {kind: row.set_key for kind, row in steps.items()}


def test_assessments_and_their_steps_arrive(tmp_path, database) -> None:
    edge = _edge(tmp_path)
    outbox = Outbox(edge)
    with edge.sessions.begin() as db:
        athlete = catalog.create_athlete(db, "Flo")
        athlete_id, uid = athlete.id, athlete.uid
    _, keys = _assessment_on_edge(edge, athlete_id)
    _drain(outbox, database)
    assessment, steps = _central_assessment(database, uid)
    assert steps == keys  # each step set, with its step kind, on the central assessment
    assert assessment.notes == "first battery"
    assert json.loads(assessment.report_json)["prescription"]["box_height_cm"] == 33.2
    assert json.loads(assessment.calibration_json) == {"sacrum": [1.0, 0.0]}
    with database.sessions() as db:  # the newest prescription is the athlete's, centrally too
        central_athlete = db.scalar(select(Athlete).where(Athlete.uid == uid))
        assert central_athlete.prescription == {
            "box_height_cm": 33.2,
            "depth_ceiling_thigh_deg": 86.7,
        }


def test_an_edge_federated_before_assessments_were_replicated_uploads_them(
    tmp_path, database
) -> None:
    from sqlalchemy import text

    edge = _edge(tmp_path)
    outbox = Outbox(edge)
    with edge.engine.begin() as c:
        for op in ("insert", "update", "delete"):  # what an older WinkWatch installed
            c.execute(text(f"DROP TRIGGER federation_assessments_{op}"))
    with edge.sessions.begin() as db:
        athlete = catalog.create_athlete(db, "Gus")
        athlete_id, uid = athlete.id, athlete.uid
    _, keys = _assessment_on_edge(edge, athlete_id)
    _drain(outbox, database)  # the sets arrive, their assessment cannot
    with database.sessions() as db:
        assert db.scalar(select(func.count()).select_from(ExerciseSet)) == 2
        assert db.scalar(select(func.count(ExerciseSet.assessment_id))) == 0
    upgraded = Outbox(edge)  # the newer WinkWatch starts on the same database
    assert upgraded.origin == outbox.origin and upgraded.backlog() > 0
    _drain(upgraded, database)
    _, steps = _central_assessment(database, uid)
    assert steps == keys
