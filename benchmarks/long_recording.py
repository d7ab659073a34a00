"""A long two-sensor recording for the CSV and long-analysis benchmarks (shared module).

A simulated 2-minute set (both sensors at 200 Hz, each on its own jittered clock, with
packet loss) is repeated end to end until the wanted duration: every copy starts and ends
standing, so the joins look like a lifter resting between sets. The CSV files are written
once per duration into a cache folder and reused.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np

from fusion.simulator import SensorSpec, SquatSetSpec, simulate_set
from fusion.types import ImuRecording
from sensor_gateway.recording_csv import write_recording_csv

CACHE_DIR = Path(tempfile.gettempdir()) / "winkwatch-bench-long"
PIECE_REPS = 30


def _tiled(piece: ImuRecording, copies: int, period_s: float) -> ImuRecording:
    return ImuRecording(
        t_s=np.concatenate([piece.t_s + k * period_s for k in range(copies)]),
        acc_mps2=np.tile(piece.acc_mps2, (copies, 1)),
        gyr_radps=np.tile(piece.gyr_radps, (copies, 1)),
    )


def long_recording(minutes: float) -> tuple[Path, Path, int]:
    """(sacrum.csv, thigh.csv, reps) of a recording about `minutes` long."""
    folder = CACHE_DIR / f"{minutes:g}min"
    sacrum, thigh, reps_file = folder / "sacrum.csv", folder / "thigh.csv", folder / "reps.txt"
    if reps_file.exists():
        return sacrum, thigh, int(reps_file.read_text())
    folder.mkdir(parents=True, exist_ok=True)
    spec = SquatSetSpec(
        reps=PIECE_REPS,
        sacrum=SensorSpec(rate_hz=200.0),
        thigh=SensorSpec(rate_hz=200.0),
        wink_deg=6.0,
    )
    sim = simulate_set(spec, seed=13)
    period_s = float(min(sim.sacrum.t_s[-1], sim.thigh.t_s[-1])) + 0.01
    copies = max(1, round(minutes * 60 / period_s))
    write_recording_csv(sacrum, _tiled(sim.sacrum, copies, period_s))
    write_recording_csv(thigh, _tiled(sim.thigh, copies, period_s))
    reps_file.write_text(str(copies * PIECE_REPS))
    return sacrum, thigh, copies * PIECE_REPS
