"""End to end over the HTTP API: a simulated athlete runs the assessment battery; the report
(JSON, HTML, PNG, PDF) names the simulator's known cause, and a second assessment shows the
first as history."""

from __future__ import annotations

import html
import json

import numpy as np
import pytest

from api.auth import create_token
from api.vocab import TokenRole
from fusion.simulator.assessment import clear_lifter, simulate_assessment
from sensor_gateway.recording_csv import write_recording_csv

STEPS = ("baseline", "rock_back", "goblet", "post_stretch")


@pytest.fixture
def api(api):
    """Every request as the coach (an admin token)."""
    api.headers.update(api.admin)
    return api


@pytest.fixture(scope="module")
def lifter_steps(tmp_path_factory):
    lifter = clear_lifter(np.random.default_rng(21), "stability", steps=STEPS)
    sim = simulate_assessment(lifter, 21)
    folder = tmp_path_factory.mktemp("steps")
    texts = {}
    for kind, step in sim.steps.items():
        for placement in ("sacrum", "thigh"):
            path = folder / f"{kind}_{placement}.csv"
            write_recording_csv(path, getattr(step.simulated, placement))
            texts[kind, placement] = path.read_text()
    return lifter, texts


def _run_assessment(api, athlete_id, texts, kinds=STEPS, **lengths) -> int:
    response = api.post("/assessments", json={"athlete_id": athlete_id, **lengths})
    assert response.status_code == 201, response.text
    assessment = response.json()
    assert set(assessment["instructions"]) >= set(STEPS)
    for kind in kinds:
        body = {"sacrum_csv": texts[kind, "sacrum"], "thigh_csv": texts[kind, "thigh"]}
        response = api.post(f"/assessments/{assessment['id']}/steps/{kind}/recording", json=body)
        assert response.status_code == 201, response.text
        assert response.json()["status"] == "completed"
    return assessment["id"]


def test_whole_assessment_over_the_api(api, lifter_steps) -> None:
    lifter, texts = lifter_steps
    athlete_id = api.post("/athletes", json={"name": "Ana"}).json()["id"]
    first = _run_assessment(api, athlete_id, texts, femur_cm=44.0, shank_cm=47.0)
    assert api.get(f"/athletes/{athlete_id}").json()["femur_cm"] == 44.0
    assert api.get(f"/assessments/{first}").json()["report"] is None  # not computed yet
    report = api.get(f"/assessments/{first}/report")
    assert report.status_code == 200, report.text
    body = report.json()
    assert set(body["steps"]) == set(STEPS)
    truth = lifter.truth_verdict
    verdict = body["verdict"]
    assert (verdict["stability"], verdict["structural"], verdict["soft_tissue"]) == (
        truth["stability"],
        truth["structural"],
        truth["soft_tissue"],
    )
    assert body["prescription"]["box_height_cm"] is not None
    assert body["history"] == [] and body["problems"] == []
    assert api.get(f"/assessments/{first}").json()["calibrated"] is True

    page = api.get(f"/assessments/{first}/report.html")
    assert page.status_code == 200 and "text/html" in page.headers["content-type"]
    assert "Stability" in page.text and "data:image/png;base64," in page.text
    assert api.get(f"/assessments/{first}/report.png").content[:8] == b"\x89PNG\r\n\x1a\n"
    assert api.get(f"/assessments/{first}/report.pdf").content[:5] == b"%PDF-"

    second = _run_assessment(api, athlete_id, texts, kinds=("baseline", "goblet"))
    history = api.get(f"/assessments/{second}/report").json()["history"]
    assert [h["assessment_id"] for h in history] == [first]
    assert history[0]["onset_moved"] == "no clear change"  # the same recordings again
    assert "History" in api.get(f"/assessments/{second}/report.html").text
    listed = api.get("/assessments", params={"athlete_id": athlete_id}).json()
    assert [a["id"] for a in listed] == [second, first]
    # Each as last reported (the dashboard shows them side by side without analysing again).
    assert listed[1]["report"]["verdict"] == verdict
    assert listed[1]["report"]["steps"] == body["steps"]
    assert set(listed[0]["report"]["steps"]) == {"baseline", "goblet"}
    assert "baseline_onsets_hip_flexion_deg" not in listed[0]["report"]
    disposition = api.get(f"/assessments/{first}/report.pdf").headers["content-disposition"]
    assert disposition == f'inline; filename="winkwatch-assessment-{first}.pdf"'


def test_history_says_when_the_baseline_onset_moved(api, lifter_steps) -> None:
    """The athlete's onset moved since the earlier assessment (here: the stability lifter's
    goblet squats, whose wink starts clearly later, as the new baseline): "later", with the
    shift's CI above zero; the earlier one seen from the new is the same test."""
    lifter, texts = lifter_steps
    athlete_id = api.post("/athletes", json={"name": "Moves"}).json()["id"]
    first = _run_assessment(api, athlete_id, texts, kinds=("baseline",))
    api.get(f"/assessments/{first}/report")
    second = api.post("/assessments", json={"athlete_id": athlete_id}).json()["id"]
    body = {"sacrum_csv": texts["goblet", "sacrum"], "thigh_csv": texts["goblet", "thigh"]}
    response = api.post(f"/assessments/{second}/steps/baseline/recording", json=body)
    assert response.status_code == 201, response.text
    history = api.get(f"/assessments/{second}/report").json()["history"]
    assert [h["assessment_id"] for h in history] == [first]
    assert history[0]["onset_moved"] == "later", history
    change = history[0]["onset_change_since"]
    assert change["ci95"][0] > 0 and change["shift_deg"] > lifter.onset_spread_deg
    assert "later" in api.get(f"/assessments/{second}/report.html").text


def test_report_needs_a_baseline_and_bad_files_are_named(api, lifter_steps) -> None:
    _, texts = lifter_steps
    athlete_id = api.post("/athletes", json={"name": "Ben"}).json()["id"]
    assessment = api.post("/assessments", json={"athlete_id": athlete_id}).json()["id"]
    response = api.get(f"/assessments/{assessment}/report")
    assert response.status_code == 409 and "baseline" in str(response.json()["detail"])
    # ... and the schema says so (schemathesis against a running server: undocumented 409)
    paths = api.get("/openapi.json").json()["paths"]
    for suffix in ("", ".html", ".png", ".pdf"):
        responses = paths["/assessments/{assessment_id}/report" + suffix]["get"]["responses"]
        assert "409" in responses, suffix
        assert api.get(f"/assessments/{assessment}/report{suffix}").status_code == 409
    broken = texts["baseline", "thigh"].splitlines()
    broken[3] = "x,y"
    response = api.post(
        f"/assessments/{assessment}/steps/baseline/recording",
        json={"sacrum_csv": texts["baseline", "sacrum"], "thigh_csv": "\n".join(broken)},
    )
    assert response.status_code == 422 and "thigh_csv, line 4" in str(response.json()["detail"])
    # Found by probing: a 7-sample step was stored (201), then every report read was 409
    # until the step was recorded again. Refused at upload, saying how long it must be.
    short = "\n".join(texts["baseline", "sacrum"].splitlines()[:8])
    response = api.post(
        f"/assessments/{assessment}/steps/baseline/recording",
        json={"sacrum_csv": short, "thigh_csv": texts["baseline", "thigh"]},
    )
    assert response.status_code == 422, response.text
    detail = str(response.json()["detail"])
    assert "sacrum recording is too short (7 samples)" in detail and "at least 2 s" in detail
    assert api.get(f"/assessments/{assessment}").json()["steps"] == {}  # nothing stored
    assert all(
        f"assessment {assessment}:" not in s["notes"] for s in api.get("/sets").json()["items"]
    )
    response = api.post(
        f"/assessments/{assessment}/steps/yoga/recording",
        json={"sacrum_csv": texts["baseline", "sacrum"], "thigh_csv": texts["baseline", "thigh"]},
    )
    assert response.status_code == 422
    assert api.get("/assessments/999").status_code == 404


def _first_seconds(text: str, seconds: float) -> str:
    """A raw-recording CSV's header and its samples up to `seconds` after its first."""
    lines = text.splitlines()
    first = float(lines[1].split(",")[0])
    return "\n".join(
        [lines[0]] + [ln for ln in lines[1:] if float(ln.split(",")[0]) - first <= seconds]
    )


def test_a_step_with_too_few_reps_is_refused_at_upload(api, lifter_steps) -> None:
    """Found by the previous session: a baseline of 2 squats was stored (201), then every read
    of the report was 409 until the step was recorded again. The upload analyses the step (as
    the report will, with the assessment's calibration) and refuses it with 422 saying how many
    reps were found and how many are needed; nothing is stored, the step stays pending. A later
    step too short of reps is refused the same way."""
    _, texts = lifter_steps
    athlete_id = api.post("/athletes", json={"name": "Few"}).json()["id"]
    assessment = api.post("/assessments", json={"athlete_id": athlete_id}).json()["id"]
    sets_before = api.get("/sets").json()["items"]
    two_squats = {  # the simulated baseline's 2nd squat ends 10.1 s in, the 3rd 14.9 s
        "sacrum_csv": _first_seconds(texts["baseline", "sacrum"], 11.0),
        "thigh_csv": _first_seconds(texts["baseline", "thigh"], 11.0),
    }
    response = api.post(f"/assessments/{assessment}/steps/baseline/recording", json=two_squats)
    assert response.status_code == 422, response.text
    (problem,) = response.json()["detail"]
    detail = problem["msg"]
    assert detail.startswith("step 'baseline': too few reps: 2 complete squats found, at least 5")
    assert "record the step again" in detail and "nothing was stored" in detail
    assert api.get(f"/assessments/{assessment}").json()["steps"] == {}
    assert api.get("/sets").json()["items"] == sets_before
    _run_assessment_steps(api, assessment, texts, ("baseline",))
    one_goblet = {
        "sacrum_csv": _first_seconds(texts["goblet", "sacrum"], 7.0),
        "thigh_csv": _first_seconds(texts["goblet", "thigh"], 7.0),
    }
    response = api.post(f"/assessments/{assessment}/steps/goblet/recording", json=one_goblet)
    assert response.status_code == 422, response.text
    assert "squats found, at least 3 needed" in str(response.json()["detail"])
    assert set(api.get(f"/assessments/{assessment}").json()["steps"]) == {"baseline"}
    report = api.get(f"/assessments/{assessment}/report")
    assert report.status_code == 200 and set(report.json()["steps"]) == {"baseline"}


def test_a_live_step_is_started_and_stopped_as_a_set_of_the_assessment(api, lifter_steps) -> None:
    _, texts = lifter_steps
    athlete_id = api.post("/athletes", json={"name": "Cy"}).json()["id"]
    assessment = api.post("/assessments", json={"athlete_id": athlete_id}).json()["id"]
    response = api.post(f"/assessments/{assessment}/steps", json={"kind": "rock_back"})
    assert response.status_code == 409 and "baseline" in response.json()["detail"]
    baseline = _run_assessment(api, athlete_id, texts, kinds=("baseline",))
    assert api.get(f"/assessments/{baseline}").json()["calibrated"] is False
    response = api.post(f"/assessments/{baseline}/steps", json={"kind": "rock_back"})
    assert response.status_code == 201, response.text
    started = response.json()
    assert started["variant"] == "quadruped_rock_back" and started["status"] == "recording"
    # The later step starts with the calibration taken from the baseline, now stored.
    assert api.get(f"/assessments/{baseline}").json()["calibrated"] is True
    assert set(api.get(f"/assessments/{baseline}").json()["steps"]) == {"baseline"}
    assert api.post(f"/sets/{started['id']}/stop").status_code == 200
    steps = api.get(f"/assessments/{baseline}").json()["steps"]
    assert steps["rock_back"] == started["id"]


def test_a_report_is_analysed_once_per_inputs(api, lifter_steps, monkeypatch) -> None:
    """JSON, page, figure and PDF of one report analyse the battery once; a new step or new
    lengths analyse it again."""
    import fusion.assessment

    analysed = []
    real_assess = fusion.assessment.assess

    def counting_assess(*args, **kwargs):
        analysed.append(1)
        return real_assess(*args, **kwargs)

    monkeypatch.setattr(fusion.assessment, "assess", counting_assess)
    _, texts = lifter_steps
    athlete_id = api.post("/athletes", json={"name": "Cached"}).json()["id"]
    assessment = _run_assessment(api, athlete_id, texts, kinds=("baseline",))
    for suffix in ("", ".html", ".png", ".pdf", ""):
        assert api.get(f"/assessments/{assessment}/report{suffix}").status_code == 200
    assert len(analysed) == 1
    body = {"sacrum_csv": texts["goblet", "sacrum"], "thigh_csv": texts["goblet", "thigh"]}
    api.post(f"/assessments/{assessment}/steps/goblet/recording", json=body)
    assert set(api.get(f"/assessments/{assessment}/report").json()["steps"]) == {
        "baseline",
        "goblet",
    }
    assert len(analysed) == 2
    api.patch(f"/athletes/{athlete_id}", json={"femur_cm": 45.0, "shank_cm": 46.0})
    assert api.get(f"/assessments/{assessment}/report").json()["prescription"]["box_height_cm"]
    assert len(analysed) == 3


def test_skipped_steps_are_kept_and_reported(api, lifter_steps, database) -> None:
    """A skip is stored with the assessment (a reload or another phone sees it), refused for
    the baseline and for a recorded step, undone by DELETE or by recording the step, and the
    report says "skipped" apart from "not recorded"."""
    _, texts = lifter_steps
    athlete_id = api.post("/athletes", json={"name": "Skip"}).json()["id"]
    assessment = api.post("/assessments", json={"athlete_id": athlete_id}).json()["id"]
    steps = f"/assessments/{assessment}/steps"
    assert api.post(f"{steps}/baseline/skip").status_code == 422  # required
    assert api.post(f"{steps}/yoga/skip").status_code == 422
    assert api.post("/assessments/999/steps/goblet/skip").status_code == 404
    response = api.post(f"{steps}/supported/skip")
    assert response.status_code == 200, response.text
    assert response.json()["skipped"] == ["supported"]
    assert api.post(f"{steps}/goblet/skip").json()["skipped"] == ["goblet", "supported"]
    assert api.post(f"{steps}/goblet/skip").json()["skipped"] == ["goblet", "supported"]
    assert api.post(f"{steps}/box/skip").json()["skipped"] == ["goblet", "supported", "box"]
    assert api.delete(f"{steps}/box/skip").json()["skipped"] == ["goblet", "supported"]
    assert api.delete(f"{steps}/box/skip").json()["skipped"] == ["goblet", "supported"]
    # Read-only tokens (dashboards) see skips but cannot change them.
    with database.sessions.begin() as db:
        _, reader = create_token(db, "wall", TokenRole.READ)
    as_reader = {"Authorization": f"Bearer {reader}"}
    assert api.post(f"{steps}/box/skip", headers=as_reader).status_code == 403
    assert api.delete(f"{steps}/goblet/skip", headers=as_reader).status_code == 403
    fetched = api.get(f"/assessments/{assessment}", headers=as_reader).json()
    assert fetched["skipped"] == ["goblet", "supported"]
    listed = api.get("/assessments", params={"athlete_id": athlete_id}).json()
    assert listed[0]["skipped"] == ["goblet", "supported"]

    _run_assessment_steps(api, assessment, texts, ("baseline", "rock_back"))
    response = api.post(f"{steps}/rock_back/skip")
    assert response.status_code == 409 and "recorded" in response.json()["detail"]
    report = api.get(f"/assessments/{assessment}/report").json()
    assert report["skipped"] == ["goblet", "supported"]
    assert set(report["steps"]) == {"baseline", "rock_back"}
    assert report["verdict"]["stability"] == "not_tested"
    # The verdict in plain words says what was skipped and what that leaves open, the same
    # text on the page and in the handout (one summary: fusion.assessment.verdict).
    summary = report["verdict"]["summary"]
    assert "Skipped on purpose: the goblet squat and the supported squat." in summary
    assert "Without the goblet squat and the supported squat, stability" in summary
    page = api.get(f"/assessments/{assessment}/report.html").text
    assert html.escape(summary) in page
    assert '<tr class="skipped" data-step="goblet">' in page
    assert '<tr class="skipped" data-step="supported">' in page
    assert '<tr class="not-recorded" data-step="post_stretch">' in page
    assert api.get(f"/assessments/{assessment}/report.pdf").content[:5] == b"%PDF-"

    # Recording a skipped step after all takes it off (and the report follows).
    _run_assessment_steps(api, assessment, texts, ("goblet",))
    assert api.get(f"/assessments/{assessment}").json()["skipped"] == ["supported"]
    report = api.get(f"/assessments/{assessment}/report").json()
    assert report["skipped"] == ["supported"] and "goblet" in report["steps"]
    summary = report["verdict"]["summary"]
    assert "Skipped on purpose: the supported squat." in summary
    assert "the goblet squat and" not in summary


def _run_assessment_steps(api, assessment: int, texts, kinds) -> None:
    for kind in kinds:
        body = {"sacrum_csv": texts[kind, "sacrum"], "thigh_csv": texts[kind, "thigh"]}
        response = api.post(f"/assessments/{assessment}/steps/{kind}/recording", json=body)
        assert response.status_code == 201, response.text


@pytest.fixture(scope="module")
def restrapped_baseline(tmp_path_factory):
    """A baseline step of another simulated lifter: the sensors strapped on differently, as
    when the coach re-straps them and records the baseline again."""
    lifter = clear_lifter(np.random.default_rng(22), "stability", steps=("baseline",))
    step = simulate_assessment(lifter, 22).steps["baseline"]
    folder = tmp_path_factory.mktemp("restrapped")
    texts = {}
    for placement in ("sacrum", "thigh"):
        path = folder / f"baseline_{placement}.csv"
        write_recording_csv(path, getattr(step.simulated, placement))
        texts["baseline", placement] = path.read_text()
    return texts


def test_a_baseline_recorded_again_while_the_report_is_analysed_is_not_overruled(
    api, lifter_steps, restrapped_baseline, monkeypatch
) -> None:
    """Found by probing: the baseline was recorded again (sensors re-strapped) while a phone's
    report read was analysing the first one. The new baseline took the stored calibration off
    (attach_step), then the report stored the first baseline's calibration, and every report
    after it analysed the new baseline with it: 409 "wrong movement ... recorded on all fours?"
    (with a similar strapping: wrong numbers, no warning). What was computed from replaced steps
    is not stored: the next report is the new baseline's own."""
    import fusion.assessment

    _, texts = lifter_steps
    athlete_id = api.post("/athletes", json={"name": "Restrapped"}).json()["id"]
    assessment = api.post("/assessments", json={"athlete_id": athlete_id}).json()["id"]
    _run_assessment_steps(api, assessment, texts, ("baseline",))
    real_assess = fusion.assessment.assess

    def recorded_again_meanwhile(*args, **kwargs):
        report = real_assess(*args, **kwargs)
        monkeypatch.setattr(fusion.assessment, "assess", real_assess)
        _run_assessment_steps(api, assessment, restrapped_baseline, ("baseline",))
        return report

    monkeypatch.setattr(fusion.assessment, "assess", recorded_again_meanwhile)
    first = api.get(f"/assessments/{assessment}/report")
    assert first.status_code == 200, first.text  # what was asked for: the first baseline's
    assert api.get(f"/assessments/{assessment}").json()["calibrated"] is False
    after = api.get(f"/assessments/{assessment}/report")
    assert after.status_code == 200, after.text
    alone = api.post("/assessments", json={"athlete_id": athlete_id}).json()["id"]
    _run_assessment_steps(api, alone, restrapped_baseline, ("baseline",))
    expected = api.get(f"/assessments/{alone}/report").json()
    assert after.json()["steps"] == expected["steps"]
    assert after.json()["prescription"] == expected["prescription"]


def test_a_baseline_recorded_again_while_a_later_step_is_calibrated_is_not_overruled(
    api, lifter_steps, restrapped_baseline, monkeypatch
) -> None:
    """The same race where a later step takes the calibration from the baseline (a live step
    starting, a later step's upload checked): the calibration of the baseline recorded again
    meanwhile is the one stored and used, not the replaced baseline's."""
    import fusion.assessment
    from api.assessments import assessment_calibration
    from api.storage.models import Assessment

    _, texts = lifter_steps
    athlete_id = api.post("/athletes", json={"name": "Restrapped too"}).json()["id"]
    assessment = api.post("/assessments", json={"athlete_id": athlete_id}).json()["id"]
    _run_assessment_steps(api, assessment, texts, ("baseline",))
    real_analyse = fusion.assessment.analyse_step

    def recorded_again_meanwhile(*args, **kwargs):
        result = real_analyse(*args, **kwargs)
        monkeypatch.setattr(fusion.assessment, "analyse_step", real_analyse)
        _run_assessment_steps(api, assessment, restrapped_baseline, ("baseline",))
        return result

    monkeypatch.setattr(fusion.assessment, "analyse_step", recorded_again_meanwhile)
    calibration = assessment_calibration(api.database, assessment)
    alone = api.post("/assessments", json={"athlete_id": athlete_id}).json()["id"]
    _run_assessment_steps(api, alone, restrapped_baseline, ("baseline",))
    expected = assessment_calibration(api.database, alone)
    assert calibration.as_dict() == expected.as_dict()
    with api.database.sessions() as db:
        stored = db.get(Assessment, assessment).calibration_json
    assert json.loads(stored) == expected.as_dict()
    report = api.get(f"/assessments/{assessment}/report")  # with the stored calibration
    assert report.status_code == 200, report.text


def test_a_report_read_while_the_baseline_is_recorded_again_does_not_calibrate_the_new_one(
    api, lifter_steps, restrapped_baseline, tmp_path
) -> None:
    """Found by probing: the baseline was being recorded again live (its start takes the
    stored calibration off) when another phone read the report. That report, of the old
    baseline (the new one still recording), stored the old baseline's calibration, and once
    the new baseline stopped every report analysed it with that: 409 "wrong movement" after
    re-strapping. A report of steps that are being recorded again is not stored."""
    from api.storage import sets as set_store
    from api.vocab import Placement
    from sensor_gateway.recording_csv import read_recording_csv

    _, texts = lifter_steps
    athlete_id = api.post("/athletes", json={"name": "Again"}).json()["id"]
    assessment = api.post("/assessments", json={"athlete_id": athlete_id}).json()["id"]
    _run_assessment_steps(api, assessment, texts, ("baseline",))
    again = api.post(f"/assessments/{assessment}/steps", json={"kind": "baseline"})
    assert again.status_code == 201, again.text
    assert api.get(f"/assessments/{assessment}/report").status_code == 200  # the old one's
    recordings = {}
    for placement in Placement:
        path = tmp_path / f"{placement.value}.csv"
        path.write_text(restrapped_baseline["baseline", placement.value])
        recordings[placement] = read_recording_csv(path)
    start = min(recording.t_s[0] for recording in recordings.values())
    with api.database.sessions.begin() as db:  # what the gateway's sink stores meanwhile
        for placement, recording in recordings.items():
            set_store.add_raw_chunk(
                db,
                again.json()["id"],
                placement,
                "",
                0,
                recording.t_s - start,
                recording.acc_mps2,
                recording.gyr_radps,
            )
    assert api.post(f"/sets/{again.json()['id']}/stop").status_code == 200
    after = api.get(f"/assessments/{assessment}/report")
    assert after.status_code == 200, after.text
    alone = api.post("/assessments", json={"athlete_id": athlete_id}).json()["id"]
    _run_assessment_steps(api, alone, restrapped_baseline, ("baseline",))
    expected = api.get(f"/assessments/{alone}/report").json()
    assert after.json()["steps"] == expected["steps"]


def test_a_step_stored_without_a_sensors_samples_is_a_problem_not_a_404(
    api, lifter_steps, tmp_path
) -> None:
    """Found by probing `serve --simulate`: a live step that stored no samples of a sensor (started
    with override_missing_sensors while the thigh sensor was off, or stopped, or replaced by a
    second Start, before any sample came) made every report read 404 "raw thigh samples of
    set N does not exist; list them to find a valid id", and the step could not be skipped
    (it is recorded). Such a later step is now one of the report's problems, the others are
    reported; such a baseline is a 409 saying to record it again, for the report as for a
    later step's start."""
    from api.storage import sets as set_store
    from api.vocab import Placement
    from sensor_gateway.recording_csv import read_recording_csv

    _, texts = lifter_steps
    athlete_id = api.post("/athletes", json={"name": "Off"}).json()["id"]
    assessment = api.post("/assessments", json={"athlete_id": athlete_id}).json()["id"]
    empty = api.post(f"/assessments/{assessment}/steps", json={"kind": "baseline"}).json()["id"]
    assert api.post(f"/sets/{empty}/stop").status_code == 200
    for response in (
        api.get(f"/assessments/{assessment}/report"),
        api.post(f"/assessments/{assessment}/steps", json={"kind": "goblet"}),
    ):
        assert response.status_code == 409, response.text
        detail = response.json()["detail"]
        assert f"set {empty}" in detail and "record the baseline again" in detail, detail

    _run_assessment_steps(api, assessment, texts, ("baseline",))
    goblet = api.post(f"/assessments/{assessment}/steps", json={"kind": "goblet"}).json()["id"]
    path = tmp_path / "sacrum.csv"
    path.write_text(texts["goblet", "sacrum"])
    sacrum = read_recording_csv(path)
    with api.database.sessions.begin() as db:  # the sacrum's samples only
        set_store.add_raw_chunk(
            db,
            goblet,
            Placement.SACRUM,
            "",
            0,
            sacrum.t_s - sacrum.t_s[0],
            sacrum.acc_mps2,
            sacrum.gyr_radps,
        )
    assert api.post(f"/sets/{goblet}/stop").status_code == 200
    report = api.get(f"/assessments/{assessment}/report")
    assert report.status_code == 200, report.text
    body = report.json()
    assert set(body["steps"]) == {"baseline"}
    (problem,) = body["problems"]
    assert (problem["step"], problem["reason"]) == ("goblet", "not_analysable")
    assert f"no thigh samples were stored (set {goblet}" in problem["message"]
    for suffix in (".html", ".pdf"):
        assert api.get(f"/assessments/{assessment}/report{suffix}").status_code == 200


def test_migration_0014_keeps_assessments_and_adds_no_skips(db_target) -> None:
    """An assessment stored before skipped steps existed upgrades with none skipped."""
    from sqlalchemy import text

    from api.storage.db import create_db_engine, open_database, upgrade_schema

    engine = create_db_engine(db_target.url, db_target.schema)
    upgrade_schema(engine, "0013")
    with engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO athletes (name, notes, uid, created_at) "
                "VALUES ('Old', '', 'uid-old', CURRENT_TIMESTAMP)"
            )
        )
        connection.execute(
            text(
                "INSERT INTO assessments (athlete_id, created_at, notes, report_json) "
                "SELECT id, CURRENT_TIMESTAMP, 'before 0014', '{}' FROM athletes"
            )
        )
    engine.dispose()
    database = open_database(db_target.url, db_target.schema)
    try:
        with database.engine.connect() as connection:
            rows = connection.execute(
                text("SELECT notes, report_json, skipped_steps FROM assessments")
            ).all()
        assert [tuple(row) for row in rows] == [("before 0014", "{}", "")]
    finally:
        database.dispose()


def test_the_pdf_handout_says_verdict_prescription_steps_and_history(lifter_steps) -> None:
    """The PDF a physio hands over is not only the figures: its first page has the verdict in
    plain words, the prescription, every step (onset with CI, or skipped / not recorded) and
    the history, all on the page."""
    from api.assessment_report import HistoryEntry, handout_pages, render_pdf
    from api.assessments import parse_step_csv
    from fusion.assessment import assess

    _, texts = lifter_steps
    recordings = {
        kind: (
            parse_step_csv(texts[kind, "sacrum"], "s"),
            parse_step_csv(texts[kind, "thigh"], "t"),
        )
        for kind in ("baseline", "goblet")
    }
    report = assess(recordings, femur_cm=44.0, shank_cm=47.0, skipped=("supported",))
    history = [HistoryEntry("#1, 2026-11-01", 80.5, (79.0, 82.0), 70.0, "later")]
    pages = handout_pages(report, title="T", history=history, skipped=("supported",))
    import matplotlib.pyplot as plt

    try:
        text_pages, figures = pages[:-1], pages[-1]
        lines = [t.get_text() for page in text_pages for t in page.texts]
        assert all(0 <= t.get_position()[1] <= 1 for page in text_pages for t in page.texts)
        joined = " ".join(lines)
        assert report.verdict.summary[:60] in joined.replace("\n", " ")
        # goblet clearly later: stability yes, the skipped supported squat leaves nothing open
        skip_words = (
            "Skipped on purpose: the supported squat. What the supported squat would test "
            "(stability and motor control) the steps recorded settle without it."
        )
        assert skip_words in report.verdict.summary
        assert skip_words in joined.replace("\n", " ")
        assert "Stability (better with a weight in front or a support): Yes" in lines
        ceiling = report.prescription.depth_ceiling_thigh_deg
        assert f"stay above {ceiling:.1f} deg of thigh angle" in joined
        assert f"box {report.prescription.box_height_cm:.1f} cm high" in joined
        assert "Supported squat: skipped" in lines and "Loaded squat: not recorded" in lines
        onset = report.steps["goblet"].onset_hip_flexion
        assert any(
            line.startswith("Goblet squat:") and f"{onset.median:.1f} ({onset.low:.1f}" in line
            for line in lines
        )
        assert any("#1, 2026-11-01" in line and "later" in line for line in lines)
        assert len(figures.axes) == 2  # the overlay and the onsets with their CIs
    finally:
        for page in pages:
            plt.close(page)
    pdf = render_pdf(report, title="T", history=history)
    assert pdf[:5] == b"%PDF-" and pdf.count(b"/Type /Page\n") + pdf.count(b"/Type /Page ") >= 2


def test_an_archived_athlete_gets_no_assessment_step_or_session(api, lifter_steps) -> None:
    # A set start and a sensor pairing were refused for an archived athlete (409 "restore them
    # first"), but an assessment, an imported step and a session were stored all the same.
    _, texts = lifter_steps
    athlete_id = api.post("/athletes", json={"name": "Away"}).json()["id"]
    assessment = api.post("/assessments", json={"athlete_id": athlete_id}).json()["id"]
    archived = api.put(f"/athletes/{athlete_id}/archive", json={"archived": True})
    assert archived.status_code == 200, archived.text
    step = {"sacrum_csv": texts["baseline", "sacrum"], "thigh_csv": texts["baseline", "thigh"]}
    refused = {
        "creating an assessment": api.post(
            "/assessments", json={"athlete_id": athlete_id, "femur_cm": 44.0}
        ),
        "importing a step": api.post(
            f"/assessments/{assessment}/steps/baseline/recording", json=step
        ),
        "starting a session": api.post("/sessions", json={"athlete_id": athlete_id}),
    }
    for doing, response in refused.items():
        assert response.status_code == 409, (doing, response.text)
        detail = response.json()["detail"]
        assert "Away is archived: restore them first" in detail, detail
        assert f'PUT /athletes/{athlete_id}/archive with {{"archived": false}}' in detail
        assert f"before {doing}" in detail
    assert [a["id"] for a in api.get("/assessments", params={"athlete_id": athlete_id}).json()] == [
        assessment
    ]
    assert api.get("/sessions", params={"athlete_id": athlete_id}).json()["items"] == []
    assert api.get("/sets", params={"athlete_id": athlete_id}).json()["items"] == []
    assert api.get(f"/athletes/{athlete_id}").json()["femur_cm"] is None
    api.put(f"/athletes/{athlete_id}/archive", json={"archived": False})
    imported = api.post(f"/assessments/{assessment}/steps/baseline/recording", json=step)
    assert imported.status_code == 201, imported.text
