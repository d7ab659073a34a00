"""Reps at the edges of a recording: counted, marked, against the simulator's truth."""

from __future__ import annotations

from fusion.pipeline import analyze_recordings
from fusion.simulator import SquatSetSpec, simulate_set
from fusion.types import ImuRecording


def _crop(rec: ImuRecording, start_s: float, end_s: float) -> ImuRecording:
    keep = (rec.t_s >= start_s) & (rec.t_s <= end_s)
    return ImuRecording(rec.t_s[keep], rec.acc_mps2[keep], rec.gyr_radps[keep])


def test_a_recording_that_starts_and_ends_at_a_bottom_counts_every_rep() -> None:
    sim = simulate_set(SquatSetSpec(reps=5, wink_deg=0.0), seed=8)
    start_s, end_s = sim.reps[0].bottom_s, sim.reps[-1].bottom_s + 0.05
    result = analyze_recordings(_crop(sim.sacrum, start_s, end_s), _crop(sim.thigh, start_s, end_s))
    assert len(result.reps) == 5
    for found, true in zip(result.reps, sim.reps):
        assert abs(found.bottom_s - true.bottom_s) < 0.3
        assert abs(found.depth_deg - true.depth_deg) < 4.0
    assert "edge_start" in result.reps[0].quality
    assert "edge_end" in result.reps[-1].quality
    assert all(not any(q.startswith("edge") for q in r.quality) for r in result.reps[1:-1])
    assert not any(f.code == "incomplete_reps" for f in result.findings)
    assert any(f.code == "rep_edge_start" and f.rep == 1 for f in result.findings)


def test_a_rep_that_starts_in_the_first_second_is_a_complete_rep() -> None:
    sim = simulate_set(SquatSetSpec(reps=3, standing_s=0.3, wink_deg=0.0), seed=9)
    result = analyze_recordings(sim.sacrum, sim.thigh)
    assert len(result.reps) == 3
    assert abs(result.reps[0].bottom_s - sim.reps[0].bottom_s) < 0.3
