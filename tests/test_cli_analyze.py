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


def test_swapped_files_are_refused_with_exit_4(recording, tmp_path) -> None:
    sacrum, thigh, _ = recording
    out = tmp_path / "reps.csv"
    args = ["analyze", "--sacrum", str(thigh), "--thigh", str(sacrum), "--out", str(out)]
    result = runner.invoke(app, args)
    assert result.exit_code == 4, result.output
    assert "swapped" in result.stderr and "No reps written" in result.stderr
    assert not out.exists()
    forced = runner.invoke(app, [*args, "--ignore-sensor-checks"])
    assert forced.exit_code == 0
    rows = list(csv.DictReader(out.open()))
    assert rows and all("sensors_swapped" in row["quality"] for row in rows)


def _baseline_run(recording, baseline_file: Path) -> tuple[int, str, list[dict[str, str]]]:
    sacrum, thigh, _ = recording
    result = runner.invoke(
        app,
        [
            "analyze",
            "--sacrum",
            str(sacrum),
            "--thigh",
            str(thigh),
            "--athlete-baseline",
            str(baseline_file),
        ],
    )
    rows = list(csv.DictReader(io.StringIO(result.stdout))) if result.exit_code == 0 else []
    return result.exit_code, result.stderr, rows


def test_athlete_baseline_from_json_or_a_rep_csv(recording, tmp_path) -> None:
    noisy = tmp_path / "noisy.json"
    noisy.write_text('{"centre_deg": 6.0, "spread_deg": 1.0, "reps": 8}')
    # threshold 6 + 1.5 x sqrt(1 + 2^2) = 9.35 deg, winks ~11 deg
    code, stderr, rows = _baseline_run(recording, noisy)
    assert code == 0 and "9.35 deg (personal" in stderr
    assert all(
        (r["wink_threshold_deg"], r["threshold_source"], r["baseline_reps"])
        == ("9.35", "personal", "8")
        for r in rows
    )
    assert all(r["wink_grade"] in ("clear", "borderline") for r in rows)
    assert all(r["wink_uncertainty_deg"] == "1.24" for r in rows)  # hypot(1.2 x 1, 0.32)
    warmup = tmp_path / "warmup.csv"
    warmup.write_text("rep,wink_deg\n1,0.9\n2,1.1\n3,1.0\n4,0.8\n5,1.2\n")
    code, stderr, rows = _baseline_run(recording, warmup)
    assert code == 0 and "from 5 rep(s)" in stderr
    assert all(r["threshold_source"] == "default" and r["baseline_reps"] == "5" for r in rows)
    # spread 0.15 deg floored at 0.3: u = hypot(1.2 x 0.3, 0.32) = 0.48 deg, though the
    # threshold is the default's
    assert all(r["wink_uncertainty_deg"] == "0.48" for r in rows)


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ('{"centre_deg": 1.0}', "needs numbers"),
        ("{not json", "not valid JSON"),
        ("rep,depth_deg\n1,90\n", "wink_deg column"),
        ("rep,wink_deg\n1,abc\n", "line 2"),
        ("rep,wink_deg\n1,1\n2,0_5\n", "line 3: wink_deg '0_5' is not a number"),
        # float() read these as 5.0 and 1.0, as the rep CSV's reader did before 4e736ac
        (
            '{"centre_deg": "0_5", "spread_deg": 1, "reps": 5}',
            "\"centre_deg\" is '0_5', not a number (digits cannot be grouped",
        ),
        ('{"centre_deg": 2, "spread_deg": "\u0661", "reps": 5}', "only the digits 0-9"),
        ('{"centre_deg": true, "spread_deg": 1, "reps": 5}', '"centre_deg" must be a number'),
        # found by probing: accepted (a threshold of inf deg), or a traceback
        ('{"centre_deg": 1e308, "spread_deg": 1, "reps": 5}', "outside 0-45 deg"),
        ('{"centre_deg": 2, "spread_deg": 1e308, "reps": 5}', "outside 0-45 deg"),
        ('{"centre_deg": 2, "spread_deg": 1, "reps": 5.5}', '"reps" must be an integer'),
        ('{"centre_deg": 2, "spread_deg": 1, "reps": true}', '"reps" must be an integer'),
        ('{"centre_deg": 2, "spread_deg": 1, "reps": 10000000000}', '"reps" 10000000000'),
        ("rep,wink_deg\n1,1e308\n2,-1e308\n", "line 2"),
        ("rep,wink_deg\n1,50\n2,60\n", "outside 0-45 deg"),
        (b"\x8d\xff\x00\x01 not text", "UTF-8"),
    ],
)
def test_a_bad_baseline_file_is_exit_2(recording, tmp_path, text, words) -> None:
    bad = tmp_path / "baseline"
    bad.write_bytes(text if isinstance(text, bytes) else text.encode())
    code, stderr, _ = _baseline_run(recording, bad)
    assert code == 2 and words in stderr and str(bad) in stderr


@pytest.mark.parametrize(
    ("body", "words"),
    [
        ('0,0,0,9.8,0,0,0\n"0.01,0,0,9.8,0,0,0\n', "never closed"),
        ("0,0,0,9.8,0,0,0\n0.01," + "9" * 140_000 + ",0,9.8,0,0,0\n", "longer than"),
    ],
)
def test_hostile_csv_is_a_clean_error_with_exit_2(recording, tmp_path, body, words) -> None:
    sacrum, _, _ = recording
    bad = tmp_path / "thigh.csv"
    bad.write_text("t_s,ax_mps2,ay_mps2,az_mps2,gx_radps,gy_radps,gz_radps\n" + body)
    result = runner.invoke(app, ["analyze", "--sacrum", str(sacrum), "--thigh", str(bad)])
    assert result.exit_code == 2
    assert f"{bad}, line 3" in result.stderr and words in result.stderr
    assert "Traceback" not in result.output


def test_byte_order_mark_header_is_analysed(recording, tmp_path) -> None:
    sacrum, thigh, sim = recording
    with_bom = tmp_path / "thigh.csv"
    with_bom.write_bytes(b"\xef\xbb\xbf" + thigh.read_bytes())
    result = runner.invoke(app, ["analyze", "--sacrum", str(sacrum), "--thigh", str(with_bom)])
    assert result.exit_code == 0, result.output
    assert len(list(csv.reader(io.StringIO(result.stdout)))) == 1 + len(sim.reps)
