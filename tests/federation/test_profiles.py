"""An athlete moves between platforms: assessed and recorded on gateway A, paired on gateway B
by the coach at the central server; B gets the baseline learnt from A's reps and the
prescription of A's assessment, later changes on A follow, and nothing echoes back up.
Through a private Mosquitto, with the central store on PostgreSQL (or SQLite)."""

from __future__ import annotations

import json

import numpy as np
import pytest
from sqlalchemy import func, select

from api.assessments import compute_report, import_step
from api.federation.central import CentralHub
from api.federation.edge import EdgeForwarder
from api.federation.service import CentralService
from api.gateway_port import LiveService
from api.storage import assessments as assessment_store
from api.storage import baselines, catalog
from api.storage import sets as set_store
from api.storage.db import open_database
from api.storage.models import Athlete, FederationChange
from api.vocab import Placement, SetStatus, SetVariant
from fusion.baseline import PersonalBaseline, personal_baseline
from fusion.simulator.assessment import clear_lifter, simulate_assessment
from tests.api.helpers import metrics
from tests.federation.test_broker import LoopThread, mqtt_settings, wait_until

pytestmark = pytest.mark.slow

WARM_UP_WINKS_DEG = (1.2, 2.5, 1.8, 3.1, 2.2, 1.6)  # a warm-up set that does not wink


def _assess_on_a(edge_a, athlete_id: int) -> dict:
    """A real (simulated) baseline step imported and analysed on A; its prescription."""
    lifter = clear_lifter(np.random.default_rng(21), "stability", steps=("baseline",))
    step = simulate_assessment(lifter, 21).steps["baseline"].simulated
    with edge_a.sessions.begin() as db:
        assessment_id = assessment_store.create_assessment(db, athlete_id).id
    import_step(edge_a, assessment_id, "baseline", step.sacrum, step.thigh, None, "gw-a")
    return compute_report(edge_a, assessment_id).report.prescription.as_dict()


def _warm_up_on_a(edge_a, athlete_id: int) -> PersonalBaseline:
    with edge_a.sessions.begin() as db:
        row = set_store.start_set(db, athlete_id, SetVariant.BACK_SQUAT, gateway_id="gw-a")
        reps = [metrics(rep=i + 1, wink_deg=w) for i, w in enumerate(WARM_UP_WINKS_DEG)]
        set_store.add_reps(db, row, reps)
        set_store.finish_set(db, row.id, SetStatus.COMPLETED)
        baseline = baselines.baseline_from_sets(db, athlete_id, [row.id])
        baselines.set_baseline(db, athlete_id, baseline)
        return baseline


def _local(database, uid: str) -> Athlete | None:
    with database.sessions() as db:
        return db.scalar(select(Athlete).where(Athlete.uid == uid))


def test_baseline_and_prescription_follow_the_athlete_to_another_platform(
    tmp_path, broker, database
) -> None:
    loop = LoopThread()
    hub = CentralHub(database, mqtt_settings(broker, "central")).start(loop.loop)
    edges, forwarders = {}, {}
    for name in ("gw-a", "gw-b"):
        edges[name] = open_database(f"sqlite:///{tmp_path / f'{name}.db'}")
        service = LiveService(database=edges[name], gateway_id=name)
        forwarders[name] = EdgeForwarder(
            edges[name], name, mqtt_settings(broker, name), service=service
        ).start(loop.loop)
    edge_a, edge_b = edges["gw-a"], edges["gw-b"]
    try:
        with edge_a.sessions.begin() as db:
            athlete = catalog.create_athlete(db, "Ana")
            athlete.femur_cm, athlete.shank_cm = 44.0, 47.0
            db.flush()
            a_id, uid = athlete.id, athlete.uid
        prescription = _assess_on_a(edge_a, a_id)
        baseline = _warm_up_on_a(edge_a, a_id)
        # The baseline is what fusion.baseline learns from the warm-up reps A recorded.
        assert baseline == personal_baseline(list(WARM_UP_WINKS_DEG))
        assert prescription["box_height_cm"] is not None
        wait_until(lambda: forwarders["gw-a"].outbox.backlog() == 0, 30, "A to upload")
        central_athlete = _local(database, uid)
        assert central_athlete is not None and central_athlete.prescription == prescription
        assert _local(edge_b, uid) is None  # B has never seen Ana

        # The coach pairs Ana's sensor on platform B from the central server.
        central = CentralService(database=database, gateway_id="central", hub=hub)
        wait_until(lambda: forwarders["gw-b"].connected and hub.connected, 10, "connections")
        central.assign_on(
            "gw-b", "AA:BB:CC:00:00:01", "simulated", central_athlete.id, Placement.SACRUM
        )
        on_b = _local(edge_b, uid)
        assert on_b is not None and on_b.name == "Ana"
        assert on_b.prescription == prescription
        assert (on_b.femur_cm, on_b.shank_cm) == (44.0, 47.0)
        with edge_b.sessions() as db:
            assert baselines.athlete_baseline(db, on_b.id) == baseline
            sensor = catalog.sensor_by_address(db, "AA:BB:CC:00:00:01")
            assert (sensor.athlete_id, sensor.placement) == (on_b.id, "sacrum")
        # What B's live gateway gets when a set starts there: A's baseline.
        b_service = LiveService(database=edge_b, gateway_id="gw-b")
        assert b_service._check_can_start(on_b.id, None) == baseline

        # Ana is re-baselined on A later: B follows (retained profile), with no echo upward.
        wait_until(lambda: forwarders["gw-b"].outbox.backlog() == 0, 30, "B to upload")
        newer = PersonalBaseline(3.0, 0.5, 12)
        with edge_a.sessions.begin() as db:
            baselines.set_baseline(db, a_id, newer)
        wait_until(lambda: _local(edge_b, uid).baseline_reps == 12, 30, "the new baseline on B")
        with edge_b.sessions() as db:
            assert baselines.athlete_baseline(db, on_b.id) == newer
            echoes = db.scalar(
                select(func.count())
                .select_from(FederationChange)
                .where(FederationChange.table_name == "athletes")
            )
        assert echoes == 0
        assert forwarders["gw-b"].profiles_applied >= 2
        assert json.loads(_local(database, uid).prescription_json) == prescription
    finally:
        for forwarder in forwarders.values():
            forwarder.stop(drain_s=0)
        hub.stop()
        loop.close()
        for edge in edges.values():
            edge.dispose()


def test_a_profile_for_an_unknown_athlete_is_ignored_and_a_bad_one_refused(tmp_path) -> None:
    from api.federation.errors import FederationError
    from api.federation.profiles import apply_profile

    edge = open_database(f"sqlite:///{tmp_path / 'edge.db'}")
    profile = {"uid": "a" * 32, "name": "Zoe", "baseline_reps": 5, "baseline_centre_deg": 2.0}
    assert apply_profile(edge, profile, create=False) is None
    created = apply_profile(edge, profile, create=True)
    assert created is not None and _local(edge, "a" * 32).id == created.athlete_id
    with pytest.raises(FederationError, match="not a number"):
        apply_profile(edge, {**profile, "femur_cm": float("nan")}, create=False)
    with pytest.raises(FederationError, match="uid"):
        apply_profile(edge, {"name": "no uid"}, create=True)
    edge.dispose()


def test_a_profile_older_than_the_edges_own_change_is_not_applied(tmp_path) -> None:
    from api.federation.outbox import Outbox
    from api.federation.profiles import apply_profile

    edge = open_database(f"sqlite:///{tmp_path / 'edge.db'}")
    outbox = Outbox(edge)
    with edge.sessions.begin() as db:
        athlete = catalog.create_athlete(db, "Ana")
        athlete_id, uid = athlete.id, athlete.uid
    outbox.acknowledge(outbox.read_batch(0).seq)  # the central server has her
    with edge.sessions.begin() as db:  # re-baselined here, not yet forwarded
        baselines.set_baseline(db, athlete_id, PersonalBaseline(2.0, 0.5, 8))
    stale = {"uid": uid, "name": "Ana", "baseline_reps": None, "baseline_centre_deg": None}
    apply_profile(edge, stale, create=False)
    with edge.sessions() as db:
        assert baselines.athlete_baseline(db, athlete_id) == PersonalBaseline(2.0, 0.5, 8)
    outbox.acknowledge(outbox.read_batch(outbox.acked_seq()).seq)  # now stored centrally
    newer = {"uid": uid, "baseline_reps": 9, "baseline_centre_deg": 2.5, "baseline_spread_deg": 0.4}
    apply_profile(edge, newer, create=False)
    with edge.sessions() as db:
        assert baselines.athlete_baseline(db, athlete_id) == PersonalBaseline(2.5, 0.4, 9)
    assert outbox.backlog() == 0  # and nothing echoes back up
    edge.dispose()
