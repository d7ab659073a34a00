"""`winkwatch simulate` writes readable recordings and truth that match the options."""

import csv
import json

import numpy as np
from typer.testing import CliRunner

from api.cli.main import app
from fusion.simulator import TRUTH_REP_COLUMNS, TRUTH_SAMPLE_COLUMNS
from fusion.types import STANDARD_GRAVITY_MPS2
from sensor_gateway.recording_csv import read_recording_csv

runner = CliRunner()


def _rows(path):
    with path.open(newline="", encoding="utf-8") as handle:
        return list(csv.reader(handle))


def test_simulate_writes_recordings_and_truth(tmp_path) -> None:
    out = tmp_path / "set"
    result = runner.invoke(
        app,
        [
            "simulate",
            "--out",
            str(out),
            "--reps",
            "4",
            "--wink-deg",
            "9",
            "--depth-deg",
            "105",
            "--rate-hz",
            "100",
            "--thigh-rate-hz",
            "60",
            "--seed",
            "3",
            "--wink-onset-deg",
            "80",
            "--load-kg",
            "60",
        ],
    )
    assert result.exit_code == 0, result.output
    sacrum, thigh = read_recording_csv(out / "sacrum.csv"), read_recording_csv(out / "thigh.csv")
    assert abs(sacrum.median_rate_hz - 100) < 1 and abs(thigh.median_rate_hz - 60) < 1
    reps = _rows(out / "truth_reps.csv")
    assert tuple(reps[0]) == TRUTH_REP_COLUMNS and len(reps) == 5
    table = np.array([[float(cell) for cell in row] for row in reps[1:]])
    np.testing.assert_array_equal(table[:, 0], [1, 2, 3, 4])
    np.testing.assert_allclose(table[:, TRUTH_REP_COLUMNS.index("wink_deg")], 9.0)
    np.testing.assert_allclose(table[:, TRUTH_REP_COLUMNS.index("wink_onset_depth_deg")], 80.0)
    assert np.all(np.abs(table[:, TRUTH_REP_COLUMNS.index("depth_deg")] - 105) < 15)
    samples = _rows(out / "truth_samples.csv")
    assert tuple(samples[0]) == TRUTH_SAMPLE_COLUMNS
    values = np.array(samples[1:], dtype=float)
    np.testing.assert_allclose(values[:, 3], values[:, 1] + values[:, 2], atol=1e-6)
    assert abs(values[:, 1].max() - table[:, TRUTH_REP_COLUMNS.index("depth_deg")].max()) < 0.01
    assert values[-1, 0] >= sacrum.t_s[-1] - 0.05
    meta = json.loads((out / "simulation.json").read_text())
    assert meta["seed"] == 3 and meta["load_kg"] == 60 and meta["spec"]["thigh"]["rate_hz"] == 60


def test_same_seed_same_files_and_options_take_effect(tmp_path) -> None:
    for name in ("a", "b"):
        assert (
            runner.invoke(
                app,
                [
                    "simulate",
                    "--out",
                    str(tmp_path / name),
                    "--seed",
                    "5",
                    "--reps",
                    "2",
                    "--aligned-mount",
                    "--ideal-sensors",
                    "--standing-s",
                    "1",
                ],
            ).exit_code
            == 0
        )
    for file in ("sacrum.csv", "thigh.csv", "truth_reps.csv", "truth_samples.csv"):
        assert (tmp_path / "a" / file).read_bytes() == (tmp_path / "b" / file).read_bytes()
    sacrum = read_recording_csv(tmp_path / "a" / "sacrum.csv")
    np.testing.assert_allclose(
        sacrum.acc_mps2[0], [0, 0, STANDARD_GRAVITY_MPS2], atol=1e-4
    )  # aligned, exact
    first_start = float(_rows(tmp_path / "a" / "truth_reps.csv")[1][1])
    assert first_start == 1.0


def test_random_set_and_no_wink(tmp_path) -> None:
    result = runner.invoke(
        app,
        [
            "simulate",
            "--out",
            str(tmp_path),
            "--random",
            "--seed",
            "11",
            "--wink-deg",
            "0",
            "--soft-tissue-deg",
            "1.5",
        ],
    )
    assert result.exit_code == 0, result.output
    meta = json.loads((tmp_path / "simulation.json").read_text())
    assert meta["spec"]["thigh"]["soft_tissue_deg"] == 1.5 and meta["spec"]["wink_deg"] == 0
    reps = _rows(tmp_path / "truth_reps.csv")[1:]
    assert reps and all(row[7] == "0.0" and row[8] == "" for row in reps)


def test_invalid_options_exit_2_with_a_message(tmp_path) -> None:
    result = runner.invoke(app, ["simulate", "--out", str(tmp_path), "--depth-deg", "400"])
    assert result.exit_code == 2
    assert "depth_deg" in result.output and "140" in result.output
    result = runner.invoke(app, ["simulate", "--out", str(tmp_path), "--loss", "0.9"])
    assert result.exit_code == 2 and "loss_probability" in result.output
    assert not (tmp_path / "sacrum.csv").exists()


def test_a_negative_seed_is_a_bad_option_not_a_traceback(tmp_path) -> None:
    for extra in ([], ["--random"]):
        result = runner.invoke(app, ["simulate", "--out", str(tmp_path), "--seed", "-1", *extra])
        assert result.exit_code == 2, result.output
        assert result.exception is None or isinstance(result.exception, SystemExit)
        assert "--seed" in result.output and "Traceback" not in result.output
    assert not (tmp_path / "sacrum.csv").exists()


def test_unwritable_destination_exits_1(tmp_path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    result = runner.invoke(app, ["simulate", "--out", str(blocker / "set")])
    assert result.exit_code == 1 and "cannot write" in result.output


def test_help_shows_the_simulators_own_defaults() -> None:
    from api.cli.simulate_command import SHOWN_DEFAULTS
    from fusion.simulator import SensorSpec, SquatSetSpec

    spec, sensor = SquatSetSpec(), SensorSpec()
    for option, value in {
        "reps": spec.reps,
        "wink_deg": spec.wink_deg,
        "depth_deg": spec.depth_deg,
        "wink_onset_fraction": spec.wink_onset_fraction,
        "standing_s": spec.standing_s,
        "rate_hz": sensor.rate_hz,
        "loss": sensor.loss_probability,
        "soft_tissue_deg": sensor.soft_tissue_deg,
    }.items():
        assert float(SHOWN_DEFAULTS[option]) == value, option
    assert spec.wink_onset_deg is None  # "from --wink-onset-fraction"
    shown = " ".join(runner.invoke(app, ["simulate", "--help"]).output.split())
    assert "--reps <int>" in shown and "[default: 5; --random draws it]" in shown
    assert "<bool>" not in shown


def test_version_flag() -> None:
    from importlib.metadata import version

    result = runner.invoke(app, ["--version"])
    assert result.exit_code == 0 and result.output.strip() == f"winkwatch {version('winkwatch')}"


def test_the_slowest_simulated_rate_is_analysed(tmp_path) -> None:
    # Found by probing: `simulate --rate-hz 10` wrote sensors whose drifting clocks read
    # 9.999 Hz, which analyze refused: "the sacrum samples are 0.1 s apart (median), i.e.
    # 10 Hz, slower than any IMU streams (>= 10 Hz): t_s must be in seconds, not milliseconds"
    out = tmp_path / "slow"
    simulated = runner.invoke(app, ["simulate", "--out", str(out), "--rate-hz", "10"])
    assert simulated.exit_code == 0, simulated.output
    assert read_recording_csv(out / "sacrum.csv").median_rate_hz < 10.0
    result = runner.invoke(
        app, ["analyze", "--sacrum", str(out / "sacrum.csv"), "--thigh", str(out / "thigh.csv")]
    )
    assert result.exit_code == 0, result.stderr
    assert "milliseconds" not in result.stderr
    assert len(result.stdout.strip().splitlines()) == 1 + 5  # header and the 5 reps


def test_the_fastest_simulated_rates_can_be_asked_for(tmp_path) -> None:
    # Found by probing: --rate-hz 1000 and 2000 (README: 10-2000 Hz) were exit 2 "invalid
    # option: timestamp_jitter_s = 0.0003 is outside [0.0, 0.0002]", an option not given
    for rate in ("1000", "2000"):
        out = tmp_path / rate
        result = runner.invoke(
            app, ["simulate", "--out", str(out), "--rate-hz", rate, "--thigh-rate-hz", "52"]
        )
        assert result.exit_code == 0, result.output
        sacrum = read_recording_csv(out / "sacrum.csv")
        assert abs(sacrum.median_rate_hz - float(rate)) < 0.01 * float(rate)
        assert abs(read_recording_csv(out / "thigh.csv").median_rate_hz - 52.0) < 0.5
