"""What the dashboard writes, checked in headless Chromium on its own modules (served as static
files): the set summary's onsets agree with its stop-above advice, a rep's flag and detail say
its measurement uncertainty, repeated findings are shown once with a count, sensors name their
athlete, counts are singular or plural."""

from __future__ import annotations

import functools
import http.server
import json
import threading

import pytest

from api.dashboard import STATIC_DIR
from tests.browser import BROWSER_MARKS

pytestmark = BROWSER_MARKS[1:]  # needs Debian chromium; quick (not slow)


@pytest.fixture(scope="module")
def modules(browser):
    """A page at the static folder's origin; `call(module, js)` runs `js` with `m` imported."""
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(STATIC_DIR))
    handler.log_message = lambda *args: None  # type: ignore[assignment]
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    page = browser.new_page()
    page.goto(f"http://127.0.0.1:{server.server_address[1]}/favicon.svg")

    def call(module: str, body: str):
        return page.evaluate(f"async () => {{ const m = await import('/{module}'); {body} }}")

    yield call
    page.close()
    server.shutdown()


def _rep(rep: int, onset_deg: float | None) -> dict:
    return dict(
        rep=rep,
        depth_deg=100.0,
        wink_deg=9.0 if onset_deg is not None else 1.0,
        butt_wink=onset_deg is not None,
        wink_onset_depth_deg=onset_deg,
    )


def test_summary_onsets_agree_with_the_stop_above_advice(modules) -> None:
    # Onsets 83.6 and 87.2 deg were shown as "84-87 deg" beside "Stop above 83 deg".
    text = modules(
        "reps.js",
        f"const d = document.createElement('div'); "
        f"d.innerHTML = m.summaryHtml({json.dumps([_rep(1, 83.6), _rep(2, 87.2)])}); return d.textContent;",
    )
    assert "starting at 83°–87°" in text and "Stop above 83°" in text
    # Two onsets in the same degree were "88-88 deg".
    same = modules(
        "reps.js",
        f"const d = document.createElement('div'); "
        f"d.innerHTML = m.summaryHtml({json.dumps([_rep(1, 88.2), _rep(2, 88.4)])}); return d.textContent;",
    )
    assert "starting at 88° " in same and "88°–88°" not in same and "Stop above 88°" in same


def test_a_reps_flag_and_detail_say_how_close_to_the_bar_borderline_is(modules) -> None:
    borderline = dict(
        _rep(1, 88.0),
        wink_deg=9.6,
        wink_threshold_deg=9.35,
        threshold_source="personal",
        baseline_reps=8,
        wink_grade="borderline",
        wink_uncertainty_deg=1.2419,
    )
    clear = dict(borderline, wink_deg=12.0, wink_grade="clear")
    unknown = dict(borderline, wink_uncertainty_deg=None)  # stored before it was recorded
    texts = modules(
        "reps.js",
        "const d = document.createElement('div'); "
        f"return {json.dumps([borderline, clear, unknown])}.map((r) => {{ "
        "d.innerHTML = m.flagHtml(r); return [d.firstChild.getAttribute('title'), m.thresholdText(r)]; });",
    )
    title, detail = texts[0]
    assert title == "threshold 9.3° (personal, 8 reps); borderline: within ±1.2° of your bar"
    assert detail.endswith("(personal baseline, 8 reps), borderline: within ±1.2° of your bar")
    assert texts[1][0].endswith("; clear, measured to ±1.2°")
    assert texts[2] == ["threshold 9.3° (personal, 8 reps)", texts[2][1]]
    assert texts[2][1].endswith("8 reps), borderline") and "±" not in texts[2][1]


def test_repeated_findings_are_shown_once_with_a_count(modules) -> None:
    findings = [{"message": "thigh sensor lost 1 sample"}] * 3 + [{"message": "<b>x</b>"}]
    html = modules("format.js", f"return m.findingsHtml({json.dumps(findings)});")
    assert html.count("<li>") == 2
    assert "thigh sensor lost 1 sample <small>(3 times)</small>" in html
    assert "&lt;b&gt;x&lt;/b&gt;" in html  # escaped


def test_sensors_name_their_athlete_and_counts_are_plural_only_when_more_than_one(
    modules,
) -> None:
    html = modules(
        "sensors.js",
        "const { state } = await import('/state.js'); "
        "state.athletes = [{ id: 2, name: 'Sam' }]; "
        "return [m.sensorHtml({ address: 'AA', placement: 'thigh', state: 'streaming', "
        "athlete_id: '2', gaps: 1, samples_missing: 1 }), "
        "m.sensorHtml({ address: 'BB', placement: 'sacrum', state: 'streaming', "
        "athlete_id: '7', gaps: 2, samples_missing: 5 })];",
    )
    assert "· Sam</small>" in html[0] and "athlete 2" not in html[0]
    assert "1 gap (1 sample lost)" in html[0]
    assert "athlete 7" in html[1] and "2 gaps (5 samples lost)" in html[1]
