"""The ready check before a set (sensor_gateway.readiness) and sensor health in words
(sensor_gateway.health), on simulated athletes whose sensors are in place, swapped, or one
missing."""

from __future__ import annotations

import asyncio
import math
from dataclasses import replace

import pytest

from fusion.simulator import SquatSetSpec
from sensor_gateway.config import Assignments, GatewaySettings
from sensor_gateway.events import Placement
from sensor_gateway.gateway import Gateway
from sensor_gateway.health import HealthLevel, sensor_health
from sensor_gateway.samples import LinkState, SensorKind
from sensor_gateway.sensors import SensorSnapshot
from sensor_gateway.sources.simulated import SimulatedAthlete, SimulatedSource

SPEC = SquatSetSpec(reps=3, depth_deg=100.0, standing_end_s=3.0)


@pytest.fixture(scope="module")
def gateway_after_squats(tmp_path_factory):
    settings = GatewaySettings(config_file=tmp_path_factory.mktemp("ready") / "gateway.json")
    store = Assignments()
    athletes = {
        name: SimulatedAthlete(name, sets=[SPEC], seed=k)
        for k, name in enumerate(("inplace", "swapped", "onlysacrum", "other"))
    }
    a = athletes["inplace"]
    store.assign(a.sacrum_address, "simulated", "inplace", "sacrum")
    store.assign(a.thigh_address, "simulated", "inplace", "thigh")
    s = athletes["swapped"]  # the sacrum sensor strapped on the thigh and vice versa
    store.assign(s.thigh_address, "simulated", "swapped", "sacrum")
    store.assign(s.sacrum_address, "simulated", "swapped", "thigh")
    store.assign(athletes["onlysacrum"].sacrum_address, "simulated", "onlysacrum", "sacrum")
    # A "sacrum" sensor that is really on a thigh (another lifter squatting alike): misplaced.
    store.assign(athletes["onlysacrum"].thigh_address, "simulated", "misplaced", "sacrum")
    store.assign(athletes["other"].thigh_address, "simulated", "misplaced", "thigh")
    gateway = Gateway(settings, store)
    source = SimulatedSource(list(athletes.values()), realtime=False)

    def on_status(status) -> None:  # the source ending says GONE: the test looks before that
        if status.state is not LinkState.GONE:
            gateway.on_status(status)

    asyncio.run(source.run(gateway.on_batch, on_status))
    end_s = max(p.last_received_s for p in source.played)
    return gateway, end_s


def test_sensors_in_place_streaming_and_still_are_ready(gateway_after_squats) -> None:
    gateway, end_s = gateway_after_squats
    ready = gateway.readiness("inplace", now_s=end_s)
    assert ready.ready and not ready.missing
    assert ready.placement_checked and ready.placement_code is None
    assert [s.health.level for s in ready.sensors] == [HealthLevel.GOOD, HealthLevel.GOOD]
    assert ready.still_s >= 2.0  # the set ends with 3 s of standing
    assert ready.advice.startswith("ready")


def test_a_swapped_pair_is_said_after_a_squat(gateway_after_squats) -> None:
    gateway, end_s = gateway_after_squats
    ready = gateway.readiness("swapped", now_s=end_s)
    assert not ready.missing and not ready.ready
    assert ready.placement_code == "sensors_swapped"
    assert "swapped" in ready.advice


def test_a_sensor_on_the_wrong_segment_is_said(gateway_after_squats) -> None:
    gateway, end_s = gateway_after_squats
    ready = gateway.readiness("misplaced", now_s=end_s)
    assert ready.placement_code == "sensor_misplaced" and not ready.ready
    assert "wrong segment" in ready.advice


def test_a_missing_sensor_and_a_silent_one_are_not_streaming(gateway_after_squats) -> None:
    gateway, end_s = gateway_after_squats
    ready = gateway.readiness("onlysacrum", now_s=end_s)
    assert ready.missing == (Placement.THIGH,)
    thigh = ready.sensors[1]
    assert thigh.address is None and thigh.health.level is HealthLevel.BAD
    assert "override" in ready.advice and "thigh" in ready.advice
    later = gateway.readiness("inplace", now_s=end_s + 10.0)  # the sensors went quiet
    assert later.missing == (Placement.SACRUM, Placement.THIGH)
    assert "no samples for 10 s" in later.sensors[0].health.reason


def _snapshot(**changes) -> SensorSnapshot:
    base = SensorSnapshot(
        address="A",
        kind=SensorKind.SIMULATED,
        athlete_id="1",
        placement=Placement.THIGH,
        state=LinkState.STREAMING,
        battery_pct=80,
        rssi_dbm=-60,
        samples=10_000,
        gaps=0,
        samples_missing=0,
        drift_ppm=40.0,
        last_received_s=100.0,
    )
    return replace(base, **changes)


@pytest.mark.parametrize(
    ("changes", "level", "words"),
    [
        ({}, HealthLevel.GOOD, "streaming, battery 80 %"),
        ({"battery_pct": 20}, HealthLevel.CHECK, "battery low"),
        ({"battery_pct": 5}, HealthLevel.BAD, "charge it before the set"),
        ({"rssi_dbm": -92}, HealthLevel.CHECK, "weak signal"),
        ({"samples_missing": 500}, HealthLevel.CHECK, "5% of its samples lost"),
        ({"drift_ppm": 1500.0}, HealthLevel.CHECK, "clock"),
        ({"state": LinkState.DISCONNECTED}, HealthLevel.BAD, "reconnecting"),
        (
            {"state": LinkState.SCANNING, "samples": 0, "last_received_s": -math.inf},
            HealthLevel.BAD,
            "not seen yet",
        ),
        ({"last_received_s": 90.0}, HealthLevel.BAD, "no samples for 10 s"),
    ],
)
def test_health_says_good_check_or_bad_with_the_reason(changes, level, words) -> None:
    health = sensor_health(_snapshot(**changes), now_s=100.0)
    assert health.level is level and words in health.reason, health
