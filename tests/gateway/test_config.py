"""Sensor assignments (in memory, told by their owner), the old gateway.json read for its
one-time import, settings from the environment."""

from __future__ import annotations

import json

import pytest

from sensor_gateway.config import (
    Assignments,
    GatewaySettings,
    default_config_path,
    make_assignment,
    read_assignment_file,
)
from sensor_gateway.errors import ConfigError
from sensor_gateway.events import Placement
from sensor_gateway.samples import SensorKind


def test_assignments_are_kept_and_queried():
    store = Assignments()
    assert store.all() == []
    store.assign("aa:bb:cc:dd:ee:01", "winkwatch", "alice", "sacrum")
    store.assign("AA:BB:CC:DD:EE:02", SensorKind.WITMOTION, "alice", Placement.THIGH, rate_hz=100)
    store.assign("AA:BB:CC:DD:EE:03", "movella_dot", "bob", "thigh", label="blue strap")

    copy = Assignments(store.all())
    assert copy.all() == store.all()
    alice = copy.for_athlete("alice")
    assert alice[Placement.SACRUM].address == "AA:BB:CC:DD:EE:01"
    assert (
        alice[Placement.THIGH].rate_hz == 100
        and alice[Placement.THIGH].kind is SensorKind.WITMOTION
    )
    assert copy.get("aa:bb:cc:dd:ee:03").label == "blue strap"
    assert copy.athletes() == ["alice", "bob"]


def test_one_sensor_per_athlete_placement_and_moving_a_sensor():
    store = Assignments()
    changes = []
    unsubscribe = store.on_change(lambda: changes.append(len(store.all())))
    store.assign("S1", "winkwatch", "alice", "sacrum")
    store.assign("S2", "winkwatch", "alice", "sacrum")  # replaces S1 there
    assert store.get("S1") is None and store.get("S2").athlete_id == "alice"
    store.assign("S2", "winkwatch", "bob", "thigh")  # the same sensor moves
    assert store.for_athlete("alice") == {} and store.get("S2").placement is Placement.THIGH
    assert store.unassign("s2") and not store.unassign("S2")
    assert changes == [1, 1, 1, 0]  # every change told, a no-op not
    unsubscribe()
    store.replace([make_assignment("S3", "winkwatch", "cara", "thigh")])
    assert changes == [1, 1, 1, 0] and store.athletes() == ["cara"]


def test_invalid_assignment_is_refused_and_nothing_changes():
    store = Assignments()
    store.assign("S1", "winkwatch", "alice", "sacrum")
    before = store.all()
    for bad in [
        ("S2", "nokia", "alice", "thigh"),
        ("S2", "winkwatch", "alice", "knee"),
        ("", "winkwatch", "alice", "thigh"),
        ("S2", "winkwatch", " ", "thigh"),
    ]:
        with pytest.raises(ConfigError, match="invalid sensor assignment"):
            store.assign(*bad)
    assert store.all() == before


def test_old_gateway_json_is_read_for_its_import(tmp_path):
    path = tmp_path / "g.json"
    assert read_assignment_file(path) == []  # none: nothing to import
    path.write_text(
        json.dumps(
            {
                "version": 1,
                "sensors": [
                    {
                        "address": "c4:7f:51:00:00:01",
                        "kind": "winkwatch",
                        "athlete_id": "alice",
                        "placement": "sacrum",
                        "rate_hz": 100,
                        "label": "red",
                    },
                ],
            }
        )
    )
    (only,) = read_assignment_file(path)
    assert (only.address, only.athlete_id, only.placement, only.rate_hz, only.label) == (
        "C4:7F:51:00:00:01",
        "alice",
        Placement.SACRUM,
        100,
        "red",
    )


def test_corrupt_file_raises_clear_error_and_is_left_alone(tmp_path):
    path = tmp_path / "g.json"
    path.write_text('{"version": 1, "sensors": [ {"address": "S1"', encoding="utf-8")
    with pytest.raises(ConfigError, match="move it away"):
        read_assignment_file(path)
    path.write_text(
        json.dumps(
            {
                "version": 1,
                "sensors": [
                    {"address": "S1", "kind": "x", "athlete_id": "a", "placement": "sacrum"}
                ],
            }
        )
    )
    with pytest.raises(ConfigError, match="sensors.0.kind"):
        read_assignment_file(path)
    path.write_text(json.dumps({"version": 99, "sensors": []}))
    with pytest.raises(ConfigError, match="upgrade WinkWatch"):
        read_assignment_file(path)
    assert path.read_text() == json.dumps({"version": 99, "sensors": []})


def test_settings_from_environment_with_units(monkeypatch, tmp_path):
    monkeypatch.setenv("WINKWATCH_GATEWAY_IDLE_STOP_S", "30")
    monkeypatch.setenv("WINKWATCH_GATEWAY_CONFIG_FILE", str(tmp_path / "x.json"))
    settings = GatewaySettings()
    assert settings.idle_stop_s == 30.0 and settings.config_file == tmp_path / "x.json"
    assert settings.sample_rate_hz == 200 and settings.live_angles_rate_hz == 20.0
    assert default_config_path().name == "gateway.json"
