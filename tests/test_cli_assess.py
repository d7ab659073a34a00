"""`winkwatch assess` / `simulate-assessment` contract: exact JSON keys, V values, exit codes."""

import json
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from api.cli.main import app

runner = CliRunner()
STEP_KEYS = {
    "reps",
    "wink_reps",
    "onset_hip_flexion_deg",
    "max_hip_flexion_deg",
    "wink_deg",
    "onset_thigh_deg",
}
V = {"yes", "no", "inconclusive", "not_tested"}


def _simulate(out: Path, profile: str, seed: int, *extra: str) -> dict:
    result = runner.invoke(
        app,
        [
            "simulate-assessment",
            "--out",
            str(out),
            "--profile",
            profile,
            "--seed",
            str(seed),
            *extra,
        ],
    )
    assert result.exit_code == 0, result.output
    return json.loads((out / "truth.json").read_text())


@pytest.fixture(scope="module")
def structural(tmp_path_factory) -> tuple[Path, dict]:
    out = tmp_path_factory.mktemp("assess") / "lifter"
    return out, _simulate(out, "structural", 4)


def test_assess_writes_the_contract_json(structural, tmp_path) -> None:
    folder, truth = structural
    report_path, html_path = tmp_path / "report.json", tmp_path / "report.html"
    result = runner.invoke(
        app,
        [
            "assess",
            str(folder),
            "--femur-cm",
            "45",
            "--shank-cm",
            "46",
            "--out",
            str(report_path),
            "--html",
            str(html_path),
        ],
    )
    assert result.exit_code == 0, result.output
    report = json.loads(report_path.read_text())
    assert set(report) == {"steps", "verdict", "prescription"}
    assert set(report["steps"]) == set(truth["steps"])
    for kind, step in report["steps"].items():
        assert set(step) == STEP_KEYS
        assert isinstance(step["reps"], int) and isinstance(step["wink_reps"], int)
        for key in ("onset_hip_flexion_deg", "max_hip_flexion_deg", "wink_deg", "onset_thigh_deg"):
            assert set(step[key]) == {"median", "ci95"}
        assert step["max_hip_flexion_deg"]["ci95"][0] <= step["max_hip_flexion_deg"]["median"]
        assert step["reps"] == truth["steps"][kind]["reps"]
    assert report["steps"]["rock_back"]["onset_thigh_deg"] == {"median": None, "ci95": None}
    assert report["steps"]["box"]["wink_reps"] == 0
    verdict = report["verdict"]
    assert set(verdict) == {
        "structural",
        "soft_tissue",
        "stability",
        "motor_control",
        "winks",
        "summary",
    }
    assert {verdict[k] for k in ("structural", "soft_tissue", "stability", "motor_control")} <= V
    assert verdict["structural"] == "yes" and verdict["soft_tissue"] == "no"
    assert verdict["winks"] is True
    baseline = report["steps"]["baseline"]["onset_hip_flexion_deg"]["median"]
    assert abs(baseline - truth["steps"]["baseline"]["onset_hip_flexion_deg_median"]) < 3.0
    prescription = report["prescription"]
    assert set(prescription) == {
        "depth_ceiling_thigh_deg",
        "depth_ceiling_hip_flexion_deg",
        "box_height_cm",
    }
    assert (
        prescription["depth_ceiling_thigh_deg"]
        < truth["steps"]["baseline"]["onset_thigh_deg_median"]
    )
    assert 20 < prescription["box_height_cm"] < 70
    page = html_path.read_text()
    assert "Verdict" in page and "data:image/png;base64," in page


def test_assess_prints_json_to_stdout_without_out(structural) -> None:
    folder, _ = structural
    result = runner.invoke(app, ["assess", str(folder)])
    assert result.exit_code == 0
    report = json.loads(result.stdout)
    assert report["prescription"]["box_height_cm"] is None  # no lengths given


def test_no_wink_lifter(tmp_path) -> None:
    _simulate(tmp_path / "none", "none", 2, "--steps", "baseline,goblet")
    result = runner.invoke(app, ["assess", str(tmp_path / "none")])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["verdict"]["winks"] is False
    assert report["prescription"]["depth_ceiling_thigh_deg"] is None
    assert report["steps"]["baseline"]["onset_hip_flexion_deg"] == {"median": None, "ci95": None}


def test_malformed_csv_exits_2_with_file_and_line(structural, tmp_path) -> None:
    folder = tmp_path / "bad"
    shutil.copytree(structural[0], folder)
    path = folder / "goblet" / "thigh.csv"
    lines = path.read_text().splitlines()
    lines[5] = "1.0,2.0,oops,4,5,6,7"
    path.write_text("\n".join(lines) + "\n")
    result = runner.invoke(app, ["assess", str(folder)])
    assert result.exit_code == 2
    assert "goblet/thigh.csv" in result.output and "line 6" in result.output


def test_missing_baseline_and_unknown_folder_exit_2(structural, tmp_path) -> None:
    folder = tmp_path / "nobase"
    shutil.copytree(structural[0] / "goblet", folder / "goblet")
    result = runner.invoke(app, ["assess", str(folder)])
    assert result.exit_code == 2 and "baseline" in result.output
    shutil.copytree(structural[0] / "baseline", folder / "baseline")
    (folder / "squats").mkdir()
    result = runner.invoke(app, ["assess", str(folder)])
    assert result.exit_code == 2 and "squats" in result.output
    result = runner.invoke(app, ["assess", str(tmp_path / "absent")])
    assert result.exit_code == 2


def test_moved_sensor_exits_3_naming_the_step(tmp_path) -> None:
    _simulate(
        tmp_path / "moved",
        "stability",
        8,
        "--steps",
        "baseline,rock_back,goblet",
        "--moved-step",
        "goblet",
    )
    out = tmp_path / "report.json"
    result = runner.invoke(app, ["assess", str(tmp_path / "moved"), "--out", str(out)])
    assert result.exit_code == 3
    assert "goblet" in result.output and "sensor moved" in result.output
    assert "goblet" not in json.loads(out.read_text())["steps"]  # the rest is still reported


def test_rock_back_in_the_baseline_folder_exits_3(structural, tmp_path) -> None:
    # It was taken as the baseline: exit 0 and a depth ceiling of 17-25 deg (a quarter squat).
    folder = tmp_path / "rock"
    shutil.copytree(structural[0] / "rock_back", folder / "baseline")
    out = tmp_path / "report.json"
    result = runner.invoke(app, ["assess", str(folder), "--out", str(out)])
    assert result.exit_code == 3, result.output
    assert "baseline" in result.output and "wrong_movement" in result.output
    assert "all fours" in result.output
    assert not out.exists()


def test_too_few_reps_exits_3(structural, tmp_path) -> None:
    folder = tmp_path / "few"
    shutil.copytree(structural[0] / "baseline", folder / "baseline")
    path = folder / "baseline" / "thigh.csv"
    lines = path.read_text().splitlines()
    path.write_text("\n".join(lines[: len(lines) // 3]) + "\n")
    sacrum = folder / "baseline" / "sacrum.csv"
    sacrum.write_text("\n".join(sacrum.read_text().splitlines()[: len(lines) // 3]) + "\n")
    result = runner.invoke(app, ["assess", str(folder)])
    assert result.exit_code == 3
    assert "baseline" in result.output and "too few reps" in result.output


def test_simulate_assessment_rejects_bad_options(tmp_path) -> None:
    result = runner.invoke(
        app, ["simulate-assessment", "--out", str(tmp_path), "--profile", "lazy"]
    )
    assert result.exit_code == 2
    result = runner.invoke(
        app,
        [
            "simulate-assessment",
            "--out",
            str(tmp_path),
            "--profile",
            "none",
            "--steps",
            "baseline,yoga",
        ],
    )
    assert result.exit_code == 2 and "yoga" in result.output


@pytest.mark.parametrize(
    ("option", "value"),
    [
        ("--seed", "-1"),
        ("--spread-deg", "-1"),
        ("--spread-deg", "nan"),
        ("--effect-deg", "nan"),
        ("--effect-deg", "1e9"),
        ("--effect-deg", "-inf"),
    ],
)
def test_simulate_assessment_names_the_bad_option(tmp_path, option, value) -> None:
    result = runner.invoke(
        app,
        ["simulate-assessment", "--out", str(tmp_path), "--profile", "soft_tissue", option, value],
    )
    assert result.exit_code == 2, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert option in result.output and "Traceback" not in result.output
    assert not (tmp_path / "truth.json").exists()
