"""The causal live analyser against simulated ground truth, fed the way the gateway feeds it."""

from dataclasses import replace

import numpy as np
import pytest

from fusion.live import (
    Calibrated,
    LiveAngles,
    LiveSquatAnalyzer,
    RepCompleted,
    RepNotCounted,
    RepStarted,
    WinkOnset,
)
from fusion.simulator import SquatSetSpec, random_spec, simulate_set
from fusion.types import ImuRecording


def feed(analyzer: LiveSquatAnalyzer, sim, chunk_s: float = 0.05) -> list:
    """Interleave both sensors' samples in chunks of `chunk_s`, as notifications arrive."""
    events = []
    start = min(sim.sacrum.t_s[0], sim.thigh.t_s[0])
    stop = max(sim.sacrum.t_s[-1], sim.thigh.t_s[-1]) + chunk_s
    for a, b in zip(
        np.arange(start, stop, chunk_s), np.arange(start + chunk_s, stop + chunk_s, chunk_s)
    ):
        for placement, rec in (("sacrum", sim.sacrum), ("thigh", sim.thigh)):
            m = (rec.t_s >= a) & (rec.t_s < b)
            if m.any():
                events += analyzer.push(placement, rec.t_s[m], rec.acc_mps2[m], rec.gyr_radps[m])
    return events


def _nearest_truth(sim, bottom_s: float):
    return min(sim.reps, key=lambda r: abs(r.bottom_s - bottom_s))


def test_live_reps_match_truth_over_a_random_sweep() -> None:
    depth_errors, wink_errors, exact = [], [], 0
    for seed in range(12):
        sim = simulate_set(random_spec(np.random.default_rng(1000 + seed)), seed=seed)
        reps = [e.metrics for e in feed(LiveSquatAnalyzer(), sim) if isinstance(e, RepCompleted)]
        exact += len(reps) == len(sim.reps)
        for rep in reps:
            truth = _nearest_truth(sim, rep.bottom_s)
            depth_errors.append(rep.depth_deg - truth.depth_deg)
            wink_errors.append(rep.wink_deg - truth.wink_deg)
    assert exact == 12
    assert np.sqrt(np.mean(np.square(depth_errors))) <= 2.5
    assert np.sqrt(np.mean(np.square(wink_errors))) <= 2.0


def test_wink_onset_is_announced_during_the_rep_with_its_depth() -> None:
    spec = SquatSetSpec(reps=4, depth_deg=110.0, wink_deg=12.0, wink_onset_fraction=0.75)
    sim = simulate_set(spec, seed=7)
    events = feed(LiveSquatAnalyzer(load_kg=80.0), sim)
    kinds = [type(e) for e in events if not isinstance(e, LiveAngles)]
    assert kinds[0] is Calibrated
    onsets = [e for e in events if isinstance(e, WinkOnset)]
    completed = [e.metrics for e in events if isinstance(e, RepCompleted)]
    assert len(onsets) == len(completed) == 4
    for onset, rep in zip(onsets, completed):
        truth = _nearest_truth(sim, rep.bottom_s)
        assert kinds.index(WinkOnset) < kinds.index(RepCompleted)
        assert abs(onset.onset_depth_deg - truth.wink_onset_depth_deg) < 6.0
        assert onset.detected_s <= rep.end_s
        assert rep.butt_wink and rep.loaded_wink and rep.load_kg == 80.0
    assert [type(e) for e in events].count(RepStarted) == 4


def test_no_wink_events_for_a_clean_set() -> None:
    sim = simulate_set(SquatSetSpec(reps=3, depth_deg=100.0, wink_deg=0.0), seed=3)
    events = feed(LiveSquatAnalyzer(), sim)
    assert not [e for e in events if isinstance(e, WinkOnset)]
    reps = [e.metrics for e in events if isinstance(e, RepCompleted)]
    assert len(reps) == 3 and not any(r.butt_wink for r in reps)


def test_marked_gap_shows_in_rep_quality() -> None:
    sim = simulate_set(SquatSetSpec(reps=2, depth_deg=100.0), seed=5)
    analyzer = LiveSquatAnalyzer()
    first_bottom = sim.reps[0].bottom_s
    analyzer.mark_gap("thigh", first_bottom - 0.1, first_bottom + 0.1)
    reps = [e.metrics for e in feed(analyzer, sim) if isinstance(e, RepCompleted)]
    assert "gap" in reps[0].quality and "gap" not in reps[1].quality


def test_bad_placement_and_shapes_are_refused() -> None:
    analyzer = LiveSquatAnalyzer()
    with pytest.raises(ValueError, match="placement"):
        analyzer.push("shin", np.zeros(1), np.zeros((1, 3)), np.zeros((1, 3)))
    with pytest.raises(ValueError, match="same number"):
        analyzer.push("thigh", np.zeros(2), np.zeros((1, 3)), np.zeros((1, 3)))


def test_link_drop_mid_rep_is_flagged_and_does_not_spoil_later_reps() -> None:
    spec = SquatSetSpec(reps=4, depth_deg=100.0, wink_deg=0.0, pause_between_s=(1.0, 1.0))
    sim = simulate_set(spec, seed=9)
    third = sim.reps[2]
    keep = (sim.thigh.t_s < third.start_s + 0.5) | (sim.thigh.t_s > third.bottom_s + 0.3)
    thigh = ImuRecording(sim.thigh.t_s[keep], sim.thigh.acc_mps2[keep], sim.thigh.gyr_radps[keep])
    reps = [
        e.metrics
        for e in feed(LiveSquatAnalyzer(), replace(sim, thigh=thigh))
        if isinstance(e, RepCompleted)
    ]
    assert len(reps) == 4
    assert [("gap" in r.quality) for r in reps] == [False, False, True, False]
    for rep in (reps[0], reps[1], reps[3]):
        assert abs(rep.depth_deg - _nearest_truth(sim, rep.bottom_s).depth_deg) < 1.5


def test_sensor_buffer_interpolates_like_np_interp_and_tolerates_grid_rounding() -> None:
    """The grid may end a rounding error past the last sample: the end value, as np.interp."""
    from fusion.live.history import SensorBuffer

    rng = np.random.default_rng(5)
    t_s = np.cumsum(rng.uniform(0.004, 0.006, 12))
    acc, gyr = rng.normal(size=(12, 3)), rng.normal(size=(12, 3))
    grid = np.linspace(t_s[0], t_s[-1], 7)
    grid[-1] += 1e-12
    buffer = SensorBuffer()
    buffer.append(t_s, acc, gyr)
    acc_g, gyr_g, lost = buffer.interpolate(grid, 1.0)
    for k in range(3):
        assert np.allclose(acc_g[:, k], np.interp(grid, t_s, acc[:, k]), atol=1e-12)
        assert np.allclose(gyr_g[:, k], np.interp(grid, t_s, gyr[:, k]), atol=1e-12)
    assert not lost.any()
    assert buffer.size == 1  # only the last sample at or before the grid's end is kept


def _cut(sim, until_s: float):
    """The simulated set's samples up to `until_s` only (a set stopped then)."""
    kept = {}
    for placement in ("sacrum", "thigh"):
        rec = getattr(sim, placement)
        m = rec.t_s <= until_s
        kept[placement] = ImuRecording(rec.t_s[m], rec.acc_mps2[m], rec.gyr_radps[m])
    return replace(sim, **kept)


@pytest.mark.parametrize("seed", [3, 5, 7])
def test_finish_completes_the_last_rep_on_its_last_stretch_up(seed) -> None:
    """A set stopped as its last rep ends: the samples stop a moment before the level is
    within the margin of standing, so the rep never completed; `finish` completes it, the
    same rep as with the samples after it, while a rep stopped at its bottom is not counted."""
    sim = simulate_set(SquatSetSpec(reps=3, depth_deg=100.0), seed=seed)
    whole = [e.metrics for e in feed(LiveSquatAnalyzer(), sim) if isinstance(e, RepCompleted)]
    last = whole[-1]
    analyzer = LiveSquatAnalyzer()
    cut = [
        e.metrics
        for e in feed(analyzer, _cut(sim, last.end_s - 0.02))
        if isinstance(e, RepCompleted)
    ]
    assert len(cut) == 2
    (finished,) = [e.metrics for e in analyzer.finish() if isinstance(e, RepCompleted)]
    assert finished.rep == 3 and finished.end_s <= last.end_s
    assert abs(finished.depth_deg - last.depth_deg) < 0.5
    assert abs(finished.end_s - last.end_s) < 0.3
    at_bottom = LiveSquatAnalyzer()
    feed(at_bottom, _cut(sim, last.bottom_s))
    assert [e for e in at_bottom.finish() if isinstance(e, RepCompleted)] == []


def test_a_thigh_gap_hiding_a_reps_end_and_the_next_start_counts_no_merged_rep() -> None:
    """3 s without thigh samples from the way up of rep 2 to the way down of rep 3: one rep
    of 6.5 s before (the held thigh angle never came back to standing); now that stretch is
    not counted (RepNotCounted saying where the gap was), the reps around it are."""
    spec = SquatSetSpec(reps=4, depth_deg=100.0, wink_deg=0.0, pause_between_s=(1.0, 1.0))
    sim = simulate_set(spec, seed=9)
    middle_s = (sim.reps[1].end_s + sim.reps[2].start_s) / 2
    keep = np.abs(sim.thigh.t_s - middle_s) > 1.5
    thigh = ImuRecording(sim.thigh.t_s[keep], sim.thigh.acc_mps2[keep], sim.thigh.gyr_radps[keep])
    events = feed(LiveSquatAnalyzer(), replace(sim, thigh=thigh))
    reps = [e.metrics for e in events if isinstance(e, RepCompleted)]
    assert [r.rep for r in reps] == [1, 3]
    for rep in reps:
        assert abs(rep.depth_deg - _nearest_truth(sim, rep.bottom_s).depth_deg) < 1.5
    (hidden,) = [e for e in events if isinstance(e, RepNotCounted)]
    assert hidden.rep == 2 and hidden.placement == "thigh"
    assert hidden.gap_start_s < middle_s - 1.4 and hidden.gap_end_s > middle_s + 1.4
    assert hidden.start_s < sim.reps[1].bottom_s and hidden.end_s > sim.reps[2].bottom_s
