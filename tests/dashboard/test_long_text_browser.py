"""What people type is as long as the API lets it be: a 200-character name without a space
(a pasted e-mail address or id) and long notes wrap on a narrow phone, where the Setup list,
the Gym card and the Sensors list made the page 1,600-2,400 px wide (sideways scrolling on
every one of those views)."""

from __future__ import annotations

import httpx2
import pytest

from api.auth import create_token
from api.runtime import build_server
from api.settings import Settings
from api.vocab import TokenRole
from tests.api.helpers import serve_in_thread
from tests.browser import BROWSER_MARKS, open_page, screenshot, signed_in

pytestmark = BROWSER_MARKS
WAIT_MS = 60_000
LONG_NAME = "W" * 200  # the longest name the API takes, without a place to break
VIEWS = ("live", "sets", "history", "sensors", "assess", "gym", "setup")


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    root = tmp_path_factory.mktemp("long-text")
    settings = Settings(database_url=f"sqlite:///{root / 'ww.db'}", gateway_id="long-text")
    built = build_server(settings, simulate=1, config_dir=root)
    with built.database.sessions.begin() as db:
        _, admin = create_token(db, "browser admin", TokenRole.ADMIN)
    served = serve_in_thread(built)
    headers = {"Authorization": f"Bearer {admin}"}
    with httpx2.Client(base_url=served.url, headers=headers, timeout=30) as api:
        (athlete,) = api.get("/athletes").json()["items"]
        response = api.patch(
            f"/athletes/{athlete['id']}", json={"name": LONG_NAME, "notes": "N" * 600}
        )
        assert response.status_code == 200, response.text
    yield dict(url=served.url, admin=admin, athlete_id=athlete["id"])
    served.stop()


def test_a_long_name_and_notes_wrap_on_a_narrow_phone(browser, server, tmp_path) -> None:
    too_wide = {}
    with open_page(browser, "narrow_phone") as page:
        page.goto(f"{server['url']}/#token={server['admin']}")
        signed_in(page)
        page.select_option("#athlete", str(server["athlete_id"]))
        for view in VIEWS:
            page.click(f"button[data-tab={view}]")
            page.wait_for_selector(f"#tab-{view}:not([hidden])")
            if view == "gym":  # the athlete's card, with the name, while the set records
                page.wait_for_function(
                    f"document.getElementById('tab-gym').textContent.includes('{LONG_NAME}')",
                    timeout=WAIT_MS,
                )
            page.wait_for_timeout(700)  # the view fills in
            screenshot(page, tmp_path, f"long-{view}")
            width = page.evaluate("document.scrollingElement.scrollWidth")
            if width > page.evaluate("innerWidth"):
                too_wide[view] = width
    assert too_wide == {}, too_wide
