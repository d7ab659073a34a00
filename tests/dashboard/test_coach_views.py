"""The coach's views in headless Chromium (phone 390x844 and desktop 1280x800) against one
real server: the demo's two athletes recording all along (Alex clean, Sam winking under
load) and a third simulated athlete, Dee, who runs the assessment battery when the coach
tells them to (soft-tissue cause: the rock-back tucks where the squat winks, stretching
moves the onset later). Every number checked comes from the simulator's known answers.

- the guided assessment, step by step to its report (the baseline stopped too early, said so
  and repeated; two steps skipped),
  the report's verdict and onsets, PDF/HTML export, history side by side;
Screenshots go to the test's temp dir.
"""

from __future__ import annotations

import asyncio
import re
import threading
import time
from dataclasses import replace

import numpy as np
import pytest

from api.auth import create_token
from api.demo_scenario import SAM_ONSET_DEPTH_DEG, build_demo_server, demo_settings
from api.runtime import register_simulated_sensors
from api.storage import catalog
from api.vocab import TokenRole
from fusion.simulator.assessment import (
    clear_lifter,
    rep_onset_hip_flexion_deg,
    simulate_assessment,
    step_specs,
)
from sensor_gateway.recording_csv import write_recording_csv
from sensor_gateway.sources.simulated import SimulatedAthlete, SimulatedSource
from tests.api.helpers import athlete_ids, free_port, serve_in_thread
from tests.browser import BROWSER_MARKS, DESKTOP, open_page, painted, requests_made, signed_in

pytestmark = BROWSER_MARKS
SEED = 33
# Dee's battery as performed: the baseline twice (the coach repeats it), then the rock-back
# and the squats after stretching; goblet and supported squats are skipped.
PERFORMED = ("baseline", "baseline", "rock_back", "post_stretch")
STEPS = ("baseline", "rock_back", "post_stretch")
REPS_PER_STEP = 5
STEP_WAIT_S = 90.0
REPORT_WAIT_MS = 180_000
ONSET_TOLERANCE_DEG = 4.0


class CoachPaced:
    """A simulated athlete who starts the battery when the coach says so (`go`), and tells
    the test when each step begins and ends (as a coach watching would see it)."""

    def __init__(self, athlete: SimulatedAthlete) -> None:
        self.go = threading.Event()
        self.began: list[threading.Event] = [threading.Event() for _ in PERFORMED]
        self.ended: list[threading.Event] = [threading.Event() for _ in PERFORMED]
        self.source = SimulatedSource(
            [athlete],
            on_set_start=lambda _a, played: self.began[played.index].set(),
            on_set_end=lambda _a, played: self.ended[played.index].set(),
        )

    async def run(self, on_batch, on_status) -> None:
        while not self.go.is_set():
            await asyncio.sleep(0.05)
        await self.source.run(on_batch, on_status)


def _dee():
    lifter = clear_lifter(np.random.default_rng(SEED), "soft_tissue", steps=STEPS)
    lifter = replace(lifter, reps=dict.fromkeys(STEPS, REPS_PER_STEP))
    specs = step_specs(lifter, SEED)
    # Time for the coach's tap: every step starts with >= 3 s standing (or kneeling) still.
    performed = [
        replace(specs[kind], standing_s=max(specs[kind].standing_s, 3.0)) for kind in PERFORMED
    ]
    return lifter, performed


@pytest.fixture(scope="module")
def coach_server(tmp_path_factory):
    root = tmp_path_factory.mktemp("coach")
    port = free_port()
    server = build_demo_server(demo_settings(root, "127.0.0.1", port), root)
    with server.database.sessions.begin() as db:
        _, admin = create_token(db, "coach", TokenRole.ADMIN)
        lifter, performed = _dee()
        dee = catalog.create_athlete(db, "Dee (assessment)", "simulated: soft tissue")
        dee.femur_cm, dee.shank_cm = lifter.femur_cm, lifter.shank_cm
        dee_id = dee.id
    athlete = SimulatedAthlete(str(dee_id), sets=performed, seed=SEED)
    register_simulated_sensors(server.gateway, server.database, athlete, dee_id, "assess")
    paced = CoachPaced(athlete)
    server.gateway.add_source(paced)
    athletes = athlete_ids(server.database)
    served = serve_in_thread(server, port)
    yield dict(
        url=f"http://127.0.0.1:{port}",
        admin=admin,
        athletes=athletes,
        dee=dee_id,
        lifter=lifter,
        paced=paced,
        database=server.database,
    )
    served.stop()


@pytest.fixture()
def page(browser):
    with open_page(browser, "phone", accept_downloads=True) as page:
        yield page


def _sign_in(page, server, athlete: str) -> None:
    page.goto(f"{server['url']}/#token={server['admin']}")
    signed_in(page)
    page.select_option("#athlete", str(server["athletes"][athlete]))


def _import_earlier_assessment(server) -> int:
    """An earlier assessment of Dee, recorded elsewhere and imported over the API (same lifter)."""
    import httpx2

    sim = simulate_assessment(server["lifter"], SEED + 1)
    headers = {"Authorization": f"Bearer {server['admin']}"}
    with httpx2.Client(base_url=server["url"], headers=headers, timeout=120) as client:
        assessment = client.post("/assessments", json={"athlete_id": server["dee"]}).json()["id"]
        for kind, step in sim.steps.items():
            texts = {}
            for placement in ("sacrum", "thigh"):
                path = server["tmp"] / f"{kind}_{placement}.csv"
                write_recording_csv(path, getattr(step.simulated, placement))
                texts[f"{placement}_csv"] = path.read_text()
            response = client.post(f"/assessments/{assessment}/steps/{kind}/recording", json=texts)
            assert response.status_code == 201, response.text
        assert client.get(f"/assessments/{assessment}/report").status_code == 200
    return assessment, _truth_median(sim.steps["baseline"].reps)


def _truth_median(reps) -> float:
    """The simulator's answer for a step: median true hip flexion at the reps' wink onsets."""
    return float(np.median([rep_onset_hip_flexion_deg(rep) for rep in reps]))


def _number(text: str) -> float:
    return float(re.match(r"-?[\d.]+", text).group())


def _wait(event: threading.Event, what: str) -> None:
    assert event.wait(STEP_WAIT_S), f"the simulated athlete never {what}"


def test_guided_assessment_to_its_report(page, coach_server, tmp_path) -> None:
    server, paced = coach_server, coach_server["paced"]
    server["tmp"] = tmp_path
    earlier, earlier_truth = _import_earlier_assessment(server)
    _sign_in(page, server, "Alex (clean)")
    page.click("button[data-tab=assess]")
    # Earlier assessments side by side before a new one starts (Alex has none; Dee has one).
    page.wait_for_function(
        "document.getElementById('assess-history').textContent.includes('no assessments')"
    )
    page.select_option("#assess-athlete", str(server["dee"]))
    page.wait_for_selector(f"#assess-history button[data-open='{earlier}']")
    assert page.locator("#athlete").input_value() == str(server["dee"])  # live follows Dee
    begun = requests_made(page, "POST", "/assessments")
    started = requests_made(page, "POST", "/steps")
    # Impatient taps on Begin (and on Start step below) send one request, not one a tap.
    page.locator("#assess-begin").evaluate("(b) => { b.click(); b.click(); b.click(); }")
    page.wait_for_selector("#assess-run:not([hidden])")
    assert len(begun) == 1, begun
    assert page.inner_text("#assess-step-title") == "Step 1 of 7: Baseline squat"
    assert "at least 5 bodyweight squats" in page.inner_text("#assess-instructions")
    assert page.is_disabled("#assess-skip") and page.is_disabled("#assess-finish")
    assert "Start the step" in page.get_attribute("#assess-chart", "data-empty")
    page.screenshot(path=str(tmp_path / "assess_phone_start.png"), full_page=True)

    paced.go.set()  # Dee is ready: the battery begins
    recorded: dict[int, int] = {}
    for index, kind in enumerate(PERFORMED):
        _wait(paced.began[index], f"began {kind}")
        page.locator("#assess-start").evaluate("(b) => { b.click(); b.click(); }")
        page.wait_for_function(
            "document.getElementById('assess-step-state').classList.contains('recording')"
        )
        if index == 0:  # the step's live view: angles move, the chart is drawn, reps appear
            page.wait_for_function(
                "document.getElementById('assess-reps').querySelectorAll('.flag').length >= 2",
                timeout=60_000,
            )
            assert page.get_attribute("#assess-chart", "data-empty") == ""
            assert painted(page, "assess-chart")
            shown = len(page.locator("#assess-reps .flag").all())
            so_far = int(
                re.search(r"(\d+) reps? so far", page.inner_text("#assess-step-state")).group(1)
            )
            assert so_far >= 2 and abs(so_far - shown) <= 1, (
                so_far,
                shown,
            )  # redrawn 4 times a second
            assert "(it needs at least 5)" in page.inner_text("#assess-step-state")
            page.screenshot(path=str(tmp_path / "assess_phone_recording.png"), full_page=True)
            # The coach stops the first baseline early: the page says it is too short to
            # analyse and cannot make the report from it, so the baseline is repeated.
            page.click("#assess-stop")
            page.wait_for_function(
                "document.getElementById('assess-step-state').textContent.startsWith('Recorded')"
            )
            state = page.inner_text("#assess-step-state")
            assert "too few to analyse, this step needs at least 5 complete reps" in state, state
            assert "(too few)" in page.inner_text("#assess-steps li[data-step='0']")
            assert page.is_disabled("#assess-finish")
            assert "Repeat the baseline" in page.inner_text("#assess-finish-note")
            assert page.evaluate("document.getElementById('assess-progress').value") == 0
            page.screenshot(path=str(tmp_path / "assess_phone_short_baseline.png"), full_page=True)
            _wait(paced.ended[index], f"ended {kind}")
            page.click("#assess-repeat")
            assert not page.is_disabled("#assess-start")
            continue
        _wait(paced.ended[index], f"ended {kind}")
        reps = len(paced.source.played[index].simulated.reps)
        # The coach stops once the last rep is on screen (the analysis may lag on a busy machine).
        page.wait_for_function(
            f"document.querySelectorAll('#assess-reps .flag').length >= {reps}", timeout=30_000
        )
        page.click("#assess-stop")
        page.wait_for_function(
            "document.getElementById('assess-step-state').textContent.startsWith('Recorded')"
        )
        state = page.inner_text("#assess-step-state")
        assert f"{reps} reps" in state, state
        recorded[index] = reps
        assert not page.is_disabled("#assess-finish")
        if kind == "rock_back":
            page.click("#assess-next")
            assert "Goblet squat" in page.inner_text("#assess-step-title")
            page.click("#assess-skip")  # goblet
            assert "Supported squat" in page.inner_text("#assess-step-title")
            page.click("#assess-skip")  # supported
            assert "Squat after stretching" in page.inner_text("#assess-step-title")
        elif index == 1:
            page.click("#assess-next")
    assert len(started) == len(PERFORMED), started
    steps_text = page.inner_text("#assess-steps")
    assert "Goblet squat skipped" in steps_text and "Supported squat skipped" in steps_text, (
        steps_text
    )
    assert (
        page.evaluate("document.getElementById('assess-progress').value") == 5
    )  # 3 done + 2 skipped
    page.screenshot(path=str(tmp_path / "assess_phone_steps_done.png"), full_page=True)

    page.click("#assess-finish")
    # The server analyses every step (again for the figure and each file): slow on a busy machine.
    page.wait_for_selector("#assess-report:not([hidden])", timeout=REPORT_WAIT_MS)
    # The verdict in plain words names the simulator's cause.
    assert page.inner_text("#assess-verdict tr[data-cause=soft_tissue] td:last-child") == "Yes"
    assert page.inner_text("#assess-verdict tr[data-cause=structural] td:last-child") == "No"
    # ... and does not read as a complete battery: it says goblet and supported were skipped.
    summary = page.inner_text("#assess-summary")
    assert "Skipped on purpose: the goblet squat and the supported squat." in summary, summary
    # Onsets per step with their CI, against the truth: the median of the true hip flexion at
    # onset over the reps Dee performed (the baseline: its repeat). Within 4 deg: the live
    # steps start and stop on the coach's taps, so their standing periods vary.
    truths = {
        kind: _truth_median(
            paced.source.played[
                PERFORMED.index(kind, 1 if kind == "baseline" else 0)
            ].simulated.reps
        )
        for kind in STEPS
    }
    for kind in STEPS:
        cell = page.inner_text(f"#assess-onsets tr[data-step={kind}] .onset-hip")
        assert abs(_number(cell) - truths[kind]) < ONSET_TOLERANCE_DEG, (kind, cell, truths[kind])
        low, high = (float(v) for v in re.findall(r"(-?[\d.]+)°", cell)[1:3])
        assert low <= _number(cell) <= high, cell
    # The two skips were stored with the assessment, not only kept in the page: the server's
    # report says "skipped" for them.
    for kind in ("goblet", "supported"):
        assert page.inner_text(f"#assess-onsets tr[data-step={kind}]").endswith("skipped")
    baseline_reps = page.inner_text("#assess-onsets tr[data-step=baseline] td:nth-child(2)")
    assert int(baseline_reps) == recorded[1]  # the repeated baseline is the one analysed
    ceiling = float(page.get_attribute("#assess-prescription .advice", "data-ceiling-thigh"))
    # The ceiling sits above the true onset (thigh angle), give or take the measurement's own
    # error: streamed live, this baseline reads 1-3 deg deeper than the truth (from the
    # simulated files directly: 1.5 deg), so the ceiling lands about at the true median onset.
    baseline_played = paced.source.played[PERFORMED.index("baseline", 1)].simulated.reps
    truth_thigh = float(np.median([rep.wink_onset_depth_deg for rep in baseline_played]))
    assert truth_thigh - 15 < ceiling < truth_thigh + 2.0, (ceiling, truth_thigh)
    assert " cm " in page.inner_text("#assess-prescription")  # femur and shank were given
    assert f"Since #{earlier}" in page.inner_text("#assess-moved")
    page.wait_for_function(
        "document.getElementById('assess-figure').naturalWidth > 500", timeout=REPORT_WAIT_MS
    )
    page.screenshot(path=str(tmp_path / "assess_phone_report.png"), full_page=True)
    with page.expect_download(timeout=REPORT_WAIT_MS) as pdf:
        page.click("#assess-pdf")
    assert pdf.value.suggested_filename.endswith(".pdf")
    assert pdf.value.path().read_bytes()[:5] == b"%PDF-"
    with page.expect_download(timeout=REPORT_WAIT_MS) as html:
        page.click("#assess-html")
    assert "soft tissue" in html.value.path().read_text(encoding="utf-8").lower()
    # History side by side: this assessment next to the earlier one, both near the truth.
    page.wait_for_function("document.querySelectorAll('#assess-history th small').length >= 2")
    onsets = page.locator("#assess-history tr[data-row=onset-baseline] td").all_inner_texts()
    assert len(onsets) == 2, onsets  # newest first
    assert abs(_number(onsets[0]) - truths["baseline"]) < ONSET_TOLERANCE_DEG, onsets
    assert abs(_number(onsets[1]) - earlier_truth) < ONSET_TOLERANCE_DEG, (onsets, earlier_truth)
    page.set_viewport_size(DESKTOP)
    page.screenshot(path=str(tmp_path / "assess_desktop_report.png"), full_page=True)


def _card(page, server, name: str):
    return page.locator(f"#gym-cards [data-athlete='{server['athletes'][name]}']")


def test_gym_view_shows_every_athlete_recording(page, coach_server, tmp_path) -> None:
    server = coach_server
    _sign_in(page, server, "Alex (clean)")
    page.click("button[data-tab=gym]")
    alex, sam = _card(page, server, "Alex (clean)"), _card(page, server, "Sam (winks under load)")
    alex.wait_for(timeout=30_000)
    sam.wait_for(timeout=30_000)
    assert "Back squat" in alex.inner_text() or "Goblet squat" in alex.inner_text()
    # Both athletes' angles move on their own cards (one stream for the whole gym).
    # Up to 30 s: between sets an athlete stands (and recalibrates) for ~7 s, and a loaded
    # machine lags the simulated athletes further (9 s was once too short in CI).
    seen = {"alex": set(), "sam": set()}
    deadline = time.monotonic() + 30.0
    while min(len(v) for v in seen.values()) <= 3 and time.monotonic() < deadline:
        seen["alex"].add(alex.locator("[data-angle=thigh]").inner_text())
        seen["sam"].add(sam.locator("[data-angle=thigh]").inner_text())
        page.wait_for_timeout(150)
    assert min(len(v) for v in seen.values()) > 3, seen
    # Sam winks under load from about the demo's known onset; Alex never winks.
    page.wait_for_function(
        f"""() => {{
        const card = document.querySelector("#gym-cards [data-athlete='{server["athletes"]["Sam (winks under load)"]}']");
        return card && Number(card.querySelector('[data-winks]').dataset.winks) >= 1;
    }}""",
        timeout=60_000,
    )
    page.screenshot(path=str(tmp_path / "gym_phone.png"), full_page=True)
    last = sam.locator(".gym-last").inner_text()
    if "from" in last:  # the last rep winked: its onset is the demo's answer
        onset = float(re.search(r"from (-?[\d.]+)°", last).group(1))
        assert abs(onset - SAM_ONSET_DEPTH_DEG) < 12.0, last
    alert = sam.locator(".gym-alert")
    if alert.count():
        onset = float(re.search(r"from (-?[\d.]+)°", alert.inner_text()).group(1))
        assert abs(onset - SAM_ONSET_DEPTH_DEG) < 12.0, alert.inner_text()
    assert alex.locator("[data-winks]").get_attribute("data-winks") == "0"
    # The reps on Alex's card are the set's stored reps, at the simulated depth (~100 deg).
    page.wait_for_function(
        f"""() => Number(document.querySelector("#gym-cards [data-athlete='{server["athletes"]["Alex (clean)"]}'] [data-reps]").textContent) >= 1""",
        timeout=30_000,
    )
    depth = float(re.search(r"(-?[\d.]+)° deep", alex.locator(".gym-last").inner_text()).group(1))
    assert 90.0 < depth < 110.0, depth
    page.set_viewport_size(DESKTOP)
    page.screenshot(path=str(tmp_path / "gym_desktop.png"), full_page=True)
    # A tap opens that athlete's Live view.
    sam.click()
    assert page.locator("#athlete").input_value() == str(
        server["athletes"]["Sam (winks under load)"]
    )
    assert page.is_visible("#tab-live")


def _api(server):
    import httpx2

    return httpx2.Client(
        base_url=server["url"], headers={"Authorization": f"Bearer {server['admin']}"}, timeout=60
    )


def test_numbers_explained_previous_set_empty_charts_and_two_sets_compared(
    page, coach_server, tmp_path
) -> None:
    server = coach_server
    sam, alex = server["athletes"]["Sam (winks under load)"], server["athletes"]["Alex (clean)"]
    with _api(server) as client:
        eve = client.post("/athletes", json={"name": "Eve (new)"}).json()["id"]
    _sign_in(page, server, "Sam (winks under load)")
    # Every number explains itself: what 0 and 90 deg thigh mean, the sign of the tilt, the
    # threshold in use for this athlete.
    page.click("[data-explain=thigh] > button.explain")
    text = page.inner_text("#explain-sheet .explain-text")
    assert "0° standing upright" in text and "90° thigh parallel to the floor" in text, text
    page.click("#explain-sheet [data-close]")
    page.click("[data-explain=pelvic_tilt] > button.explain")
    assert "positive = tipped forward" in page.inner_text("#explain-sheet .explain-text")
    page.click("#explain-sheet [data-close]")
    page.click("#tab-live th[data-explain=threshold] > button.explain")
    assert "5.0° (the default; no personal baseline yet)" in page.inner_text("#explain-sheet")
    page.click("#explain-sheet [data-close]")
    # An admin puts the thigh angle in Sam's own words and hides the tilt for Sam only.
    page.click("[data-explain=thigh] > button.explain")
    page.click("#explain-sheet summary")
    page.fill("#explain-sheet textarea", "90 is where your box is: stay above 80.")
    page.click("#explain-sheet [data-save]")
    page.wait_for_function(
        "document.querySelector('#explain-sheet .explain-text').textContent.startsWith('90 is where')"
    )
    page.screenshot(path=str(tmp_path / "explain_phone.png"))
    page.click("#explain-sheet [data-close]")
    page.click("[data-explain=pelvic_tilt] > button.explain")
    page.click("#explain-sheet summary")
    page.click("#explain-sheet [data-hide]")
    page.wait_for_selector(
        "#tab-live [data-explain=pelvic_tilt] > button.explain", state="detached"
    )
    with _api(server) as client:
        items = {i["key"]: i for i in client.get(f"/athletes/{sam}/explanations").json()["items"]}
    assert items["thigh"]["text"].startswith("90 is where") and not items["pelvic_tilt"]["shown"]
    page.select_option("#athlete", str(alex))
    page.wait_for_selector("#tab-live [data-explain=pelvic_tilt] > button.explain")
    page.click("[data-explain=thigh] > button.explain")
    assert "0° standing upright" in page.inner_text("#explain-sheet .explain-text")  # Alex: default
    page.click("#explain-sheet [data-close]")

    # Empty charts say why: a new athlete without sets.
    page.select_option("#athlete", str(eve))
    page.wait_for_function(
        "document.getElementById('live-chart').dataset.empty.startsWith('No set recording')"
    )
    page.click("button[data-tab=history]")
    page.wait_for_function(
        "(document.getElementById('history-onset').dataset.empty || '').includes('Eve (new)')"
    )
    assert "record a set" in page.get_attribute("#history-amplitude", "data-empty")
    page.screenshot(path=str(tmp_path / "history_empty_phone.png"), full_page=True)

    # The end-of-set summary stays in view after Sam's next set starts.
    page.select_option("#athlete", str(sam))
    page.click("button[data-tab=live]")
    page.wait_for_selector("#last-set:not([hidden])", timeout=90_000)
    kept = page.inner_text("#last-set")
    assert "Previous set" in kept and ("Wink in" in kept or "No butt wink" in kept), kept
    advice = page.locator("#last-set .advice")
    if advice.count():
        assert abs(int(advice.get_attribute("data-stop-above")) - SAM_ONSET_DEPTH_DEG) < 12.0
    page.screenshot(path=str(tmp_path / "previous_set_phone.png"), full_page=True)

    # Two sets side by side: a winking back squat and the goblet squat without a wink.
    with _api(server) as client:
        deadline = time.monotonic() + 90
        while True:
            done = list(
                client.get("/sets", params={"athlete_id": sam, "status": "completed"}).json()[
                    "items"
                ]
            )
            back = [s for s in done if s["variant"] == "back_squat"]
            goblet = [s for s in done if s["variant"] == "goblet_squat"]
            if back and goblet:
                break
            assert time.monotonic() < deadline, "Sam never finished a back and a goblet squat set"
            time.sleep(2)
        back, goblet = back[0], goblet[0]
        back_reps = client.get("/reps", params={"set_id": back["id"]}).json()["items"]
        goblet_reps = client.get("/reps", params={"set_id": goblet["id"]}).json()["items"]
    page.click("button[data-tab=sets]")
    page.wait_for_selector(f"#set-list li[data-set='{goblet['id']}']")
    page.click("#compare-sets")
    page.click(f"#set-list li[data-set='{back['id']}']")
    assert page.is_hidden("#set-detail")  # picked, not opened
    page.click(f"#set-list li[data-set='{goblet['id']}']")
    page.wait_for_selector("#compare .compare-table")
    cells = page.locator("#compare tr[data-row=reps] td").all_inner_texts()
    assert cells == [str(len(back_reps)), str(len(goblet_reps))], cells
    onset = page.locator("#compare tr[data-row=onset] td").all_inner_texts()
    assert abs(_number(onset[0]) - SAM_ONSET_DEPTH_DEG) < 12.0 and onset[1] == "no wink", onset
    winks = sum(r["butt_wink"] for r in back_reps)
    assert page.locator("#compare tr[data-row=winks] td").all_inner_texts() == [str(winks), "0"]
    assert "none in the second" in page.inner_text("#compare .compare-diff")
    assert painted(page, "compare-onset") and painted(page, "compare-wink")
    page.screenshot(path=str(tmp_path / "compare_phone.png"), full_page=True)
    page.set_viewport_size(DESKTOP)
    page.wait_for_timeout(300)
    page.screenshot(path=str(tmp_path / "compare_desktop.png"), full_page=True)
