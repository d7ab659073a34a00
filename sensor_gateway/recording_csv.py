"""Raw-recording CSV files: one file per sensor.

Header, exactly: ``t_s,ax_mps2,ay_mps2,az_mps2,gx_radps,gy_radps,gz_radps``. Time in seconds
on a clock shared by both sensors' files, specific force in m/s^2, angular rate in rad/s,
both in the sensor frame. Malformed files raise `RecordingFormatError` naming file, line
and problem.
"""

from __future__ import annotations

import csv
import math
from pathlib import Path
from typing import IO

import numpy as np

from fusion.types import ImuRecording
from sensor_gateway.errors import GatewayError

RECORDING_CSV_HEADER: tuple[str, ...] = (
    "t_s",
    "ax_mps2",
    "ay_mps2",
    "az_mps2",
    "gx_radps",
    "gy_radps",
    "gz_radps",
)


class RecordingFormatError(GatewayError, ValueError):
    """A raw-recording CSV file is malformed. Carries the file, line (1-based) and problem."""

    def __init__(self, path: str | Path, line: int | None, problem: str) -> None:
        self.path = str(path)
        self.line = line
        self.problem = problem
        where = f"{self.path}, line {line}" if line is not None else self.path
        super().__init__(f"{where}: {problem}")


def read_recording_csv(path: str | Path) -> ImuRecording:
    """Read one sensor's raw-recording CSV; raise `RecordingFormatError` on any defect."""
    path = Path(path)
    try:
        with path.open(newline="", encoding="utf-8") as handle:
            return _parse(handle, path)
    except FileNotFoundError as exc:
        raise RecordingFormatError(path, None, "file not found; check the path") from exc
    except UnicodeDecodeError as exc:
        raise RecordingFormatError(path, None, "not a text (UTF-8) CSV file") from exc
    except IsADirectoryError as exc:
        raise RecordingFormatError(path, None, "is a directory, expected a CSV file") from exc


def _parse(handle: IO[str], path: Path) -> ImuRecording:
    reader = csv.reader(handle)
    header = next(reader, None)
    if header is None:
        raise RecordingFormatError(
            path, 1, "file is empty; expected the header " + ",".join(RECORDING_CSV_HEADER)
        )
    if tuple(cell.strip() for cell in header) != RECORDING_CSV_HEADER:
        raise RecordingFormatError(
            path, 1, f"header is {','.join(header)!r}; expected {','.join(RECORDING_CSV_HEADER)!r}"
        )
    rows: list[list[float]] = []
    previous_t_s = -math.inf
    for row in reader:
        line = reader.line_num
        if not row or all(not cell.strip() for cell in row):
            continue
        if len(row) != len(RECORDING_CSV_HEADER):
            raise RecordingFormatError(
                path, line, f"expected {len(RECORDING_CSV_HEADER)} values, found {len(row)}"
            )
        values = []
        for name, cell in zip(RECORDING_CSV_HEADER, row):
            try:
                value = float(cell)
            except ValueError:
                raise RecordingFormatError(
                    path, line, f"{name} is {cell!r}, not a number"
                ) from None
            if not math.isfinite(value):
                raise RecordingFormatError(path, line, f"{name} is {cell!r}; values must be finite")
            values.append(value)
        if values[0] <= previous_t_s:
            raise RecordingFormatError(
                path,
                line,
                f"t_s {values[0]!r} does not increase (previous {previous_t_s!r}); "
                "samples must be in time order without duplicates",
            )
        previous_t_s = values[0]
        rows.append(values)
    if len(rows) < 2:
        raise RecordingFormatError(path, None, f"has {len(rows)} sample(s); need at least 2")
    data = np.asarray(rows, dtype=float)
    return ImuRecording(t_s=data[:, 0], acc_mps2=data[:, 1:4], gyr_radps=data[:, 4:7])


def write_recording_csv(path: str | Path, recording: ImuRecording) -> None:
    """Write `recording` in the raw-recording CSV format (full float precision)."""
    data = np.column_stack([recording.t_s, recording.acc_mps2, recording.gyr_radps])
    with Path(path).open("w", newline="", encoding="utf-8") as handle:
        handle.write(",".join(RECORDING_CSV_HEADER) + "\n")
        np.savetxt(handle, data, delimiter=",", fmt="%.9g")
