"""`winkwatch scan` and scan_sensors through bleak against the fake BlueZ."""

import asyncio

import pytest
from typer.testing import CliRunner

from sensor_gateway.ble import scan_sensors
from sensor_gateway.protocols import winkwatch
from sensor_gateway.samples import SensorKind
from tests.gateway.fake_bluez import FakeSensor


@pytest.fixture
def sensors(fake_bluez) -> list[FakeSensor]:
    made = [
        FakeSensor(SensorKind.WINKWATCH, "5A:C7:00:00:00:01", rssi_dbm=-48, battery_pct=91),
        FakeSensor(SensorKind.WITMOTION, "5A:C7:00:00:00:02", rssi_dbm=-71, battery_pct=40),
        FakeSensor(SensorKind.MOVELLA_DOT, "5A:C7:00:00:00:03", rssi_dbm=-60, battery_pct=12),
    ]
    fake_bluez.add(*made)
    return made


def test_scan_recognises_every_kind_with_rssi_and_battery(sensors) -> None:
    found = asyncio.run(scan_sensors(0.6, read_battery=True))
    assert [(r.address, r.kind, r.rssi_dbm) for r in found] == [
        (s.address, s.kind, s.rssi_dbm) for s in (sensors[0], sensors[2], sensors[1])
    ]  # by signal
    by_address = {r.address: r for r in found}
    assert (
        by_address[sensors[0].address].battery_pct,
        by_address[sensors[0].address].battery_source,
    ) == (91, "advertisement")  # no connection needed
    assert (
        by_address[sensors[1].address].battery_pct,
        by_address[sensors[1].address].battery_source,
    ) == (40, "connection")
    assert by_address[sensors[2].address].battery_pct == 12
    assert sensors[0].connect_attempts == [] and len(sensors[1].connect_attempts) == 1
    assert by_address[sensors[0].address].name == sensors[0].name


def test_scan_without_battery_flag_never_connects(sensors) -> None:
    found = asyncio.run(scan_sensors(0.4))
    assert {r.address: r.battery_pct for r in found} == {
        sensors[0].address: 91,
        sensors[1].address: None,
        sensors[2].address: None,
    }
    assert all(not s.connect_attempts for s in sensors)


def test_a_renamed_dot_advertising_only_manufacturer_data_is_found(fake_bluez) -> None:
    from sensor_gateway.protocols import movella_dot

    dot = FakeSensor(
        SensorKind.MOVELLA_DOT,
        "D4:22:CD:00:01:27",
        name="Left thigh",  # renamed in the Movella app
        advertises_service=False,
        manufacturer_data={movella_dot.COMPANY_ID: bytes.fromhex("d422cd000127")},
    )
    other = FakeSensor(
        SensorKind.WINKWATCH,
        "5A:C7:00:00:00:09",
        name="Right thigh",
        advertises_service=False,
        manufacturer_data={0x004C: b"\x02\x15"},  # another company's data: not a sensor
    )
    fake_bluez.add(dot, other)
    found = asyncio.run(scan_sensors(0.4))
    assert [(r.address, r.name, r.kind) for r in found] == [
        (dot.address, "Left thigh", SensorKind.MOVELLA_DOT)
    ]


def test_discovery_by_service_uuid(sensors) -> None:
    found = asyncio.run(scan_sensors(0.4, service_uuids=[winkwatch.SERVICE_UUID]))
    assert [r.kind for r in found] == [SensorKind.WINKWATCH]


def test_scan_command_prints_a_table(sensors) -> None:
    from api.cli.main import app

    result = CliRunner().invoke(app, ["scan", "--timeout-s", "0.5"], env={"COLUMNS": "120"})
    assert result.exit_code == 0, result.output
    for sensor in sensors:
        assert sensor.address in result.output and sensor.kind.value in result.output
    assert "91 (adv)" in result.output and "? (--battery)" in result.output


def test_scan_command_without_bluez_says_what_to_do(tmp_path, monkeypatch) -> None:
    from api.cli.main import app

    monkeypatch.setenv("DBUS_SYSTEM_BUS_ADDRESS", f"unix:path={tmp_path}/no-such-bus")
    result = CliRunner().invoke(app, ["scan", "--timeout-s", "0.5"])
    assert result.exit_code == 2
    assert "bluetoothd" in result.output or "adapter" in result.output


def test_the_gateway_finds_sensors_through_its_ble_source_while_streaming_none(
    sensors,
) -> None:
    from sensor_gateway.ble import BleSource
    from sensor_gateway.config import GatewaySettings
    from sensor_gateway.gateway import Gateway

    gateway = Gateway(GatewaySettings())
    gateway.add_source(BleSource())  # nothing assigned yet: one scan of its own
    found = asyncio.run(gateway.discover(0.6))
    assert [(f.address, f.kind, f.rssi_dbm) for f in found] == [
        (s.address, s.kind, s.rssi_dbm) for s in (sensors[0], sensors[2], sensors[1])
    ]  # strongest first
    assert [f.battery_pct for f in found] == [91, None, None]  # advertised only: no connection
    assert found[0].name == sensors[0].name
    assert all(not s.connect_attempts for s in sensors)


def test_the_gateway_finds_sensors_through_the_scan_its_streaming_links_share(
    fake_bluez, sensors
) -> None:
    from sensor_gateway.ble import BleSource
    from tests.gateway.ble_scenarios import run_source, wait_until

    source = BleSource([(sensors[0].address, sensors[0].kind)])
    heard = []

    async def scenario(collected) -> None:
        await wait_until(lambda: collected.batches.get(sensors[0].address), 15.0, "streaming")
        heard.extend(await source.discover(0.6))

    run_source(fake_bluez, source, scenario)
    assert {f.address for f in heard} == {s.address for s in sensors}  # the streamed one too
    assert {f.address: f.kind for f in heard} == {s.address: s.kind for s in sensors}
