"""Read an athlete's personal baseline (fusion.baseline) from a file.

Two formats, told apart by content:
- JSON: {"centre_deg": float, "spread_deg": float, "reps": int} (what `PersonalBaseline.as_dict`
  gives; e.g. saved from the API's athlete baseline);
- a rep CSV with a `wink_deg` column (what `winkwatch analyze` and the reps export write):
  every rep in it is taken as a rep that does not wink (a warm-up set, reps above the known
  onset), and the baseline is computed from their wink amplitudes.
"""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path

from api.errors import WinkWatchError
from fusion.baseline import (
    MAX_BASELINE_DEG,
    MAX_BASELINE_REPS,
    BaselineError,
    PersonalBaseline,
    personal_baseline,
)
from sensor_gateway.recording_csv import plain_number


class BaselineFileError(WinkWatchError, ValueError):
    """The baseline file is missing or malformed; the message names the file and the problem."""


def read_baseline_file(path: Path) -> PersonalBaseline:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise BaselineFileError(f"cannot read the baseline file {path}: {exc.strerror}") from exc
    except UnicodeDecodeError as exc:
        raise BaselineFileError(
            f"{path}: not a text (UTF-8) file; pass a JSON baseline or a rep CSV"
        ) from exc
    baseline = (
        _from_json(path, text) if text.lstrip().startswith("{") else _from_rep_csv(path, text)
    )
    for name, value in (("centre_deg", baseline.centre_deg), ("spread_deg", baseline.spread_deg)):
        if not 0.0 <= value <= MAX_BASELINE_DEG:
            raise BaselineFileError(
                f"{path}: the baseline's {name} {value:.3g} is outside 0-{MAX_BASELINE_DEG:.0f} "
                "deg, not the wink of reps that do not wink; pass a baseline of such reps"
            )
    return baseline


def _from_json(path: Path, text: str) -> PersonalBaseline:
    try:
        data = json.loads(text)
        reps = data["reps"]
        if isinstance(reps, bool) or not isinstance(reps, int):
            raise TypeError(f'"reps" must be an integer, not {reps!r}')
        if reps > MAX_BASELINE_REPS:
            raise ValueError(f'"reps" {reps} is more than {MAX_BASELINE_REPS}')
        return PersonalBaseline(
            _json_number(data, "centre_deg"), _json_number(data, "spread_deg"), reps
        )
    except json.JSONDecodeError as exc:
        raise BaselineFileError(f"{path}: not valid JSON ({exc.msg}, line {exc.lineno})") from exc
    except (KeyError, TypeError, ValueError, BaselineError) as exc:
        raise BaselineFileError(
            f'{path}: a JSON baseline needs numbers "centre_deg", "spread_deg" and an integer '
            f'"reps" ({exc})'
        ) from exc


def _json_number(data: dict[str, object], name: str) -> float:
    """`data[name]` as a number: a JSON number, or text read as the rep CSV's cells are
    (`plain_number`: float() alone reads "0_5" as 5.0); not true/false, null or a list."""
    value = data[name]
    if isinstance(value, str):
        try:
            return plain_number(value)
        except ValueError as exc:
            why = "" if str(exc).startswith("could not convert") else f" ({exc})"
            raise ValueError(f'"{name}" is {value!r}, not a number{why}') from None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f'"{name}" must be a number, not {value!r}')
    return float(value)


def _from_rep_csv(path: Path, text: str) -> PersonalBaseline:
    reader = csv.DictReader(text.splitlines())
    if reader.fieldnames is None or "wink_deg" not in reader.fieldnames:
        raise BaselineFileError(
            f"{path}: neither a JSON baseline nor a rep CSV with a wink_deg column; pass the "
            "CSV that `winkwatch analyze` wrote for a set of reps that do not wink"
        )
    values = []
    for line, row in enumerate(reader, start=2):
        try:
            value = plain_number(row["wink_deg"])
        except (TypeError, ValueError) as exc:
            raise BaselineFileError(
                f"{path}, line {line}: wink_deg {row['wink_deg']!r} is not a number"
            ) from exc
        if not math.isfinite(value):
            raise BaselineFileError(f"{path}, line {line}: wink_deg must be finite")
        if not abs(value) <= 180.0:
            raise BaselineFileError(
                f"{path}, line {line}: wink_deg {value:.3g} is not an angle in degrees"
            )
        values.append(value)
    if not values:
        raise BaselineFileError(f"{path}: the rep CSV has no reps")
    return personal_baseline(values)
