"""Percentiles as numpy's default (linear) definition, for a trace and its negation."""

import numpy as np
import pytest

from fusion.percentile import median, percentile, percentiles, percentiles_both_signs

QS = (1, 2, 5, 50, 95, 98, 99)


@pytest.mark.parametrize("size", [1, 2, 3, 10, 101, 7814])
def test_percentiles_match_numpy_for_the_values_and_their_negation(size) -> None:
    rng = np.random.default_rng(size)
    values = np.round(rng.normal(30.0, 40.0, size), 1)  # rounded: ties at the ranks too
    plus, minus = percentiles_both_signs(values, QS)
    # numpy interpolates from the upper rank above the middle: equal to rounding
    np.testing.assert_allclose(plus, np.percentile(values, QS), rtol=1e-14, atol=1e-12)
    np.testing.assert_allclose(minus, np.percentile(-values, QS), rtol=1e-14, atol=1e-12)
    # and bit for bit what a partition of the negated values gives (the angles rely on it)
    assert plus == percentiles(values, QS)
    assert minus == percentiles(-values, QS)
    assert percentile(values, 5) == plus[2]
    assert median(values) == pytest.approx(np.median(values), rel=1e-14, abs=1e-12)


def test_no_values_give_nan() -> None:
    plus, minus = percentiles_both_signs(np.array([]), (5, 95))
    assert np.isnan(plus).all() and np.isnan(minus).all()
