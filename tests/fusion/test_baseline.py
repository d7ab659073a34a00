"""Personal baseline: robust statistics, threshold choice, grades, and the pipeline wiring."""

from __future__ import annotations

import numpy as np
import pytest

from fusion.baseline import (
    DEFAULT_BORDERLINE_DEG,
    DEFAULT_WINK_THRESHOLD_DEG,
    K_SPREAD,
    MIN_BASELINE_REPS,
    MIN_SPREAD_DEG,
    SMALL_SAMPLE_SPREAD_FACTOR,
    SPREAD_FLOOR_DEG,
    TRUTH_BAND_FACTOR,
    WINK_MEASUREMENT_SD_DEG,
    BaselineError,
    PersonalBaseline,
    grade_wink,
    personal_baseline,
    wink_threshold,
)
from fusion.pipeline import analyze_recordings
from fusion.simulator import SquatSetSpec, simulate_set


def test_centre_and_spread_are_robust_to_one_odd_rep() -> None:
    baseline = personal_baseline([1.0, 2.0, 3.0, 4.0, 100.0])
    assert baseline.centre_deg == 3.0  # median
    assert baseline.spread_deg == pytest.approx(1.4826)  # 1.4826 x MAD (MAD = 1)
    assert baseline.reps == 5


def test_spread_has_a_floor_and_non_finite_values_are_ignored() -> None:
    baseline = personal_baseline([2.0, 2.0, 2.0, 2.0, 2.0, float("nan")])
    assert baseline.spread_deg == MIN_SPREAD_DEG
    assert baseline.reps == 5
    assert personal_baseline([]).reps == 0


def test_threshold_is_the_default_until_enough_reps_then_max_of_both() -> None:
    few = PersonalBaseline(4.0, 1.0, MIN_BASELINE_REPS - 1)
    assert wink_threshold(5.0, few).source == "default"
    assert wink_threshold(5.0, few).baseline_reps == 0
    noisy = PersonalBaseline(4.0, 1.0, MIN_BASELINE_REPS)
    threshold = wink_threshold(5.0, noisy)
    assert threshold.source == "personal"
    assert threshold.threshold_deg == pytest.approx(
        4.0 + K_SPREAD * np.hypot(1.0, SPREAD_FLOOR_DEG)
    )
    assert threshold.baseline_reps == MIN_BASELINE_REPS
    quiet = PersonalBaseline(0.8, 0.3, 12)
    threshold = wink_threshold(5.0, quiet)
    assert (threshold.threshold_deg, threshold.source, threshold.baseline_reps) == (
        5.0,
        "default",
        12,
    )
    # the personal noise (spread, scaled for few reps, and the measurement's), not the default
    assert threshold.borderline_deg == pytest.approx(
        np.hypot(SMALL_SAMPLE_SPREAD_FACTOR * 0.3, WINK_MEASUREMENT_SD_DEG)
    )


def test_a_noisy_lifters_borderline_band_is_as_wide_as_their_noise() -> None:
    """A lifter whose non-winking reps vary by 2 deg cannot have a rep called clear 0.8 deg
    past the bar (the band was capped at 0.75 deg before): the band follows the noise, and the
    stated band for the truth is TRUTH_BAND_FACTOR times it."""
    threshold = wink_threshold(5.0, PersonalBaseline(4.0, 2.0, 8))
    assert threshold.borderline_deg == pytest.approx(
        np.hypot(SMALL_SAMPLE_SPREAD_FACTOR * 2.0, WINK_MEASUREMENT_SD_DEG)
    )
    assert threshold.truth_band_deg == pytest.approx(TRUTH_BAND_FACTOR * threshold.borderline_deg)
    assert grade_wink(threshold.threshold_deg + 0.8, threshold) == "borderline"
    assert grade_wink(threshold.threshold_deg + 2.5, threshold) == "clear"
    assert grade_wink(threshold.threshold_deg - 2.5, threshold) == "none"


def test_a_tight_baseline_still_leaves_room_for_the_next_sets_reps() -> None:
    """Five reps that agree to 0.1 deg say little about the next set's reps: the threshold is
    the centre plus k x the floor, not centre + k x 0.3 deg (worked example: centre 4 deg,
    floor 2 deg, k 1.5 -> 7.03 deg rather than 4.45)."""
    tight = personal_baseline([3.9, 4.0, 4.0, 4.1, 4.0])
    assert tight.spread_deg == MIN_SPREAD_DEG
    threshold = wink_threshold(5.0, tight, k_spread=1.5, spread_floor_deg=2.0)
    assert threshold.source == "personal"
    assert threshold.threshold_deg == pytest.approx(4.0 + 1.5 * np.sqrt(0.3**2 + 2.0**2))
    # The floor adds in quadrature: a large personal spread still counts nearly in full.
    wide = wink_threshold(5.0, PersonalBaseline(4.0, 6.0, 8), k_spread=1.5, spread_floor_deg=2.0)
    assert wide.threshold_deg == pytest.approx(4.0 + 1.5 * np.sqrt(40.0))


def test_grades_around_the_threshold() -> None:
    threshold = wink_threshold(5.0)
    assert threshold.borderline_deg == DEFAULT_BORDERLINE_DEG
    assert grade_wink(6.1, threshold) == "clear"
    assert grade_wink(5.5, threshold) == "borderline"
    assert grade_wink(4.2, threshold) == "borderline"
    assert grade_wink(3.9, threshold) == "none"


def test_a_baseline_cannot_be_negative_or_nan() -> None:
    with pytest.raises(BaselineError):
        PersonalBaseline(float("nan"), 1.0, 5)
    with pytest.raises(BaselineError):
        PersonalBaseline(1.0, -1.0, 5)


def test_pipeline_flags_against_the_personal_threshold() -> None:
    """A 5.5-deg wink is flagged against the default, not against a noisy lifter's 7.75 deg
    (4.4 + 1.5 x sqrt(1 + 2^2)); a 10-deg wink is clear either way. Amplitudes from the
    simulator's truth."""
    noisy = PersonalBaseline(4.4, 1.0, 8)
    for wink_deg, default_flag, personal_grade in ((5.5, True, "none"), (10.0, True, "clear")):
        sim = simulate_set(SquatSetSpec(reps=3, wink_deg=wink_deg), seed=21)
        plain = analyze_recordings(sim.sacrum, sim.thigh)
        personal = analyze_recordings(sim.sacrum, sim.thigh, baseline=noisy)
        assert [r.butt_wink for r in plain.reps] == [default_flag] * 3
        assert all(r.threshold_source == "default" for r in plain.reps)
        assert all(r.wink_threshold_deg == DEFAULT_WINK_THRESHOLD_DEG for r in plain.reps)
        personal_deg = 4.4 + K_SPREAD * np.hypot(1.0, SPREAD_FLOOR_DEG)
        assert personal.threshold.threshold_deg == pytest.approx(personal_deg)
        # u: 1 deg without a baseline, hypot(1.2 x spread, 0.32 deg) with one (README)
        assert all(r.wink_uncertainty_deg == 1.0 for r in plain.reps)
        for rep in personal.reps:
            assert (rep.threshold_source, rep.baseline_reps) == ("personal", 8)
            assert rep.butt_wink == (wink_deg > personal_deg)
            assert rep.wink_grade == personal_grade
            assert rep.wink_uncertainty_deg == pytest.approx(np.hypot(1.2 * 1.0, 0.32))
        for rep in plain.reps + personal.reps:  # the grade is taken with the u it reports
            u_deg = rep.wink_uncertainty_deg
            borderline = abs(rep.wink_deg - rep.wink_threshold_deg) < u_deg
            assert (rep.wink_grade == "borderline") == borderline
        # The amplitude does not depend on the threshold.
        assert np.allclose([r.wink_deg for r in plain.reps], [r.wink_deg for r in personal.reps])
