"""Sensor assignments persist across restarts, are written atomically, bad files are kept."""

from __future__ import annotations

import json

import pytest

from sensor_gateway.config import AssignmentStore, GatewaySettings, default_config_path
from sensor_gateway.errors import ConfigError
from sensor_gateway.events import Placement
from sensor_gateway.samples import SensorKind


def test_assignments_survive_a_restart(tmp_path):
    path = tmp_path / "conf" / "gateway.json"
    store = AssignmentStore(path)
    assert store.all() == []
    store.assign("aa:bb:cc:dd:ee:01", "winkwatch", "alice", "sacrum")
    store.assign("AA:BB:CC:DD:EE:02", SensorKind.WITMOTION, "alice", Placement.THIGH, rate_hz=100)
    store.assign("AA:BB:CC:DD:EE:03", "movella_dot", "bob", "thigh", label="blue strap")

    reopened = AssignmentStore(path)
    assert reopened.all() == store.all()
    alice = reopened.for_athlete("alice")
    assert alice[Placement.SACRUM].address == "AA:BB:CC:DD:EE:01"
    assert (
        alice[Placement.THIGH].rate_hz == 100
        and alice[Placement.THIGH].kind is SensorKind.WITMOTION
    )
    assert reopened.get("aa:bb:cc:dd:ee:03").label == "blue strap"
    assert reopened.athletes() == ["alice", "bob"]


def test_one_sensor_per_athlete_placement_and_moving_a_sensor(tmp_path):
    store = AssignmentStore(tmp_path / "g.json")
    store.assign("S1", "winkwatch", "alice", "sacrum")
    store.assign("S2", "winkwatch", "alice", "sacrum")  # replaces S1 there
    assert store.get("S1") is None and store.get("S2").athlete_id == "alice"
    store.assign("S2", "winkwatch", "bob", "thigh")  # the same sensor moves
    assert store.for_athlete("alice") == {} and store.get("S2").placement is Placement.THIGH
    assert store.unassign("s2") and not store.unassign("S2")
    assert AssignmentStore(tmp_path / "g.json").all() == []


def test_invalid_assignment_is_refused_and_nothing_is_written(tmp_path):
    path = tmp_path / "g.json"
    store = AssignmentStore(path)
    store.assign("S1", "winkwatch", "alice", "sacrum")
    before = path.read_bytes()
    for bad in [
        ("S2", "nokia", "alice", "thigh"),
        ("S2", "winkwatch", "alice", "knee"),
        ("", "winkwatch", "alice", "thigh"),
        ("S2", "winkwatch", " ", "thigh"),
    ]:
        with pytest.raises(ConfigError, match="invalid sensor assignment"):
            store.assign(*bad)
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["g.json"]  # no temporary files left


def test_corrupt_file_raises_clear_error_and_is_not_overwritten(tmp_path):
    path = tmp_path / "g.json"
    path.write_text('{"version": 1, "sensors": [ {"address": "S1"', encoding="utf-8")
    with pytest.raises(ConfigError, match="move it away"):
        AssignmentStore(path)
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
        AssignmentStore(path)
    path.write_text(json.dumps({"version": 99, "sensors": []}))
    with pytest.raises(ConfigError, match="upgrade WinkWatch"):
        AssignmentStore(path)


def test_unwritable_location_raises_config_error(tmp_path):
    path = tmp_path / "d" / "g.json"
    store = AssignmentStore(path)
    (tmp_path / "d").write_text("a file where the config directory should be")
    with pytest.raises(ConfigError, match="cannot write"):
        store.assign("S1", "winkwatch", "alice", "sacrum")
    assert store.all() == []


def test_settings_from_environment_with_units(monkeypatch, tmp_path):
    monkeypatch.setenv("WINKWATCH_GATEWAY_IDLE_STOP_S", "30")
    monkeypatch.setenv("WINKWATCH_GATEWAY_CONFIG_FILE", str(tmp_path / "x.json"))
    settings = GatewaySettings()
    assert settings.idle_stop_s == 30.0 and settings.config_file == tmp_path / "x.json"
    assert settings.sample_rate_hz == 200 and settings.live_angles_rate_hz == 20.0
    assert default_config_path().name == "gateway.json"
