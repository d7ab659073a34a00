"""The Live view's warnings in headless Chromium against a real server whose sensors the test
switches on and off: the set's current warnings as a list (one per kind and sensor, newest
first), a silent sensor's warning gone once it sends again, none carried into the next set.

Before, #live-warning held only the newest warning's text: a second warning hid the first,
and a sensor that was said silent and then sent again stayed "silent" on the phone (nothing
followed to replace the text while the athlete stood still).

Screenshots go to the test's temp dir (and to $WINKWATCH_SCREENSHOTS when set).
"""

from __future__ import annotations

import asyncio
import time

import httpx2
import numpy as np
import pytest

from api.auth import create_token
from api.runtime import build_runtime
from api.settings import Settings
from api.storage import catalog
from api.vocab import TokenRole
from sensor_gateway.config import GatewaySettings
from sensor_gateway.samples import SampleBatch, SensorKind
from tests.api.helpers import serve_in_thread
from tests.browser import BROWSER_MARKS, open_page, poll, screenshot, signed_in

pytestmark = BROWSER_MARKS
WAIT_MS = 60_000
SILENT = "has sent nothing"  # a sensor_silent warning
OUT_OF_RANGE = "sacrum sensor sent samples beyond any IMU's physical range"


class _SwitchedSensors:
    """Real-time packets (4 samples at 200 Hz, standing still) of each address in `on`; an
    address in `spike` sends one packet of 1e30 m/s^2 (a sensor's garbage) next."""

    def __init__(self) -> None:
        self.on: set[str] = set()
        self.spike: set[str] = set()
        self._seq: dict[str, int] = {}

    async def run(self, on_batch, on_status) -> None:
        while True:
            now = time.monotonic()
            for address in list(self.on):
                seq = self._seq.get(address, 0)
                self._seq[address] = seq + 1
                acc = np.tile([0.0, 0.0, 9.81], (4, 1))
                if address in self.spike:
                    self.spike.discard(address)
                    acc[1] = 1e30
                on_batch(
                    SampleBatch(
                        address=address,
                        kind=SensorKind.SIMULATED,
                        received_s=now,
                        acc_mps2=acc,
                        gyr_radps=np.zeros((4, 3)),
                        sensor_time_s=(seq * 4 + np.arange(4)) * 0.005,
                        seq=seq,
                    )
                )
            await asyncio.sleep(0.02)


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    root = tmp_path_factory.mktemp("live-warnings")
    settings = Settings(database_url=f"sqlite:///{root / 'ww.db'}", gateway_id="live-warnings")
    built = build_runtime(settings, gateway_settings=GatewaySettings(config_file=root / "gw.json"))
    with built.database.sessions.begin() as db:
        _, admin = create_token(db, "coach", TokenRole.ADMIN)
        ids = [catalog.create_athlete(db, name, "").id for name in ("Ann", "Bo")]
    sensors = _SwitchedSensors()
    for athlete_id, letter in zip(ids, "AB", strict=True):
        built.gateway.assign_sensor(f"{letter}A:01", "simulated", str(athlete_id), "sacrum")
        built.gateway.assign_sensor(f"{letter}A:02", "simulated", str(athlete_id), "thigh")
        sensors.on.add(f"{letter}A:01")  # the sacrum streams; the thigh is off for now
    built.gateway.add_source(sensors)
    served = serve_in_thread(built)
    headers = {"Authorization": f"Bearer {admin}"}
    with httpx2.Client(base_url=served.url, headers=headers, timeout=30) as api:
        yield {"url": served.url, "admin": admin, "ids": ids, "sensors": sensors, "api": api}
    served.stop()


def _follow(page, server, athlete_id: int) -> None:
    page.goto(f"{server['url']}/#token={server['admin']}")
    signed_in(page)
    page.select_option("#athlete", str(athlete_id))
    poll(page, "document.getElementById('link').classList.contains('up')", WAIT_MS)


def _start_set(server, athlete_id: int) -> str:
    started = server["api"].post(
        "/sets",
        json={
            "athlete_id": athlete_id,
            "variant": "back_squat",
            "override_missing_sensors": True,
            "replace_recording": True,
        },
    )
    assert started.status_code == 201, started.text
    return started.json()["set_key"]


def _shown(page) -> list[str]:
    """The Live view's warnings as shown: code:sensor, top line first."""
    return page.evaluate(
        "[...document.querySelectorAll('#live-warning li')]"
        ".map((li) => li.dataset.code + ':' + li.dataset.sensor)"
    )


def _wait_text(page, said: tuple[str, ...], unsaid: tuple[str, ...] = ()) -> None:
    """Wait until the Live view's warnings hold every text of `said` and none of `unsaid`
    (as text, whatever the markup: it fails on the old single-text view for what it shows)."""
    deadline = time.monotonic() + WAIT_MS / 1000
    while True:
        text = page.evaluate("document.getElementById('live-warning').textContent")
        if all(s in text for s in said) and not any(s in text for s in unsaid):
            return
        assert time.monotonic() < deadline, f"warnings {text!r}: waited for {said}, not {unsaid}"
        time.sleep(0.1)


def _wait_shown(page, expected: list[str]) -> None:
    deadline = time.monotonic() + WAIT_MS / 1000
    while _shown(page) != expected:
        assert time.monotonic() < deadline, f"shown {_shown(page)}, waited for {expected}"
        time.sleep(0.1)


def test_two_warnings_both_show_on_a_narrow_phone_and_a_new_set_starts_clear(
    browser, server, tmp_path
) -> None:
    ann = server["ids"][0]
    with open_page(browser, "narrow_phone") as page:
        _follow(page, server, ann)
        _start_set(server, ann)  # the thigh sends nothing: said silent after 3 s
        _wait_text(page, (SILENT,))
        server["sensors"].spike.add("AA:01")  # then the sacrum sends garbage
        _wait_text(page, ("thigh sensor (AA:02) " + SILENT, OUT_OF_RANGE))
        _wait_shown(page, ["sensor_out_of_range:sacrum", "sensor_silent:thigh"])
        screenshot(page, tmp_path, "live-warnings")
        assert page.evaluate("document.scrollingElement.scrollWidth <= innerWidth")
        _start_set(server, ann)  # a new set (replacing this one): its own warnings only
        _wait_shown(page, ["sensor_silent:thigh"])


def test_a_silent_sensor_that_sends_again_is_no_longer_said_silent(browser, server) -> None:
    bo = server["ids"][1]
    with open_page(browser, "phone") as page:
        _follow(page, server, bo)
        _start_set(server, bo)
        _wait_text(page, (SILENT,))
        server["sensors"].on.add("BA:02")  # switched on: it streams (the athlete stands)
        _wait_text(page, (), (SILENT,))
        assert _shown(page) == []
