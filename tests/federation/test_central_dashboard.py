"""The central server's dashboard in headless Chromium (Debian's, through Playwright): two edge
gateways (`winkwatch serve --edge --simulate 1`, each its own process and SQLite) feed the
central server (`winkwatch serve --central`) through a private Mosquitto. A coach opening the
central dashboard sees the athletes of both platforms, live angles relayed from an edge moving
on the page, and that athlete's sensors with the link status their platform reported.
Screenshots go to the test's temp dir."""

from __future__ import annotations

import time

import httpx2

from api.auth import create_token
from api.storage.db import open_database
from api.vocab import TokenRole
from tests.browser import BROWSER_MARKS, open_page, screenshot, signed_in
from tests.federation.procs import central, edge

pytestmark = BROWSER_MARKS
WAIT_MS = 60_000


def _wait(condition, timeout_s: float, what: str):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        result = condition()
        if result:
            return result
        time.sleep(0.5)
    raise AssertionError(f"timed out waiting for {what}")


def test_central_dashboard_shows_both_platforms_and_live_angles(
    tmp_path, broker, central_target, browser
) -> None:
    hub = central(tmp_path, central_target.url, central_target.schema, broker.env("central"))
    hub.start()
    edges = [edge(tmp_path, name, broker.env(name)) for name in ("gw-a", "gw-b")]
    try:
        hub.wait_healthy()
        store = open_database(central_target.url, central_target.schema)
        with store.sessions.begin() as db:
            _, token = create_token(db, "browser", TokenRole.READ)
        store.dispose()
        for served in edges:
            served.start()
        headers = {"Authorization": f"Bearer {token}"}

        def athletes_by_gateway() -> dict[str, int] | None:
            sets = httpx2.get(f"{hub.url}/sets", headers=headers, timeout=5).json()["items"]
            found = {s["gateway_id"]: s["athlete_id"] for s in sets}
            return found if {"gw-a", "gw-b"} <= set(found) else None

        athletes = _wait(athletes_by_gateway, 120, "sets of both platforms at the central")
        assert athletes["gw-a"] != athletes["gw-b"]  # one simulated athlete per platform
        a_id = athletes["gw-a"]

        with open_page(browser, "phone") as page:
            page.goto(f"{hub.url}/#token={token}")
            signed_in(page)
            options = page.eval_on_selector_all(
                "#athlete option", "(os) => os.map((o) => Number(o.value))"
            )
            assert {athletes["gw-a"], athletes["gw-b"]} <= set(options), options
            page.select_option("#athlete", str(a_id))
            # Live angles from edge A's gateway, relayed by the broker and the central server.
            page.wait_for_function("window.winkwatch.state.buffer.t.length > 40", timeout=WAIT_MS)
            readings = set()
            for _ in range(30):  # up to 6 s: between reps the readout rests at ~0 deg
                readings.add(page.inner_text("#thigh-now"))
                if len(readings) > 3:
                    break
                page.wait_for_timeout(200)
            assert len(readings) > 3, readings
            assert page.inner_text("#link") == "live"
            page.wait_for_selector("#live-reps tr.rep", timeout=WAIT_MS)
            screenshot(page, tmp_path, "central_live")
            # The athlete's sensors, as platform A reported them (stored centrally).
            page.click("button[data-tab=sensors]")
            page.wait_for_selector("#sensor-list li[data-address]", timeout=30_000)
            sensors = page.inner_text("#sensor-list")
            assert "streaming" in sensors.lower(), sensors
            screenshot(page, tmp_path, "central_sensors")
    finally:
        for served in edges:
            served.ensure_stopped()
        hub.interrupt()
