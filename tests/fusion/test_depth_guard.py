"""The depth guard against the simulator's true wink onsets (fusion.live.depth_guard)."""

from __future__ import annotations

import numpy as np
import pytest

from fusion.live import DepthCeilingNear, LiveSquatAnalyzer, RepCompleted
from fusion.live.depth_guard import DepthGuard, descent_speed_degps
from fusion.simulator import SquatSetSpec, simulate_set
from tests.fusion.test_live import feed

ONSET_DEG = 85.0
WINKING = SquatSetSpec(
    reps=5, depth_deg=108.0, wink_deg=12.0, wink_onset_deg=ONSET_DEG, wink_onset_jitter_deg=1.5
)


def _cues(events) -> list[DepthCeilingNear]:
    return [e for e in events if isinstance(e, DepthCeilingNear)]


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_every_winking_rep_is_cued_once_and_well_before_its_true_onset(seed: int) -> None:
    sim = simulate_set(WINKING, seed=seed)
    guard = DepthGuard(ONSET_DEG - 4.0)  # a prescription's ceiling sits below the onset
    events = feed(LiveSquatAnalyzer(load_kg=100.0, depth_guard=guard), sim)
    cues = _cues(events)
    assert [c.rep for c in cues] == [1, 2, 3, 4, 5]
    for cue, truth in zip(cues, sim.reps, strict=True):
        assert truth.wink_onset_s is not None
        assert truth.start_s < cue.t_s < truth.wink_onset_s - 0.25  # decided >= 0.25 s ahead
        true_thigh = float(np.interp(cue.t_s, sim.truth.t_s, sim.truth.thigh_deg))
        assert true_thigh < guard.cue_level_deg  # not yet at the ceiling when cued
        assert abs(cue.thigh_deg - true_thigh) < 5.0
        assert cue.speed_degps > 40.0  # on the way down
        assert (cue.ceiling_thigh_deg, cue.margin_deg) == (guard.ceiling_thigh_deg, 3.0)
    assert len([e for e in events if isinstance(e, RepCompleted)]) == 5


def test_a_larger_margin_cues_earlier() -> None:
    sim = simulate_set(WINKING, seed=4)
    times = []
    for margin in (0.0, 10.0):
        analyzer = LiveSquatAnalyzer(load_kg=60.0, depth_guard=DepthGuard(80.0, margin))
        times.append([c.t_s for c in _cues(feed(analyzer, sim))])
    assert len(times[0]) == len(times[1]) == 5
    assert all(wide < tight for tight, wide in zip(*times, strict=True))


def test_no_cue_without_load_without_a_guard_or_far_above_the_ceiling() -> None:
    sim = simulate_set(WINKING, seed=5)
    assert not _cues(feed(LiveSquatAnalyzer(load_kg=0.0, depth_guard=DepthGuard(80.0)), sim))
    assert not _cues(feed(LiveSquatAnalyzer(load_kg=None, depth_guard=DepthGuard(80.0)), sim))
    assert not _cues(feed(LiveSquatAnalyzer(load_kg=100.0), sim))
    shallow = simulate_set(SquatSetSpec(reps=4, depth_deg=50.0, depth_jitter_deg=1.0), seed=6)
    assert not _cues(feed(LiveSquatAnalyzer(load_kg=100.0, depth_guard=DepthGuard(100.0)), shallow))


def test_speed_is_the_slope_of_the_thigh_angle() -> None:
    rate_hz = 100.0
    ramp = 20.0 + 120.0 * np.arange(6) / rate_hz  # 120 deg/s
    assert descent_speed_degps(ramp, rate_hz) == pytest.approx(120.0)
    assert descent_speed_degps(ramp[:1], rate_hz) == 0.0


@pytest.mark.parametrize(
    ("kwargs", "words"),
    [
        ({"ceiling_thigh_deg": float("nan")}, "ceiling_thigh_deg"),
        ({"ceiling_thigh_deg": -5.0}, "ceiling_thigh_deg"),
        ({"ceiling_thigh_deg": 80.0, "margin_deg": 40.0}, "margin_deg"),
        ({"ceiling_thigh_deg": 80.0, "lookahead_s": -1.0}, "lookahead_s"),
    ],
)
def test_a_meaningless_guard_is_refused_with_its_range(kwargs, words) -> None:
    with pytest.raises(ValueError, match=words):
        DepthGuard(**kwargs)
