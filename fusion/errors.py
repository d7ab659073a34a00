"""Exceptions of the analysis core. Messages say what is wrong and what to do."""

from __future__ import annotations

import numpy as np


class FusionError(Exception):
    """Root of every error raised by `fusion`."""


class AnalysisError(FusionError):
    """The recording cannot be analysed (too short, no motion, sensors do not overlap...)."""


class InputError(FusionError, ValueError):
    """An argument a `fusion` function cannot take: empty, not finite, the wrong shape, a rate
    that is no rate. A ValueError too, as these were before they had their own class."""


# No IMU samples this slowly or fast (they stream at 10 Hz to 10 kHz): a rate beyond is a
# period, a timestamp or garbage, and seconds times (or over) it would overflow (6 s x 1e308 Hz
# is inf samples, 1 sample / 5e-324 Hz inf s).
MIN_RATE_HZ = 1e-6
MAX_RATE_HZ = 1e6


def require_rate_hz(rate_hz: float, name: str = "rate_hz") -> None:
    """`InputError` unless `rate_hz` lies within [`MIN_RATE_HZ`, `MAX_RATE_HZ`] (Hz)."""
    if not (
        isinstance(rate_hz, (int, float, np.floating)) and MIN_RATE_HZ <= rate_hz <= MAX_RATE_HZ
    ):
        raise InputError(
            f"{name} must be a rate of {MIN_RATE_HZ:.0e} to {MAX_RATE_HZ:.0e} Hz, got {rate_hz!r}"
        )


def require_finite(values: np.ndarray, name: str) -> None:
    """`InputError` naming the first sample of `values` that is NaN or infinite."""
    finite = np.isfinite(values)
    if not finite.all():
        first = int(np.flatnonzero(~finite.reshape(finite.shape[0], -1).all(axis=1))[0])
        raise InputError(f"{name} must be finite; sample {first} is not ({values[first]!r})")


def require_finite_result(result: float, values: np.ndarray, name: str, unit: str) -> float:
    """`result`, a number computed from `values`, when it is finite. Otherwise `InputError`:
    naming the first sample of `values` that is NaN or infinite, or, all being finite,
    saying they are too large (the arithmetic overflowed: no `unit` is that large). Checked on
    the result, so a good input costs no pass of its own."""
    if np.isfinite(result):
        return result
    require_finite(values, name)
    largest = float(np.max(np.abs(values)))
    raise InputError(
        f"{name} holds values up to {largest:.3g} {unit}, too large to compute with "
        f"(the arithmetic overflows): they cannot be {unit}; check the units"
    )
