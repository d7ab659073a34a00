"""The assessment report a physio can hand over: printable HTML, PNG and PDF (matplotlib).

Figures (Agg backend, no display):
1. per step, the pelvic tilt change from each rep's start against hip flexion, all steps
   overlaid (one colour each); the wink shows as the tilt turning back, the onset (tilt peak)
   is a dot. Tilt is shown relative to each rep's start so that the quadruped rock-back
   (pelvis tipped forward ~80 deg) overlays the standing steps;
2. the onset hip flexion per step: median with its bootstrap 95 % CI, and the depth ceiling.
The HTML page embeds both as PNG and adds the verdict in plain words, the prescription, the
per-step table and, when given, the history of earlier assessments.
"""

from __future__ import annotations

import base64
import html
import io
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from api.vocab import STEP_LABELS, VALUE_WORDS, VERDICT_LABELS
from fusion.assessment import STEP_KINDS, AssessmentReport
from fusion.assessment.prescription import SEAT_BELOW_HIP_CM, SHANK_LEAN_RATIO

STEP_COLORS = {
    "baseline": "#1f6fd1",
    "rock_back": "#2ca02c",
    "goblet": "#e8890c",
    "supported": "#8e5cc7",
    "post_stretch": "#17becf",
    "loaded": "#d62728",
    "box": "#7f7f7f",
}


@dataclass(frozen=True)
class HistoryEntry:
    """An earlier assessment of the same athlete: when, and its baseline onset (deg)."""

    label: str
    onset_hip_flexion_deg: float | None
    ci95: tuple[float, float] | None
    depth_ceiling_thigh_deg: float | None
    moved: str = ""  # the onset since then: "later", "earlier", "no clear change", ...


def _figure(report: AssessmentReport, skipped: Sequence[str] = ()) -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (loops, onsets) = plt.subplots(
        1, 2, figsize=(11, 4.2), gridspec_kw={"width_ratios": [3, 2]}
    )
    for kind, analysis in report.analyses.items():
        color = STEP_COLORS.get(kind, "#333333")
        for index, rep in enumerate(analysis.reps):
            start = int(abs(analysis.t_s - rep.start_s).argmin())
            end = int(abs(analysis.t_s - rep.end_s).argmin())
            bottom = int(abs(analysis.t_s - rep.bottom_s).argmin())
            hip = analysis.hip_flexion_deg[start : bottom + 1]
            tilt = analysis.pelvic_tilt_deg[start : bottom + 1] - analysis.pelvic_tilt_deg[start]
            loops.plot(
                hip,
                tilt,
                color=color,
                alpha=0.6,
                lw=1,
                label=STEP_LABELS.get(kind, kind) if index == 0 else None,
                gid=f"loop-{kind}-{rep.rep}",
            )
            if rep.onset_hip_flexion_deg is not None and rep.winks:
                onset_index = start + int(abs(hip - rep.onset_hip_flexion_deg).argmin())
                loops.plot(
                    rep.onset_hip_flexion_deg,
                    analysis.pelvic_tilt_deg[onset_index] - analysis.pelvic_tilt_deg[start],
                    "o",
                    color=color,
                    ms=4,
                )
            del end
    loops.set_xlabel("hip flexion (deg)")
    loops.set_ylabel("pelvic tilt change from rep start (deg, anterior +)")
    loops.set_title("Pelvis against hip flexion, descent of each rep (dot: wink onset)")
    loops.grid(alpha=0.3)
    loops.legend(fontsize=7, loc="best")
    names = []
    for position, (kind, summary) in enumerate(report.steps.items()):
        names.append(STEP_LABELS.get(kind, kind))
        estimate = summary.onset_hip_flexion
        color = STEP_COLORS.get(kind, "#333333")
        if estimate is None:
            onsets.plot(
                summary.max_hip_flexion.median, position, ">", color=color, ms=8, mfc="none"
            )
            continue
        onsets.errorbar(
            estimate.median,
            position,
            xerr=[[estimate.median - estimate.low], [estimate.high - estimate.median]],
            fmt="o",
            color=color,
            capsize=4,
            gid=f"onset-{kind}",
        )
    for kind in skipped:  # said, not left out silently
        names.append(f"{STEP_LABELS.get(kind, kind)} (skipped)")
    ceiling = report.prescription.depth_ceiling_hip_flexion_deg
    if ceiling is not None:
        onsets.axvline(ceiling, color="#d62728", ls="--", lw=1, label="depth ceiling")
        onsets.legend(fontsize=7, loc="lower right")
    onsets.set_yticks(range(len(names)), names, fontsize=8)
    onsets.invert_yaxis()
    onsets.set_xlabel("hip flexion at wink onset (deg): median, 95% CI")
    onsets.set_title("Onset per step (open arrow: no wink, deepest reached)", fontsize=9)
    onsets.grid(alpha=0.3)
    fig.tight_layout()
    return fig


def render_image(
    report: AssessmentReport, fmt: str = "png", *, skipped: Sequence[str] = ()
) -> bytes:
    """The report's figures as PNG or PDF bytes (`fmt` "png" or "pdf"); the steps `skipped`
    on purpose are named in the onset panel."""
    if fmt not in ("png", "pdf"):
        raise ValueError(f"format {fmt!r}: use 'png' or 'pdf'")
    import matplotlib.pyplot as plt

    fig = _figure(report, skipped)
    buffer = io.BytesIO()
    fig.savefig(buffer, format=fmt, dpi=110)
    plt.close(fig)
    return buffer.getvalue()


def step_state(kind: str, report: AssessmentReport, skipped: Sequence[str]) -> str:
    """What became of a battery step: "measured", "skipped", "not scored" or "not recorded"."""
    if kind in report.steps:
        return "measured"
    if kind in skipped:
        return "skipped"
    if any(problem.kind == kind for problem in report.problems):
        return "not scored"
    return "not recorded"


def _prescription_lines(report: AssessmentReport) -> list[str]:
    p = report.prescription
    if not report.verdict.winks:
        return ["No wink at any tested depth: no depth limit is needed."]
    if p.depth_ceiling_thigh_deg is None:
        return ["No depth limit could be set from these steps."]
    reference = STEP_LABELS.get(p.reference_step or "", "").lower()
    lines = [
        f"Under load, stay above {_fmt(p.depth_ceiling_thigh_deg)} deg of thigh angle (90 = "
        f"thighs parallel), i.e. {_fmt(p.depth_ceiling_hip_flexion_deg)} deg of hip flexion: "
        f"the {reference} onset minus a margin of {_fmt(p.margin_thigh_deg)} deg from its "
        "rep-to-rep spread."
    ]
    if p.box_height_cm is None:
        lines.append("Box height: give the femur and shank lengths to get one.")
    else:
        lines.append(
            f"Box squats to a box {_fmt(p.box_height_cm)} cm high (knee at shank x cos(lean), "
            f"shank lean {SHANK_LEAN_RATIO} x thigh angle; hip at femur x cos(thigh angle) above "
            f"the knee; buttocks {SEAT_BELOW_HIP_CM:.0f} cm below the hip joint)."
        )
    return lines


def _handout_lines(
    report: AssessmentReport,
    title: str,
    history: Sequence[HistoryEntry],
    skipped: Sequence[str],
) -> list[tuple[str, str]]:
    """The handout's text as (style, line): "title", "heading" or "body"."""
    verdict = report.verdict
    lines = [("title", title), ("heading", "Verdict"), ("body", verdict.summary)]
    lines += [
        ("body", f"{label}: {VALUE_WORDS[getattr(verdict, name)]}")
        for name, label in VERDICT_LABELS.items()
    ]
    lines.append(("heading", "Prescription"))
    lines += [("body", line) for line in _prescription_lines(report)]
    lines.append(("heading", "Steps (median over the reps, 95% CI in brackets, deg)"))
    for kind in STEP_KINDS:
        label = STEP_LABELS.get(kind, kind)
        summary = report.steps.get(kind)
        if summary is None:
            lines.append(("body", f"{label}: {step_state(kind, report, skipped)}"))
            continue
        thigh = "" if kind == "rock_back" else f"; thigh {_estimate(summary.onset_thigh)}"
        lines.append(
            (
                "body",
                f"{label}: {summary.reps} reps, {summary.wink_reps} winking; onset hip flexion "
                f"{_estimate(summary.onset_hip_flexion)}{thigh}; deepest hip flexion "
                f"{_estimate(summary.max_hip_flexion)}",
            )
        )
    lines += [("body", f"Not scored: {problem}") for problem in report.problems]
    if history:
        lines.append(("heading", "History (baseline onset, hip flexion)"))
        for h in history:
            ci = f" ({h.ci95[0]:.1f}–{h.ci95[1]:.1f})" if h.ci95 else ""
            lines.append(
                (
                    "body",
                    f"{h.label}: {_fmt(h.onset_hip_flexion_deg)}{ci}; depth ceiling "
                    f"{_fmt(h.depth_ceiling_thigh_deg)} deg thigh; onset now vs then: {h.moved}",
                )
            )
    return lines


HANDOUT_STYLES = {
    "title": (14, "bold", 1.0),
    "heading": (11, "bold", 0.6),
    "body": (9, "normal", 0.0),
}
HANDOUT_WRAP_CHARS = 100
A4_PORTRAIT_IN = (8.27, 11.69)


def handout_pages(
    report: AssessmentReport,
    *,
    title: str = "WinkWatch assessment",
    history: Sequence[HistoryEntry] = (),
    skipped: Sequence[str] = (),
) -> list[Any]:
    """The PDF's pages as matplotlib figures: the text (verdict in plain words, prescription,
    every step, history) on A4 pages, then the figures."""
    import textwrap

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    pages = [plt.figure(figsize=A4_PORTRAIT_IN)]
    line_in = 0.19  # a 9-pt line with its leading
    top_in, bottom_in, left = A4_PORTRAIT_IN[1] - 0.8, 0.8, 0.09
    y_in = top_in
    for style, text in _handout_lines(report, title, history, skipped):
        size, weight, space_before = HANDOUT_STYLES[style]
        wrapped = textwrap.wrap(text, HANDOUT_WRAP_CHARS if style == "body" else 80) or [""]
        for index, part in enumerate(wrapped):
            step_in = line_in * size / 9 + (space_before * line_in if index == 0 else 0.0)
            if y_in - step_in < bottom_in:
                pages.append(plt.figure(figsize=A4_PORTRAIT_IN))
                y_in = top_in
            y_in -= step_in
            pages[-1].text(
                left,
                y_in / A4_PORTRAIT_IN[1],
                part,
                fontsize=size,
                fontweight=weight,
                va="bottom",
                parse_math=False,  # names and notes are text: 'Kim $5$' is not mathtext
            )
    return [*pages, _figure(report, skipped)]


def render_pdf(
    report: AssessmentReport,
    *,
    title: str = "WinkWatch assessment",
    history: Sequence[HistoryEntry] = (),
    skipped: Sequence[str] = (),
) -> bytes:
    """The handout a physio can give: `handout_pages` as one PDF."""
    import matplotlib.pyplot as plt
    from matplotlib.backends.backend_pdf import PdfPages

    buffer = io.BytesIO()
    pages = handout_pages(report, title=title, history=history, skipped=skipped)
    with PdfPages(buffer, metadata={"Title": title, "Creator": "WinkWatch"}) as pdf:
        for page in pages:
            pdf.savefig(page)
            plt.close(page)
    return buffer.getvalue()


def _fmt(value: float | None, digits: int = 1) -> str:
    return "–" if value is None else f"{value:.{digits}f}"


def _estimate(estimate: Any) -> str:
    if estimate is None:
        return "–"
    return f"{estimate.median:.1f} ({estimate.low:.1f}–{estimate.high:.1f})"


def render_html(
    report: AssessmentReport,
    *,
    title: str = "WinkWatch assessment",
    history: Sequence[HistoryEntry] = (),
    skipped: Sequence[str] = (),
) -> str:
    """A self-contained printable HTML page (figures embedded as PNG). Every step of the
    battery has a row: measured, skipped on purpose (`skipped`), not scored (why: below), or
    not recorded."""
    esc = html.escape
    verdict = report.verdict
    image = base64.b64encode(render_image(report, "png", skipped=skipped)).decode("ascii")
    rows = "".join(
        f"<tr><td>{esc(STEP_LABELS.get(kind, kind))}</td><td>{s.reps}</td><td>{s.wink_reps}</td>"
        f"<td>{_estimate(s.onset_hip_flexion)}</td>"
        f"<td>{'–' if kind == 'rock_back' else _estimate(s.onset_thigh)}</td>"
        f"<td>{_estimate(s.max_hip_flexion)}</td><td>{_estimate(s.wink)}</td></tr>"
        for kind, s in report.steps.items()
    )
    rows += "".join(
        f'<tr class="{state.replace(" ", "-")}" data-step="{kind}">'
        f'<td>{esc(STEP_LABELS.get(kind, kind))}</td><td colspan="6">{state}</td></tr>'
        for kind in STEP_KINDS
        if kind not in report.steps
        for state in (step_state(kind, report, skipped),)
    )
    verdict_rows = "".join(
        f'<tr><td>{esc(label)}</td><td class="v-{getattr(verdict, name)}">'
        f"{VALUE_WORDS[getattr(verdict, name)]}</td></tr>"
        for name, label in VERDICT_LABELS.items()
    )
    p = report.prescription
    if not verdict.winks:
        prescription = "<p>No wink at any tested depth: no depth limit is needed.</p>"
    else:
        box = (
            f"<li>Box height: <b>{_fmt(p.box_height_cm)} cm</b> (knee at shank × cos(lean), "
            f"shank lean {SHANK_LEAN_RATIO} × thigh angle; hip at femur × cos(thigh angle) above "
            f"the knee; buttocks {SEAT_BELOW_HIP_CM:.0f} cm below the hip joint).</li>"
            if p.box_height_cm is not None
            else "<li>Box height: give the femur and shank lengths to get one.</li>"
        )
        prescription = (
            "<ul>"
            f"<li>Under load, stay above <b>{_fmt(p.depth_ceiling_thigh_deg)} deg</b> of thigh "
            f"angle (90 = thighs parallel), i.e. <b>{_fmt(p.depth_ceiling_hip_flexion_deg)} deg"
            f"</b> of hip flexion: the {esc(STEP_LABELS.get(p.reference_step or '', '').lower())} "
            "onset "
            f"minus a margin of {_fmt(p.margin_thigh_deg)} deg from its rep-to-rep spread.</li>"
            f"{box}</ul>"
        )
    problems = "".join(f"<li>{esc(str(problem))}</li>" for problem in report.problems)
    history_html = ""
    if history:
        items = "".join(
            f"<tr><td>{esc(h.label)}</td><td>{_fmt(h.onset_hip_flexion_deg)}"
            + (f" ({h.ci95[0]:.1f}–{h.ci95[1]:.1f})" if h.ci95 else "")
            + f"</td><td>{_fmt(h.depth_ceiling_thigh_deg)}</td><td>{esc(h.moved)}</td></tr>"
            for h in history
        )
        history_html = (
            "<h2>History</h2><table><tr><th>Assessment</th><th>Baseline onset, hip flexion "
            f"(95% CI)</th><th>Depth ceiling, thigh</th><th>Onset now vs then</th></tr>{items}</table>"
        )
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{esc(title)}</title>
<style>
body{{font-family:system-ui,sans-serif;max-width:60rem;margin:1.5rem auto;padding:0 1rem;color:#222}}
table{{border-collapse:collapse;margin:.5rem 0}}td,th{{border:1px solid #ccc;padding:.25rem .5rem;text-align:left}}
.v-yes{{font-weight:bold;color:#b00}}.v-no{{color:#060}}.v-inconclusive,.v-not_tested{{color:#777}}
img{{max-width:100%}}@media print{{body{{margin:0}}}}
</style></head><body>
<h1>{esc(title)}</h1>
<h2>Verdict</h2>
<p id="summary">{esc(verdict.summary)}</p>
<table id="verdict"><tr><th>Possible cause</th><th>Finding</th></tr>{verdict_rows}</table>
<h2>Prescription</h2>{prescription}
<h2>Steps</h2>
<table id="steps"><tr><th>Step</th><th>Reps</th><th>Winking reps</th><th>Onset, hip flexion</th>
<th>Onset, thigh angle</th><th>Deepest hip flexion</th><th>Wink</th></tr>{rows}</table>
<p>Degrees; median over the reps with the bootstrap 95% confidence interval in brackets.</p>
{"<h2>Steps not scored</h2><ul>" + problems + "</ul>" if problems else ""}
<img alt="Pelvic tilt against hip flexion per step, and onset per step" src="data:image/png;base64,{image}">
{history_html}
</body></html>
"""
