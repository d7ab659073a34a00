"""Simulated and replay sources: packets like real sensors', pacing, replayed CSVs end to end."""

from __future__ import annotations

import asyncio
import time

import numpy as np
import pytest

from fusion.simulator import SensorSpec, SquatSetSpec, simulate_set
from sensor_gateway.config import Assignments, GatewaySettings
from sensor_gateway.events import Placement, RepCompleted
from sensor_gateway.gateway import Gateway
from sensor_gateway.recording_csv import RecordingFormatError, write_recording_csv
from sensor_gateway.samples import LinkState, SensorKind
from sensor_gateway.sink import MemorySink
from sensor_gateway.sources.replay import ReplayedSensor, ReplaySource
from sensor_gateway.sources.simulated import LatencyModel, SimulatedAthlete, SimulatedSource

# One quick rep straight from standing (about a second of samples).
QUICK_SET = SquatSetSpec(
    reps=1,
    standing_s=0.0,
    standing_end_s=0.0,
    descent_peak_speed_degps=400,
    ascent_peak_speed_degps=400,
    depth_deg=30.0,
)


def _collect(source):
    batches, statuses = [], []
    asyncio.run(source.run(batches.append, statuses.append))
    return batches, statuses


def test_simulated_packets_have_seq_gaps_exactly_where_samples_were_lost():
    lossy = SensorSpec(rate_hz=200.0, loss_probability=0.05, samples_per_packet=5)
    spec = SquatSetSpec(reps=2, sacrum=lossy, thigh=lossy)
    athlete = SimulatedAthlete("a", sets=[spec], seed=4)
    source = SimulatedSource([athlete], realtime=False)
    batches, statuses = _collect(source)
    sim = source.played[0].simulated
    for placement, recording in ((Placement.SACRUM, sim.sacrum), (Placement.THIGH, sim.thigh)):
        mine = [b for b in batches if b.address == athlete.address(placement)]
        assert all(len(b.acc_mps2) == 5 for b in mine[:-1])
        acc = np.concatenate([b.acc_mps2 for b in mine])
        np.testing.assert_array_equal(acc, recording.acc_mps2)  # every kept sample, in order
        seq = np.array([b.seq for b in mine])
        received = np.array([b.received_s for b in mine])
        lost_packets = int(np.sum(np.diff(seq) - 1))
        # Packets the sensor sent between its first and last kept ones = kept + skipped seq.
        taken = int(round((recording.t_s[-1] - recording.t_s[0]) * 200.0)) // 5 + 1
        assert len(mine) + lost_packets == taken and lost_packets > 0
        assert np.all(np.diff(received) >= 0)  # in order per sensor
        sensor_t = np.concatenate([b.sensor_time_s for b in mine])
        np.testing.assert_allclose(np.diff(sensor_t), np.diff(recording.t_s))
    assert {s.state for s in statuses} == {LinkState.STREAMING, LinkState.GONE}


def test_receive_latency_is_one_sided_and_bounded():
    athlete = SimulatedAthlete("a", sets=[SquatSetSpec(reps=1)], seed=9)
    latency = LatencyModel(min_s=0.01, mean_extra_s=0.003, spike_probability=0.0)
    source = SimulatedSource([athlete], realtime=False, latency=latency, start_s=100.0)
    batches, _ = _collect(source)
    played = source.played[0]
    truth = played.simulated.sacrum_truth.true_t_s
    sacrum = [b for b in batches if b.address == athlete.sacrum_address]
    last_index = np.cumsum([len(b.acc_mps2) for b in sacrum]) - 1
    delay = np.array([b.received_s for b in sacrum]) - (played.base_s + truth[last_index])
    assert delay.min() >= 0.01 - 1e-9 and np.median(delay) < 0.02


def test_winkwatch_encoding_round_trips_through_the_decoder():
    athlete = SimulatedAthlete("a", sets=[SquatSetSpec(reps=1)], seed=1)
    plain, _ = _collect(SimulatedSource([athlete], realtime=False, start_s=50.0))
    encoded, _ = _collect(
        SimulatedSource([athlete], realtime=False, start_s=50.0, encoding="winkwatch")
    )
    assert len(plain) == len(encoded) and encoded[0].kind is SensorKind.WINKWATCH
    acc_a = np.concatenate([b.acc_mps2 for b in plain])
    acc_b = np.concatenate([b.acc_mps2 for b in encoded])
    gyr_a = np.concatenate([b.gyr_radps for b in plain])
    gyr_b = np.concatenate([b.gyr_radps for b in encoded])
    assert np.max(np.abs(acc_a - acc_b)) <= 16 * 9.80665 / 32768  # one int16 count at +-16 g
    assert np.max(np.abs(gyr_a - gyr_b)) <= np.deg2rad(2000) / 32768
    assert [b.seq for b in plain] == [b.seq for b in encoded]


def test_realtime_pacing_follows_the_monotonic_clock():
    spec = QUICK_SET
    athlete = SimulatedAthlete("a", sets=[spec], seed=3)
    source = SimulatedSource([athlete], realtime=True)
    lateness = []

    def on_batch(batch):
        lateness.append(time.monotonic() - batch.received_s)

    started = time.monotonic()
    asyncio.run(source.run(on_batch, lambda s: None))
    duration = source.played[0].last_received_s - source.played[0].first_received_s
    assert time.monotonic() - started == pytest.approx(duration, abs=0.3)
    assert min(lateness) >= 0 and np.median(lateness) < 0.02


def test_realtime_sets_are_simulated_off_the_event_loop(monkeypatch):
    """Simulating a set takes ~0.1-0.2 s: in real time it runs in a worker thread (the next
    set while the current one plays), so it never holds up packets or live clients."""
    import threading

    import sensor_gateway.sources.simulated as simulated

    threads = []

    def recording_simulate_set(spec, seed):
        threads.append(threading.current_thread())
        return simulate_set(spec, seed=seed)

    monkeypatch.setattr(simulated, "simulate_set", recording_simulate_set)
    quick = QUICK_SET
    athlete = SimulatedAthlete("a", sets=[quick, quick], seed=3)
    realtime = SimulatedSource([athlete], realtime=True)
    batches, _ = _collect(realtime)
    assert len(threads) == 2 and threading.main_thread() not in threads
    fast, _ = _collect(SimulatedSource([athlete], realtime=False))
    assert [b.seq for b in batches] == [b.seq for b in fast]  # the same sets, in order
    np.testing.assert_array_equal(
        np.concatenate([b.acc_mps2 for b in batches]), np.concatenate([b.acc_mps2 for b in fast])
    )


def _write_set(tmp_path, seed=21):
    sim = simulate_set(SquatSetSpec(reps=3, wink_deg=10.0), seed=seed)
    write_recording_csv(tmp_path / "sacrum.csv", sim.sacrum)
    write_recording_csv(tmp_path / "thigh.csv", sim.thigh)
    return sim


def _replay_gateway(tmp_path) -> tuple[Gateway, MemorySink, ReplaySource]:
    """A gateway replaying tmp_path's sacrum.csv and thigh.csv as athlete "gus", not run yet."""
    settings = GatewaySettings(config_file=tmp_path / "g.json")
    store = Assignments()
    store.assign("REC-SACRUM", "replay", "gus", "sacrum")
    store.assign("REC-THIGH", "replay", "gus", "thigh")
    sink = MemorySink()
    gateway = Gateway(settings, store, sink=sink)
    sensors = [
        ReplayedSensor.from_csv("rec-sacrum", tmp_path / "sacrum.csv"),
        ReplayedSensor.from_csv("rec-thigh", tmp_path / "thigh.csv"),
    ]
    source = ReplaySource(
        sensors,
        realtime=False,
        # On the gateway's clock: its idle-stop ticker compares set times with it.
        start_s=gateway.clock.now_s(),
        on_start=lambda t: gateway.start_set("gus", now_s=t),
        on_end=lambda t: gateway.stop_set("gus", now_s=t),
    )
    gateway.add_source(source)
    return gateway, sink, source


def test_replay_of_recorded_csvs_gives_the_reps(tmp_path):
    sim = _write_set(tmp_path)
    gateway, sink, source = _replay_gateway(tmp_path)
    asyncio.run(gateway.run(stop_when_sources_end=True))
    reps = [e.metrics for e in sink.events if isinstance(e, RepCompleted)]
    assert len(reps) == len(sim.reps) == 3
    for metrics, true in zip(reps, sim.reps):
        assert metrics.depth_deg == pytest.approx(true.depth_deg, abs=3.0)
        assert metrics.wink_deg == pytest.approx(true.wink_deg, abs=2.0)
    key = sink.sets()[0].set_key
    assert sink.sample_count(key) == len(sim.sacrum) + len(sim.thigh) == source.samples_sent
    stored = sink.recording(key, Placement.THIGH)
    # The CSV reader keeps sensor values as float32 (2^-24 ~ 6e-8 relative).
    np.testing.assert_allclose(stored.acc_mps2, sim.thigh.acc_mps2, rtol=1e-7)


def test_replay_reports_bad_files_clearly(tmp_path):
    (tmp_path / "bad.csv").write_text("t_s,ax\n1,2\n")
    with pytest.raises(RecordingFormatError, match="bad.csv, line 1"):
        ReplayedSensor.from_csv("x", tmp_path / "bad.csv")
    with pytest.raises(ValueError, match="nothing to replay"):
        ReplaySource([])


def test_a_replayed_csv_with_values_beyond_any_imus_range_loses_only_those_samples(tmp_path):
    """Found by the previous session: a replayed CSV holding 1e308 or 1e30 went into the live
    filters (finite, so unchecked) and wrecked the set's angles and reps. The gateway drops such
    samples at its input edge, says so once per sensor and set, and the set goes on: the same
    reps as the clean file, the rest of the samples stored."""
    import dataclasses

    from sensor_gateway.events import LiveAngles, QualityWarning

    sim = simulate_set(SquatSetSpec(reps=3, wink_deg=10.0), seed=21)
    acc, gyr = sim.thigh.acc_mps2.copy(), sim.thigh.gyr_radps.copy()
    acc[500] = [1e30, 1e30, 1e30]  # finite, far beyond any accelerometer
    gyr[900] = [1e308, 0.0, 0.0]  # finite in the file (float32 inf once read)
    gyr[1200] = [0.0, 500.0, 0.0]  # rad/s: beyond any gyroscope's +-4000 dps
    write_recording_csv(tmp_path / "sacrum.csv", sim.sacrum)
    write_recording_csv(
        tmp_path / "thigh.csv", dataclasses.replace(sim.thigh, acc_mps2=acc, gyr_radps=gyr)
    )
    gateway, sink, _ = _replay_gateway(tmp_path)

    async def main():
        sub = gateway.bus.subscribe(max_queued=100_000)
        await gateway.run(stop_when_sources_end=True)
        events = []
        while (event := sub.get_nowait()) is not None:
            events.append(event)
        return events

    events = asyncio.run(main())
    reps = [e.metrics for e in sink.events if isinstance(e, RepCompleted)]
    assert len(reps) == len(sim.reps) == 3
    for metrics, true in zip(reps, sim.reps):
        assert metrics.depth_deg == pytest.approx(true.depth_deg, abs=3.0)
        assert metrics.wink_deg == pytest.approx(true.wink_deg, abs=2.0)
    angles = [e for e in events if isinstance(e, LiveAngles)]
    assert angles and all(
        np.isfinite([a.thigh_deg, a.pelvic_tilt_deg, a.hip_flexion_deg]).all() for a in angles
    )
    # said once for the set (the first: 1e30 m/s^2), not once per bad sample
    (warning,) = [
        e for e in sink.events if isinstance(e, QualityWarning) and e.code == "sensor_out_of_range"
    ]
    assert warning.placement is Placement.THIGH and warning.set_key == sink.sets()[0].set_key
    assert warning.message.startswith("thigh sensor sent samples beyond any IMU's physical range")
    assert "(|acceleration| 1e+30 m/s^2, limit 10000)" in warning.message
    assert "dropped and the set goes on" in warning.message and "rad/s" in warning.message
    assert gateway.stats.rejected_samples == 3 and gateway.stats.bad_batches == 0
    key = sink.sets()[0].set_key
    assert sink.sample_count(key) == len(sim.sacrum) + len(sim.thigh) - 3
    stored = sink.recording(key, Placement.THIGH)
    assert np.abs(stored.acc_mps2).max() < 1e3 and np.abs(stored.gyr_radps).max() < 70


def test_replay_of_a_recording_that_lost_samples_reports_every_one(tmp_path):
    # A recording of a weak link (whole packets of 5 samples lost) replayed in batches of 4:
    # a batch spanning a loss hid it inside itself (the gateway looks for gaps between
    # packets) and made its own step look longer, so the losses next to it were taken for a
    # rate fall: 200 Hz, 5 % of packets lost, about a quarter of the lost samples reported.
    lossy = SensorSpec(rate_hz=200.0, loss_probability=0.05, samples_per_packet=5)
    sim = simulate_set(SquatSetSpec(reps=3, sacrum=lossy, thigh=lossy), seed=3)
    write_recording_csv(tmp_path / "sacrum.csv", sim.sacrum)
    write_recording_csv(tmp_path / "thigh.csv", sim.thigh)
    gateway, _, _ = _replay_gateway(tmp_path)
    asyncio.run(gateway.run(stop_when_sources_end=True))
    for address, recording in (("REC-SACRUM", sim.sacrum), ("REC-THIGH", sim.thigh)):
        steps = np.round(np.diff(recording.t_s) * 200.0).astype(int)
        lost = int(np.sum(steps[steps > 1] - 1))
        (snapshot,) = [s for s in gateway.sensors() if s.address == address]
        # within a sample or two: the simulated clock jitters (a step 0.7-1.3 intervals), and
        # a loss is sized by the following batch's own few steps
        assert lost > 50 and abs(snapshot.samples_missing - lost) <= 2
        assert snapshot.gaps == int(np.sum(steps > 1))
