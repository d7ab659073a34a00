"""`winkwatch plot` and api.plotting: reps and winks are marked where the simulator put them,
from raw CSV files (with or without an `analyze` rep CSV) and from the database."""

from __future__ import annotations

import csv

import numpy as np
import pytest
from typer.testing import CliRunner

from api.cli.main import app
from api.plotting import Angles, PlotError, render
from fusion.pipeline import analyze_recordings
from fusion.simulator import SensorSpec, SquatSetSpec, simulate_set
from sensor_gateway.recording_csv import write_recording_csv

runner = CliRunner()
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def simulated(tmp_path_factory):
    root = tmp_path_factory.mktemp("plot")
    sim = simulate_set(
        SquatSetSpec(
            reps=4,
            depth_deg=105.0,
            wink_deg=11.0,
            wink_onset_deg=82.0,
            sacrum=SensorSpec(rate_hz=100.0),
            thigh=SensorSpec(rate_hz=80.0),
        ),
        seed=5,
    )
    write_recording_csv(root / "sacrum.csv", sim.sacrum)
    write_recording_csv(root / "thigh.csv", sim.thigh)
    return root, sim


def _gids(figure, prefix: str) -> dict[int, object]:
    found = {}
    for axes in figure.axes:
        for artist in axes.get_children():
            gid = artist.get_gid()
            if gid and gid.startswith(prefix):
                found[int(gid.split("-")[1])] = artist
    return found


def test_reps_and_wink_onsets_are_marked_at_the_true_times(simulated, tmp_path) -> None:
    _, sim = simulated
    result = analyze_recordings(sim.sacrum, sim.thigh, load_kg=100.0)
    figure = render(Angles.of(result), result.reps, tmp_path / "set.png", title="test")
    assert (tmp_path / "set.png").read_bytes()[:8] == PNG_MAGIC
    spans, onsets, loops = _gids(figure, "rep-"), _gids(figure, "onset-"), _gids(figure, "loop-")
    assert sorted(spans) == [r.rep for r in sim.reps] == sorted(loops)
    for truth in sim.reps:
        span = spans[truth.rep]  # a Rectangle in data x (matplotlib >= 3.9)
        start_s, end_s = span.get_x(), span.get_x() + span.get_width()
        assert start_s < truth.bottom_s < end_s
        assert abs(start_s - truth.start_s) < 0.5 and abs(end_s - truth.end_s) < 0.5
        onset_s = onsets[truth.rep].get_xdata()[0]
        assert abs(onset_s - truth.wink_onset_s) < 0.25, (truth.rep, onset_s, truth.wink_onset_s)
        # The loop is the tilt against the thigh angle through this rep: it reaches the true depth.
        assert max(loops[truth.rep].get_xdata()) == pytest.approx(truth.depth_deg, abs=3.0)


def test_one_rep_shows_descent_and_ascent_and_bad_rep_numbers_are_refused(
    simulated, tmp_path
) -> None:
    _, sim = simulated
    result = analyze_recordings(sim.sacrum, sim.thigh)
    figure = render(Angles.of(result), result.reps, tmp_path / "rep.png", rep=2)
    assert list(_gids(figure, "rep-")) == [2]
    time_axes = figure.axes[0]
    left, right = time_axes.get_xlim()
    truth = sim.reps[1]
    assert (
        left < truth.start_s
        and right > truth.end_s
        and right - left < truth.end_s - truth.start_s + 1.5
    )
    with pytest.raises(PlotError, match="no rep 9"):
        render(Angles.of(result), result.reps, tmp_path / "x.png", rep=9)


def test_cli_from_files_uses_the_given_rep_csv(simulated, tmp_path) -> None:
    root, sim = simulated
    out = runner.invoke(
        app,
        [
            "analyze",
            "--sacrum",
            str(root / "sacrum.csv"),
            "--thigh",
            str(root / "thigh.csv"),
            "--out",
            str(tmp_path / "reps.csv"),
        ],
    )
    assert out.exit_code == 0, out.output
    rows = list(csv.DictReader((tmp_path / "reps.csv").open()))
    assert len(rows) == len(sim.reps)
    with (tmp_path / "two.csv").open("w", newline="") as handle:  # keep reps 1 and 3 only
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows([rows[0], rows[2]])
    png = tmp_path / "two.png"
    result = runner.invoke(
        app,
        [
            "plot",
            "--sacrum",
            str(root / "sacrum.csv"),
            "--thigh",
            str(root / "thigh.csv"),
            "--reps",
            str(tmp_path / "two.csv"),
            "--out",
            str(png),
        ],
    )
    assert result.exit_code == 0, result.output
    assert png.read_bytes()[:8] == PNG_MAGIC
    from matplotlib.image import imread

    height, width = imread(png).shape[:2]
    assert width > 800 and height > 600


def test_cli_from_the_database(simulated, tmp_path, monkeypatch) -> None:
    from api.storage import catalog
    from api.storage import sets as set_store
    from api.storage.db import open_database
    from api.vocab import Placement, SetVariant

    _, sim = simulated
    url = f"sqlite:///{tmp_path / 'ww.db'}"
    database = open_database(url)
    result = analyze_recordings(sim.sacrum, sim.thigh, load_kg=90.0)
    with database.sessions.begin() as db:
        row = set_store.start_set(
            db, catalog.create_athlete(db, "Ana").id, SetVariant.BACK_SQUAT, load_kg=90.0
        )
        for placement, recording in ((Placement.SACRUM, sim.sacrum), (Placement.THIGH, sim.thigh)):
            set_store.add_raw_chunk(
                db,
                row.id,
                placement,
                "SIM",
                0,
                recording.t_s,
                recording.acc_mps2,
                recording.gyr_radps,
            )
        set_store.add_reps(db, row, result.reps)
        set_id = row.id
    database.dispose()
    monkeypatch.setenv("WINKWATCH_DATABASE_URL", url)
    for extra, name in (([], "set.png"), (["--rep", "3"], "rep3.png")):
        png = tmp_path / name
        outcome = runner.invoke(app, ["plot", "--set", str(set_id), "--out", str(png), *extra])
        assert outcome.exit_code == 0, outcome.output
        assert png.read_bytes()[:8] == PNG_MAGIC
    missing = runner.invoke(app, ["plot", "--set", "99", "--out", str(tmp_path / "m.png")])
    assert missing.exit_code == 2 and "99" in missing.output


def test_cli_refuses_bad_options_with_advice(simulated, tmp_path) -> None:
    root, _ = simulated
    cases = [
        (["--out", str(tmp_path / "a.png")], "either --set"),
        (
            ["--set", "1", "--sacrum", str(root / "sacrum.csv"), "--out", str(tmp_path / "a.png")],
            "either --set",
        ),
        (["--sacrum", str(root / "sacrum.csv"), "--out", str(tmp_path / "a.png")], "go together"),
        (
            [
                "--sacrum",
                str(root / "sacrum.csv"),
                "--thigh",
                str(root / "thigh.csv"),
                "--out",
                str(tmp_path / "a.jpg"),
            ],
            ".png",
        ),
        (
            [
                "--sacrum",
                str(root / "sacrum.csv"),
                "--thigh",
                str(root / "nope.csv"),
                "--out",
                str(tmp_path / "a.png"),
            ],
            "nope.csv",
        ),
    ]
    # found by probing: a binary --reps file and an --out that cannot be written were tracebacks
    binary = tmp_path / "reps.csv"
    binary.write_bytes(b"\x8d\xff\x00 not text")
    files = ["--sacrum", str(root / "sacrum.csv"), "--thigh", str(root / "thigh.csv")]
    cases += [
        ([*files, "--reps", str(binary), "--out", str(tmp_path / "a.png")], "not a text"),
        ([*files, "--out", "/proc/a.png"], "cannot write /proc/a.png"),
    ]
    # found by probing: a load that is no load was exit 3 ("cannot analyse"), not a bad option
    cases += [
        ([*files, "--load-kg", load, "--out", str(tmp_path / "a.png")], "--load-kg must be")
        for load in ("nan", "inf", "-1")
    ]
    for args, message in cases:
        outcome = runner.invoke(app, ["plot", *args])
        assert outcome.exception is None or isinstance(outcome.exception, SystemExit), args
        assert outcome.exit_code == 2, (args, outcome.output)
        assert message in outcome.output, (args, outcome.output)
    short = tmp_path / "short.csv"
    short.write_text(
        "t_s,ax_mps2,ay_mps2,az_mps2,gx_radps,gy_radps,gz_radps\n"
        + "".join(f"{i / 100},0,0,9.81,0,0,0\n" for i in range(20))
    )
    outcome = runner.invoke(
        app,
        ["plot", "--sacrum", str(short), "--thigh", str(short), "--out", str(tmp_path / "s.png")],
    )
    assert outcome.exit_code == 3 and "too short" in outcome.output
    assert not np.any([p.exists() for p in (tmp_path / "a.png", tmp_path / "s.png")])


def test_a_set_with_no_reps_is_drawn_without_a_warning_and_says_so(simulated, tmp_path) -> None:
    # The loop chart called legend() with nothing labelled: matplotlib's "No artists with
    # labels found to put in legend" on stderr for every set without reps.
    import warnings

    _, sim = simulated
    result = analyze_recordings(sim.sacrum, sim.thigh, load_kg=100.0)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        figure = render(Angles.of(result), [], tmp_path / "none.png", title="no reps")
    assert (tmp_path / "none.png").read_bytes()[:8] == PNG_MAGIC
    loop_axes = figure.axes[1]
    assert loop_axes.get_legend() is None
    said = [t.get_text() for t in loop_axes.texts]
    assert said == ["No reps in this set: no loop to draw."], said


def test_a_rep_csv_with_grouped_or_foreign_digits_is_refused(simulated, tmp_path) -> None:
    # float() and int() read "0_5" as 5.0 and "1_0" as 10: a rep CSV's cells are read as the
    # recording CSV's are (plain_number), so such a cell is exit 2 saying why
    root, _ = simulated
    header = "rep,start_s,bottom_s,end_s,depth_deg,wink_deg,butt_wink,wink_onset_s\n"
    cases = [
        ("1,0_5,2.0,3.0,90,5,0,\n", "digits cannot be grouped"),
        ("1_0,0.5,2.0,3.0,90,5,0,\n", "digits cannot be grouped"),
        ("1,0.5,2.0,3.0,90,5,0,1_5\n", "digits cannot be grouped"),
        ("1,0.5,2.0,3.0,\u0669\u0660,5,0,\n", "only the digits 0-9"),
        ("1.5,0.5,2.0,3.0,90,5,0,\n", "not a whole number"),
    ]
    for row, words in cases:
        reps = tmp_path / "reps.csv"
        reps.write_text(header + row, encoding="utf-8")
        outcome = runner.invoke(
            app,
            [
                "plot",
                "--sacrum",
                str(root / "sacrum.csv"),
                "--thigh",
                str(root / "thigh.csv"),
                "--reps",
                str(reps),
                "--out",
                str(tmp_path / "r.png"),
            ],
        )
        assert outcome.exit_code == 2 and words in outcome.output, (row, outcome.output)
    assert not (tmp_path / "r.png").exists()
