"""Accuracy bars of the offline analysis on fixed-seed simulated sets (ground truth known).

30 randomised recordings: varied mounting, noise, bias, rates (50-200 Hz), clock drift,
packet loss, depths (incl. partial squats), rhythm, wink amplitude and onset.
"""

import numpy as np
import pytest

from fusion.evaluation import score_set, summarise
from fusion.pipeline import analyze_recordings
from fusion.simulator import random_spec, simulate_set

RECORDINGS = 30


@pytest.fixture(scope="module")
def summary():
    scores = []
    for seed in range(RECORDINGS):
        sim = simulate_set(random_spec(np.random.default_rng(1000 + seed)), seed=seed)
        result = analyze_recordings(sim.sacrum, sim.thigh)
        truth_reps = [(r.bottom_s, r.depth_deg, r.wink_deg) for r in sim.reps]
        scores.append(
            score_set(
                result, sim.truth.t_s, sim.truth.thigh_deg, sim.truth.pelvic_tilt_deg, truth_reps
            )
        )
    return summarise(scores)


def test_rep_count_is_exact_in_98_percent_of_recordings(summary) -> None:
    assert summary.count_exact_share >= 0.98


def test_depth_rmse_at_most_2_deg(summary) -> None:
    assert summary.depth_rmse_deg <= 2.0


def test_pelvic_tilt_rmse_at_most_1_5_deg(summary) -> None:
    assert summary.tilt_rmse_deg <= 1.5


def test_hip_flexion_rmse_at_most_2_5_deg(summary) -> None:
    assert summary.hip_rmse_deg <= 2.5


def test_wink_amplitude_rmse_at_most_2_deg(summary) -> None:
    assert summary.wink_rmse_deg <= 2.0


def test_wink_detection_balanced_accuracy_at_least_0_95(summary) -> None:
    assert summary.clear_wink_reps >= 20 and summary.no_wink_reps >= 20
    assert summary.wink_balanced_accuracy >= 0.95
