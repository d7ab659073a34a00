"""End to end through the live gateway: a simulated athlete's sensors stream the whole
assessment battery; each step is started and stopped over the HTTP API as the athlete
begins and ends it; the later steps (the quadruped rock-back among them) are analysed live
with the calibration taken from the baseline; the report names the simulator's known cause."""

from __future__ import annotations

import asyncio

import numpy as np
import pytest
from fastapi.testclient import TestClient

from api.auth import create_token
from api.http import create_app
from api.runtime import register_simulated_sensors
from api.settings import Settings
from api.storage.recorder import DatabaseSink
from api.vocab import TokenRole
from fusion.simulator.assessment import clear_lifter, rep_onset_hip_flexion_deg, step_specs
from sensor_gateway.config import Assignments, GatewaySettings
from sensor_gateway.events import Calibrated, QualityWarning, WinkOnset
from sensor_gateway.gateway import Gateway
from sensor_gateway.sources.simulated import SimulatedAthlete, SimulatedSource

pytestmark = pytest.mark.slow
STEPS = ("baseline", "rock_back", "goblet", "post_stretch")
SEED = 21


@pytest.fixture
def live(database, db_target, tmp_path):
    """The app with a gateway writing into the database (as `winkwatch serve` builds it)."""
    settings = Settings(
        database_url=db_target.url, database_schema=db_target.schema, gateway_id="gw-e2e"
    )
    sink = DatabaseSink(database, gateway_id=settings.gateway_id, start_thread=False)
    config = GatewaySettings(config_file=tmp_path / "gateway.json")
    gateway = Gateway(config, Assignments(), sink=sink)
    with database.sessions.begin() as db:
        _, admin = create_token(db, "coach", TokenRole.ADMIN)
    sink.start()
    with TestClient(create_app(settings, gateway, database=database, sink=sink)) as client:
        client.headers.update({"Authorization": f"Bearer {admin}"})
        yield client, gateway, database
    sink.close()


def test_an_assessment_streamed_through_the_gateway(live) -> None:
    client, gateway, database = live
    lifter = clear_lifter(np.random.default_rng(SEED), "soft_tissue", steps=STEPS)
    specs = step_specs(lifter, SEED)
    athlete_id = client.post("/athletes", json={"name": "Dee"}).json()["id"]
    assessment = client.post(
        "/assessments",
        json={"athlete_id": athlete_id, "femur_cm": lifter.femur_cm, "shank_cm": lifter.shank_cm},
    ).json()["id"]
    athlete = SimulatedAthlete(str(athlete_id), sets=[specs[kind] for kind in STEPS], seed=SEED)
    register_simulated_sensors(gateway, database, athlete, athlete_id, "e2e")
    events = gateway.bus.subscribe(
        event_types=(Calibrated, WinkOnset, QualityWarning), max_queued=10_000
    )
    step_sets: dict[str, int] = {}

    def begin(_athlete, played) -> None:  # the coach starts the step as the athlete begins
        kind = STEPS[played.index]
        # On the test's virtual clock the first step starts before any sample has arrived: the
        # ready check would refuse it (409), so the coach overrides for that one.
        body = {"kind": kind, "override_missing_sensors": played.index == 0}
        response = client.post(f"/assessments/{assessment}/steps", json=body)
        assert response.status_code == 201, response.text
        step_sets[kind] = response.json()["id"]

    def end(_athlete, played) -> None:
        response = client.post(f"/sets/{step_sets[STEPS[played.index]]}/stop")
        assert response.status_code == 200, response.text

    source = SimulatedSource([athlete], realtime=False, on_set_start=begin, on_set_end=end)
    asyncio.run(source.run(gateway.on_batch, gateway.on_status))
    assert list(step_sets) == list(STEPS)
    assert client.get(f"/assessments/{assessment}").json()["calibrated"] is True

    # Live, the rock-back was analysed with the baseline's calibration: every rock found,
    # and the hip flexion at each tuck's onset close to the truth.
    published = list(iter(events.get_nowait, None))
    rock = source.played[STEPS.index("rock_back")].simulated
    rock_key = client.get(f"/sets/{step_sets['rock_back']}").json()["set_key"]
    said = [e for e in published if isinstance(e, Calibrated) and e.set_key == rock_key]
    assert [e.ok for e in said] == [True]
    assert not [
        e for e in published if isinstance(e, QualityWarning) and e.code == "no_live_analysis"
    ]
    live_reps = client.get("/reps", params={"set_id": step_sets["rock_back"]}).json()["items"]
    assert len(live_reps) == len(rock.reps)
    onsets = [e for e in published if isinstance(e, WinkOnset) and e.set_key == rock_key]
    truth = [rep_onset_hip_flexion_deg(r) for r in rock.reps]
    assert len(onsets) == len(truth)
    errors = np.array([o.onset_hip_flexion_deg - t for o, t in zip(onsets, truth)])
    assert np.median(np.abs(errors)) <= 2.0, errors

    report = client.get(f"/assessments/{assessment}/report")
    assert report.status_code == 200, report.text
    body = report.json()
    assert set(body["steps"]) == set(STEPS) and body["problems"] == []
    assert body["steps"]["rock_back"]["reps"] == len(rock.reps)
    truth_verdict = lifter.truth_verdict
    for field in ("stability", "structural", "soft_tissue"):
        assert body["verdict"][field] == truth_verdict[field], body["verdict"]
    assert body["prescription"]["box_height_cm"] is not None
    page = client.get(f"/assessments/{assessment}/report.html")
    assert page.status_code == 200 and "stretching" in page.text
    assert client.get(f"/assessments/{assessment}/report.png").content[:8] == b"\x89PNG\r\n\x1a\n"


def test_a_later_step_waits_for_the_baseline(live) -> None:
    client, _, _ = live
    athlete_id = client.post("/athletes", json={"name": "Eli"}).json()["id"]
    assessment = client.post("/assessments", json={"athlete_id": athlete_id}).json()["id"]
    response = client.post(f"/assessments/{assessment}/steps", json={"kind": "rock_back"})
    assert response.status_code == 409 and "baseline" in response.json()["detail"]
