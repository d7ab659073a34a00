"""Smooth scalar motion profiles with exact first and second derivatives.

A `Jet` carries a signal and its first two derivatives with respect to one variable. The
thigh angle is a jet in time; the pelvic tilt and out-of-plane angles are functions of the
thigh angle, turned into time jets by the chain rule (`compose`). Working with exact
derivatives keeps gyroscope and accelerometer signals free of differentiation error.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

# Minimum-jerk peak speed = MIN_JERK_PEAK_SPEED_FACTOR * distance / duration.
MIN_JERK_PEAK_SPEED_FACTOR = 1.875


@dataclass(frozen=True)
class Jet:
    """Value and first two derivatives of a signal, each (N,)."""

    value: np.ndarray
    d1: np.ndarray
    d2: np.ndarray

    def __add__(self, other: Jet) -> Jet:
        return Jet(self.value + other.value, self.d1 + other.d1, self.d2 + other.d2)

    def scaled(self, factor: float | np.ndarray) -> Jet:
        return Jet(self.value * factor, self.d1 * factor, self.d2 * factor)

    @staticmethod
    def constant(value: float | np.ndarray, count: int) -> Jet:
        zeros = np.zeros(count)
        return Jet(
            np.broadcast_to(np.asarray(value, dtype=float), (count,)).copy(), zeros, zeros.copy()
        )

    @staticmethod
    def linear(t_s: np.ndarray, start: float, rate_per_s: float) -> Jet:
        t_s = np.asarray(t_s, dtype=float)
        return Jet(
            start + rate_per_s * t_s, np.full(t_s.shape, float(rate_per_s)), np.zeros(t_s.shape)
        )


def compose(outer: Jet, inner: Jet) -> Jet:
    """Chain rule: `outer` holds f, df/dx, d2f/dx2 evaluated at x = inner.value; returns f(x(t))."""
    return Jet(
        outer.value,
        outer.d1 * inner.d1,
        outer.d2 * inner.d1**2 + outer.d1 * inner.d2,
    )


def minimum_jerk(fraction: np.ndarray | float) -> Jet:
    """10u^3 - 15u^4 + 6u^5 on u in [0, 1] (clipped outside), derivatives with respect to u."""
    u = np.clip(np.asarray(fraction, dtype=float), 0.0, 1.0)
    return Jet(
        u**3 * (10.0 - 15.0 * u + 6.0 * u**2),
        30.0 * u**2 * (1.0 - u) ** 2,
        60.0 * u * (1.0 - u) * (1.0 - 2.0 * u),
    )


def round_into_peak(fraction: np.ndarray) -> Jet:
    """u + 4u^3 - 7u^4 + 3u^5 on u in [0, 1] (clipped outside): from slope 1 to value 1 with slope 0.

    Curvature is 0 at both ends and the slope (1 - u)^2 (15u^2 + 2u + 1) never goes
    negative, so the lumbopelvic rhythm (slope k) turns into the wink's flat start without
    a kink or a jump in angular acceleration.
    """
    u = np.clip(np.asarray(fraction, dtype=float), 0.0, 1.0)
    return Jet(
        u * (1.0 + u**2 * (4.0 - 7.0 * u + 3.0 * u**2)),
        (1.0 - u) ** 2 * (15.0 * u**2 + 2.0 * u + 1.0),
        12.0 * u * (1.0 - u) * (2.0 - 5.0 * u),
    )
