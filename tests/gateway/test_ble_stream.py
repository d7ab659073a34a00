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
        assert collected.streaming(sensor.address)[0].gap is None
        link = source.stats()[sensor.address]
        assert link.decode.packets_dropped == 0 and link.drops == 0
    commands = sensors[0].commands
    if kind is SensorKind.WINKWATCH:
        assert commands[0] == bytes.fromhex("01 c800 04") and commands[-1] == b"\x02"
    elif kind is SensorKind.WITMOTION:
        assert commands == [bytes.fromhex("ffaa6988b5"), bytes.fromhex("ffaa030a00")]
    else:
        assert commands == [bytes.fromhex("010115"), bytes.fromhex("010015")]


def test_witmotion_configuration_is_spaced_and_its_rate_checked(fake_bluez) -> None:
    """Unlock and rate are written ~100 ms apart (as the vendor's SDK does); a sensor whose
    firmware ignores the rate code (streams 100 Hz when asked for 200 Hz) is reported."""
    from sensor_gateway.ble import BleSource
    from sensor_gateway.samples import LinkState, SensorKind
    from tests.gateway.ble_scenarios import Collected, run_source, wait_until
    from tests.gateway.fake_bluez import FakeSensor

    honest = FakeSensor(SensorKind.WITMOTION, "D0:0D:00:00:00:01", rate_hz=200, seed=1)
    stubborn = FakeSensor(SensorKind.WITMOTION, "D0:0D:00:00:00:02", rate_hz=100, seed=2)
    stubborn.ignores_rate_codes = True
    fake_bluez.add(honest, stubborn)
    source = BleSource([(honest.address, "witmotion"), (stubborn.address, "witmotion")])

    def mismatch(collected: Collected) -> list:
        return [s for s in collected.streaming(stubborn.address) if "asked for" in s.detail]

    async def scenario(collected: Collected) -> None:
        await wait_until(lambda: mismatch(collected), 15, "the rate mismatch to be reported")
        await wait_until(
            lambda: source.links[honest.address].stats.measured_rate_hz is not None, 5, "check"
        )

    collected = run_source(fake_bluez, source, scenario)
    for sensor in (honest, stubborn):
        assert len(sensor.commands) == 2  # unlock, rate (not saved to flash)
        assert sensor.command_times_s[1] - sensor.command_times_s[0] >= 0.09
    detail = mismatch(collected)[0].detail
    assert "asked for 200 Hz" in detail and "receiving" in detail
    assert mismatch(collected)[0].state is LinkState.STREAMING
    assert source.links[stubborn.address].stats.measured_rate_hz < 170  # (receive times: noisy)
    assert abs(source.links[honest.address].stats.measured_rate_hz - 200) < 40
    assert not [s for s in collected.streaming(honest.address) if "asked for" in s.detail]


def test_movella_dot_output_rate_is_set_over_ble(fake_bluez) -> None:
    """Asked for 60 Hz, the gateway writes the Device Control output-rate field before
    starting; the sensor (fake: was at 120 Hz) then streams at 60 Hz."""
    import numpy as np

    from sensor_gateway.ble import BleSensor, BleSource
    from sensor_gateway.protocols import movella_dot
    from sensor_gateway.samples import SensorKind
    from tests.gateway.ble_scenarios import Collected, run_source, wait_until
    from tests.gateway.fake_bluez import FakeSensor

    dot = FakeSensor(SensorKind.MOVELLA_DOT, "D0:0D:00:00:00:03", rate_hz=120, seed=3)
    fake_bluez.add(dot)
    source = BleSource([BleSensor(dot.address, SensorKind.MOVELLA_DOT, 60)])

    async def scenario(collected: Collected) -> None:
        await wait_until(lambda: collected.samples(dot.address) > 150, 15, "3 s of samples")

    collected = run_source(fake_bluez, source, scenario)
    rate_write = dot.commands[0]
    assert len(rate_write) == 32 and rate_write[0] == movella_dot.VISIT_INDEX_OUTPUT_RATE
    assert int.from_bytes(rate_write[24:26], "little") == 60
    assert dot.commands[1] == movella_dot.start_command()  # the rate first, then start
    times = np.concatenate([b.sensor_time_s for b in collected.batches[dot.address]])
    assert np.median(np.diff(times)) == pytest.approx(1 / 60, rel=0.01)


def test_movella_dot_live_rate_is_at_most_60_hz() -> None:
    from sensor_gateway.ble import BleSensor, BleSource, SensorConfigError
    from sensor_gateway.samples import SensorKind

    with pytest.raises(SensorConfigError, match="at most at 60 Hz"):
        BleSource([BleSensor("D0:0D:00:00:00:03", SensorKind.MOVELLA_DOT, 120)])
    with pytest.raises(SensorConfigError, match="not 50 Hz"):
        BleSource([BleSensor("D0:0D:00:00:00:03", SensorKind.MOVELLA_DOT, 50)])
    BleSource([BleSensor("D0:0D:00:00:00:03", SensorKind.MOVELLA_DOT)])  # the sensor's own
