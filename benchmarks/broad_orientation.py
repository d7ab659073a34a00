"""Orientation engines on the BROAD benchmark: inclination RMSE and throughput.

For every BROAD trial (real IMU with optical ground truth; Laidig et al., Data 6(7):72,
2021) and every engine of `fusion.orientation`, prints the heading-free inclination RMSE
over the movement phase and the throughput (samples/s, one core, best of `--repeats`
timed runs in this process), as Markdown tables, then the mean RMSE over the undisturbed
trials per engine and the most accurate non-causal and causal engine (what
DEFAULT_OFFLINE_ENGINE and DEFAULT_LIVE_ENGINE should be).

    python benchmarks/broad_orientation.py [DATA_DIR] [--engines vqf,vqf-offline] [--repeats 3]

DATA_DIR is the shared data folder holding broad/ (default: $WINKWATCH_SHARED_DATA, else
../shared/data next to the repository). The data is not part of the project; without it
the script says so and exits with status 0. The ahrs engines are slow (~10-30 k samples/s):
a full run with 3 repeats takes several minutes.
"""

from __future__ import annotations

import os

# One core: keep numeric libraries from starting thread pools before they are imported.
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from dataclasses import dataclass  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

from fusion.orientation import (  # noqa: E402
    DEFAULT_LIVE_ENGINE,
    DEFAULT_OFFLINE_ENGINE,
    ENGINE_NAMES,
    ENGINES,
    estimate_orientation,
    inclination_rmse_deg,
)

REPO_DIR = Path(__file__).resolve().parents[1]
DEFAULT_SHARED_DATA_DIR = REPO_DIR.parent / "shared" / "data"


@dataclass(frozen=True)
class Trial:
    name: str
    gyr_radps: np.ndarray
    acc_mps2: np.ndarray
    quat_true_wxyz: np.ndarray
    movement: np.ndarray
    rate_hz: float

    @property
    def undisturbed(self) -> bool:
        return "undisturbed" in self.name


@dataclass(frozen=True)
class Result:
    rmse_deg: float
    samples_per_s: float


def shared_data_dir(argument: str | None) -> Path:
    if argument:
        return Path(argument)
    from_env = os.environ.get("WINKWATCH_SHARED_DATA")
    return Path(from_env) if from_env else DEFAULT_SHARED_DATA_DIR


def load_trials(broad_dir: Path) -> list[Trial]:
    trials = []
    for path in sorted(broad_dir.glob("*.npz")):
        with np.load(path) as data:
            trials.append(
                Trial(
                    name=path.stem,
                    gyr_radps=np.ascontiguousarray(data["gyr_radps"], dtype=float),
                    acc_mps2=np.ascontiguousarray(data["acc_mps2"], dtype=float),
                    quat_true_wxyz=np.asarray(data["quat_gt_wxyz"], dtype=float),
                    movement=np.asarray(data["movement"], dtype=bool),
                    rate_hz=float(data["rate_hz"]),
                )
            )
    return trials


def lagged_rmse_deg(quat_wxyz: np.ndarray, trial: Trial, truth_lag_samples: int) -> float:
    """RMSE of estimate i against truth i - lag (lag 0: the benchmark's metric)."""
    lag = truth_lag_samples
    n = len(trial.movement)
    est = slice(max(lag, 0), n + min(lag, 0))
    true = slice(max(-lag, 0), n - max(lag, 0))
    return inclination_rmse_deg(quat_wxyz[est], trial.quat_true_wxyz[true], trial.movement[est])


def measure(trial: Trial, engine: str, repeats: int, truth_lag_samples: int = 0) -> Result:
    best_s = float("inf")
    quat = None
    for _ in range(repeats):
        start = time.perf_counter()
        quat = estimate_orientation(trial.gyr_radps, trial.acc_mps2, trial.rate_hz, engine)
        best_s = min(best_s, time.perf_counter() - start)
    rmse_deg = lagged_rmse_deg(quat, trial, truth_lag_samples)
    return Result(rmse_deg, len(trial.movement) / best_s)


def markdown_tables(trials: list[Trial], engines: list[str], results: dict) -> str:
    header = "| trial | samples | " + " | ".join(engines) + " |"
    rule = "| --- | ---: | " + " | ".join("---:" for _ in engines) + " |"
    rmse_rows, speed_rows = [header, rule], [header, rule]
    for trial in trials:
        lead = f"| {trial.name} | {len(trial.movement)} | "
        rmse_rows.append(
            lead + " | ".join(f"{results[trial.name, e].rmse_deg:.3f}" for e in engines) + " |"
        )
        speed_rows.append(
            lead
            + " | ".join(f"{results[trial.name, e].samples_per_s / 1e3:,.0f} k" for e in engines)
            + " |"
        )
    undisturbed = [t for t in trials if t.undisturbed]
    means = undisturbed_means(undisturbed, engines, results)
    rmse_rows.append(
        f"| **mean, {len(undisturbed)} undisturbed** | | "
        + " | ".join(f"**{means[e]:.3f}**" for e in engines)
        + " |"
    )
    total = sum(len(t.movement) for t in trials)
    speed_rows.append(
        "| **all trials** | "
        + f"{total} | "
        + " | ".join(f"**{overall_speed(trials, e, results) / 1e3:,.0f} k**" for e in engines)
        + " |"
    )
    return (
        "Inclination RMSE (deg) over the movement phase:\n\n"
        + "\n".join(rmse_rows)
        + "\n\nThroughput (samples/s, one core, best of repeats):\n\n"
        + "\n".join(speed_rows)
    )


def undisturbed_means(
    undisturbed: list[Trial], engines: list[str], results: dict
) -> dict[str, float]:
    return {e: float(np.mean([results[t.name, e].rmse_deg for t in undisturbed])) for e in engines}


def overall_speed(trials: list[Trial], engine: str, results: dict) -> float:
    seconds = sum(len(t.movement) / results[t.name, engine].samples_per_s for t in trials)
    return sum(len(t.movement) for t in trials) / seconds


def pin_to_one_core() -> None:
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("data_dir", nargs="?", help="shared data folder holding broad/")
    parser.add_argument(
        "--engines", default=",".join(ENGINE_NAMES), help="comma-separated engine names"
    )
    parser.add_argument(
        "--repeats", type=int, default=3, help="timed runs per trial and engine (best kept)"
    )
    parser.add_argument(
        "--truth-lag-samples",
        type=int,
        default=0,
        help="diagnostic only: compare estimate i with truth i - LAG (time-sync check)",
    )
    args = parser.parse_args(argv)
    engines = [name.strip() for name in args.engines.split(",") if name.strip()]
    unknown = [name for name in engines if name not in ENGINES]
    if unknown or args.repeats < 1:
        parser.error(
            f"unknown engine(s) {unknown}; choose from {', '.join(ENGINE_NAMES)}"
            if unknown
            else "--repeats must be at least 1"
        )

    broad_dir = shared_data_dir(args.data_dir) / "broad"
    trials = load_trials(broad_dir) if broad_dir.is_dir() else []
    if not trials:
        print(
            f"No BROAD trials (*.npz) in {broad_dir}; pass the shared data folder as an argument "
            "or set WINKWATCH_SHARED_DATA. Nothing measured."
        )
        return 0

    pin_to_one_core()
    results = {}
    for trial in trials:
        for engine in engines:
            results[trial.name, engine] = measure(
                trial, engine, args.repeats, args.truth_lag_samples
            )
            print(
                f"  {trial.name:50s} {engine:12s} {results[trial.name, engine].rmse_deg:7.3f} deg",
                file=sys.stderr,
                flush=True,
            )

    if args.truth_lag_samples:
        print(
            f"DIAGNOSTIC: truth lagged by {args.truth_lag_samples} sample(s); not the benchmark metric.\n"
        )
    print(markdown_tables(trials, engines, results))
    means = undisturbed_means([t for t in trials if t.undisturbed], engines, results)
    print()
    for causal, constant, current in (
        (False, "DEFAULT_OFFLINE_ENGINE", DEFAULT_OFFLINE_ENGINE),
        (True, "DEFAULT_LIVE_ENGINE", DEFAULT_LIVE_ENGINE),
    ):
        candidates = [e for e in engines if ENGINES[e].causal == causal]
        if not candidates:
            continue
        best = min(candidates, key=lambda e: means[e])
        verdict = "matches" if best == current else f"DIFFERS from the configured {current!r}"
        kind = "causal" if causal else "non-causal"
        print(
            f"Most accurate {kind} engine: {best} ({means[best]:.3f} deg mean undisturbed); "
            f"{constant} {verdict}."
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
