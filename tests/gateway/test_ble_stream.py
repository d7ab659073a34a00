"""Streaming through the real bleak code path into a fake BlueZ: every sample, bit-exact."""

import time

import numpy as np
import pytest

from fusion.simulator import SensorSpec, SquatSetSpec, simulate_set
from sensor_gateway.ble import BleSensor, BleSource
from sensor_gateway.samples import LinkState, SensorKind
from tests.gateway.ble_scenarios import (
    Collected,
    assert_every_sent_sample_arrived,
    run_source,
    wait_until,
)
from tests.gateway.fake_bluez import FakeSensor

STREAM_S = 1.5


def _simulated_pair() -> list[tuple[np.ndarray, np.ndarray]]:
    """Sacrum and thigh motion of a simulated loaded squat set, 200 Hz, realistic sensor errors."""
    sensor = SensorSpec(rate_hz=200.0, loss_probability=0.0)
    simulated = simulate_set(
        SquatSetSpec(reps=2, wink_deg=8.0, sacrum=sensor, thigh=sensor), seed=7
    )
    return [(r.acc_mps2, r.gyr_radps) for r in (simulated.sacrum, simulated.thigh)]


@pytest.mark.parametrize(
    "kind", [SensorKind.WINKWATCH, SensorKind.WITMOTION, SensorKind.MOVELLA_DOT]
)
def test_two_sensors_at_200_hz_lose_no_sample(fake_bluez, kind: SensorKind) -> None:
    sensors = [
        FakeSensor(
            kind,
            f"C0:FF:EE:00:00:0{i}",
            rate_hz=200,
            seed=i,
            motion=motion,
            clock_offset_us=1_000_000 * i,
        )
        for i, motion in zip((1, 2), _simulated_pair())
    ]
    fake_bluez.add(*sensors)
    source = BleSource(
        [
            BleSensor(s.address, kind, 200 if kind is not SensorKind.MOVELLA_DOT else None)
            for s in sensors
        ]
    )

    async def scenario(collected: Collected) -> None:
        await wait_until(
            lambda: all(collected.streaming(s.address) for s in sensors), 10, "streaming"
        )
        started_s = time.monotonic()
        await wait_until(lambda: time.monotonic() - started_s > STREAM_S, 5, "a while")

    collected = run_source(fake_bluez, source, scenario)
    for sensor in sensors:
        assert len(sensor.sent_indices) >= 0.9 * STREAM_S * 200
        assert_every_sent_sample_arrived(collected, sensor)
        assert np.all(np.diff(sensor.sent_indices) == 1)  # nothing was lost on the way either
        states = collected.states(sensor.address)
        assert states[:2] == [LinkState.CONNECTING, LinkState.STREAMING]
        assert states[-1] is LinkState.GONE
        assert collected.streaming(sensor.address)[0].missing_samples is None
        link = source.stats()[sensor.address]
        assert link.decode.packets_dropped == 0 and link.drops == 0
    commands = sensors[0].commands
    if kind is SensorKind.WINKWATCH:
        assert commands[0] == bytes.fromhex("01 c800 04") and commands[-1] == b"\x02"
    elif kind is SensorKind.WITMOTION:
        assert commands == [bytes.fromhex("ffaa6988b5"), bytes.fromhex("ffaa030a00")]
    else:
        assert commands == [bytes.fromhex("010115"), bytes.fromhex("010015")]
