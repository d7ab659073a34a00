"""An output option naming a file the command reads, or the database, is refused (exit 2)
and the file is left as it was: opening it for writing would empty it first, so
`analyze --out sacrum.csv` lost the recording and `export -o winkwatch.db` every stored set
(the database left "file is not a database" for every later command)."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from api.cli.main import app
from api.storage import catalog
from api.storage.db import open_database
from fusion.simulator import SquatSetSpec, simulate_set
from sensor_gateway.recording_csv import write_recording_csv

runner = CliRunner()


@pytest.fixture(scope="module")
def recording(tmp_path_factory) -> tuple[Path, Path]:
    folder = tmp_path_factory.mktemp("set")
    sim = simulate_set(SquatSetSpec(reps=2, depth_deg=100.0, wink_deg=10.0), seed=3)
    write_recording_csv(folder / "sacrum.csv", sim.sacrum)
    write_recording_csv(folder / "thigh.csv", sim.thigh)
    return folder / "sacrum.csv", folder / "thigh.csv"


def _refused(result, option: str, what: str) -> None:
    assert result.exit_code == 2, result.output
    assert f"error: {option} " in result.output and what in result.output, result.output
    assert "Traceback" not in result.output


@pytest.mark.parametrize("which", ["sacrum", "thigh", "sacrum by another spelling"])
def test_analyze_refuses_an_out_that_is_one_of_its_recordings(recording, which) -> None:
    sacrum, thigh = recording
    before = sacrum.read_bytes(), thigh.read_bytes()
    target = {
        "sacrum": str(sacrum),
        "thigh": str(thigh),
        "sacrum by another spelling": f"{sacrum.parent}/../{sacrum.parent.name}/./sacrum.csv",
    }[which]
    result = runner.invoke(
        app, ["analyze", "--sacrum", str(sacrum), "--thigh", str(thigh), "--out", target]
    )
    _refused(result, "--out", "recording: writing it would destroy it")
    assert (sacrum.read_bytes(), thigh.read_bytes()) == before


def test_analyze_refuses_an_out_that_is_a_link_to_a_recording(recording, tmp_path) -> None:
    sacrum, thigh = recording
    before = sacrum.read_bytes()
    link = tmp_path / "reps.csv"
    link.symlink_to(sacrum)
    result = runner.invoke(
        app, ["analyze", "--sacrum", str(sacrum), "--thigh", str(thigh), "--out", str(link)]
    )
    _refused(result, "--out", "the --sacrum recording")
    assert sacrum.read_bytes() == before


def test_analyze_still_writes_a_new_or_other_existing_file(recording, tmp_path) -> None:
    sacrum, thigh = recording
    out = tmp_path / "reps.csv"
    out.write_text("old\n")
    result = runner.invoke(
        app, ["analyze", "--sacrum", str(sacrum), "--thigh", str(thigh), "--out", str(out)]
    )
    assert result.exit_code == 0, result.output
    assert out.read_text().startswith("rep,start_s,")


def test_orient_refuses_an_out_that_is_its_input(recording) -> None:
    sacrum, _ = recording
    before = sacrum.read_bytes()
    result = runner.invoke(app, ["orient", str(sacrum), "--out", str(sacrum)])
    _refused(result, "--out", "the input recording")
    assert sacrum.read_bytes() == before


def test_assess_refuses_a_report_over_one_of_its_recordings(recording, tmp_path) -> None:
    sacrum, thigh = recording
    step = tmp_path / "assessment" / "baseline"
    step.mkdir(parents=True)
    (step / "sacrum.csv").write_bytes(sacrum.read_bytes())
    (step / "thigh.csv").write_bytes(thigh.read_bytes())
    for option in ("--out", "--html"):
        result = runner.invoke(
            app, ["assess", str(tmp_path / "assessment"), option, str(step / "thigh.csv")]
        )
        _refused(result, option, "a recording of the assessment")
        assert (step / "thigh.csv").read_bytes() == thigh.read_bytes()


def test_export_refuses_an_out_that_is_the_database(tmp_path, monkeypatch) -> None:
    path = tmp_path / "winkwatch.db"
    url = f"sqlite:///{path}"
    database = open_database(url)
    with database.sessions.begin() as db:
        athlete_id = catalog.create_athlete(db, "Ana").id
    database.dispose()
    monkeypatch.setenv("WINKWATCH_DATABASE_URL", url)
    link = tmp_path / "reps.csv"
    link.symlink_to(path)
    for out in (path, link):
        result = runner.invoke(app, ["export", "--athlete", str(athlete_id), "-o", str(out)])
        _refused(result, "--out", "the WinkWatch database")
        result = runner.invoke(
            app, ["export", "--set", "1", "--raw-zip", "-o", str(out)]
        )  # checked before the set is looked up: nothing is opened
        _refused(result, "--out", "the WinkWatch database")
    database = open_database(url)
    try:
        with database.sessions() as db:
            assert catalog.get_athlete(db, athlete_id).name == "Ana"
    finally:
        database.dispose()
    result = runner.invoke(
        app, ["export", "--athlete", str(athlete_id), "-o", str(tmp_path / "reps.csv.new")]
    )
    assert result.exit_code == 0, result.output


def test_simulate_refuses_an_out_holding_a_recording_it_did_not_write(recording) -> None:
    """A real set's folder (as `gateway --replay` and `analyze` read it) is not replaced by a
    simulated one; the simulator's own folder (simulation.json beside) is written again."""
    sacrum, thigh = recording
    before = sacrum.read_bytes(), thigh.read_bytes()
    result = runner.invoke(app, ["simulate", "--out", str(sacrum.parent), "--reps", "2"])
    _refused(result, "--out", "not written by the simulator (no simulation.json")
    assert (sacrum.read_bytes(), thigh.read_bytes()) == before
    assert not (sacrum.parent / "simulation.json").exists()


def test_simulate_writes_its_own_folder_again(tmp_path) -> None:
    out = tmp_path / "sim"
    for seed in ("1", "2"):
        result = runner.invoke(app, ["simulate", "--out", str(out), "--reps", "2", "--seed", seed])
        assert result.exit_code == 0, result.output
    assert '"seed": 2' in (out / "simulation.json").read_text()


def test_simulate_assessment_refuses_a_folder_holding_a_recorded_step(recording, tmp_path) -> None:
    lifter = tmp_path / "lifter"
    (lifter / "baseline").mkdir(parents=True)
    (lifter / "baseline" / "thigh.csv").write_bytes(recording[1].read_bytes())
    before = (lifter / "baseline" / "thigh.csv").read_bytes()
    result = runner.invoke(
        app,
        [
            "simulate-assessment",
            "--out",
            str(lifter),
            "--profile",
            "soft_tissue",
            "--steps",
            "baseline,goblet",
        ],
    )
    _refused(result, "--out", "baseline/thigh.csv, not written by the simulator (no truth.json")
    assert (lifter / "baseline" / "thigh.csv").read_bytes() == before
    again = tmp_path / "simulated"
    for _ in range(2):  # its own folder is written again
        result = runner.invoke(
            app,
            [
                "simulate-assessment",
                "--out",
                str(again),
                "--profile",
                "soft_tissue",
                "--steps",
                "baseline",
            ],
        )
        assert result.exit_code == 0, result.output
