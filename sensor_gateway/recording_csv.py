"""Raw-recording CSV files: one file per sensor.

Header, exactly: ``t_s,ax_mps2,ay_mps2,az_mps2,gx_radps,gy_radps,gz_radps`` (a UTF-8 byte
order mark before it is accepted). Time in seconds on a clock shared by both sensors' files,
specific force in m/s^2, angular rate in rad/s, both in the sensor frame. Malformed files
raise `RecordingFormatError` naming file, line and problem.

Two readers, one answer. Files of at least `FAST_READER_MIN_BYTES` go through pyarrow's CSV
reader (compiled, ~15x the standard library's rate); anything it does not accept cleanly
(a parse error, an empty or non-finite value, time not increasing, a different header) is
read again by the careful line-by-line reader, which either accepts the file as well or
names the first bad line. So the fast path only ever accepts files the careful reader
accepts, and every error comes from one place. Small files skip pyarrow: importing it
costs more than reading a few thousand lines.

Both readers give time as float64 and the sensor values as float32 (`SAMPLE_DTYPE`): ~7
significant digits, finer than any IMU's 16-bit samples, at half the memory (a 60-minute
200-Hz recording is 22 MiB instead of 38).
"""

from __future__ import annotations

import csv
import math
from collections.abc import Iterator
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

# Below this size the careful reader is faster than importing pyarrow (~0.1 s) and reading.
FAST_READER_MIN_BYTES = 1 << 20
FAST_READER_BLOCK_BYTES = 1 << 18  # small blocks: ~30 MB in flight, and no slower
# Hand the parsed blocks' freed memory back every this many blocks (8 MB): each release
# trims the heap (~1 ms), every 8 blocks it was ~20 % of the read; the analysis peak is the same.
FAST_READER_RELEASE_BLOCKS = 32
MIN_LINE_BYTES = 14  # "0,0,0,0,0,0,0\n": no line of samples is shorter
# The standard library's csv field limit: a number never comes near it.
MAX_FIELD_CHARS = csv.field_size_limit()
# No line of a recording is longer than its seven fields at that limit; past this a "line" is
# not CSV text (a device such as /dev/zero, a binary file without newlines).
MAX_LINE_CHARS = len(RECORDING_CSV_HEADER) * (MAX_FIELD_CHARS + 1)
SAMPLE_DTYPE = np.float32  # acceleration and angular rate; t_s stays float64


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
        if path.is_file() and path.stat().st_size >= FAST_READER_MIN_BYTES:
            recording = _read_fast(path)
            if recording is not None:
                return recording
        with path.open(newline="", encoding="utf-8-sig") as handle:
            return _parse(handle, path)
    except FileNotFoundError as exc:
        raise RecordingFormatError(path, None, "file not found; check the path") from exc
    except UnicodeDecodeError as exc:
        raise RecordingFormatError(path, None, "not a text (UTF-8) CSV file") from exc
    except IsADirectoryError as exc:
        raise RecordingFormatError(path, None, "is a directory, expected a CSV file") from exc
    except PermissionError as exc:
        raise RecordingFormatError(path, None, "cannot be read (permission denied)") from exc
    except NotADirectoryError as exc:  # `--replay set/sacrum.csv`: a file where a folder goes
        raise RecordingFormatError(
            path, None, "a part of the path is a file, not a folder; check the path"
        ) from exc
    except OSError as exc:  # a name too long, a loop of links, an I/O error
        raise RecordingFormatError(path, None, f"cannot be read ({exc.strerror or exc})") from exc


def _read_fast(path: Path) -> ImuRecording | None:
    """The recording via pyarrow, or None when the careful reader must look at the file.

    Blocks are streamed into arrays sized for the shortest possible line, so memory stays at
    one copy of the samples: pages past the last sample are never written, so never resident.
    """
    import pyarrow as pa
    import pyarrow.csv as pa_csv

    capacity = path.stat().st_size // MIN_LINE_BYTES + 1
    t_s = np.empty(capacity)
    acc = np.empty((capacity, 3), dtype=SAMPLE_DTYPE)
    gyr = np.empty((capacity, 3), dtype=SAMPLE_DTYPE)
    count = 0
    # pyarrow is used only here. Its default pool (mimalloc) keeps ~15 MB more resident
    # after reading a 60-minute pair than the system allocator does.
    pa.set_memory_pool(pa.system_memory_pool())
    pool = pa.default_memory_pool()
    try:
        reader = pa_csv.open_csv(
            path,
            read_options=pa_csv.ReadOptions(block_size=FAST_READER_BLOCK_BYTES, use_threads=False),
            convert_options=pa_csv.ConvertOptions(
                column_types=dict.fromkeys(RECORDING_CSV_HEADER, pa.float64())
            ),
        )
        if tuple(reader.schema.names) != RECORDING_CSV_HEADER:
            return None
        for number, batch in enumerate(reader):
            if any(column.null_count for column in batch.columns):
                return None
            stop = count + batch.num_rows
            t_s[count:stop] = batch.column(0).to_numpy()
            with np.errstate(over="ignore"):  # as the careful reader: inf, then it reads again
                for axis in range(3):
                    acc[count:stop, axis] = batch.column(1 + axis).to_numpy()
                    gyr[count:stop, axis] = batch.column(4 + axis).to_numpy()
            count = stop
            if number % FAST_READER_RELEASE_BLOCKS == FAST_READER_RELEASE_BLOCKS - 1:
                pool.release_unused()  # else the pool keeps the parsed blocks' memory resident
    except pa.ArrowException:
        return None
    finally:
        pool.release_unused()
    t_s, acc, gyr = t_s[:count], acc[:count], gyr[:count]
    if not (
        count >= 2
        and np.isfinite(t_s).all()
        and np.isfinite(acc).all()
        and np.isfinite(gyr).all()
        and (np.diff(t_s) > 0).all()
    ):
        return None
    return ImuRecording(t_s=t_s, acc_mps2=acc, gyr_radps=gyr)


def _lines(handle: IO[str], path: Path) -> Iterator[str]:
    """The lines of `handle`, each read with a bound: a file iterator would read an endless
    line (/dev/zero) into memory until the process dies."""
    number = 0
    while line := handle.readline(MAX_LINE_CHARS + 1):
        number += 1
        if len(line) > MAX_LINE_CHARS:
            raise RecordingFormatError(
                path,
                number,
                f"line is longer than {MAX_LINE_CHARS:,} characters: not a recording CSV "
                "(expected lines of 7 numbers)",
            )
        yield line


def _parse(handle: IO[str], path: Path) -> ImuRecording:
    reader = csv.reader(_lines(handle, path), strict=True)
    rows: list[list[float]] = []
    previous_t_s = -math.inf
    line = 0
    try:
        header = next(reader, None)
        if header is None:
            raise RecordingFormatError(
                path, 1, "file is empty; expected the header " + ",".join(RECORDING_CSV_HEADER)
            )
        if tuple(cell.strip() for cell in header) != RECORDING_CSV_HEADER:
            raise RecordingFormatError(
                path,
                1,
                f"header is {','.join(header)!r}; expected {','.join(RECORDING_CSV_HEADER)!r}",
            )
        line = reader.line_num
        for row in reader:
            line = reader.line_num
            if not row or all(not cell.strip() for cell in row):
                continue
            values = _row_values(row, path, line)
            if values[0] <= previous_t_s:
                raise RecordingFormatError(
                    path,
                    line,
                    f"t_s {values[0]!r} does not increase (previous {previous_t_s!r}); "
                    "samples must be in time order without duplicates",
                )
            previous_t_s = values[0]
            rows.append(values)
    except csv.Error as exc:
        raise RecordingFormatError(path, line + 1, _csv_problem(exc)) from exc
    if len(rows) < 2:
        raise RecordingFormatError(path, None, f"has {len(rows)} sample(s); need at least 2")
    data = np.asarray(rows, dtype=float)
    with np.errstate(over="ignore"):  # beyond float32 (|x| > 3.4e38): inf, refused by the analysis
        return ImuRecording(
            t_s=data[:, 0],
            acc_mps2=data[:, 1:4].astype(SAMPLE_DTYPE),
            gyr_radps=data[:, 4:7].astype(SAMPLE_DTYPE),
        )


def plain_number(text: str) -> float:
    """`text` as a number as CSV files (and pyarrow's reader) write them: ASCII digits, sign,
    point, exponent (and what float() takes besides: spaces around, nan, inf). ValueError
    otherwise, with what to fix: float() alone also reads Python's digit grouping ("0_5" is
    5.0) and the digits of any script ("\u0661" is 1.0)."""
    if "_" in text:
        raise ValueError("digits cannot be grouped with '_'")
    if not text.isascii():
        raise ValueError("only the digits 0-9 are numbers")
    return float(text)


def _row_values(row: list[str], path: Path, line: int) -> list[float]:
    if len(row) != len(RECORDING_CSV_HEADER):
        raise RecordingFormatError(
            path, line, f"expected {len(RECORDING_CSV_HEADER)} values, found {len(row)}"
        )
    values = []
    for name, cell in zip(RECORDING_CSV_HEADER, row):
        try:
            value = plain_number(cell)
        except ValueError as exc:
            shown = cell if len(cell) <= 40 else cell[:40] + f"... ({len(cell)} characters)"
            why = "" if str(exc).startswith("could not convert") else f" ({exc})"
            raise RecordingFormatError(
                path, line, f"{name} is {shown!r}, not a number{why}"
            ) from None
        if not math.isfinite(value):
            raise RecordingFormatError(
                path, line, f"{name} is {cell[:40]!r}; values must be finite"
            )
        values.append(value)
    return values


def _csv_problem(exc: csv.Error) -> str:
    """The standard library's csv error in words that say what to fix."""
    text = str(exc)
    if "field larger than field limit" in text:
        return (
            f"a value is longer than {MAX_FIELD_CHARS} characters (a number has a few dozen): "
            'a quote (") opened here and never closed, or a corrupt file'
        )
    if "unexpected end of data" in text:
        return (
            'a quoted value opened here (") is never closed before the end of the file; '
            "remove the stray quote"
        )
    return f"not valid CSV ({text}); expected {len(RECORDING_CSV_HEADER)} numbers per line"


def write_recording_csv(path: str | Path, recording: ImuRecording) -> None:
    """Write `recording` in the raw-recording CSV format (full float precision)."""
    data = np.column_stack([recording.t_s, recording.acc_mps2, recording.gyr_radps])
    with Path(path).open("w", newline="", encoding="utf-8") as handle:
        handle.write(",".join(RECORDING_CSV_HEADER) + "\n")
        np.savetxt(handle, data, delimiter=",", fmt="%.9g")
