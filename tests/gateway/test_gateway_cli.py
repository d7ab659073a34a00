"""`winkwatch gateway` through typer's CliRunner: simulation, replay, assignments, errors."""

from __future__ import annotations

import re

from typer.testing import CliRunner

from api.cli.main import app
from fusion.simulator import SquatSetSpec, simulate_set
from sensor_gateway.config import AssignmentStore
from sensor_gateway.recording_csv import write_recording_csv

runner = CliRunner(env={"COLUMNS": "200"})  # no line wrapping by rich


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


def test_assign_persists_and_lists(tmp_path):
    config = tmp_path / "gateway.json"
    result = runner.invoke(
        app,
        [
            "gateway",
            "--config",
            str(config),
            "--assign",
            "c4:7f:51:00:00:01,winkwatch,alice,sacrum",
            "--list",
        ],
    )
    assert result.exit_code == 0, result.output
    assert "C4:7F:51:00:00:01" in result.output and "alice" in result.output
    assert AssignmentStore(config).get("C4:7F:51:00:00:01").placement.value == "sacrum"


def test_errors_are_clear_and_exit_2(tmp_path):
    result = runner.invoke(app, ["gateway", "--config", str(tmp_path / "empty.json"), "--quiet"])
    assert result.exit_code == 2 and "no sensors assigned" in result.output
    result = runner.invoke(
        app,
        [
            "gateway",
            "--config",
            str(tmp_path / "g.json"),
            "--assign",
            "x,winkwatch,alice",
            "--list",
        ],
    )
    assert result.exit_code == 2 and "ADDRESS,KIND,ATHLETE,PLACEMENT" in result.output
    result = runner.invoke(app, ["gateway", "--replay", str(tmp_path / "missing"), "--fast"])
    assert result.exit_code == 2 and "file not found" in result.output
