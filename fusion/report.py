"""Rep metrics as CSV text rows (pure formatting; the caller writes them)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from fusion.types import REP_CSV_COLUMNS, REP_CSV_EXTRA_COLUMNS, RepMetrics

REP_CSV_HEADER: tuple[str, ...] = REP_CSV_COLUMNS + REP_CSV_EXTRA_COLUMNS
_TIME_COLUMNS = {"start_s", "bottom_s", "end_s", "wink_onset_s", "descent_s", "ascent_s"}


def format_value(column: str, value: object) -> str:
    """CSV cell text: empty for None, ms resolution for times, 0.01 deg for angles."""
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.3f}" if column in _TIME_COLUMNS else f"{value:.2f}"
    return str(value)


def rep_csv_rows(reps: Iterable[RepMetrics]) -> Iterator[list[str]]:
    """One list of cell texts per rep, in REP_CSV_HEADER order."""
    for rep in reps:
        row = rep.as_row()
        yield [format_value(column, row[column]) for column in REP_CSV_HEADER]
