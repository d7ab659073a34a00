"""`winkwatch analyze` contract: exact leading columns, findings on stderr, exit codes."""

import csv
import io
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from api.cli.main import app
from fusion.simulator import SquatSetSpec, simulate_set
from fusion.types import ImuRecording
from sensor_gateway.recording_csv import write_recording_csv

EXPECTED_LEADING = [
    "rep",
    "start_s",
    "bottom_s",
    "end_s",
    "depth_deg",
    "hip_flexion_max_deg",
    "pelvic_tilt_peak_deg",
    "pelvic_tilt_bottom_deg",
    "wink_deg",
    "wink_onset_depth_deg",
    "butt_wink",
    "load_kg",
]

runner = CliRunner()


@pytest.fixture(scope="module")
def recording(tmp_path_factory) -> tuple[Path, Path, object]:
    folder = tmp_path_factory.mktemp("set")
    sim = simulate_set(SquatSetSpec(reps=3, depth_deg=105.0, wink_deg=11.0), seed=11)
    write_recording_csv(folder / "sacrum.csv", sim.sacrum)
    write_recording_csv(folder / "thigh.csv", sim.thigh)
    return folder / "sacrum.csv", folder / "thigh.csv", sim


def test_writes_one_row_per_rep_with_the_contract_columns(recording, tmp_path) -> None:
    sacrum, thigh, sim = recording
    out = tmp_path / "reps.csv"
    result = runner.invoke(
        app,
        [
            "analyze",
            "--sacrum",
            str(sacrum),
            "--thigh",
            str(thigh),
            "--load-kg",
            "100",
            "--out",
            str(out),
        ],
    )
    assert result.exit_code == 0, result.output
    rows = list(csv.reader(out.open()))
    assert rows[0][: len(EXPECTED_LEADING)] == EXPECTED_LEADING
    body = [dict(zip(rows[0], r)) for r in rows[1:]]
    assert len(body) == len(sim.reps) == 3
    for row, truth in zip(body, sim.reps):
        assert abs(float(row["depth_deg"]) - truth.depth_deg) < 2.0
        assert abs(float(row["wink_deg"]) - truth.wink_deg) < 2.0
        assert (
            row["butt_wink"] == "1" and row["loaded_wink"] == "1" and float(row["load_kg"]) == 100.0
        )
        assert float(row["wink_onset_depth_deg"]) < float(row["depth_deg"])


def test_no_wink_leaves_onset_empty_and_prints_to_stdout(tmp_path) -> None:
    sim = simulate_set(SquatSetSpec(reps=2, depth_deg=95.0, wink_deg=0.0), seed=4)
    write_recording_csv(tmp_path / "s.csv", sim.sacrum)
    write_recording_csv(tmp_path / "t.csv", sim.thigh)
    result = runner.invoke(
        app, ["analyze", "--sacrum", str(tmp_path / "s.csv"), "--thigh", str(tmp_path / "t.csv")]
    )
    assert result.exit_code == 0
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    assert len(rows) == 2
    assert all(r["butt_wink"] == "0" and r["wink_onset_depth_deg"] == "" for r in rows)


def test_malformed_file_names_file_and_line_and_exits_2(recording, tmp_path) -> None:
    sacrum, _, _ = recording
    bad = tmp_path / "thigh.csv"
    bad.write_text(
        "t_s,ax_mps2,ay_mps2,az_mps2,gx_radps,gy_radps,gz_radps\n0,0,0,9.8,0,0,0\n0.01,0,zero,9.8,0,0,0\n"
    )
    result = runner.invoke(app, ["analyze", "--sacrum", str(sacrum), "--thigh", str(bad)])
    assert result.exit_code == 2
    assert f"{bad}, line 3" in result.stderr and "ay_mps2" in result.stderr


def test_too_short_recording_is_explained_with_exit_3(tmp_path) -> None:
    t_s = np.arange(50) / 100.0
    still = ImuRecording(t_s, np.tile([0, 0, 9.81], (50, 1)), np.zeros((50, 3)))
    for name in ("s.csv", "t.csv"):
        write_recording_csv(tmp_path / name, still)
    result = runner.invoke(
        app, ["analyze", "--sacrum", str(tmp_path / "s.csv"), "--thigh", str(tmp_path / "t.csv")]
    )
    assert result.exit_code == 3
    assert "too short" in result.stderr


def test_unknown_engine_is_a_bad_input(recording) -> None:
    sacrum, thigh, _ = recording
    result = runner.invoke(
        app, ["analyze", "--sacrum", str(sacrum), "--thigh", str(thigh), "--engine", "nope"]
    )
    assert result.exit_code == 2 and "vqf" in result.stderr
