"""The phone's Live view when the database's disk fills during a set (headless Chromium at
390x844, `serve --simulate 1` with SQLite's max_page_count pinned: tests/api/full_disk.py).

Found by probing serve --simulate with the disk full: the phone showed no rep after the disk
filled and the set stayed "Recording" after it stopped, without a word about storage. Now
the warning says the disk is full and what to do, the reps keep coming marked "not stored",
the ready panel says nothing can be stored, and once space is back the marks go.
"""

from __future__ import annotations

import pytest

from api.auth import create_token
from api.runtime import build_server
from api.settings import Settings
from api.vocab import TokenRole
from tests.api.full_disk import FullDisk
from tests.api.helpers import serve_in_thread
from tests.browser import BROWSER_MARKS, open_page, poll, screenshot

pytestmark = BROWSER_MARKS
WAIT_MS = 90_000


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    root = tmp_path_factory.mktemp("full-disk-browser")
    url = f"sqlite:///{root / 'ww.db'}"
    built = build_server(
        Settings(database_url=url, gateway_id="full-disk-browser"), simulate=1, config_dir=root
    )
    with built.database.sessions.begin() as db:
        _, admin = create_token(db, "coach", TokenRole.ADMIN)
    disk = FullDisk(built.database.engine)
    served = serve_in_thread(built)
    yield {
        "url": f"http://127.0.0.1:{served.port}",
        "admin": admin,
        "disk": disk,
        "athlete_id": int(built.gateway.assignments.athletes()[0]),
    }
    disk.free()
    served.stop()


def test_a_full_disk_is_said_and_reps_are_marked_not_stored(browser, server, tmp_path) -> None:
    with open_page(browser, "phone") as page:
        page.goto(f"{server['url']}/#token={server['admin']}")
        poll(page, "!document.getElementById('app').hidden", 30_000)
        page.select_option("#athlete", str(server["athlete_id"]))
        poll(page, "document.querySelector('#live-reps tr.rep') !== null", WAIT_MS)
        server["disk"].fill()
        poll(
            page,
            "document.getElementById('live-warning').textContent.includes('disk is full')",
            WAIT_MS,
        )
        assert "Free disk space" in page.inner_text("#live-warning")
        poll(page, "document.querySelector('#live-reps .flag.unstored') !== null", WAIT_MS)
        poll(
            page,
            "(document.querySelector('#ready-list [data-code=storage_failing]') || {})"
            ".textContent?.includes('disk is full')",
            WAIT_MS,
        )
        screenshot(page, tmp_path, "full_disk_live")
        server["disk"].free()
        poll(
            page,
            "document.getElementById('live-warning').textContent.includes('Storing again')"
            " || document.querySelector('#live-reps .flag.unstored') === null",
            WAIT_MS,
        )
        poll(page, "document.querySelector('#live-reps .flag.unstored') === null", WAIT_MS)
        poll(page, "document.querySelector('#ready-list [data-code=storage_failing]') === null")
        screenshot(page, tmp_path, "full_disk_resumed")


def test_the_gym_view_marks_reps_not_stored(browser, server, tmp_path) -> None:
    # The Gym view replaced a rep by its number but showed no mark for `stored: false`
    # (noted in the diskfull report): its card now counts the reps not stored yet.
    card = f"#gym-cards [data-athlete='{server['athlete_id']}']"
    with open_page(browser, "phone") as page:
        page.goto(f"{server['url']}/#token={server['admin']}")
        poll(page, "!document.getElementById('app').hidden", 30_000)
        page.click("button[data-tab=gym]")
        poll(
            page, f'Number(document.querySelector("{card} [data-reps]")?.textContent) >= 1', WAIT_MS
        )
        server["disk"].fill()
        try:
            poll(page, f'document.querySelector("{card} .flag.unstored") !== null', WAIT_MS)
            assert "not stored" in page.inner_text(f"{card} .flag.unstored")
            screenshot(page, tmp_path, "full_disk_gym")
        finally:
            server["disk"].free()
        poll(page, f'document.querySelector("{card} .flag.unstored") === null', WAIT_MS)
