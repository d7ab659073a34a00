"""Exceptions of the analysis core. Messages say what is wrong and what to do."""

from __future__ import annotations

import math

import numpy as np


class FusionError(Exception):
    """Root of every error raised by `fusion`."""


class AnalysisError(FusionError):
    """The recording cannot be analysed (too short, no motion, sensors do not overlap...)."""


class InputError(FusionError, ValueError):
    """An argument a `fusion` function cannot take: empty, not finite, the wrong shape, a rate
    that is no rate. A ValueError too, as these were before they had their own class."""


def require_rate_hz(rate_hz: float, name: str = "rate_hz") -> None:
    """`InputError` unless `rate_hz` is a finite rate above 0 (Hz)."""
    if not (isinstance(rate_hz, (int, float, np.floating)) and 0 < rate_hz < math.inf):
        raise InputError(f"{name} must be a finite rate above 0 Hz, got {rate_hz!r}")


def require_finite(values: np.ndarray, name: str) -> None:
    """`InputError` naming the first sample of `values` that is NaN or infinite."""
    finite = np.isfinite(values)
    if not finite.all():
        first = int(np.flatnonzero(~finite.reshape(finite.shape[0], -1).all(axis=1))[0])
        raise InputError(f"{name} must be finite; sample {first} is not ({values[first]!r})")
