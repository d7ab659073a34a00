"""`winkwatch orient` end to end through typer's CliRunner, checked against known tilt."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from api.cli.main import app
from fusion.orientation import ENGINE_NAMES, up_in_sensor_frame
from fusion.types import STANDARD_GRAVITY_MPS2, ImuRecording
from sensor_gateway.recording_csv import write_recording_csv

runner = CliRunner()
UP_SENSOR = np.array([0.0, np.sin(np.radians(30.0)), np.cos(np.radians(30.0))])  # tilted 30 deg


def _tilted_recording(path: Path) -> ImuRecording:
    """A sensor at rest tilted 30 deg about x, jittery ~100 Hz timestamps."""
    rng = np.random.default_rng(3)
    t_s = 12.0 + np.cumsum(0.01 + rng.uniform(-0.001, 0.001, 600))
    acc = np.tile(STANDARD_GRAVITY_MPS2 * UP_SENSOR, (t_s.size, 1)) + 0.02 * rng.standard_normal(
        (t_s.size, 3)
    )
    recording = ImuRecording(t_s, acc, 0.002 * rng.standard_normal((t_s.size, 3)))
    write_recording_csv(path, recording)
    return recording


def _parse(text: str) -> np.ndarray:
    lines = text.strip().splitlines()
    assert lines[0] == "t_s,qw,qx,qy,qz"
    return np.loadtxt(lines[1:], delimiter=",", ndmin=2)


@pytest.mark.parametrize("engine", [None, "vqf", "madgwick"])
def test_orient_writes_uniform_quaternions_whose_up_matches_the_tilt(
    tmp_path: Path, engine: str | None
) -> None:
    recording = _tilted_recording(tmp_path / "in.csv")
    args = ["orient", str(tmp_path / "in.csv")] + (["--engine", engine] if engine else [])
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.stderr
    rows = _parse(result.stdout)
    t_s, quat = rows[:, 0], rows[:, 1:]
    assert t_s[0] == pytest.approx(recording.t_s[0], abs=1e-6)
    np.testing.assert_allclose(np.diff(t_s), 1.0 / recording.median_rate_hz, atol=2e-6)
    assert t_s[-1] <= recording.t_s[-1] + 1e-6
    up = up_in_sensor_frame(quat[t_s > t_s[0] + 3.0])
    np.testing.assert_allclose(up, np.broadcast_to(UP_SENSOR, up.shape), atol=0.01)


def test_orient_out_writes_the_same_as_stdout(tmp_path: Path) -> None:
    _tilted_recording(tmp_path / "in.csv")
    to_stdout = runner.invoke(app, ["orient", str(tmp_path / "in.csv")])
    to_file = runner.invoke(
        app, ["orient", str(tmp_path / "in.csv"), "--out", str(tmp_path / "q.csv")]
    )
    assert to_file.exit_code == 0 and to_file.stdout == ""
    assert (tmp_path / "q.csv").read_text() == to_stdout.stdout


def test_malformed_input_is_reported_on_stderr_with_exit_code_2(tmp_path: Path) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text(
        "t_s,ax_mps2,ay_mps2,az_mps2,gx_radps,gy_radps,gz_radps\n0,0,0,9.8,0,0,0\n0.01,0,x,9.8,0,0,0\n"
    )
    result = runner.invoke(app, ["orient", str(bad)])
    assert result.exit_code == 2
    assert f"{bad}, line 3: ay_mps2 is 'x'" in result.stderr
    assert result.stdout == ""


def test_unknown_engine_lists_the_valid_ones(tmp_path: Path) -> None:
    _tilted_recording(tmp_path / "in.csv")
    result = runner.invoke(app, ["orient", str(tmp_path / "in.csv"), "--engine", "kalman"])
    assert result.exit_code == 2
    assert all(name in result.stderr for name in ENGINE_NAMES)


def test_help_names_every_engine() -> None:
    result = runner.invoke(app, ["orient", "--help"], env={"COLUMNS": "200", "NO_COLOR": "1"})
    assert result.exit_code == 0
    assert all(name in result.stdout for name in ENGINE_NAMES)


def test_unwritable_output_exits_1_with_a_hint(tmp_path: Path) -> None:
    _tilted_recording(tmp_path / "in.csv")
    result = runner.invoke(
        app, ["orient", str(tmp_path / "in.csv"), "--out", str(tmp_path / "no" / "q.csv")]
    )
    assert result.exit_code == 1
    assert "check the folder exists" in result.stderr


def test_gaps_are_interpolated_with_a_warning(tmp_path: Path) -> None:
    recording = _tilted_recording(tmp_path / "full.csv")
    keep = (recording.t_s < 14.0) | (recording.t_s > 14.3)  # 0.3 s of lost packets
    write_recording_csv(
        tmp_path / "gap.csv",
        ImuRecording(recording.t_s[keep], recording.acc_mps2[keep], recording.gyr_radps[keep]),
    )
    result = runner.invoke(app, ["orient", str(tmp_path / "gap.csv")])
    assert result.exit_code == 0
    assert "fall inside gaps" in result.stderr
    assert _parse(result.stdout).shape[0] > 550


@pytest.mark.parametrize("rate_hz", [285.714, 100.0, 111.1, 59.94])
@pytest.mark.parametrize("decimals", [6, 9])
def test_a_uniform_recording_gives_one_row_per_input_sample(
    tmp_path: Path, rate_hz: float, decimals: int
) -> None:
    """BROAD's 285.714 Hz (timestamps rounded to the microsecond) used to lose its last row."""
    n = 2857
    t_s = np.round(1.25 + np.arange(n) / rate_hz, decimals)
    acc = np.tile(STANDARD_GRAVITY_MPS2 * UP_SENSOR, (n, 1))
    write_recording_csv(tmp_path / "in.csv", ImuRecording(t_s, acc, np.zeros((n, 3))))
    result = runner.invoke(app, ["orient", str(tmp_path / "in.csv"), "--engine", "vqf"])
    assert result.exit_code == 0, result.stderr
    rows = _parse(result.stdout)
    assert rows.shape[0] == n
    np.testing.assert_allclose(rows[:, 0], t_s, atol=1e-6)
