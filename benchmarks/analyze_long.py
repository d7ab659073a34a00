"""`winkwatch analyze` on a long two-sensor recording: wall and CPU time, peak memory.

Runs the installed command in a child process (as a user would) on the recording of
`long_recording.py` (default 60 minutes, 2 x 200 Hz) and reads the child's peak resident
memory from the kernel (ru_maxrss). Also reports the child that only imports numpy, vqf and
pyarrow, the floor of memory any such analysis pays. Goals: <= 4 s, <= 150 MiB peak.

This process imports nothing but the standard library and has the recording written by a
child: Linux starts a child's ru_maxrss at its parent's resident size (the memory it
forked from), so a parent holding the simulated recording made every child, the floor
included, look as large as itself.

Usage: python benchmarks/analyze_long.py [MINUTES] [REPEATS]
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def _run(command: list[str]) -> tuple[float, float, float]:
    """(wall s, user+sys CPU s, peak RSS MiB) of one child process."""
    with tempfile.TemporaryFile() as err:
        start = time.perf_counter()
        child = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=err)
        _, status, usage = os.wait4(child.pid, 0)
        wall = time.perf_counter() - start
        child.returncode = os.waitstatus_to_exitcode(status)
        if child.returncode != 0:
            err.seek(0)
            raise SystemExit(f"{command} failed: {err.read().decode()[-500:]}")
    return wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024


def _long_recording(minutes: float) -> tuple[str, str, int]:
    """long_recording.long_recording(minutes), run in a child (see the module docstring)."""
    code = (
        f"import sys; sys.path.insert(0, {str(Path(__file__).parent)!r}); "
        "from long_recording import long_recording; "
        f"print(*long_recording({minutes!r}), sep='\\n')"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    sacrum, thigh, reps = out.stdout.split()
    return sacrum, thigh, int(reps)


def main(argv: list[str]) -> int:
    minutes = float(argv[1]) if len(argv) > 1 else 60.0
    repeats = int(argv[2]) if len(argv) > 2 else 3
    sacrum, thigh, reps = _long_recording(minutes)
    print(f"load average: {os.getloadavg()[0]:.1f}")
    winkwatch = shutil.which("winkwatch") or "winkwatch"
    floor_command = [sys.executable, "-c", "import numpy, vqf, pyarrow.csv"]
    floor = min(_run(floor_command) for _ in range(repeats))
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "reps.csv"
        command = [winkwatch, "analyze", "--sacrum", sacrum, "--thigh", thigh]
        runs = [_run([*command, "--out", str(out)]) for _ in range(repeats)]
        found = sum(1 for _ in out.open()) - 1
    best_wall = min(run[0] for run in runs)
    best_cpu = min(run[1] for run in runs)
    peak = max(run[2] for run in runs)
    print(f"recording: {minutes:g} min, 2 x 200 Hz, {reps} simulated reps ({found} found)\n")
    print("| run | best wall | best CPU (user+sys) | peak RSS |")
    print("| --- | ---: | ---: | ---: |")
    print(
        f"| import numpy, vqf, pyarrow (floor) | {floor[0]:.2f} s | {floor[1]:.2f} s | {floor[2]:.0f} MiB |"
    )
    print(f"| winkwatch analyze | {best_wall:.2f} s | {best_cpu:.2f} s | {peak:.0f} MiB |")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
