"""Setting up from the phone, in headless Chromium at 390x844 and 1280x800, against a real
server with simulated athletes (`winkwatch serve --simulate 2`): an athlete created with
lengths and a note, two simulated sensors found by the gateway's scan and paired as sacrum
and thigh, a set started at once on them (no restart) with live angles and reps; archiving
and deleting ask first and keep stored sets; a sign-in code opens the dashboard signed in,
and a read-only token sees no control it cannot use. Screenshots go to the test's temp dir.
"""

from __future__ import annotations

import httpx2
import pytest

from api.auth import create_token
from api.runtime import build_server
from api.settings import Settings
from api.storage import sets as set_store
from api.vocab import SetStatus, SetVariant, TokenRole
from tests.api.helpers import free_port, serve_in_thread
from tests.browser import (
    BROWSER_MARKS,
    VIEWPORTS,
    open_page,
    requests_made,
    screenshot,
    signed_in,
)

pytestmark = BROWSER_MARKS
WAIT_MS = 60_000


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    root = tmp_path_factory.mktemp("setup")
    port = free_port()
    settings = Settings(database_url=f"sqlite:///{root / 'ww.db'}", gateway_id="setup-browser")
    built = build_server(settings, simulate=2, config_dir=root)
    with built.database.sessions.begin() as db:
        _, admin = create_token(db, "coach", TokenRole.ADMIN)
    served = serve_in_thread(built, port)
    yield dict(url=f"http://127.0.0.1:{port}", admin=admin, server=built)
    served.stop()


@pytest.fixture(params=list(VIEWPORTS))
def browser_page(request, browser):
    with open_page(browser, request.param) as page:
        yield page


def _sign_in(page, url: str, token: str) -> None:
    page.goto(f"{url}/#token={token}")
    signed_in(page)


def _api(server, method: str, path: str, **kw):
    headers = {"Authorization": f"Bearer {server['admin']}"}
    response = httpx2.request(method, f"{server['url']}{path}", headers=headers, timeout=10, **kw)
    response.raise_for_status()
    return response.json() if response.content else None


def _athlete_id(server, name: str) -> int:
    athletes = _api(server, "GET", "/athletes")["items"]
    return next(a["id"] for a in athletes if a["name"] == name)


def _redraw_athletes(page) -> None:
    """Redraws the Setup view's athlete list as any change of the athletes does, and waits
    until it is drawn again."""
    page.evaluate(
        "document.querySelector('#setup-athletes ul.athletes').dataset.stale = '1';"
        "window.dispatchEvent(new CustomEvent('winkwatch:athletes-changed'))"
    )
    page.wait_for_function(
        "document.querySelector('#setup-athletes ul.athletes') !== null"
        " && !document.querySelector('#setup-athletes ul.athletes[data-stale]')"
    )


def test_a_coach_sets_up_an_athlete_and_pairs_two_sensors_from_the_phone(
    browser_page, server, tmp_path
) -> None:
    page = browser_page
    name = f"Jo {page.viewport_name}"
    _sign_in(page, server["url"], server["admin"])
    page.click("button[data-tab=setup]")
    form = page.locator("form.athlete-form[data-id=new]")
    form.wait_for()
    form.locator("input[name=name]").fill(name)
    form.locator("input[name=femur_cm]").fill("44.5")
    form.locator("input[name=shank_cm]").fill("41")
    form.locator("textarea[name=notes]").fill("left knee: warm up longer")
    _redraw_athletes(page)  # a redraw meanwhile (the menu loading, a sensor paired) keeps it
    assert form.locator("input[name=name]").input_value() == name
    assert form.locator("textarea[name=notes]").input_value() == "left knee: warm up longer"
    # A double tap on Add (a phone's, or an impatient coach's) adds one athlete.
    form.locator("button[type=submit]").evaluate("(b) => { b.click(); b.click(); b.click(); }")
    row = page.locator("#setup-athletes li[data-athlete]", has_text=name)
    row.wait_for()
    named = [a for a in _api(server, "GET", "/athletes")["items"] if a["name"] == name]
    assert len(named) == 1, named
    assert "femur 44.5 cm, shank 41 cm" in row.inner_text()
    assert "left knee" in row.inner_text() and "Sacrum: none" in row.inner_text()
    jo = _athlete_id(server, name)
    # The new athlete is in the menu at once (no reload).
    page.wait_for_function(
        f"[...document.querySelectorAll('#athlete option')].some((o) => o.value === '{jo}')"
    )

    page.click("#scan-sensors")
    page.wait_for_function(
        "document.querySelectorAll('#found-sensors li').length >= 4", timeout=15_000
    )
    listed = page.inner_text("#found-sensors")
    assert "signal strong (-60 dBm)" in listed and "battery 100%" in listed
    # Take the second simulated athlete's pair (phone) or the first's (desktop).
    donor = "Simulated athlete 2" if page.viewport_name == "phone" else "Simulated athlete 1"
    donor_id = _athlete_id(server, donor)
    paired = requests_made(page, "PUT", "/assignment")
    for placement in ("sacrum", "thigh"):
        address = f"SIM-{donor_id}-{placement.upper()}"
        item = page.locator(f"#found-sensors li[data-address='{address}']")
        item.locator("select").select_option(str(jo))
        # A double tap pairs the sensor once (a sensor the database does not know yet is
        # registered first: two taps registered it twice, the second refused).
        item.locator(f"button[data-pair={placement}]").evaluate("(b) => { b.click(); b.click(); }")
        page.wait_for_function(
            f"document.querySelector(\"#found-sensors li[data-address='{address}'] .worn\")"
            f".textContent.includes('{name} ({placement})')",
            timeout=10_000,
        )
    assert "in effect at once" in page.inner_text("#scan-state")
    assert len(paired) == 2, paired
    assert "".join(page.locator("#found-sensors .error").all_inner_texts()) == ""
    row = page.locator("#setup-athletes li[data-athlete]", has_text=name)
    page.wait_for_function(
        f"[...document.querySelectorAll('#setup-athletes li')].some((li) =>"
        f" li.textContent.includes('{name}') && !li.textContent.includes('none'))"
    )
    screenshot(page, tmp_path, "setup")
    placed = [(f"SIM-{donor_id}-SACRUM", "sacrum"), (f"SIM-{donor_id}-THIGH", "thigh")]
    sensors = _api(server, "GET", f"/sensors?athlete_id={jo}")["items"]
    assert sorted((s["address"], s["placement"]) for s in sensors) == placed
    # Two quick taps on Swap swap once: the second, while the first is in flight, does
    # nothing (before, the two swapped the sensors back).
    swaps = requests_made(page, "POST", "/sensors/swap")
    with page.expect_response("**/sensors/swap"):
        row.locator("button[data-act=swap]").evaluate("(b) => { b.click(); b.click(); }")
    assert len(swaps) == 1, swaps
    sensors = _api(server, "GET", f"/sensors?athlete_id={jo}")["items"]
    assert sorted((s["address"], s["placement"]) for s in sensors) == [
        (f"SIM-{donor_id}-SACRUM", "thigh"),
        (f"SIM-{donor_id}-THIGH", "sacrum"),
    ]
    _api(server, "POST", "/sensors/swap", json={"athlete_id": jo})  # back as worn

    # The pairing is live on the running gateway: a set for the new athlete records at once.
    page.select_option("#athlete", str(jo))
    page.click("button[data-tab=live]")
    page.fill("#load", "60")
    # An impatient coach taps Start a dozen times before the first answer: one set starts.
    page.evaluate(
        "() => { const b = document.getElementById('start-set');"
        " for (let i = 0; i < 12; i++) b.click(); }"
    )
    page.wait_for_function(
        "document.getElementById('set-state').textContent.includes('60 kg')", timeout=15_000
    )
    page.wait_for_function(
        "document.querySelectorAll('#live-reps tr.rep').length >= 1", timeout=WAIT_MS
    )
    assert page.inner_text("#thigh-now") != "–"
    assert len(_api(server, "GET", f"/sets?athlete_id={jo}")["items"]) == 1
    screenshot(page, tmp_path, "setup_live")
    page.click("#stop-set")
    page.wait_for_function(
        "document.getElementById('set-state').textContent.startsWith('Finished')", timeout=15_000
    )
    status = {s["address"]: s for s in _api(server, "GET", "/sensors/status")}
    assert status[f"SIM-{donor_id}-THIGH"]["athlete_id"] == str(jo)


def test_archiving_and_deleting_ask_first_and_keep_stored_sets(browser_page, server, tmp_path):
    page = browser_page
    name = f"Kim {page.viewport_name}"
    kim = _api(server, "POST", "/athletes", json={"name": name})["id"]
    with server["server"].database.sessions.begin() as db:
        row = set_store.start_set(db, kim, SetVariant.BACK_SQUAT, gateway_id="setup-browser")
        set_store.finish_set(db, row.id, SetStatus.COMPLETED)
        set_id = row.id
    _sign_in(page, server["url"], server["admin"])
    page.click("button[data-tab=setup]")
    item = page.locator("#setup-athletes li[data-athlete]", has_text=name)
    item.locator("button[data-act=delete]").click()
    page.locator("dialog.ask", has_text=f"Delete {name}?").locator("button.danger").click()
    asked = page.locator("dialog.ask", has_text="has stored sets")
    asked.wait_for()
    assert "1 stored set" in asked.inner_text()
    screenshot(page, tmp_path, "delete_asks", full_page=False)
    asked.locator("button", has_text="Archive instead").click()
    page.wait_for_function(
        f"![...document.querySelectorAll('#setup-athletes ul.athletes:not(.archived) li')]"
        f".some((li) => li.textContent.includes('{name}'))"
    )
    assert _api(server, "GET", f"/sets/{set_id}")["id"] == set_id  # kept
    page.check("#show-archived")
    archived = page.locator("#setup-athletes ul.archived li", has_text=name)
    archived.wait_for()
    archived.locator("button[data-act=restore]").click()
    page.locator("#setup-athletes ul.athletes:not(.archived) li", has_text=name).wait_for()
    # Told to: the athlete goes, and the sets with them.
    item = page.locator("#setup-athletes ul.athletes:not(.archived) li", has_text=name)
    item.locator("button[data-act=delete]").click()
    page.locator("dialog.ask", has_text=f"Delete {name}?").locator("button.danger").click()
    page.locator("dialog.ask", has_text="has stored sets").locator("button.danger").click()
    page.wait_for_function(
        f"![...document.querySelectorAll('#setup-athletes li')]"
        f".some((li) => li.textContent.includes('{name}'))"
    )
    missing = httpx2.get(
        f"{server['url']}/sets/{set_id}",
        headers={"Authorization": f"Bearer {server['admin']}"},
        timeout=10,
    )
    assert missing.status_code == 404


def test_a_sign_in_code_opens_the_dashboard_signed_in_read_only_without_controls(
    browser_page, server, tmp_path
) -> None:
    page = browser_page
    _sign_in(page, server["url"], server["admin"])
    page.click("button[data-tab=setup]")
    page.select_option("#signin-role", "read")
    page.click("#show-signin-code")
    page.wait_for_selector("#signin-code .qr svg")
    box = page.locator("#signin-code .qr svg").bounding_box()
    assert box["width"] >= 150 and abs(box["width"] - box["height"]) < 2  # square, scannable
    screenshot(page, tmp_path, "signin_code")
    link = page.get_attribute("#signin-code a.signin-link", "href")
    assert "#token=ww_" in link
    page.evaluate("localStorage.clear()")
    page = page.context.new_page()  # what the phone's camera opens: a fresh page
    page.viewport_name = browser_page.viewport_name
    page.goto(link)
    signed_in(page)
    assert "token=" not in page.url
    page.wait_for_function("window.winkwatch.state.currentSet !== undefined")
    for control in ("#start-set", "#stop-set", "#variant", "#load", "button[data-tab=setup]"):
        assert not page.is_visible(control), control
    assert page.is_visible("#set-state") and page.is_visible("button[data-tab=sensors]")
    screenshot(page, tmp_path, "read_only")
