"""Assessment core: statistics, decision rules and prescription geometry, on known inputs."""

import numpy as np
import pytest

from fusion.assessment.prescription import SEAT_BELOW_HIP_CM, box_height_cm, prescribe
from fusion.assessment.stats import hodges_lehmann_shift, median_ci, shift_ci
from fusion.assessment.verdict import EQUIVALENCE_DEG, Shift, StepEvidence, compare, decide

RNG = np.random.default_rng(3)


def _step(
    onset_deg: float | None,
    spread_deg: float = 1.0,
    reps: int = 7,
    depth_deg: float = 130.0,
    rng: np.random.Generator = RNG,
):
    if onset_deg is None:
        return StepEvidence(np.zeros(0), depth_deg + rng.normal(0, 1, reps), winks=False)
    return StepEvidence(
        onset_deg + rng.normal(0, spread_deg, reps), depth_deg + rng.normal(0, 1, reps), True
    )


def test_median_ci_is_reproducible_and_brackets_the_median() -> None:
    values = np.array([100.0, 103.0, 98.0, 101.0, 99.5, 102.0])
    first, second = median_ci(values), median_ci(values)
    assert first == second
    assert first.median == pytest.approx(100.5)
    assert first.low <= first.median <= first.high


def test_hodges_lehmann_is_the_median_of_pairwise_differences() -> None:
    later, reference = np.array([10.0, 12.0, 30.0]), np.array([1.0, 2.0])
    assert hodges_lehmann_shift(later, reference) == pytest.approx(10.5)  # 8,9,10,11,28,29


def test_shift_ci_covers_a_known_shift() -> None:
    base = 100 + RNG.normal(0, 2, 7)
    later = 110 + RNG.normal(0, 2, 7)
    estimate = shift_ci(later, base, 0.95)
    assert estimate.low < 10 < estimate.high
    assert estimate.low > 5


def test_shift_ci_of_long_steps_stays_within_bounded_memory(monkeypatch) -> None:
    """A step can hold many reps (a long uploaded recording): the bootstrap took all pairwise
    differences of all 4,000 resamples at once, 4,000 x 100 x 100 x 8 bytes = 320 MB for two
    100-rep steps (5 GB at 400), enough to kill a Pi's gateway. Chunked, the same interval."""
    import tracemalloc

    from fusion.assessment import stats

    rng = np.random.default_rng(3)
    later, reference = rng.normal(12.0, 3.0, 100), rng.normal(10.0, 3.0, 100)
    tracemalloc.start()
    try:
        chunked = shift_ci(later, reference, 0.95)
        peak_bytes = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak_bytes < 100e6, peak_bytes
    monkeypatch.setattr(stats, "PAIRS_PER_CHUNK", 10**12)  # all resamples in one chunk
    assert shift_ci(later, reference, 0.95) == chunked


def test_compare_later_same_unclear_and_wink_removed() -> None:
    base = _step(100.0)
    assert compare("goblet", _step(115.0), base).shift is Shift.LATER
    assert compare("goblet", _step(100.0), base).shift is Shift.SAME
    assert compare("goblet", _step(104.0, spread_deg=8.0), base).shift is Shift.UNCLEAR
    assert compare("goblet", None, base).shift is Shift.UNTESTED
    removed = compare("goblet", _step(None, depth_deg=120.0), base)
    assert (removed.shift, removed.basis) == (Shift.LATER, "depth_without_wink")
    too_shallow = compare("goblet", _step(None, depth_deg=95.0), base)
    assert too_shallow.shift is Shift.UNCLEAR


def test_earlier_onset_is_no_evidence_for_a_cause() -> None:
    assert compare("post_stretch", _step(90.0), _step(100.0)).shift is Shift.SAME
    assert EQUIVALENCE_DEG < 8.0  # below the smallest shift a simulated cause produces


def _verdict(**steps):
    return decide({"baseline": _step(100.0), **steps})


def test_range_missing_and_stretch_decides() -> None:
    v = _verdict(rock_back=_step(100.0), post_stretch=_step(118.0))
    assert (v.structural, v.soft_tissue, v.motor_control) == ("no", "yes", "no")
    v = _verdict(rock_back=_step(100.0), post_stretch=_step(100.0))
    assert (v.structural, v.soft_tissue, v.motor_control) == ("yes", "no", "no")
    v = _verdict(rock_back=_step(100.0))
    assert (v.structural, v.soft_tissue) == ("inconclusive", "not_tested")


def test_range_exists_stability_or_motor_control() -> None:
    v = _verdict(rock_back=_step(120.0), goblet=_step(118.0), post_stretch=_step(100.0))
    assert (v.structural, v.soft_tissue, v.stability, v.motor_control) == ("no", "no", "yes", "no")
    v = _verdict(rock_back=_step(None), goblet=_step(100.0), supported=_step(100.0))
    assert (v.structural, v.soft_tissue, v.stability, v.motor_control) == ("no", "no", "no", "yes")
    v = _verdict(rock_back=_step(120.0))
    assert (v.stability, v.motor_control) == ("not_tested", "inconclusive")
    v = _verdict(goblet=_step(100.0))
    assert (v.structural, v.motor_control, v.stability) == ("not_tested", "not_tested", "no")


def test_no_wink_anywhere() -> None:
    v = decide({"baseline": _step(None), "goblet": _step(None)})
    assert not v.winks
    assert (v.structural, v.soft_tissue, v.stability, v.motor_control) == ("no",) * 4
    assert "No wink at any tested depth" in v.summary


def test_box_height_geometry() -> None:
    # Parallel (90 deg): the hip is level with the knee; shank lean 0.4 x 90 = 36 deg.
    assert box_height_cm(90.0, 45.0, 50.0) == pytest.approx(
        50 * np.cos(np.radians(36)) - SEAT_BELOW_HIP_CM
    )
    # Shallower ceilings need a higher box.
    assert box_height_cm(70.0, 45.0, 50.0) > box_height_cm(90.0, 45.0, 50.0)


def test_ceiling_sits_below_the_onset_by_the_spread() -> None:
    hip = 100 + RNG.normal(0, 3, 8)
    thigh = hip / 1.3
    p = prescribe({"baseline": (hip, thigh)}, 45.0, 45.0)
    assert p.depth_ceiling_hip_flexion_deg is not None and p.depth_ceiling_thigh_deg is not None
    assert p.depth_ceiling_hip_flexion_deg < np.median(hip) - 3.0
    assert p.box_height_cm is not None and p.box_height_cm > 0
    assert prescribe({"baseline": (hip, thigh)}, None, None).box_height_cm is None


def test_the_summary_says_which_steps_were_skipped_and_what_that_leaves_open() -> None:
    rng = np.random.default_rng(5)  # its own draws: the tests above keep theirs

    def step(onset_deg: float | None) -> StepEvidence:
        return _step(onset_deg, rng=rng)

    steps = {"rock_back": step(100.0), "post_stretch": step(118.0)}
    complete = decide({"baseline": step(100.0), **steps})
    assert "Skipped" not in complete.summary
    # Soft tissue named, stability untested because both of its steps were skipped.
    v = decide({"baseline": step(100.0), **steps}, skipped=("goblet", "supported"))
    assert (v.soft_tissue, v.stability) == ("yes", "not_tested")  # the rules are unchanged
    assert "Skipped on purpose: the goblet squat and the supported squat." in v.summary
    assert "Without the goblet squat and the supported squat, stability stayed untested" in (
        v.summary
    )
    assert "the cause named is the most likely of those tested" in v.summary
    # No cause named: the skipped steps could have named it.
    v = decide({"baseline": step(100.0), "rock_back": step(120.0)}, skipped=("goblet",))
    assert "Skipped on purpose: the goblet squat." in v.summary
    assert "less certain than a full battery's" in v.summary
    # The range exists (rock-back), so stretching would test nothing still open.
    v = decide({"baseline": step(100.0), "rock_back": step(120.0)}, skipped=("post_stretch",))
    assert (v.structural, v.soft_tissue) == ("no", "no")
    assert "What the squat after stretching would test (soft tissue and hip structure) the " in (
        v.summary
    )
    # Steps the cause comparisons do not use: said, and what they change.
    v = decide({"baseline": step(100.0), **steps}, skipped=("loaded", "box"))
    assert "Skipped on purpose: the loaded squat and the box squat." in v.summary
    assert "The verdict's cause comparisons do not use these steps." in v.summary
    assert "depth limit comes from the baseline alone" in v.summary
    # A skipped step that was recorded after all is not said to be skipped.
    v = decide({"baseline": step(100.0), **steps}, skipped=("rock_back",))
    assert "Skipped" not in v.summary
    # No wink anywhere: the compared steps are not needed; a wink under load is not ruled out.
    v = decide({"baseline": step(None)}, skipped=("rock_back", "loaded"))
    assert "Skipped on purpose: the rock-back and the loaded squat." in v.summary
    assert "the verdict does not need the rock-back" in v.summary
    assert "A wink that shows only under load is not ruled out." in v.summary
