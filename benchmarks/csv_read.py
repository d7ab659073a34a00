"""Raw-recording CSV reading speed against pyarrow's CSV reader on the same file, same run.

Floors: `pyarrow.csv.read_csv(path)` with its defaults (threads on) and single-threaded.
Measured: `read_recording_csv` (pyarrow streaming + checks: header, empty values, finite,
time increasing) and the careful standard-library reader that names bad lines. Repeats are
interleaved and the best of each is kept (the machine is shared). Goal: within 2x of
pyarrow's reader.

Usage: python benchmarks/csv_read.py [MINUTES] [REPEATS]
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from pathlib import Path

import pyarrow.csv as pa_csv
from long_recording import long_recording

from sensor_gateway import recording_csv


def _careful(path: Path) -> object:
    with path.open(newline="", encoding="utf-8-sig") as handle:
        return recording_csv._parse(handle, path)


def main(argv: list[str]) -> int:
    minutes = float(argv[1]) if len(argv) > 1 else 60.0
    repeats = int(argv[2]) if len(argv) > 2 else 5
    path, _, _ = long_recording(minutes)
    rows = sum(1 for _ in path.open()) - 1
    readers: dict[str, Callable[[Path], object]] = {
        "pyarrow read_csv (floor, threads)": pa_csv.read_csv,
        "pyarrow read_csv (floor, 1 thread)": lambda p: pa_csv.read_csv(
            p, read_options=pa_csv.ReadOptions(use_threads=False)
        ),
        "read_recording_csv": recording_csv.read_recording_csv,
    }
    best = dict.fromkeys(readers, float("inf"))
    for _ in range(repeats):
        for name, read in readers.items():
            start = time.perf_counter()
            read(path)
            best[name] = min(best[name], time.perf_counter() - start)
    start = time.perf_counter()
    _careful(path)
    best["careful line-by-line reader (errors, small files)"] = time.perf_counter() - start
    floor = best["pyarrow read_csv (floor, threads)"]
    size_mb = path.stat().st_size / 1e6
    print(f"file: {path.name}, {rows:,} rows, {size_mb:.1f} MB ({minutes:g} min at 200 Hz)\n")
    print("| reader | best time | rows/s | x pyarrow (threads) |")
    print("| --- | ---: | ---: | ---: |")
    for name, seconds in best.items():
        print(
            f"| {name} | {seconds * 1000:.0f} ms | {rows / seconds:,.0f} | {seconds / floor:.2f} |"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
