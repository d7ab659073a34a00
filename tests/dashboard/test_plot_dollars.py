"""Text that comes from people (athlete names in the PDF handout's title, file names in a
plot's title) is drawn as written: matplotlib reads a pair of `$` as mathtext, so an athlete
named 'Bob $\\frac{a}$' made GET /assessments/{id}/report.pdf a 500 (ValueError from the
mathtext parser) and `winkwatch plot --sacrum 'a$\\frac{x}$.csv' ...` a traceback, and
'Kim $5$' lost its dollar signs."""

from __future__ import annotations

import numpy as np
import pytest
from typer.testing import CliRunner

from api.cli.main import app
from fusion.simulator.assessment import clear_lifter, simulate_assessment
from sensor_gateway.recording_csv import write_recording_csv

NAMES = ["Bob $\\frac{a}$", "Kim $5$ and $10$", "$", "a$^$b"]


@pytest.fixture(scope="module")
def report():
    from fusion.assessment import assess

    lifter = clear_lifter(np.random.default_rng(21), "stability", steps=("baseline",))
    step = simulate_assessment(lifter, 21).steps["baseline"]
    return assess({"baseline": (step.simulated.sacrum, step.simulated.thigh)})


def _texts(figures) -> list[str]:
    return [t.get_text() for figure in figures for t in figure.findobj(_is_text)]


def _is_text(artist) -> bool:
    from matplotlib.text import Text

    return isinstance(artist, Text)


@pytest.mark.parametrize("name", NAMES)
def test_the_pdf_handout_takes_any_athlete_name(report, name) -> None:
    import matplotlib.pyplot as plt

    from api.assessment_report import handout_pages, render_pdf

    title = f"WinkWatch assessment #1: {name}"
    pdf = render_pdf(report, title=title)
    assert pdf.startswith(b"%PDF")
    pages = handout_pages(report, title=title)
    try:
        assert title in _texts(pages)
        drawn = [t for figure in pages for t in figure.findobj(_is_text) if "$" in t.get_text()]
        assert drawn and not any(t.get_parse_math() for t in drawn)  # 'Kim $5$' keeps its $
        for figure in pages:
            figure.canvas.draw()  # every text laid out as a PDF page lays it out
    finally:
        for figure in pages:
            plt.close(figure)


def test_plot_takes_recordings_whose_names_have_dollars(tmp_path) -> None:
    lifter = clear_lifter(np.random.default_rng(3), "stability", steps=("baseline",))
    step = simulate_assessment(lifter, 3).steps["baseline"]
    sacrum, thigh = tmp_path / "a$\\frac{x}$.csv", tmp_path / "thigh.csv"
    write_recording_csv(sacrum, step.simulated.sacrum)
    write_recording_csv(thigh, step.simulated.thigh)
    out = tmp_path / "plot.png"
    result = CliRunner().invoke(
        app, ["plot", "--sacrum", str(sacrum), "--thigh", str(thigh), "--out", str(out)]
    )
    assert result.exit_code == 0, result.output
    assert out.read_bytes().startswith(b"\x89PNG")
