"""AthletePipeline: set lifecycle, decimation, load changes, idle detection (real analyser)."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from fusion.simulator import SquatSetSpec, simulate_set
from sensor_gateway.athlete_pipeline import AthletePipeline
from sensor_gateway.events import (
    GatewayClock,
    LiveAngles,
    Placement,
    RepCompleted,
    SetStarted,
    SetStopped,
    SetVariant,
    StopReason,
)


@pytest.fixture(scope="module")
def simulated():
    return simulate_set(SquatSetSpec(reps=4, wink_deg=0.0), seed=8)


def _feed(pipeline, sim, chunk=8, until_s=np.inf, on_rep=None):
    events = []
    streams = [(Placement.SACRUM, sim.sacrum), (Placement.THIGH, sim.thigh)]
    position = {p: 0 for p, _ in streams}
    while True:
        progressed = False
        for placement, rec in streams:
            a = position[placement]
            if a >= len(rec) or rec.t_s[a] > until_s:
                continue
            b = min(a + chunk, len(rec))
            position[placement] = b
            new = pipeline.push(placement, rec.t_s[a:b], rec.acc_mps2[a:b], rec.gyr_radps[a:b])
            events += new
            if on_rep is not None and any(isinstance(e, RepCompleted) for e in new):
                on_rep(pipeline)
            progressed = True
        if not progressed:
            return events


def test_set_lifecycle_decimation_and_load_change(simulated):
    pipeline = AthletePipeline("ann", GatewayClock(), live_angles_rate_hz=10.0)
    assert (
        pipeline.push(
            Placement.THIGH,
            simulated.thigh.t_s[:4],
            simulated.thigh.acc_mps2[:4],
            simulated.thigh.gyr_radps[:4],
        )
        == []
    )  # no set: nothing happens
    started = pipeline.start_set(SetVariant.FRONT_SQUAT, 60.0, now_s=0.0)
    assert isinstance(started[0], SetStarted) and started[0].set.variant is SetVariant.FRONT_SQUAT
    events = _feed(pipeline, simulated, on_rep=lambda p: p.set_load(70.0))
    reps = [e.metrics for e in events if isinstance(e, RepCompleted)]
    assert len(reps) == 4
    assert [m.load_kg for m in reps] == [60.0, 70.0, 70.0, 70.0]
    assert pipeline.current_set.load_kg == 70.0
    angles = [e for e in events if isinstance(e, LiveAngles)]
    t = np.array([e.t_s for e in angles])
    assert np.all(np.diff(np.floor(t * 10.0)) == 1)  # exactly one per 0.1 s bin
    stopped = pipeline.stop_set(StopReason.REQUESTED, now_s=30.0)
    assert isinstance(stopped[-1], SetStopped) and stopped[-1].rep_count == 4
    assert pipeline.current_set is None and pipeline.stop_set(StopReason.REQUESTED, 31.0) == []


def test_idle_time_counts_from_the_last_rep_and_replacing_a_set(simulated):
    pipeline = AthletePipeline("ann", GatewayClock(), idle_stop_s=3.0)
    pipeline.start_set(SetVariant.BACK_SQUAT, None, now_s=0.0)
    events = _feed(pipeline, simulated)
    last_end = [e.t_s for e in events if isinstance(e, RepCompleted)][-1]  # gateway clock
    last_sample = max(simulated.sacrum.t_s[-1], simulated.thigh.t_s[-1])
    assert pipeline.idle_for_s() == pytest.approx(last_sample - last_end, abs=0.02)
    assert not pipeline.should_auto_stop()  # the simulated set ends standing for ~2 s
    assert pipeline.should_auto_stop(now_s=last_end + 3.5)  # no samples, wall clock moved on
    first_key = pipeline.current_set.set_key
    replaced = pipeline.start_set(SetVariant.BOX_SQUAT, 40.0, now_s=100.0)
    assert isinstance(replaced[0], SetStopped) and replaced[0].reason is StopReason.REPLACED
    assert replaced[0].set.set_key == first_key and pipeline.current_set.set_key != first_key


def test_live_angles_send_the_newest_sample_of_each_bin(simulated):
    """Of each 0.1 s bin the newest analysed sample goes out, not the bin's first one (which
    is up to a bin older when a packet brings several samples: 8 samples of 100 Hz here)."""
    pipeline = AthletePipeline("ann", GatewayClock(), live_angles_rate_hz=10.0)
    pipeline.start_set(SetVariant.BACK_SQUAT, None, now_s=0.0)
    period_s = float(np.median(np.diff(simulated.sacrum.t_s)))
    streams = [(Placement.SACRUM, simulated.sacrum), (Placement.THIGH, simulated.thigh)]
    newest = {}
    lags_s = []  # both sensors' data so far - the newest angle sent for it
    for a in range(0, len(simulated.sacrum), 8):
        for placement, rec in streams:
            b = min(a + 8, len(rec))
            if a >= b:
                continue
            newest[placement] = rec.t_s[b - 1]
            sent = [
                e.t_s
                for e in pipeline.push(
                    placement, rec.t_s[a:b], rec.acc_mps2[a:b], rec.gyr_radps[a:b]
                )
                if isinstance(e, LiveAngles)
            ]
            if sent and len(newest) == 2:
                lags_s.append(min(newest.values()) - max(sent))
    assert len(lags_s) > 100
    assert max(lags_s) <= 1.5 * period_s  # the first sample of each bin: up to 7 periods


def test_reps_marked_late_come_again_with_the_code_and_the_later_ones_carry_it(simulated):
    """A quality code found after some reps (a dead axis since `since_s`): the reps completed
    already and ending after it come again, marked, with the load corrected since (as their
    stored rows have it); a rep that ended before stays; later reps carry it as they come."""
    pipeline = AthletePipeline("ann", GatewayClock())
    pipeline.start_set(SetVariant.BACK_SQUAT, 60.0, now_s=0.0)
    corrected: list = []

    def after_rep_2(p: AthletePipeline) -> None:
        if p.rep_count == 2 and not corrected:
            p.set_load(70.0)
            corrected.extend(p.mark_reps_since("sacrum_dead_axis", since_s[0]))

    since_s = [np.inf]
    first_run = [e for e in _feed(pipeline, simulated) if isinstance(e, RepCompleted)]
    # The same set again, marked since between the ends of reps 1 and 2.
    since_s[0] = (first_run[0].t_s + first_run[1].t_s) / 2
    pipeline.start_set(SetVariant.BACK_SQUAT, 60.0, now_s=0.0)
    reps = [
        e for e in _feed(pipeline, simulated, on_rep=after_rep_2) if isinstance(e, RepCompleted)
    ]
    assert [e.metrics.rep for e in reps] == [1, 2, 3, 4]
    assert [(e.metrics.rep, e.correction) for e in corrected] == [(2, True)]
    rep_2 = reps[1].metrics
    expected = dataclasses.replace(
        rep_2.with_load(70.0), quality=(*rep_2.quality, "sacrum_dead_axis")
    )
    assert corrected[0].metrics == expected and corrected[0].t_s == reps[1].t_s
    assert "sacrum_dead_axis" not in reps[0].metrics.quality
    assert all("sacrum_dead_axis" in e.metrics.quality and not e.correction for e in reps[2:])
    assert pipeline.mark_reps_since("sacrum_dead_axis", since_s[0]) == []  # marked already
