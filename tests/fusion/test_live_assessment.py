"""The live analyser with an assessment's stored calibration: later steps (the quadruped
rock-back among them) are analysed as they stream, checked against the simulator's truth."""

from dataclasses import replace

import numpy as np
import pytest

from fusion.assessment.steps import analyse_step
from fusion.live import Calibrated, LiveSquatAnalyzer, RepCompleted, WinkOnset
from fusion.simulator.assessment import clear_lifter, simulate_assessment
from tests.fusion.test_live import feed

CASES = ((300, "structural"), (302, "stability"), (308, "motor_control"))
STEPS = ("baseline", "rock_back", "goblet")


@pytest.fixture(scope="module")
def lifters():
    out = []
    for seed, cause in CASES:
        sim = simulate_assessment(
            clear_lifter(np.random.default_rng(seed), cause, steps=STEPS), seed
        )
        baseline = sim.steps["baseline"].simulated
        _, calibration = analyse_step("baseline", baseline.sacrum, baseline.thigh, None)
        out.append((sim, calibration))
    return out


def _onset_errors(events, step) -> list[float]:
    """Live onset hip flexion minus the true one of the rep whose onset is nearest in time."""
    truth_s = np.array([r.wink_onset_s if r.wink_onset_s is not None else -1e9 for r in step.reps])
    errors = []
    for onset in (e for e in events if isinstance(e, WinkOnset)):
        truth = step.onset_hip_flexion_deg[int(np.argmin(np.abs(truth_s - onset.t_s)))]
        if truth is not None:
            errors.append(onset.onset_hip_flexion_deg - truth)
    return errors


@pytest.mark.parametrize(("kind", "movement"), [("rock_back", "rock_back"), ("goblet", "squat")])
def test_later_steps_are_analysed_live_with_the_stored_calibration(lifters, kind, movement):
    errors = []
    for sim, calibration in lifters:
        step = sim.steps[kind]
        analyzer = LiveSquatAnalyzer(calibration=calibration, movement=movement)
        events = feed(analyzer, step.simulated)
        assert [e.ok for e in events if isinstance(e, Calibrated)] == [True]
        reps = [e.metrics for e in events if isinstance(e, RepCompleted)]
        assert len(reps) == len(step.reps)
        assert all(rep.butt_wink for rep in reps)  # every rep of these lifters tucks 7-15 deg
        errors += _onset_errors(events, step)
    assert len(errors) >= 15
    errors = np.abs(errors)
    assert np.median(errors) <= 1.5
    if kind == "rock_back":
        assert float(np.sqrt(np.mean(errors**2))) <= 2.0


def test_a_rock_back_needs_the_stored_calibration() -> None:
    with pytest.raises(ValueError, match="calibration"):
        LiveSquatAnalyzer(movement="rock_back")
    with pytest.raises(ValueError, match="movement"):
        LiveSquatAnalyzer(movement="plank")  # type: ignore[arg-type]


def test_wrong_posture_and_a_slipped_sensor_are_said(lifters) -> None:
    sim, calibration = lifters[0]
    standing = sim.steps["goblet"].simulated
    events = feed(LiveSquatAnalyzer(calibration=calibration, movement="rock_back"), standing)
    said = [e for e in events if isinstance(e, Calibrated)]
    assert len(said) == 1 and not said[0].ok and "wrong movement" in said[0].message

    lifter = replace(sim.lifter, moved_step="goblet")
    slipped = simulate_assessment(lifter, sim.seed).steps["goblet"].simulated
    events = feed(LiveSquatAnalyzer(calibration=calibration), slipped)
    said = [e for e in events if isinstance(e, Calibrated)]
    assert len(said) == 1 and not said[0].ok and "sacrum sensor" in said[0].message
