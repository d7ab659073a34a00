"""6-axis orientation engines (gyroscope + accelerometer) behind one small interface.

Every engine returns the same thing: quaternions (N, 4) in w, x, y, z order, sensor-to-earth,
earth z up, heading arbitrary (no magnetometer: gyms are full of steel). Samples must be
uniformly spaced at `rate_hz`; callers resample first (`fusion.resample`).

Engines:
- "vqf-offline": `vqf.offlineVQF`, non-causal (forward-backward), for recorded sets;
- "vqf": causal `vqf.VQF`, batch update in compiled code, for the live path;
- "madgwick", "mahony", "ekf": the `ahrs` package's filters with their default tuning,
  per-sample Python loops (tens of thousands of samples/s), kept for comparison.

The `ahrs` filters, run as done here (IMU update, default NED setting, initial attitude
from the first accelerometer sample), already return sensor-to-earth quaternions whose
earth z axis is up: their accelerometer model is R^T e_z = a / |a|, the same relation
`up_in_sensor_frame` uses. The tests check this convention on data for every engine.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from fusion.errors import FusionError


class OrientationInputError(FusionError, ValueError):
    """Bad input to an orientation engine (shape, non-finite value, rate, engine name)."""


@dataclass(frozen=True)
class EngineSpec:
    """What an engine is: `causal` engines only use past samples and can run live."""

    name: str
    causal: bool
    summary: str


ENGINES: dict[str, EngineSpec] = {
    spec.name: spec
    for spec in (
        EngineSpec("vqf-offline", False, "VQF offline (forward-backward), non-causal"),
        EngineSpec("vqf", True, "VQF, causal, compiled batch update"),
        EngineSpec("madgwick", True, "ahrs Madgwick, default gain, causal"),
        EngineSpec("mahony", True, "ahrs Mahony, default gains, causal"),
        EngineSpec("ekf", True, "ahrs extended Kalman filter, default noises, causal"),
    )
}
ENGINE_NAMES: tuple[str, ...] = tuple(ENGINES)
CAUSAL_ENGINE_NAMES: tuple[str, ...] = tuple(name for name, spec in ENGINES.items() if spec.causal)

# Chosen by measurement on the BROAD benchmark (benchmarks/broad_orientation.py, README
# "Orientation engines"): the most accurate non-causal and causal engine respectively.
DEFAULT_OFFLINE_ENGINE = "vqf-offline"
DEFAULT_LIVE_ENGINE = "vqf"


def check_engine_name(engine: str, *, causal_only: bool = False) -> EngineSpec:
    """The spec of `engine`; raise `OrientationInputError` naming the valid engines otherwise."""
    valid = CAUSAL_ENGINE_NAMES if causal_only else ENGINE_NAMES
    if engine not in valid:
        kind = "causal engine" if causal_only else "engine"
        raise OrientationInputError(f"unknown {kind} {engine!r}; choose one of: {', '.join(valid)}")
    return ENGINES[engine]


def check_rate_hz(rate_hz: float) -> float:
    """`rate_hz` as a float; raise `OrientationInputError` unless finite and positive."""
    try:
        rate = float(rate_hz)
    except (TypeError, ValueError) as exc:
        raise OrientationInputError(f"rate_hz must be a number, got {rate_hz!r}") from exc
    if not (np.isfinite(rate) and rate > 0):
        raise OrientationInputError(f"rate_hz must be finite and positive, got {rate_hz!r}")
    return rate


def check_imu_arrays(gyr_radps: np.ndarray, acc_mps2: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Both arrays as C-contiguous float64 (N, 3); raise `OrientationInputError` on bad input."""
    arrays = []
    for name, value in (("gyr_radps", gyr_radps), ("acc_mps2", acc_mps2)):
        try:
            array = np.ascontiguousarray(value, dtype=np.float64)
        except (TypeError, ValueError) as exc:
            raise OrientationInputError(f"{name} must be a numeric (N, 3) array") from exc
        if array.ndim != 2 or array.shape[1] != 3:
            raise OrientationInputError(f"{name} must have shape (N, 3), got {array.shape}")
        # A sum of finite values is finite unless it overflows, and one NaN or infinity makes
        # it non-finite: the sum (~a third of an elementwise check) decides unless it is not
        # finite, then the elementwise check does.
        with np.errstate(over="ignore", invalid="ignore"):
            total = np.add.reduce(array, axis=None)
        if not np.isfinite(total) and not np.isfinite(array).all():
            bad = int(np.flatnonzero(~np.isfinite(array).all(axis=1))[0])
            raise OrientationInputError(
                f"{name} has a non-finite value at sample {bad}; drop or interpolate "
                "such samples before orientation estimation"
            )
        arrays.append(array)
    gyr, acc = arrays
    if gyr.shape != acc.shape:
        raise OrientationInputError(
            f"gyr_radps {gyr.shape} and acc_mps2 {acc.shape} must have the same number of samples"
        )
    return gyr, acc


class _Stepper(Protocol):
    """Causal filter state: chunk of samples in, one quaternion per sample out."""

    def update(self, gyr_radps: np.ndarray, acc_mps2: np.ndarray) -> np.ndarray: ...

    def update_rows(
        self, gyr_radps: list[list[float]], acc_mps2: list[list[float]]
    ) -> list[list[float]]:
        """`update` of rows of 3 finite floats, as plain-float rows [w, x, y, z]."""
        ...


class _VqfStepper:
    def __init__(self, rate_hz: float) -> None:
        import vqf

        self._filter = vqf.VQF(1.0 / rate_hz)

    def update(self, gyr_radps: np.ndarray, acc_mps2: np.ndarray) -> np.ndarray:
        quat_wxyz: np.ndarray = self._filter.updateBatch(gyr_radps, acc_mps2)["quat6D"]
        return quat_wxyz

    def update_rows(
        self, gyr_radps: list[list[float]], acc_mps2: list[list[float]]
    ) -> list[list[float]]:
        # A packet's few samples: one compiled step each (what updateBatch loops over)
        # costs less than the batch call, which also builds every other output array.
        step, quat, array = self._filter.update, self._filter.getQuat6D, np.array
        out = []
        for gyr, acc in zip(gyr_radps, acc_mps2):
            step(array(gyr), array(acc))  # a row of 3 floats each: contiguous float64 (3,)
            out.append(quat().tolist())
        return out


class _AhrsStepper:
    """Runs an `ahrs` filter sample by sample exactly as its own batch mode does."""

    def __init__(self, filter_object: object, update: Callable[..., np.ndarray]) -> None:
        self._filter = filter_object  # holds the EKF covariance between samples
        self._update = update
        self._quat_wxyz: np.ndarray | None = None

    def update(self, gyr_radps: np.ndarray, acc_mps2: np.ndarray) -> np.ndarray:
        from ahrs.common.orientation import acc2q

        out = np.empty((gyr_radps.shape[0], 4))
        quat = self._quat_wxyz
        for i in range(gyr_radps.shape[0]):
            if quat is None:
                quat = np.asarray(acc2q(acc_mps2[i]), dtype=float)
                quat = quat / np.linalg.norm(quat)
            else:
                quat = self._update(quat, gyr_radps[i], acc_mps2[i])
            out[i] = quat
        self._quat_wxyz = quat
        return out

    def update_rows(
        self, gyr_radps: list[list[float]], acc_mps2: list[list[float]]
    ) -> list[list[float]]:
        rows: list[list[float]] = self.update(np.array(gyr_radps), np.array(acc_mps2)).tolist()
        return rows


def _new_stepper(engine: str, rate_hz: float) -> _Stepper:
    if engine == "vqf":
        return _VqfStepper(rate_hz)
    from ahrs.filters import EKF, Madgwick, Mahony

    if engine == "madgwick":
        madgwick = Madgwick(frequency=rate_hz)
        return _AhrsStepper(madgwick, madgwick.updateIMU)
    if engine == "mahony":
        mahony = Mahony(frequency=rate_hz)
        return _AhrsStepper(mahony, mahony.updateIMU)
    if engine == "ekf":
        ekf = EKF(frequency=rate_hz)
        return _AhrsStepper(ekf, ekf.update)
    raise AssertionError(f"no causal implementation for {engine!r}")  # guarded by ENGINES


class CausalOrientation:
    """Incremental orientation for the live path: state is kept between `update` calls.

    Feeding a recording chunk by chunk gives the same quaternions as one
    `estimate_orientation` call with the same causal engine over the concatenation.
    """

    def __init__(self, rate_hz: float, engine: str = DEFAULT_LIVE_ENGINE) -> None:
        self.rate_hz = check_rate_hz(rate_hz)
        self.engine = check_engine_name(engine, causal_only=True).name
        self._stepper = _new_stepper(self.engine, self.rate_hz)

    def update(self, gyr_radps: np.ndarray, acc_mps2: np.ndarray) -> np.ndarray:
        """Gyroscope (n, 3) rad/s and accelerometer (n, 3) m/s^2 -> quat_wxyz (n, 4)."""
        gyr, acc = check_imu_arrays(gyr_radps, acc_mps2)
        if gyr.shape[0] == 0:
            return np.empty((0, 4))
        quat = np.asarray(self._stepper.update(gyr, acc), dtype=float)
        assert quat.shape == (gyr.shape[0], 4)
        return quat

    def update_rows(
        self,
        gyr_radps: list[list[float]],
        acc_mps2: list[list[float]],
        *,
        checked: bool = False,
    ) -> list[list[float]]:
        """`update` of a few samples given and returned as plain-float rows (a live packet's:
        the checks of `update` without its numpy calls, the same quaternions). `checked`: the
        caller vouches for as many rows of 3 finite floats each (the live analyser's grid
        rows, interpolated between samples it checked), so the checks are skipped."""
        if checked:
            return self._stepper.update_rows(gyr_radps, acc_mps2)
        if not gyr_radps and not acc_mps2:
            return []
        widths = {*map(len, gyr_radps), *map(len, acc_mps2)}
        total = sum(map(sum, gyr_radps)) + sum(map(sum, acc_mps2)) if widths == {3} else 0.0
        if widths != {3} or len(gyr_radps) != len(acc_mps2) or not math.isfinite(total):
            # the array checks say what is wrong (a sum of huge finite values passes them)
            gyr, acc = np.array(gyr_radps, dtype=np.float64), np.array(acc_mps2, dtype=np.float64)
            rows: list[list[float]] = self.update(gyr, acc).tolist()
            return rows
        return self._stepper.update_rows(gyr_radps, acc_mps2)

    def reset(self) -> None:
        """Forget all state, as if newly constructed (e.g. after a sensor reconnects)."""
        self._stepper = _new_stepper(self.engine, self.rate_hz)


def estimate_orientation(
    gyr_radps: np.ndarray,
    acc_mps2: np.ndarray,
    rate_hz: float,
    engine: str = DEFAULT_OFFLINE_ENGINE,
) -> np.ndarray:
    """Orientation of a whole recording: quat_wxyz (N, 4), sensor-to-earth, earth z up.

    `gyr_radps` (N, 3) rad/s and `acc_mps2` (N, 3) m/s^2 in the sensor frame, uniformly
    sampled at `rate_hz`. Heading is arbitrary (6-axis fusion). Raises
    `OrientationInputError` (a ValueError) on bad shapes, non-finite values, a rate that
    is not positive, or an unknown engine name.
    """
    spec = check_engine_name(engine)
    rate = check_rate_hz(rate_hz)
    gyr, acc = check_imu_arrays(gyr_radps, acc_mps2)
    if gyr.shape[0] == 0:
        return np.empty((0, 4))
    if spec.causal:
        return CausalOrientation(rate, spec.name).update(gyr, acc)
    import vqf

    quat = np.asarray(vqf.offlineVQF(gyr, acc, None, 1.0 / rate)["quat6D"], dtype=float)
    assert quat.shape == (gyr.shape[0], 4)
    return quat
