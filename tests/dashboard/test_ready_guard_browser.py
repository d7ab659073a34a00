"""The ready panel and the depth guard in headless Chromium (390x844 and 1280x800) against a
real server: the demo's simulated athletes plus one wearing a swapped pair and one whose
thigh sensor is not assigned (so it does not stream for them).

- ready panel: sensors streaming with their health in words, "stand still" countdown, the
  swapped pair called out after a squat, a missing sensor refused (409) unless the override
  is ticked, and the set then marked "started without";
- depth guard: Sam (winks under load at ~85 deg) has a prescribed ceiling of 80 deg: in his
  loaded sets the phone's depth cue comes before the wink cue of the same rep.

Screenshots go to the test's temp dir (and to $WINKWATCH_SCREENSHOTS when set).
"""

from __future__ import annotations

import json

import pytest

from api.auth import create_token
from api.demo_scenario import SAM_ONSET_DEPTH_DEG, build_demo_server, demo_settings
from api.storage import catalog
from api.vocab import TokenRole
from fusion.simulator import SquatSetSpec
from tests.api.helpers import free_port, serve_in_thread
from tests.browser import BROWSER_MARKS, VIEWPORTS, open_page, poll, screenshot

pytestmark = BROWSER_MARKS
SAM_CEILING_DEG = SAM_ONSET_DEPTH_DEG - 5.0  # as an assessment of Sam would prescribe
WAIT_S = 60.0
SQUATS = SquatSetSpec(reps=3, depth_deg=100.0, standing_s=3.0, standing_end_s=4.0)


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    from sensor_gateway.sources.simulated import SimulatedAthlete, SimulatedSource

    root = tmp_path_factory.mktemp("ready-guard")
    port = free_port()
    built = build_demo_server(demo_settings(root, "127.0.0.1", port), root)
    database, gateway = built.database, built.gateway
    with database.sessions.begin() as db:
        _, admin = create_token(db, "coach", TokenRole.ADMIN)
        ids = {a.name: a.id for a in catalog.list_athletes(db, None, 100).items}
        swapped = catalog.create_athlete(db, "Kim (sensors swapped)", "").id
        missing = catalog.create_athlete(db, "Lee (thigh sensor missing)", "").id
        sam = catalog.get_athlete(db, ids["Sam (winks under load)"])
        sam.prescription_json = json.dumps(
            {
                "depth_ceiling_thigh_deg": SAM_CEILING_DEG,
                "depth_ceiling_hip_flexion_deg": None,
                "box_height_cm": None,
            }
        )
    kim = SimulatedAthlete("kim", sets=[SQUATS] * 200, seed=31)
    lee = SimulatedAthlete("lee", sets=[SQUATS] * 200, seed=32)
    gateway.assign_sensor(kim.thigh_address, "simulated", str(swapped), "sacrum")
    gateway.assign_sensor(kim.sacrum_address, "simulated", str(swapped), "thigh")
    gateway.assign_sensor(lee.sacrum_address, "simulated", str(missing), "sacrum")
    gateway.add_source(SimulatedSource([kim, lee]))
    ids.update({"swapped": swapped, "missing": missing})
    served = serve_in_thread(built, port)
    yield {"url": f"http://127.0.0.1:{port}", "admin": admin, "ids": ids}
    served.stop()


@pytest.fixture(params=list(VIEWPORTS))
def page(request, browser):
    with open_page(browser, request.param) as page:
        yield page


def _open(page, server, athlete_id: int) -> None:
    page.goto(f"{server['url']}/#token={server['admin']}")
    poll(page, "!document.getElementById('app').hidden", 15_000)
    page.select_option("#athlete", str(athlete_id))
    page.click("h1")  # a first tap: sound is allowed from now on
    poll(
        page,
        f"window.winkwatch.ready && window.winkwatch.ready.athlete_id === {athlete_id}",
        15_000,
    )


def test_swapped_pair_is_called_out_before_the_set(page, server, tmp_path) -> None:
    _open(page, server, server["ids"]["swapped"])
    poll(page, "window.winkwatch.ready.placement_code === 'sensors_swapped'", WAIT_S * 1000)
    warning = page.inner_text("#ready-list .ready-warning")
    assert "swapped" in warning, warning
    sensors = page.evaluate("window.winkwatch.ready.sensors")
    assert [s["streaming"] for s in sensors] == [True, True], sensors
    badges = page.locator("#ready-list .ready-sensor .health").all_inner_texts()
    assert len(badges) == 2 and set(badges) <= {"GOOD", "CHECK"}, badges  # simulated loss: check
    screenshot(page, tmp_path, "ready_swapped")


def test_missing_sensor_needs_the_override_and_the_set_is_marked(page, server, tmp_path) -> None:
    _open(page, server, server["ids"]["missing"])
    poll(page, "window.winkwatch.ready.missing.includes('thigh')")
    assert "no sensor assigned" in page.inner_text("#ready-list li[data-placement='thigh']")
    assert page.is_visible("#ready-override-row")
    assert page.is_disabled("#start-set")  # not without the explicit override
    screenshot(page, tmp_path, "ready_missing")
    page.check("#ready-override")
    assert page.is_enabled("#start-set")
    page.click("#start-set")
    poll(page, "document.getElementById('set-state').textContent.includes('started without')")
    assert "started without the thigh sensor" in page.inner_text("#set-state")
    screenshot(page, tmp_path, "ready_missing_override")
    page.click("#stop-set")
    poll(page, "document.getElementById('set-state').textContent.startsWith('Finished')")
    page.click("button[data-tab=sets]")
    poll(page, "document.querySelector('#set-list li') !== null")
    assert "started without the thigh sensor" in page.inner_text("#set-list li")


def test_started_without_stays_when_the_set_started_event_comes_after_the_answer(
    browser, server
) -> None:
    """The set is stored before the gateway starts it, so its set_started event may reach the
    page after the POST /sets answer; it replaced the page's set with one that knew nothing of
    the missing sensor, and "started without the thigh sensor" went from the Live view."""
    with open_page(browser, "phone") as page:
        held: list[str] = []
        answered: list[bool] = []

        def route(ws) -> None:
            to_server = ws.connect_to_server()

            def from_server(message) -> None:
                if "set_started" in message and not answered:
                    held.append(message)  # delivered once the POST /sets answer is in
                else:
                    ws.send(message)

            to_server.on_message(from_server)
            ws.on_message(lambda message: to_server.send(message))

            def release(response) -> None:
                if response.request.method == "POST" and response.url.endswith("/sets"):
                    response.finished()
                    answered.append(True)
                    while held:
                        ws.send(held.pop(0))

            page.on("response", release)

        page.route_web_socket("**/live/ws*", route)
        _open(page, server, server["ids"]["missing"])
        poll(page, "window.winkwatch.ready.missing.includes('thigh')")
        page.check("#ready-override")
        page.click("#start-set")
        poll(page, "document.getElementById('set-state').textContent.startsWith('Recording')")
        page.wait_for_timeout(1500)  # the held event has been delivered
        assert answered and not held
        assert "started without the thigh sensor" in page.inner_text("#set-state")
        page.click("#stop-set")
        poll(page, "document.getElementById('set-state').textContent.startsWith('Finished')")


def test_depth_guard_cues_before_the_wink(page, server, tmp_path) -> None:
    _open(page, server, server["ids"]["Sam (winks under load)"])
    poll(page, "!document.getElementById('guard').hidden")
    assert "80°" in page.inner_text("#guard-text")  # cue level = 80 - 3 = 77, ceiling 80
    # A wink cue whose rep had a depth cue: the depth cue came first.
    poll(
        page,
        """(() => { const w = window.winkwatch;
            return w.cues.some((c) => w.depthCues.some((d) => d.rep === c.rep && d.at_ms < c.at_ms)); })()""",
        WAIT_S * 2000,
    )
    depth = page.evaluate("window.winkwatch.depthCues[window.winkwatch.depthCues.length - 1]")
    assert depth["ceiling_thigh_deg"] == SAM_CEILING_DEG and depth["thigh_deg"] < SAM_CEILING_DEG
    assert depth["sound"] is True and depth["shown"] is True
    calibrated = page.inner_text("#ready-list .calibrated")  # said once, with how
    assert calibrated.startswith("✓ calibrated from") and calibrated.count("calibrated") == 1
    screenshot(page, tmp_path, "depth_guard")
