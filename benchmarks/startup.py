"""Start-up cost of the command line, against its floor in the same run.

- `winkwatch --help` (goal <= 0.2 s);
- `winkwatch analyze` on a 10-s simulated recording, against the floor
  `python -c "import numpy, vqf"` plus the work (reading both CSVs, the analysis and the
  rep CSV, timed inside a warm process): goal analyze <= 1.3 x (floor + work).

Each child is run REPEATS times, interleaved, best kept; both wall time and CPU time
(user + sys, from wait4) are shown because this machine is shared and wall times include
waiting for a core.

The children run without PYTHONDONTWRITEBYTECODE (this workplace sets it): an installed
package has its bytecode cached, as numpy and vqf in the floor do, so every run after the
first loads the project's modules from `__pycache__` instead of compiling them (~45 ms).

Usage: python benchmarks/startup.py [REPEATS]
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from fusion.pipeline import analyze_recordings
from fusion.report import REP_CSV_HEADER, rep_csv_rows
from fusion.simulator import SensorSpec, SquatSetSpec, simulate_set
from sensor_gateway.recording_csv import read_recording_csv, write_recording_csv

CHILD_ENV = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}


def _child(command: list[str]) -> tuple[float, float]:
    """(wall s, CPU s) of one child process."""
    start = time.perf_counter()
    child = subprocess.Popen(
        command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=CHILD_ENV
    )
    _, status, usage = os.wait4(child.pid, 0)
    wall = time.perf_counter() - start
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"{command} failed")
    return wall, usage.ru_utime + usage.ru_stime


def _work(sacrum: Path, thigh: Path, out: Path) -> tuple[float, float]:
    """(wall s, CPU s) of the analysis itself in this (warm) process."""
    import csv

    wall, cpu = time.perf_counter(), time.process_time()
    result = analyze_recordings(read_recording_csv(sacrum), read_recording_csv(thigh))
    with out.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(REP_CSV_HEADER)
        writer.writerows(rep_csv_rows(result.reps))
    return time.perf_counter() - wall, time.process_time() - cpu


def main(argv: list[str]) -> int:
    repeats = int(argv[1]) if len(argv) > 1 else 7
    winkwatch = shutil.which("winkwatch") or "winkwatch"
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        spec = SquatSetSpec(
            reps=2, sacrum=SensorSpec(rate_hz=100.0), thigh=SensorSpec(rate_hz=100.0)
        )
        sim = simulate_set(spec, seed=1)
        sacrum, thigh, out = folder / "sacrum.csv", folder / "thigh.csv", folder / "reps.csv"
        write_recording_csv(sacrum, sim.sacrum)
        write_recording_csv(thigh, sim.thigh)
        commands = {
            "python -c 'import numpy, vqf' (floor)": [sys.executable, "-c", "import numpy, vqf"],
            "winkwatch analyze": [
                winkwatch,
                "analyze",
                "--sacrum",
                str(sacrum),
                "--thigh",
                str(thigh),
                "--out",
                str(out),
            ],
            "winkwatch --help": [winkwatch, "--help"],
        }
        best = {name: (float("inf"), float("inf")) for name in commands}
        work = (float("inf"), float("inf"))
        _work(sacrum, thigh, out)  # warm up: imports, caches
        for _ in range(repeats):
            for name, command in commands.items():
                wall, cpu = _child(command)
                best[name] = (min(best[name][0], wall), min(best[name][1], cpu))
            wall, cpu = _work(sacrum, thigh, out)
            work = (min(work[0], wall), min(work[1], cpu))
    floor = best["python -c 'import numpy, vqf' (floor)"]
    analyze = best["winkwatch analyze"]
    print(f"load average: {os.getloadavg()[0]:.1f}")
    print(f"recording: {sim.sacrum.t_s[-1]:.1f} s, 2 x 100 Hz; best of {repeats}\n")
    print("| run | wall | CPU |")
    print("| --- | ---: | ---: |")
    for name, (wall, cpu) in best.items():
        print(f"| {name} | {wall * 1000:.0f} ms | {cpu * 1000:.0f} ms |")
    print(
        f"| the work alone (in a warm process) | {work[0] * 1000:.0f} ms | {work[1] * 1000:.0f} ms |"
    )
    print(
        f"\nanalyze / (floor + work): wall {analyze[0] / (floor[0] + work[0]):.2f}, "
        f"CPU {analyze[1] / (floor[1] + work[1]):.2f} (goal <= 1.3)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
