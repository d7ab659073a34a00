"""`sagittal_angle_deg` against known rotations, and its atan2 against libm's."""

import math

import numpy as np
import pytest

from fusion.calibration import SegmentCalibration, StillWindow, _arctan2, sagittal_angle_deg


def test_arctan2_is_libm_atan2_within_two_ulp_in_every_quadrant() -> None:
    rng = np.random.default_rng(11)
    magnitudes = 10.0 ** rng.uniform(-300, 300, 4000)
    y = np.concatenate([rng.normal(size=4000), rng.choice([-1, 1], 4000) * magnitudes])
    x = np.concatenate([rng.normal(size=4000), rng.choice([-1, 1], 4000) * magnitudes[::-1]])
    signed = np.array([0.0, -0.0, 1.0, -1.0, 5e-324, -5e-324])
    y = np.concatenate([y, np.repeat(signed, signed.size)])
    x = np.concatenate([x, np.tile(signed, signed.size)])  # every pair, zeros with zeros too
    expected = np.array([math.atan2(a, b) for a, b in zip(y.tolist(), x.tolist())])
    got = _arctan2(y, x)
    assert np.all(np.abs(got - expected) <= 2 * np.spacing(np.abs(expected)))
    assert np.array_equal(np.signbit(got), np.signbit(expected))  # +-0 and +-pi as atan2


def test_arctan2_keeps_nan() -> None:
    got = _arctan2(np.array([np.nan, 1.0, 0.0]), np.array([1.0, np.nan, 0.0]))
    assert np.isnan(got[:2]).all() and got[2] == 0.0


@pytest.mark.parametrize("flexion_deg", [-179.0, -120.0, -45.0, 0.0, 30.0, 90.0, 135.0, 180.0])
def test_sagittal_angle_is_the_rotation_about_the_flexion_axis(flexion_deg: float) -> None:
    rng = np.random.default_rng(3)
    axes, _ = np.linalg.qr(rng.normal(size=(3, 3)))  # a random sensor-to-segment mounting
    x_axis, y_axis, z_axis = axes.T
    cal = SegmentCalibration(x_axis, y_axis, z_axis, StillWindow(0, 10, 0.1, True), 1.0)
    angle = np.radians(flexion_deg + rng.uniform(-0.5, 0.5, 200))
    sideways = rng.uniform(-0.3, 0.3, 200)  # out-of-plane tilt is projected away
    up = (np.outer(np.sin(angle), x_axis) + np.outer(np.cos(angle), z_axis)) * np.cos(sideways)[
        :, None
    ] + np.outer(np.sin(sideways), y_axis)
    got = sagittal_angle_deg(up, cal)
    wrapped = (got - np.degrees(angle) + 180.0) % 360.0 - 180.0  # +-180 are one angle
    assert np.max(np.abs(wrapped)) < 1e-9
