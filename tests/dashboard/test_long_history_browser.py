"""A long history: the History view loads an athlete's newest 5,000 reps (10 pages of 500), and
an athlete with more reps than that had the older sets silently left out of the charts, the
oldest loaded set drawn from part of its reps, and "No wink in any of 5000 reps: no onset to
plot." under tables counting 5,600 reps and 560 winks. The Sets view lists the newest 1,000
sets (2 pages) and left the older ones out without a word."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from api.auth import create_token
from api.runtime import build_server
from api.settings import Settings
from api.storage import catalog
from api.storage import sets as set_store
from api.storage.models import Rep
from api.vocab import SetVariant, TokenRole
from tests.api.helpers import serve_in_thread
from tests.browser import BROWSER_MARKS, open_page, screenshot, signed_in

pytestmark = BROWSER_MARKS
SETS, REPS_PER_SET, WINKING_SETS = 800, 7, 80  # the oldest 80 sets wink
LOADED_REPS = 5_000  # what the History view loads
LISTED_SETS = 1_000  # what the Sets view lists


def _store_history(database, name: str, sets: int, reps_per_set: int) -> int:
    """An athlete with `sets` completed sets of `reps_per_set` reps, one a day (raw Core
    inserts); the oldest WINKING_SETS wink."""
    first = datetime(2025, 1, 1, tzinfo=UTC)
    with database.sessions.begin() as db:
        athlete = catalog.create_athlete(db, name).id
        rows = []
        for s in range(sets):
            started = first + timedelta(days=s)
            exercise_set = set_store.start_set(
                db, athlete, SetVariant.BACK_SQUAT, load_kg=60.0, started_at=started
            )
            set_store.finish_set(db, exercise_set.id, ended_at=started + timedelta(minutes=1))
            winks = s < WINKING_SETS
            rows += [
                dict(
                    set_id=exercise_set.id,
                    athlete_id=athlete,
                    variant=SetVariant.BACK_SQUAT.value,
                    performed_at=started + timedelta(seconds=3 * r),
                    rep=r + 1,
                    start_s=3.0 * r,
                    bottom_s=3.0 * r + 1,
                    end_s=3.0 * r + 2.5,
                    depth_deg=100.0,
                    hip_flexion_max_deg=120.0,
                    pelvic_tilt_peak_deg=20.0,
                    pelvic_tilt_bottom_deg=10.0,
                    wink_deg=10.0 if winks else 2.0,
                    wink_onset_depth_deg=80.0 if winks else None,
                    butt_wink=winks,
                    load_kg=60.0,
                    loaded_wink=winks,
                    wink_onset_s=1.0 if winks else None,
                    descent_s=1.0,
                    ascent_s=1.2,
                    quality="",
                    wink_threshold_deg=5.0,
                    threshold_source="default",
                    baseline_reps=0,
                    wink_grade="clear" if winks else "none",
                    wink_uncertainty_deg=1.0,
                    rhythm_lag_deg=None,
                )
                for r in range(reps_per_set)
            ]
        if rows:
            db.execute(Rep.__table__.insert(), rows)
    return athlete


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    root = tmp_path_factory.mktemp("long-history")
    settings = Settings(database_url=f"sqlite:///{root / 'ww.db'}", gateway_id="long-history")
    built = build_server(settings, simulate=1, config_dir=root)
    athlete = _store_history(built.database, "Long history", SETS, REPS_PER_SET)
    many_sets = _store_history(built.database, "Many sets", LISTED_SETS + 1, 0)
    with built.database.sessions.begin() as db:
        _, reader = create_token(db, "browser reader", TokenRole.READ)
    served = serve_in_thread(built)
    yield dict(url=served.url, reader=reader, athlete_id=athlete, many_sets=many_sets)
    served.stop()


def test_a_history_longer_than_the_page_loads_says_what_is_drawn(browser, server, tmp_path):
    # The newest 5,000 reps are 714 whole sets and 2 of the 7 reps of the 715th: that set is
    # not drawn from part of its reps, and neither is any older set.
    whole_sets = LOADED_REPS // REPS_PER_SET
    drawn_reps = whole_sets * REPS_PER_SET
    with open_page(browser) as page:
        page.goto(f"{server['url']}/#token={server['reader']}")
        signed_in(page)
        page.select_option("#athlete", str(server["athlete_id"]))
        page.click("button[data-tab=history]")
        page.wait_for_selector("#history-variants tr")
        page.wait_for_selector("#history-cut:not([hidden])")
        screenshot(page, tmp_path, "long-history")
        assert page.inner_text("#history-cut") == (
            f"Drawn: the newest {whole_sets} sets ({drawn_reps} reps); older sets are not."
            " The tables below count every rep."
        )
        assert f"{SETS * REPS_PER_SET}" in page.inner_text("#history-variants")
        assert page.get_attribute("#history-onset", "data-empty") == (
            f"No wink in any of {drawn_reps} reps: no onset to plot."
        )


def test_a_sets_list_longer_than_the_page_lists_says_so(browser, server, tmp_path):
    with open_page(browser) as page:
        page.goto(f"{server['url']}/#token={server['reader']}")
        signed_in(page)
        page.select_option("#athlete", str(server["many_sets"]))
        page.click("button[data-tab=sets]")
        page.wait_for_selector("#set-list li[data-set]")
        page.wait_for_selector("#set-list li[data-more]")
        screenshot(page, tmp_path, "many-sets", full_page=False)
        assert page.locator("#set-list li[data-set]").count() == LISTED_SETS
        assert page.inner_text("#set-list li[data-more]") == (
            f"Only the newest {LISTED_SETS} sets are listed."
        )
