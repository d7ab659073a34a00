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
from fusion.baseline import BaselineError, PersonalBaseline, personal_baseline


class BaselineFileError(WinkWatchError, ValueError):
    """The baseline file is missing or malformed; the message names the file and the problem."""


def read_baseline_file(path: Path) -> PersonalBaseline:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise BaselineFileError(f"cannot read the baseline file {path}: {exc.strerror}") from exc
    if text.lstrip().startswith("{"):
        return _from_json(path, text)
    return _from_rep_csv(path, text)


def _from_json(path: Path, text: str) -> PersonalBaseline:
    try:
        data = json.loads(text)
        return PersonalBaseline(
            float(data["centre_deg"]), float(data["spread_deg"]), int(data["reps"])
        )
    except json.JSONDecodeError as exc:
        raise BaselineFileError(f"{path}: not valid JSON ({exc.msg}, line {exc.lineno})") from exc
    except (KeyError, TypeError, ValueError, BaselineError) as exc:
        raise BaselineFileError(
            f'{path}: a JSON baseline needs numbers "centre_deg", "spread_deg" and an integer '
            f'"reps" ({exc})'
        ) from exc


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
            value = float(row["wink_deg"])
        except (TypeError, ValueError) as exc:
            raise BaselineFileError(
                f"{path}, line {line}: wink_deg {row['wink_deg']!r} is not a number"
            ) from exc
        if not math.isfinite(value):
            raise BaselineFileError(f"{path}, line {line}: wink_deg must be finite")
        values.append(value)
    if not values:
        raise BaselineFileError(f"{path}: the rep CSV has no reps")
    return personal_baseline(values)
