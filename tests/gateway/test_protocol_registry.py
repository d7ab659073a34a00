"""Recognising sensors from advertisements; the per-kind GATT layout and rate checks."""

import pytest

from sensor_gateway.protocols import (
    UnsupportedRateError,
    get_protocol,
    movella_dot,
    recognise_kind,
    winkwatch,
    witmotion,
)
from sensor_gateway.samples import SensorKind


@pytest.mark.parametrize(
    ("name", "uuids", "kind"),
    [
        (None, [winkwatch.SERVICE_UUID.upper()], SensorKind.WINKWATCH),
        ("anything", [witmotion.SERVICE_UUID], SensorKind.WITMOTION),
        (None, ["15170000-4947-11e9-8646-d663bd873d93"], SensorKind.MOVELLA_DOT),
        ("Xsens DOT", [], SensorKind.MOVELLA_DOT),
        ("WT901BLE68", [], SensorKind.WITMOTION),
        ("WinkWatch-3F2A", [], SensorKind.WINKWATCH),
        ("Forerunner 255", ["0000180d-0000-1000-8000-00805f9a34fb"], None),
        (None, [], None),
    ],
)
def test_recognise_kind(name, uuids, kind) -> None:
    assert recognise_kind(name, uuids) == kind


def test_a_renamed_dot_is_recognised_by_its_company_identifier() -> None:
    assert movella_dot.COMPANY_ID == 0x0886  # Bluetooth SIG: Movella Technologies B.V.
    assert recognise_kind("Left thigh", [], [movella_dot.COMPANY_ID]) == SensorKind.MOVELLA_DOT
    assert recognise_kind(None, [], [0x004C, movella_dot.COMPANY_ID]) == SensorKind.MOVELLA_DOT
    assert recognise_kind("Left thigh", [], [0x004C]) is None  # another company's data
    # An advertised service UUID still decides first.
    assert (
        recognise_kind(None, [winkwatch.SERVICE_UUID], [movella_dot.COMPANY_ID])
        == SensorKind.WINKWATCH
    )


def test_rates_are_checked_with_a_helpful_message() -> None:
    assert get_protocol("witmotion").check_rate(None) == 200
    assert get_protocol("winkwatch").check_rate(100) == 100
    assert get_protocol("movella_dot").check_rate(None) is None  # keep the sensor's own
    assert get_protocol("movella_dot").check_rate(60) == 60  # set over BLE
    with pytest.raises(UnsupportedRateError, match="at most at 60 Hz"):
        get_protocol("movella_dot").check_rate(120)  # recording only
    with pytest.raises(UnsupportedRateError, match="WitMotion.*50, 100, 200"):
        get_protocol("witmotion").check_rate(75)
    with pytest.raises(ValueError, match="winkwatch, witmotion, movella_dot"):
        get_protocol("simulated")


def test_start_commands_per_kind() -> None:
    assert get_protocol("winkwatch").start_commands(100) == [winkwatch.start_command(100)]
    assert get_protocol("witmotion").start_commands(50) == witmotion.start_commands(50)
    assert get_protocol("movella_dot").start_commands(None) == [movella_dot.start_command()]
