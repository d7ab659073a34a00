"""`winkwatch gateway` through typer's CliRunner: simulation, replay, assignments, errors."""

from __future__ import annotations

import json
import re

import pytest
from typer.testing import CliRunner

from api.cli.main import app
from api.storage.db import open_database
from api.storage.models import Athlete, Sensor
from fusion.simulator import SquatSetSpec, simulate_set
from sensor_gateway.recording_csv import write_recording_csv

runner = CliRunner(env={"COLUMNS": "200"})  # no line wrapping by rich


@pytest.fixture(autouse=True)
def own_database(tmp_path, monkeypatch):
    """Every run here stores into its own database, with its own gateway id and config."""
    url = f"sqlite:///{tmp_path / 'ww.db'}"
    monkeypatch.setenv("WINKWATCH_DATABASE_URL", url)
    monkeypatch.setenv("WINKWATCH_GATEWAY_ID", "cli-test")
    monkeypatch.setenv("WINKWATCH_GATEWAY_CONFIG_FILE", str(tmp_path / "conf" / "gateway.json"))
    return url


def _sensors(url):
    database = open_database(url)
    with database.sessions() as db:
        names = {a.id: a.name for a in db.query(Athlete)}
        found = {
            s.address: (names.get(s.athlete_id), s.placement, s.gateway_id)
            for s in db.query(Sensor)
        }
    database.dispose()
    return found


def test_simulated_athletes_run_to_the_end_with_readable_logs():
    result = runner.invoke(
        app, ["gateway", "--simulate", "2", "--sets", "1", "--fast", "--quiet", "--seed", "4"]
    )
    assert result.exit_code == 0, result.output
    out = result.output
    for athlete in ("sim1", "sim2"):
        assert f"{athlete}: set started" in out and f"{athlete}: set stopped" in out
    reps = re.findall(r"(sim\d): rep (\d+) depth (\d+) deg", out)
    assert len(reps) >= 4
    assert "us per sample" in out


def test_replay_directory_and_assignment_listing(tmp_path):
    sim = simulate_set(SquatSetSpec(reps=2, wink_deg=12.0), seed=5)
    directory = tmp_path / "lifter"
    directory.mkdir()
    write_recording_csv(directory / "sacrum.csv", sim.sacrum)
    write_recording_csv(directory / "thigh.csv", sim.thigh)
    result = runner.invoke(
        app, ["gateway", "--replay", str(directory), "--fast", "--quiet", "--load-kg", "90"]
    )
    assert result.exit_code == 0, result.output
    assert "lifter: set started (back_squat, 90 kg)" in result.output
    assert len(re.findall(r"lifter: rep \d+ .*BUTT WINK", result.output)) == 2


def test_a_replayed_file_beyond_any_imus_range_is_said_and_the_set_goes_on(tmp_path):
    """`winkwatch gateway --replay` of a file holding 1e308 (the path the live check skipped):
    the samples are dropped with a warning in the log, both reps still come, exit 0."""
    import dataclasses

    sim = simulate_set(SquatSetSpec(reps=2, wink_deg=12.0), seed=5)
    directory = tmp_path / "lifter"
    directory.mkdir()
    acc = sim.thigh.acc_mps2.copy()
    acc[300] = [1e308, 0.0, 9.8]
    write_recording_csv(directory / "sacrum.csv", sim.sacrum)
    write_recording_csv(directory / "thigh.csv", dataclasses.replace(sim.thigh, acc_mps2=acc))
    result = runner.invoke(app, ["gateway", "--replay", str(directory), "--fast", "--quiet"])
    assert result.exit_code == 0, result.output
    said = _said(result)
    assert "lifter: thigh sensor sent samples beyond any IMU's physical range" in said
    assert "dropped and the set goes on" in said and "Traceback" not in said
    assert len(re.findall(r"lifter: rep \d+ .*BUTT WINK", result.output)) == 2


def test_assign_persists_and_lists(tmp_path, own_database):
    result = runner.invoke(
        app, ["gateway", "--assign", "c4:7f:51:00:00:01,winkwatch,alice,sacrum", "--list"]
    )
    assert result.exit_code == 0, result.output
    assert "C4:7F:51:00:00:01" in result.output and "alice" in result.output
    assert "created athlete 'alice'" in result.output  # said, not done behind one's back
    # The database is the one source of truth: the assignment is there, and nowhere else.
    assert _sensors(own_database) == {"C4:7F:51:00:00:01": ("alice", "sacrum", "cli-test")}
    assert not (tmp_path / "conf" / "gateway.json").exists()
    again = runner.invoke(app, ["gateway", "--list"])
    assert "C4:7F:51:00:00:01" in again.output and "created athlete" not in again.output


def test_an_old_gateway_json_is_imported_into_the_database_once(tmp_path, own_database):
    old = tmp_path / "conf" / "gateway.json"
    old.parent.mkdir()
    old.write_text(
        json.dumps(
            {
                "version": 1,
                "sensors": [
                    {
                        "address": "C4:7F:51:00:00:01",
                        "kind": "winkwatch",
                        "athlete_id": "bo",
                        "placement": "sacrum",
                    },
                    {
                        "address": "C4:7F:51:00:00:02",
                        "kind": "winkwatch",
                        "athlete_id": "bo",
                        "placement": "thigh",
                    },
                ],
            }
        )
    )
    result = runner.invoke(app, ["gateway", "--list"])
    assert result.exit_code == 0, result.output
    assert "imported 2 sensor assignment(s)" in result.output
    assert _sensors(own_database) == {
        "C4:7F:51:00:00:01": ("bo", "sacrum", "cli-test"),
        "C4:7F:51:00:00:02": ("bo", "thigh", "cli-test"),
    }
    assert not old.exists() and old.with_name("gateway.json.imported").exists()
    again = runner.invoke(app, ["gateway", "--list"])
    assert "imported" not in again.output and again.output.count("bo (1)") == 2


def _said(result) -> str:
    """The command's output with its line wrapping undone (rich wraps at the terminal's width,
    so a long temp path moves the breaks)."""
    return " ".join(result.output.split())


def test_errors_are_clear_and_exit_2(tmp_path):
    result = runner.invoke(app, ["gateway", "--config", str(tmp_path / "empty.json"), "--quiet"])
    assert result.exit_code == 2 and "no sensors assigned" in _said(result)
    result = runner.invoke(app, ["gateway", "--assign", "x,winkwatch,alice", "--list"])
    assert result.exit_code == 2 and "ADDRESS,KIND,ATHLETE,PLACEMENT" in _said(result)
    result = runner.invoke(app, ["gateway", "--assign", "x,winkwatch,alice,sacrum", "--list"])
    assert result.exit_code == 2 and "not a BLE address" in _said(result)
    result = runner.invoke(app, ["gateway", "--replay", str(tmp_path / "missing"), "--fast"])
    assert result.exit_code == 2 and "file not found" in _said(result)
    result = runner.invoke(app, ["gateway", "--simulate", "1", "--seed", "-1", "--fast"])
    assert result.exit_code == 2 and "--seed" in _said(result), result.output


def test_a_load_that_is_no_load_is_a_bad_option():
    # found by probing: NaN passes `min=0`; the set could not start (a traceback in the log)
    # and the command exited 0
    for load in ("nan", "inf"):
        result = runner.invoke(
            app, ["gateway", "--simulate", "1", "--sets", "1", "--fast", "--load-kg", load]
        )
        assert result.exit_code == 2 and "--load-kg must be" in _said(result), result.output
