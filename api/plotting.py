"""PNG plots of a set or a rep with matplotlib (imported lazily, Agg backend: no display).

Top: thigh angle, pelvic tilt and hip flexion over time, each rep shaded (red when it was
flagged as a butt wink) with its wink onset marked. Bottom: pelvic tilt against thigh
angle through each rep; the wink shows as the tilt turning back near the bottom.
Angles in degrees, times in seconds on the clock of the angle series.
Artists carry ids (`gid`): "rep-N" for a rep's span, "onset-N" for its onset line,
"loop-N" for its loop, so that tests can find them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from api.errors import WinkWatchError
from sensor_gateway.recording_csv import plain_number

THIGH_COLOR, TILT_COLOR, HIP_COLOR, WINK_COLOR = "#1f6fd1", "#e8890c", "#8e5cc7", "#d62728"


class PlotError(WinkWatchError, ValueError):
    """The plot cannot be made from these inputs (the message says what to change)."""


@dataclass(frozen=True)
class PlotRep:
    """What a plot shows of a rep (times on the series' clock, angles in deg)."""

    rep: int
    start_s: float
    bottom_s: float
    end_s: float
    depth_deg: float
    wink_deg: float
    butt_wink: bool
    wink_onset_s: float | None
    wink_onset_depth_deg: float | None

    @classmethod
    def from_any(cls, rep: Any) -> PlotRep:
        """From a RepMetrics, a stored Rep row or RepPublic (attributes) or a CSV row (mapping)."""
        get: Callable[[str], Any] = (
            rep.get if isinstance(rep, Mapping) else lambda name: getattr(rep, name, None)
        )
        try:
            return cls(
                rep=_integer(get("rep")),
                start_s=_number(get("start_s")),
                bottom_s=_number(get("bottom_s")),
                end_s=_number(get("end_s")),
                depth_deg=_number(get("depth_deg")),
                wink_deg=_number(get("wink_deg")),
                butt_wink=_truthy(get("butt_wink")),
                wink_onset_s=_optional_float(get("wink_onset_s")),
                wink_onset_depth_deg=_optional_float(get("wink_onset_depth_deg")),
            )
        except (TypeError, ValueError) as exc:
            raise PlotError(
                f"rep row {dict(rep) if isinstance(rep, Mapping) else rep!r} is incomplete: "
                f"use the CSV written by `winkwatch analyze` ({exc})"
            ) from exc


def _number(value: object) -> float:
    """A CSV cell as the recording reader takes it (`plain_number`: float() alone reads "0_5"
    as 5.0), anything else (a stored rep's attribute) by float()."""
    if isinstance(value, str):
        return plain_number(value)
    return float(value)  # type: ignore[arg-type]  # float() raises on anything else


def _integer(value: object) -> int:
    """A rep number: a CSV cell through `plain_number` (int() alone reads "1_0" as 10)."""
    if not isinstance(value, str):
        return int(value)  # type: ignore[call-overload]  # int() raises on anything else
    number = plain_number(value)
    if not number.is_integer():
        raise ValueError(f"rep {value!r} is not a whole number")
    return int(number)


def _truthy(value: object) -> bool:
    return (
        str(value).strip().lower() in ("1", "true", "yes")
        if isinstance(value, str)
        else bool(value)
    )


def _optional_float(value: object) -> float | None:
    if value is None or (isinstance(value, str) and value.strip() == ""):
        return None
    number = _number(value)
    return number if np.isfinite(number) else None


@dataclass(frozen=True)
class Angles:
    """Angle series (deg) on a time grid `t_s` (s)."""

    t_s: np.ndarray
    thigh_deg: np.ndarray
    pelvic_tilt_deg: np.ndarray
    hip_flexion_deg: np.ndarray

    @classmethod
    def of(cls, result: Any) -> Angles:
        """From a fusion AnalysisResult (or anything with the same four arrays)."""
        return cls(
            np.asarray(result.t_s),
            np.asarray(result.thigh_deg),
            np.asarray(result.pelvic_tilt_deg),
            np.asarray(result.hip_flexion_deg),
        )

    def between(self, start_s: float, end_s: float) -> Angles:
        keep = (self.t_s >= start_s) & (self.t_s <= end_s)
        return Angles(
            self.t_s[keep],
            self.thigh_deg[keep],
            self.pelvic_tilt_deg[keep],
            self.hip_flexion_deg[keep],
        )


def render(
    angles: Angles,
    reps: Iterable[Any],
    out: Path,
    *,
    title: str = "",
    rep: int | None = None,
    dpi: int = 110,
):
    """Write the PNG to `out`; returns the matplotlib Figure (closed from pyplot's registry)."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    from matplotlib.figure import Figure

    plot_reps = sorted((PlotRep.from_any(r) for r in reps), key=lambda r: r.rep)
    if rep is not None:
        chosen = [r for r in plot_reps if r.rep == rep]
        if not chosen:
            numbers = ", ".join(str(r.rep) for r in plot_reps) or "none"
            raise PlotError(f"there is no rep {rep} in this set (reps: {numbers})")
        plot_reps = chosen
    if angles.t_s.size < 2:
        raise PlotError("no angles to plot: the recording is empty")
    figure = Figure(figsize=(10, 8), layout="constrained")
    time_axes, loop_axes = figure.subplots(2, 1, height_ratios=(1, 1.1))
    shown = angles
    if rep is not None:
        only = plot_reps[0]
        shown = angles.between(only.start_s - 0.5, only.end_s + 0.5)
    _time_series(time_axes, shown, plot_reps)
    _loops(loop_axes, angles, plot_reps, single=rep is not None)
    flagged = sum(r.butt_wink for r in plot_reps)
    figure.suptitle(
        f"{title}{' - ' if title else ''}{len(plot_reps)} rep(s), {flagged} with a butt wink",
        parse_math=False,  # file names are text: 'a$b$.csv' is not mathtext
    )
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(out, dpi=dpi)
    return figure


def _time_series(axes, angles: Angles, reps: Sequence[PlotRep]) -> None:
    axes.plot(angles.t_s, angles.thigh_deg, color=THIGH_COLOR, lw=1.5, label="thigh angle")
    axes.plot(
        angles.t_s,
        angles.pelvic_tilt_deg,
        color=TILT_COLOR,
        lw=1.5,
        label="pelvic tilt (anterior +)",
    )
    axes.plot(angles.t_s, angles.hip_flexion_deg, color=HIP_COLOR, lw=1.2, label="hip flexion")
    for rep in reps:
        axes.axvspan(
            rep.start_s,
            rep.end_s,
            color=WINK_COLOR if rep.butt_wink else "0.5",
            alpha=0.12,
            lw=0,
            gid=f"rep-{rep.rep}",
        )
        label = f"{rep.rep}" + (f"\nwink {rep.wink_deg:.0f}°" if rep.butt_wink else "")
        axes.text(
            (rep.start_s + rep.end_s) / 2,
            1.0,
            label,
            transform=axes.get_xaxis_transform(),
            ha="center",
            va="top",
            fontsize=8,
            color=WINK_COLOR if rep.butt_wink else "0.3",
        )
        if rep.butt_wink and rep.wink_onset_s is not None:
            axes.axvline(rep.wink_onset_s, color=WINK_COLOR, ls="--", lw=1, gid=f"onset-{rep.rep}")
    axes.set_xlim(angles.t_s[0], angles.t_s[-1])
    axes.set_xlabel("time (s)")
    axes.set_ylabel("angle (deg)")
    axes.grid(alpha=0.3)
    axes.legend(loc="upper center", bbox_to_anchor=(0.5, -0.14), fontsize=8, ncols=3, frameon=False)


def _loops(axes, angles: Angles, reps: Sequence[PlotRep], *, single: bool) -> None:
    import matplotlib

    colours = matplotlib.colormaps["viridis"](np.linspace(0.0, 0.9, max(len(reps), 1)))
    onset_labelled = False
    drawn = 0
    for rep, colour in zip(reps, colours):
        part = angles.between(rep.start_s, rep.end_s)
        if part.t_s.size < 2:
            continue
        drawn += 1
        label = f"rep {rep.rep}: depth {rep.depth_deg:.0f}°, wink {rep.wink_deg:.1f}°"
        if single:
            down = part.t_s <= rep.bottom_s
            axes.plot(
                part.thigh_deg[down],
                part.pelvic_tilt_deg[down],
                color=THIGH_COLOR,
                lw=2,
                label="descent",
                gid=f"loop-{rep.rep}",
            )
            axes.plot(
                part.thigh_deg[~down],
                part.pelvic_tilt_deg[~down],
                color=TILT_COLOR,
                lw=2,
                ls="--",
                label="ascent",
            )
        else:
            axes.plot(
                part.thigh_deg,
                part.pelvic_tilt_deg,
                color=colour,
                lw=1.4,
                label=label,
                gid=f"loop-{rep.rep}",
            )
        if rep.butt_wink and rep.wink_onset_s is not None:
            axes.plot(
                np.interp(rep.wink_onset_s, part.t_s, part.thigh_deg),
                np.interp(rep.wink_onset_s, part.t_s, part.pelvic_tilt_deg),
                "o",
                color=WINK_COLOR,
                ms=6,
                label=None if onset_labelled else "wink onset",
            )
            onset_labelled = True
    axes.set_xlabel("thigh angle (deg; 90 = parallel)")
    axes.set_ylabel("pelvic tilt (deg; anterior +)")
    axes.set_title(
        "pelvic tilt against thigh angle: a wink turns the tilt back near the bottom", fontsize=9
    )
    axes.grid(alpha=0.3)
    if drawn:
        axes.legend(fontsize=7, loc="upper left")
        return
    # An empty chart says why (no legend: matplotlib warns of one with nothing in it).
    why = "No reps in this set: no loop to draw." if not reps else "No rep has angles to draw."
    axes.text(0.5, 0.5, why, transform=axes.transAxes, ha="center", va="center", color="0.3")
