"""The dashboard in headless Chromium at a phone viewport, against a real server whose
gateway is fed by the demo's simulated athletes (one clean, one winking under load).

Checks what a coach relies on: sign-in with the token from the URL, live angles moving,
reps appearing with their numbers, the wink cue firing for the winking athlete (and not for
the clean one), rep detail, set summary with stop-above guidance, history, sensor status,
read-only tokens refused politely, and the export links downloading real CSV/zip files.
Screenshots go to the test's temp dir.
"""

from __future__ import annotations

import csv
import io
import time
import zipfile

import httpx2
import pytest

from api.auth import create_token, revoke_token
from api.demo_scenario import SAM_ONSET_DEPTH_DEG, build_demo_server, demo_settings
from api.http.routes import live
from api.vocab import TokenRole
from tests.api.helpers import athlete_ids, free_port, serve_in_thread
from tests.browser import (
    BROWSER_MARKS,
    PHONE,
    open_page,
    painted,
    poll,
    requests_made,
    screenshot,
    signed_in,
)

pytestmark = BROWSER_MARKS
WAIT_MS = 45_000


@pytest.fixture(scope="module")
def demo_server(tmp_path_factory):
    root = tmp_path_factory.mktemp("dashboard")
    port = free_port()
    settings = demo_settings(root, "127.0.0.1", port)
    server = build_demo_server(settings, root)
    with server.database.sessions.begin() as db:
        _, reader = create_token(db, "browser test", TokenRole.READ)
        _, admin = create_token(db, "browser admin", TokenRole.ADMIN)
    athletes = athlete_ids(server.database)
    served = serve_in_thread(server, port)
    yield dict(
        url=f"http://127.0.0.1:{port}",
        reader=reader,
        admin=admin,
        athletes=athletes,
        root=root,
        database=server.database,
    )
    served.stop()


@pytest.fixture()
def page(browser):
    with open_page(browser, "phone", accept_downloads=True) as page:
        yield page


def _open(page, demo_server, athlete: str, token: str | None = None) -> None:
    page.goto(f"{demo_server['url']}/#token={token or demo_server['reader']}")
    signed_in(page)
    assert "token=" not in page.url  # the secret is taken off the address bar
    page.select_option("#athlete", str(demo_server["athletes"][athlete]))


def test_live_view_reps_and_wink_cue_for_the_winking_athlete(page, demo_server, tmp_path) -> None:
    _open(page, demo_server, "Sam (winks under load)")
    # Signed in from a link: sound waits for a first tap, and says so.
    assert page.is_visible("#sound-hint")
    page.click("h1")
    page.wait_for_selector("#sound-hint", state="hidden")
    cues_before_tap = page.evaluate("window.winkwatch.cues.length")
    # Live angles move: the thigh readout changes and the buffer fills at ~20 Hz.
    page.wait_for_function("window.winkwatch.state.buffer.t.length > 40", timeout=WAIT_MS)
    readings = set()
    for _ in range(40):  # up to 6 s: standing still between reps the readout rests at ~0 deg
        readings.add(page.inner_text("#thigh-now"))
        if len(readings) > 3:
            break
        page.wait_for_timeout(150)
    assert len(readings) > 3, readings
    assert page.inner_text("#link") == "live"
    # The cue fires at wink onset, before the rep is complete; then the rep appears flagged.
    page.wait_for_function(f"window.winkwatch.cues.length > {cues_before_tap}", timeout=WAIT_MS)
    cue = page.evaluate(f"window.winkwatch.cues[{cues_before_tap}]")
    assert abs(cue["onset_depth_deg"] - SAM_ONSET_DEPTH_DEG) < 12.0, cue
    assert cue["sound"] is True, cue  # the beep played (vibration: Chromium has navigator.vibrate)
    assert page.is_visible("#cue") and "Butt wink" in page.inner_text("#cue")
    assert cue["athlete_id"] == str(demo_server["athletes"]["Sam (winks under load)"])
    # A rep streamed entirely while the page watched (so its detail comes from the live stream).
    rep = page.wait_for_function(
        """() => {
        const s = window.winkwatch.state;
        const r = s.liveReps.find((r) => r.source === 'live' && r.metrics.start_s >= s.buffer.t[0]);
        return r ? r.metrics.rep : null;
    }""",
        timeout=WAIT_MS,
    ).json_value()
    page.screenshot(path=str(tmp_path / "live_wink.png"), full_page=True)
    first = page.locator(f"#live-reps tr.rep[data-rep='{rep}']")
    cells = first.locator("td").all_inner_texts()
    assert cells[4] == "WINK", cells
    assert "threshold 5.0° (default)" in first.locator(".flag").get_attribute("title")
    depth = float(cells[1].rstrip("°"))
    assert 95.0 < depth < 125.0, cells  # Sam squats to ~110 deg
    onset = float(cells[3].rstrip("°"))
    assert abs(onset - SAM_ONSET_DEPTH_DEG) < 12.0, cells
    advice = page.locator("#live-summary .advice")
    assert abs(int(advice.get_attribute("data-stop-above")) - SAM_ONSET_DEPTH_DEG) < 12.0
    assert "Stop above" in advice.inner_text()

    # Rep detail: the tilt-vs-thigh loop and the time series are drawn from the live stream.
    first.click()
    page.wait_for_selector("#rep-detail:not([hidden])")
    facts = page.inner_text("#rep-facts")
    # u of a rep without a baseline, from the live analyser through the live stream
    assert "vs threshold 5.0° (default), clear, measured to ±1.0°" in facts, facts
    page.wait_for_function("document.getElementById('rep-note').textContent.length > 0")
    assert "live stream" in page.inner_text("#rep-note"), page.inner_text("#rep-note")
    assert painted(page, "rep-loop") and painted(page, "rep-time")
    page.screenshot(path=str(tmp_path / "rep_detail.png"))
    # Scrolled to its end, the sheet still shows its Close button (it used to scroll away).
    page.evaluate("document.getElementById('rep-detail').scrollTop = 100000")
    close = page.locator("#rep-close").bounding_box()
    assert close is not None and close["y"] >= 0 and close["y"] + close["height"] <= PHONE["height"]
    page.screenshot(path=str(tmp_path / "rep_detail_scrolled.png"))
    page.click("#rep-close")


def test_clean_athlete_gets_reps_without_cues(page, demo_server, tmp_path) -> None:
    _open(page, demo_server, "Alex (clean)")
    page.wait_for_function(
        "document.querySelectorAll('#live-reps tr.rep').length >= 2", timeout=WAIT_MS
    )
    flags = page.locator("#live-reps tr.rep td:nth-child(5)").all_inner_texts()
    assert flags and set(flags) == {"ok"}, flags
    alex = str(demo_server["athletes"]["Alex (clean)"])
    assert (
        page.evaluate(f"window.winkwatch.cues.filter((c) => c.athlete_id === '{alex}').length") == 0
    )
    assert "No butt wink" in page.inner_text("#live-summary")
    page.screenshot(path=str(tmp_path / "live_clean.png"), full_page=True)


def test_read_only_token_sees_no_control_it_cannot_use(page, demo_server) -> None:
    _open(page, demo_server, "Alex (clean)")
    page.wait_for_function("window.winkwatch.state.currentSet !== null", timeout=WAIT_MS)
    # Issue 11: a read-only user sees no controls they cannot use (they were shown, then
    # refused with a message): no start/stop, no variant or load, no Setup tab.
    for control in ("#start-set", "#stop-set", "#variant", "#load", "button[data-tab=setup]"):
        assert not page.is_visible(control), control
    assert page.is_visible("#set-state")
    # The server refuses anyway if the page is bypassed.
    page.evaluate("document.body.dataset.role = 'admin'")
    page.evaluate("window.winkwatch.state.currentSet.recording = false")
    page.evaluate("document.getElementById('start-set').disabled = false")
    page.click("#start-set")
    page.wait_for_function("document.getElementById('set-error').textContent.length > 0")
    assert "read-only" in page.inner_text("#set-error")


def test_admin_starts_and_stops_a_set(page, demo_server) -> None:
    _open(page, demo_server, "Alex (clean)", token=demo_server["admin"])
    page.wait_for_function("window.winkwatch.state.currentSet !== null", timeout=WAIT_MS)
    for _ in range(3):  # the demo's own set may be replaced by its script while we stop it
        if not page.evaluate("window.winkwatch.state.currentSet.recording"):
            break
        page.click("#stop-set")
        page.wait_for_function(
            "!window.winkwatch.state.currentSet.recording"
            " || document.getElementById('set-error').textContent !== ''",
            timeout=15_000,
        )
    assert not page.evaluate("window.winkwatch.state.currentSet.recording")
    page.select_option("#variant", "box_squat")
    page.fill("#load", "60")
    page.click("#start-set")
    page.wait_for_function(
        "document.getElementById('set-state').textContent.includes('Box squat')", timeout=15_000
    )
    assert "60 kg" in page.inner_text("#set-state")
    assert page.inner_text("#set-error") == ""
    page.click("#stop-set")
    page.wait_for_function(
        "document.getElementById('set-state').textContent.startsWith('Finished')", timeout=15_000
    )


def test_start_while_another_phone_records_asks_before_replacing(page, demo_server) -> None:
    """A Start a moment after another phone's (before this page heard of that set) is refused
    with 409; the page then shows the set that records and asks: Cancel keeps it, "Stop it
    and start this one" replaces it (the server no longer does so unasked, stop 24)."""
    _open(page, demo_server, "Alex (clean)", token=demo_server["admin"])
    page.wait_for_function(
        "window.winkwatch.state.currentSet?.recording && window.winkwatch.state.currentSet.id",
        timeout=WAIT_MS,
    )
    other = page.evaluate("window.winkwatch.state.currentSet.id")  # the demo's: "the other phone"
    starts = requests_made(page, "POST", "/sets")
    starts_bodies: list[str | None] = []
    page.on(
        "request",
        lambda r: starts_bodies.append(r.post_data) if r.url.endswith("/sets") else None,
    )
    page.select_option("#variant", "box_squat")

    def tap_start_as_if_unaware() -> None:  # the page has not heard of the set yet
        page.evaluate("window.winkwatch.state.currentSet = null")
        page.evaluate("document.getElementById('start-set').disabled = false")
        page.click("#start-set")

    tap_start_as_if_unaware()
    asked = page.locator("dialog.ask", has_text="already recording")
    asked.wait_for(timeout=15_000)
    screenshot(page, demo_server["root"], "start_while_recording_asked")
    asked.locator("button", has_text="Cancel").click()
    page.wait_for_function(
        "document.getElementById('set-error').textContent.includes('Kept the set')",
        timeout=15_000,
    )
    assert len(starts) == 1
    assert page.evaluate("window.winkwatch.state.currentSet.recording")
    assert not page.is_enabled("#start-set") and page.is_enabled("#stop-set")

    tap_start_as_if_unaware()
    asked.wait_for(timeout=15_000)
    asked.locator("button.danger", has_text="Stop it and start this one").click()
    page.wait_for_function(
        "document.getElementById('set-state').textContent.includes('Box squat')", timeout=15_000
    )
    assert page.inner_text("#set-error") == ""
    assert len(starts) == 3  # the refused one, then one with replace_recording
    assert '"replace_recording":true' in (starts_bodies[-1] or "")
    assert page.evaluate("window.winkwatch.state.currentSet.id") != other
    page.click("#stop-set")
    page.wait_for_function(
        "document.getElementById('set-state').textContent.startsWith('Finished')", timeout=15_000
    )


def test_sets_exports_history_and_sensors(page, demo_server, tmp_path) -> None:
    _open(page, demo_server, "Sam (winks under load)")
    page.wait_for_function(
        "document.querySelectorAll('#live-reps tr.rep').length >= 2", timeout=WAIT_MS
    )
    page.click("button[data-tab=sets]")
    page.wait_for_selector("#set-list li[data-set]")
    page.locator("#set-list li[data-set]").last.click()  # the oldest: Sam's first loaded back squat
    page.wait_for_selector("#set-reps tr.rep")
    assert "Back squat, 90 kg" in page.inner_text("#set-title")
    assert "Stop above" in page.inner_text("#set-summary")

    with page.expect_download() as reps_download:
        page.click("#export-reps")
    reps_path = tmp_path / "reps.csv"
    reps_download.value.save_as(reps_path)
    rows = list(csv.DictReader(io.StringIO(reps_path.read_text())))
    assert rows and {"depth_deg", "wink_deg", "wink_onset_depth_deg", "butt_wink"} <= rows[0].keys()
    assert all(row["butt_wink"] in ("1", "true", "True") for row in rows), rows
    with page.expect_download() as raw_download:
        page.click("#export-raw")
    raw_path = tmp_path / "raw.zip"
    raw_download.value.save_as(raw_path)
    with zipfile.ZipFile(raw_path) as archive:
        names = archive.namelist()
        assert any("sacrum" in n for n in names) and any("thigh" in n for n in names), names
        header = archive.read(next(n for n in names if "thigh" in n)).decode().splitlines()[0]
        assert header.startswith("t_s,ax_mps2")

    # A stored rep's detail comes from the set's raw samples analysed again.
    page.locator("#set-reps tr.rep").first.click()
    page.wait_for_function(
        "document.getElementById('rep-note').textContent.length > 0", timeout=30_000
    )
    assert "stored raw samples" in page.inner_text("#rep-note"), page.inner_text("#rep-note")
    assert painted(page, "rep-loop")
    page.screenshot(path=str(tmp_path / "stored_rep.png"))
    page.click("#rep-close")

    page.click("button[data-tab=history]")
    page.wait_for_selector("#history-variants tr")
    assert "Back squat" in page.inner_text("#history-variants")
    assert painted(page, "history-onset") and painted(page, "history-amplitude")
    page.screenshot(path=str(tmp_path / "history.png"), full_page=True)

    page.click("button[data-tab=sensors]")
    page.wait_for_selector("#sensor-list li[data-address]")
    text = page.inner_text("#sensor-list")
    assert "streaming" in text and "battery 100%" in text and "sacrum" in text and "thigh" in text
    # Health in words (good / check / bad with the reason), not raw dBm and ppm.
    assert page.locator("#sensor-list .health").count() >= 2 and "dBm" not in text
    page.screenshot(path=str(tmp_path / "sensors.png"), full_page=True)


# Every view an admin has (a reader has the same minus Setup).
VIEWS = ("live", "sets", "history", "sensors", "assess", "gym", "setup")


def test_narrow_phone_shows_every_tab_without_sideways_scrolling(
    browser, demo_server, tmp_path
) -> None:
    """At 360 px no view scrolls the page sideways and every tab is on screen whole (the
    tab bar used to scroll sideways, hiding Gym and Setup off its right edge)."""
    too_wide = []
    with open_page(browser, "narrow_phone") as page:
        _open(page, demo_server, "Sam (winks under load)", token=demo_server["admin"])
        page.wait_for_function(
            "document.querySelectorAll('#live-reps tr.rep').length >= 1", timeout=WAIT_MS
        )
        for view in VIEWS:
            page.click(f"button[data-tab={view}]")
            page.wait_for_selector(f"#tab-{view}:not([hidden])")
            page.wait_for_timeout(700)  # the view fills in
            screenshot(page, tmp_path, f"narrow-{view}", full_page=False)
            widths = page.evaluate(
                """() => ({ page: document.scrollingElement.scrollWidth, inner: innerWidth,
                    tabs: document.querySelector('.tabs').scrollWidth,
                    tabsShown: document.querySelector('.tabs').clientWidth,
                    offScreen: [...document.querySelectorAll('.tabs button')]
                      .filter((b) => b.offsetParent !== null)
                      .filter((b) => { const r = b.getBoundingClientRect();
                        return r.left < 0 || r.right > innerWidth; })
                      .map((b) => b.dataset.tab) })"""
            )
            fits = widths["page"] <= widths["inner"] and widths["tabs"] <= widths["tabsShown"]
            if not fits or widths["offScreen"]:
                too_wide.append((view, widths))
    assert too_wide == [], too_wide


def test_a_module_or_read_that_fails_to_load_once_is_tried_again(page, demo_server) -> None:
    """A phone's network change aborts every request in flight (net::ERR_NETWORK_CHANGED, seen
    in CI): a module of the page that failed left it blank for good, a failed read at sign-in
    said "Cannot reach the gateway". Now the page reloads once and the read is tried again."""
    failed: list[str] = []

    def fail_once(route, request) -> None:
        name = request.url.rsplit("/", 1)[-1]
        if name not in failed:
            failed.append(name)
            route.abort("connectionreset")
        else:
            route.continue_()

    page.route("**/dashboard/static/state.js", fail_once)
    page.route("**/me", fail_once)
    page.goto(f"{demo_server['url']}/#token={demo_server['reader']}")
    # Not `signed_in`: its own reload of a blank page would hide the page's.
    page.wait_for_selector("#app:not([hidden])", timeout=30_000)
    assert failed == ["state.js", "me"], failed
    assert page.evaluate("sessionStorage.getItem('winkwatch.reloaded')") is None


def test_unknown_token_is_refused_with_advice(page, demo_server) -> None:
    page.goto(f"{demo_server['url']}/#token=ww_not-a-real-token")
    page.wait_for_function(
        "document.getElementById('signin-error').textContent.length > 0", timeout=15_000
    )
    assert "winkwatch token create" in page.inner_text("#signin-error")
    assert page.is_hidden("#app")


def test_a_token_revoked_on_the_gym_view_signs_out_and_ends_its_streams(
    page, demo_server, monkeypatch
) -> None:
    """The Gym view's stream reconnected every second after its token was revoked (and after
    any sign-out), with the empty token, behind the sign-in view: within a minute every request
    from the phone's address got 429, a valid token's sign-in included."""
    monkeypatch.setattr(live, "TOKEN_RECHECK_S", 0.2)
    with demo_server["database"].sessions.begin() as db:
        token, secret = create_token(db, "gym tablet", TokenRole.READ)
        token_id = token.id
    _open(page, demo_server, "Alex (clean)", secret)
    opened: list[str] = []
    page.on("websocket", lambda ws: opened.append(ws.url))
    page.click("button[data-tab=gym]")
    page.wait_for_function("() => document.getElementById('gym-count')", timeout=WAIT_MS)
    page.wait_for_timeout(1000)
    assert any("batch=true" in url and "athlete_id" not in url for url in opened), opened
    with demo_server["database"].sessions.begin() as db:
        revoke_token(db, token_id)
    page.wait_for_selector("#signin:not([hidden])", timeout=WAIT_MS)
    assert "revoked" in page.inner_text("#signin-error")
    opened.clear()
    page.wait_for_timeout(5000)  # the Gym view retried after 1 s, then kept retrying
    assert opened == []


class _LockedOut:
    """The auth limiter of an address that has had too many rejected tokens: 12 s to wait."""

    def retry_after_s(self, client: str) -> float:
        return 12.0

    def record_failure(self, client: str) -> None:
        pass


@pytest.mark.parametrize(("tab", "socket"), [("live", "state.ws"), ("gym", "gym.ws")])
def test_a_view_waits_out_a_lockout_before_reconnecting_its_stream(
    page, demo_server, monkeypatch, tab, socket
) -> None:
    """While the phone's address was locked out for rejected tokens, the Live and Gym views
    reconnected every second: the server opens each socket and closes it at once with 4429
    "wait N s", and the views reset their backoff on every open. Now they wait what the server
    says (and the backoff resets only after a socket that stayed open), and showing the view
    again does not connect beside the reconnect that waits."""
    _open(page, demo_server, "Alex (clean)")
    page.click(f"button[data-tab={tab}]")
    poll(page, f"window.winkwatch.{socket} && window.winkwatch.{socket}.readyState === 1")
    authenticate = live._authenticate
    monkeypatch.setattr(
        live, "_authenticate", lambda ws, db, _limiter: authenticate(ws, db, _LockedOut())
    )
    opened: list[str] = []
    page.on("websocket", lambda ws: opened.append(ws.url))
    page.evaluate(f"window.winkwatch.{socket}.close()")  # the stream drops
    # The view is shown again meanwhile (a tap on its tab; a late athlete change does it too):
    # the Gym view connected at once beside its waiting reconnect.
    page.click(f"button[data-tab={tab}]")
    page.wait_for_timeout(7000)
    assert len(opened) == 1, opened  # one reconnect after 1 s, told to wait 12 s: no more


def _recording_now(demo_server, athlete_id: int) -> tuple[str | None, set[int]]:
    """The athlete's recording set as the API has it: its key and its stored rep numbers."""
    headers = {"Authorization": f"Bearer {demo_server['reader']}"}
    url = demo_server["url"]
    sets = httpx2.get(
        f"{url}/sets", params={"athlete_id": athlete_id, "status": "recording"}, headers=headers
    ).json()["items"]
    if not sets:
        return None, set()
    reps = httpx2.get(
        f"{url}/reps", params={"set_id": sets[-1]["id"], "limit": 500}, headers=headers
    ).json()["items"]
    return sets[-1]["set_key"], {r["rep"] for r in reps}


def test_a_phone_whose_stream_dropped_shows_what_it_missed_once_back(page, demo_server) -> None:
    """The Live view's stream came back after a drop (Wi-Fi lost for a few seconds) without
    what happened meanwhile: the reps completed during the drop were never shown (nor a set's
    stop, or a new set, whose reps were then added to the old set's list)."""
    athlete_id = demo_server["athletes"]["Alex (clean)"]
    _open(page, demo_server, "Alex (clean)")
    # Right after a set's first rep: its next one comes well before the set ends.
    page.wait_for_function(
        """() => { const s = window.winkwatch.state;
            return s.liveReps.length === 1 && s.currentSet && s.currentSet.recording
                && document.getElementById('link').textContent === 'live'; }""",
        timeout=2 * WAIT_MS,
    )
    page.context.set_offline(True)  # the reconnects fail until it is back online
    page.evaluate("window.winkwatch.state.ws.close()")
    set_key = page.evaluate("window.winkwatch.state.currentSet.set_key")
    deadline = time.monotonic() + 30
    while True:  # until a rep the page has not seen is stored
        key, missed = _recording_now(demo_server, athlete_id)
        if key == set_key and len(missed) > 1:
            break
        assert key == set_key and time.monotonic() < deadline, (set_key, key, missed)
        time.sleep(0.25)
    page.context.set_offline(False)
    page.wait_for_function(
        "document.getElementById('link').textContent === 'live'", timeout=WAIT_MS
    )
    deadline = time.monotonic() + 10
    while True:  # the reps stored while the page was offline are shown
        shown = page.evaluate(
            "window.winkwatch.state.liveReps.map((r) => [r.set_key, r.metrics.rep])"
        )
        if {(set_key, rep) for rep in missed} <= {(k, rep) for k, rep in shown}:
            break
        assert time.monotonic() < deadline, (set_key, sorted(missed), shown)
        time.sleep(0.25)
    keys = page.evaluate("window.winkwatch.state.liveReps.map((r) => r.set_key)")
    assert set(keys) == {page.evaluate("window.winkwatch.state.currentSet.set_key")}, keys


def test_dashboard_runs_under_its_content_security_policy(browser, demo_server, tmp_path) -> None:
    """With the CSP enforced (no inline script or style), every view works and nothing is
    blocked: live stream (token sent in the first WebSocket message), sets, history, sensors."""
    blocked: list[str] = []
    with open_page(browser, "phone", enforce_csp=True) as page:
        page.on(
            "console",
            lambda message: (
                blocked.append(message.text) if "Content Security Policy" in message.text else None
            ),
        )
        requests: list[str] = []
        page.on("websocket", lambda ws: requests.append(ws.url))
        page.goto(f"{demo_server['url']}/#token={demo_server['reader']}")
        signed_in(page)
        page.select_option("#athlete", str(demo_server["athletes"]["Sam (winks under load)"]))
        poll(page, "window.winkwatch.state.buffer.t.length > 20")
        for tab in ("sets", "history", "sensors", "live"):
            page.click(f"button[data-tab={tab}]")
            page.wait_for_timeout(700)
        page.click("button[data-tab=history]")
        poll(page, "document.querySelectorAll('#history-legend .swatch').length > 0")
        colour = page.evaluate(
            "getComputedStyle(document.querySelector('#history-legend .swatch')).backgroundColor"
        )
        screenshot(page, tmp_path, "csp-history", full_page=False)
    assert not blocked, blocked
    assert requests and all("token" not in url for url in requests), requests
    assert colour not in ("", "rgba(0, 0, 0, 0)"), colour  # the legend swatch got its colour
