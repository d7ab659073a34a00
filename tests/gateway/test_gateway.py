"""The whole gateway end to end with simulated sensors (ground truth from fusion.simulator)."""

from __future__ import annotations

import asyncio

import numpy as np
import pytest

from fusion.simulator import SquatSetSpec
from sensor_gateway.config import Assignments, GatewaySettings
from sensor_gateway.errors import SetError
from sensor_gateway.events import (
    LiveAngles,
    Placement,
    QualityWarning,
    RepCompleted,
    SensorStatusChanged,
    SetStarted,
    SetStopped,
    StopReason,
    WinkOnset,
)
from sensor_gateway.gaps import Gap, GapReason
from sensor_gateway.gateway import Gateway
from sensor_gateway.samples import LinkState, SampleBatch, SensorKind, SensorStatus
from sensor_gateway.sink import MemorySink
from sensor_gateway.sources.simulated import SimulatedAthlete, SimulatedSource

WINK_SPEC = SquatSetSpec(reps=4, wink_deg=12.0, standing_end_s=1.5)
CLEAN_SPEC = SquatSetSpec(reps=3, wink_deg=0.0, standing_end_s=1.5)


def _gateway(tmp_path, athletes, *, idle_stop_s=120.0, hooks=True, encoding="none", sink=None):
    settings = GatewaySettings(config_file=tmp_path / "gateway.json", idle_stop_s=idle_stop_s)
    store = Assignments()
    for athlete in athletes:
        store.assign(athlete.sacrum_address, "simulated", athlete.athlete_id, "sacrum")
        store.assign(athlete.thigh_address, "simulated", athlete.athlete_id, "thigh")
    gateway = Gateway(settings, store, sink=sink if sink is not None else MemorySink())
    source = SimulatedSource(
        athletes,
        realtime=False,
        encoding=encoding,
        on_set_start=lambda a, p: gateway.start_set(
            a.athlete_id, a.variant, a.load_kg, now_s=p.first_received_s - 1e-3
        ),
        on_set_end=(lambda a, p: gateway.stop_set(a.athlete_id, now_s=p.last_received_s + 1e-3))
        if hooks
        else None,
    )
    gateway.add_source(source)
    return gateway, source


def _drain(sub):
    events = []
    while (event := sub.get_nowait()) is not None:
        events.append(event)
    return events


def _run(gateway, *subscribe_kwargs):
    async def main():
        subs = [gateway.bus.subscribe(**kw) for kw in subscribe_kwargs]
        await gateway.run(stop_when_sources_end=True)
        return [_drain(s) for s in subs], subs

    return asyncio.run(main())


@pytest.fixture(scope="module")
def two_athletes_run(tmp_path_factory):
    alice = SimulatedAthlete("alice", sets=[WINK_SPEC, CLEAN_SPEC], seed=11, load_kg=100.0)
    bob = SimulatedAthlete("bob", sets=[CLEAN_SPEC], seed=12, load_kg=None)
    gateway, source = _gateway(tmp_path_factory.mktemp("gw"), [alice, bob], encoding="winkwatch")
    (everything, only_bob, _slow), subs = _run(
        gateway, {}, {"athlete_id": "bob"}, {"max_queued": 5}
    )
    return gateway, source, everything, only_bob, subs


def test_reps_and_metrics_match_the_simulator_truth(two_athletes_run):
    _, source, events, _, _ = two_athletes_run
    started = [e for e in events if isinstance(e, SetStarted)]
    assert len(started) == len(source.played) == 3
    for set_event, played in zip(
        sorted(started, key=lambda e: e.t_s),
        sorted(source.played, key=lambda p: p.first_received_s),
    ):
        assert set_event.athlete_id == played.athlete_id
        key = set_event.set.set_key
        reps = [e.metrics for e in events if isinstance(e, RepCompleted) and e.set_key == key]
        truth = played.simulated.reps
        assert len(reps) == len(truth)
        for metrics, true in zip(reps, truth):
            assert metrics.depth_deg == pytest.approx(true.depth_deg, abs=3.0)
            assert metrics.wink_deg == pytest.approx(true.wink_deg, abs=2.0)
            assert metrics.butt_wink == (true.wink_deg >= 8.0)
            # Rep times are s since the set started, as stored.
            true_bottom_s = played.base_s + true.bottom_s - set_event.set.started_s
            assert metrics.bottom_s == pytest.approx(true_bottom_s, abs=0.2)
            assert metrics.load_kg == (100.0 if played.athlete_id == "alice" else None)
            if true.wink_onset_depth_deg is not None:
                assert metrics.wink_onset_depth_deg == pytest.approx(
                    true.wink_onset_depth_deg, abs=3.0
                )
        stopped = [e for e in events if isinstance(e, SetStopped) and e.set.set_key == key]
        assert len(stopped) == 1 and stopped[0].rep_count == len(truth)
        assert stopped[0].reason is StopReason.REQUESTED


def test_wink_onset_events_come_live_for_winking_reps_only(two_athletes_run):
    _, source, events, _, _ = two_athletes_run
    for played in source.played:
        key = next(
            e.set.set_key
            for e in events
            if isinstance(e, SetStarted)
            and e.athlete_id == played.athlete_id
            and abs(e.t_s - played.first_received_s) < 0.01
        )
        onsets = [e for e in events if isinstance(e, WinkOnset) and e.set_key == key]
        winking = [r for r in played.simulated.reps if r.wink_deg >= 8.0]
        assert [e.rep for e in onsets] == [r.rep for r in winking]
        for onset, true in zip(onsets, winking):
            assert onset.t_s == pytest.approx(played.base_s + true.wink_onset_s, abs=0.15)
            # Published before the rep completed: a phone can beep during the rep.
            order = events.index(onset)
            completed = next(
                i
                for i, e in enumerate(events)
                if isinstance(e, RepCompleted) and e.set_key == key and e.metrics.rep == onset.rep
            )
            assert order < completed


def test_sink_got_every_sample_in_order(two_athletes_run):
    gateway, source, events, _, _ = two_athletes_run
    sink = gateway.sink
    assert sink.closed
    assert sink.sample_count() == source.samples_sent == gateway.stats.samples
    for info in sink.sets():
        for placement in Placement:
            recording = sink.recording(info.set_key, placement)
            assert len(recording) > 1000 and np.all(np.diff(recording.t_s) > 0)
    # Every event but the live angles is stored, in publication order.
    published = [e for e in events if not isinstance(e, LiveAngles)]
    assert sink.events == published


def test_live_angles_are_decimated_and_follow_the_truth(two_athletes_run):
    _, source, events, _, _ = two_athletes_run
    played = next(p for p in source.played if p.athlete_id == "bob")
    angles = [e for e in events if isinstance(e, LiveAngles) and e.athlete_id == "bob"]
    t = np.array([e.t_s for e in angles])
    # ~20 Hz: exactly one per 50 ms bin (the newest sample of the bin in its packet, so the
    # spacing is not uniform: 10 ms between the two ends of a packet, 60 ms otherwise)
    assert np.all(np.diff(np.floor(t * 20.0)) == 1)
    assert len(t) / (t[-1] - t[0]) == pytest.approx(20.0, abs=0.5)
    truth = played.simulated.truth
    thigh_truth = np.interp(t - played.base_s, truth.t_s, truth.thigh_deg)
    thigh = np.array([e.thigh_deg for e in angles])
    assert np.sqrt(np.mean((thigh - thigh_truth) ** 2)) < 3.0


def test_athlete_filter_and_slow_subscriber(two_athletes_run):
    gateway, _, everything, only_bob, subs = two_athletes_run
    assert only_bob and all(e.athlete_id == "bob" for e in only_bob)
    assert only_bob == [e for e in everything if e.athlete_id == "bob"]
    slow = subs[2]
    assert slow.dropped == len(everything) - 5  # never read: it lost events, the run did not wait
    assert gateway.stats.bad_batches == 0 and gateway.stats.sink_errors == 0


def test_idle_set_stops_by_itself(tmp_path):
    athlete = SimulatedAthlete("carol", sets=[SquatSetSpec(reps=2, standing_end_s=8.0)], seed=5)
    gateway, _source = _gateway(tmp_path, [athlete], idle_stop_s=4.0, hooks=False)
    (events,), _ = _run(gateway, {})
    stopped = [e for e in events if isinstance(e, SetStopped)]
    assert len(stopped) == 1 and stopped[0].reason is StopReason.IDLE and stopped[0].rep_count == 2
    last_rep_end = [e.t_s for e in events if isinstance(e, RepCompleted)][-1]  # gateway clock
    assert stopped[0].t_s - last_rep_end == pytest.approx(4.0, abs=0.1)


def test_start_set_refuses_unknown_athlete_and_bad_input(tmp_path):
    athlete = SimulatedAthlete("dave", sets=[CLEAN_SPEC])
    gateway, _ = _gateway(tmp_path, [athlete])
    with pytest.raises(SetError, match="no sensors assigned"):
        gateway.start_set("nobody")
    with pytest.raises(SetError, match="unknown set variant"):
        gateway.start_set("dave", "leg_press")
    with pytest.raises(SetError, match="load_kg"):
        gateway.start_set("dave", load_kg=-5.0)
    assert gateway.stop_set("dave") is None


def test_disconnect_gap_and_malformed_batches_never_crash(tmp_path):
    athlete = SimulatedAthlete("erin", sets=[CLEAN_SPEC])
    gateway, _ = _gateway(tmp_path, [athlete])
    sub = gateway.bus.subscribe()
    info = gateway.start_set("erin", now_s=10.0)
    address = athlete.thigh_address
    good = SampleBatch(
        address=address,
        kind=SensorKind.SIMULATED,
        received_s=10.1,
        acc_mps2=np.tile([0, 0, 9.81], (4, 1)),
        gyr_radps=np.zeros((4, 3)),
        sensor_time_s=np.arange(4) * 0.005,
        seq=0,
    )
    gateway.on_batch(good)
    gateway.on_batch(
        SampleBatch(
            address=address,
            kind=SensorKind.SIMULATED,
            received_s=10.2,
            acc_mps2=np.zeros((3, 2)),
            gyr_radps=np.zeros((3, 3)),
        )
    )
    gateway.on_batch("not a batch")  # type: ignore[arg-type]
    assert gateway.stats.bad_batches == 2 and gateway.stats.samples == 4
    gateway.on_status(SensorStatus(address, LinkState.DISCONNECTED, 11.0, detail="link lost"))
    gateway.on_status(SensorStatus(address, LinkState.STREAMING, 12.5, battery_pct=80))
    statuses = [e for e in _drain(sub) if isinstance(e, SensorStatusChanged)]
    assert [s.state for s in statuses] == [LinkState.DISCONNECTED, LinkState.STREAMING]
    gap = statuses[-1]
    assert gap.gap == Gap(11.0, 12.5, 300, GapReason.RECONNECT)
    assert gap.athlete_id == "erin" and gap.placement is Placement.THIGH and gap.battery_pct == 80
    # A source that knows the gap exactly (BLE, from sensor timestamps) is believed.
    gateway.on_status(SensorStatus(address, LinkState.DISCONNECTED, 13.0))
    gateway.on_status(
        SensorStatus(
            address,
            LinkState.STREAMING,
            14.0,
            gap=Gap(12.9, 14.0, 217, GapReason.RECONNECT),
        )
    )
    exact = [e for e in _drain(sub) if isinstance(e, SensorStatusChanged)][-1]
    assert exact.gap == Gap(12.9, 14.0, 217, GapReason.RECONNECT)
    warnings = [e for e in gateway.sink.events if isinstance(e, QualityWarning)]
    assert warnings and warnings[-1].code == "sensor_gap" and warnings[-1].set_key == info.set_key
    snapshot = {s.address: s for s in gateway.sensors()}
    assert snapshot[address].state is LinkState.STREAMING and snapshot[address].samples == 4
    assert snapshot[athlete.sacrum_address].state is LinkState.SCANNING  # assigned, never seen


def test_samples_beyond_any_imus_range_are_dropped_at_the_edge_and_said_once(
    tmp_path, caplog
) -> None:
    """Non-finite values and finite ones beyond `fusion.pipeline`'s limits (1e308, 100 rad/s)
    are dropped before the sink and the analyser, the rest of each batch kept; one warning per
    sensor and set, one log line per sensor and set (or outside sets), the rest counted.
    Values near the limits (a sum of squares above its square) are kept."""
    import logging

    from fusion.pipeline import MAX_ABS_ACC_MPS2, MAX_ABS_GYR_RADPS

    athlete = SimulatedAthlete("ida", sets=[CLEAN_SPEC])
    gateway, _ = _gateway(tmp_path, [athlete])
    address = athlete.thigh_address
    clock = iter(range(1000))

    def batch(acc, gyr):
        n = len(acc)
        k = next(clock)
        return SampleBatch(
            address=address,
            kind=SensorKind.SIMULATED,
            received_s=10.0 + 0.02 * k,
            acc_mps2=np.asarray(acc, dtype=float),
            gyr_radps=np.asarray(gyr, dtype=float),
            sensor_time_s=(4 * k + np.arange(n)) * 0.005,
            seq=k,
        )

    still = [[0.0, 0.0, 9.81]] * 4
    quiet = [[0.0, 0.0, 0.0]] * 4
    caplog.set_level(logging.WARNING, logger="sensor_gateway.gateway")
    gateway.on_batch(batch([[np.nan, 0, 9.81]] + still[1:], quiet))  # no set running
    info = gateway.start_set("ida", now_s=10.0)
    gateway.on_batch(batch(still, quiet))
    gateway.on_batch(batch([[0, 1e308, 9.81], *still[1:3], [0, 0, np.inf]], quiet))
    gateway.on_batch(batch(still, [[0, 0, 0], [0, 100.0, 0], [0, 0, 0], [0, 0, 0]]))
    gateway.on_batch(batch(still, [[np.inf, 0, 0]] * 4))  # nothing left of this one
    near = [[0.9 * MAX_ABS_ACC_MPS2] * 3] * 4  # sum of squares 9.7e8 > limit^2 1e8
    gateway.on_batch(batch(near, [[0.9 * MAX_ABS_GYR_RADPS] * 3] * 4))
    assert gateway.stats.rejected_samples == 1 + 2 + 1 + 4
    assert gateway.stats.bad_batches == 0 and gateway.stats.samples == 6 * 4
    # stored: the good samples of the set's batches only (4 + 2 + 3 + 0 + 4)
    assert gateway.sink.sample_count(info.set_key) == 13
    stored = np.concatenate([s.acc_mps2 for s in gateway.sink.samples])
    assert np.isfinite(stored).all() and np.abs(stored).max() <= MAX_ABS_ACC_MPS2
    (warning,) = [e for e in gateway.sink.events if isinstance(e, QualityWarning)]
    assert warning.code == "sensor_out_of_range" and warning.set_key == info.set_key
    assert warning.placement is Placement.THIGH
    assert "(|acceleration| 1e+308 m/s^2, limit 10000; an acceleration of inf)" in warning.message
    lines = [r.getMessage() for r in caplog.records if "dropped" in r.getMessage()]
    assert len(lines) == 2  # outside the set, then in it
    assert "(an acceleration of nan)" in lines[0] and "1 of 4 samples" in lines[0]
    assert "2 of 4 samples" in lines[1] and address in lines[1]
    # A decoded packet comes checked against its sensor's own (narrower) range: the gateway
    # does not check it again (the BLE path's cost); the widest full scales are within limits.
    from sensor_gateway.protocols.winkwatch import WinkWatchDecoder, encode_packet

    extreme = np.full((4, 3), -32768)
    decoded = WinkWatchDecoder("AA:00").feed(encode_packet(0, 0, 5000, extreme, extreme), 1.0)
    assert decoded is not None and decoded.range_checked
    assert np.abs(decoded.acc_mps2).max() <= MAX_ABS_ACC_MPS2
    assert np.abs(decoded.gyr_radps).max() <= MAX_ABS_GYR_RADPS
    assert not batch(still, quiet).range_checked  # any other source's batch is checked here
    gateway.stop_set("ida", now_s=11.0)
    second = gateway.start_set("ida", now_s=12.0)
    gateway.on_batch(batch(still, [[0, 0, 0], [0, 0, 100.0], [0, 0, 0], [0, 0, 0]]))
    again = [e for e in gateway.sink.events if isinstance(e, QualityWarning)][-1]
    assert again.set_key == second.set_key and "|angular rate| 100 rad/s, limit 70" in (
        again.message
    )


def test_failing_sink_and_analyser_do_not_stop_the_gateway(tmp_path):
    from fusion.live import LiveSquatAnalyzer

    class BrokenSink(MemorySink):
        def write_samples(self, samples):
            raise OSError("disk full")

    class FailingAnalyzer(LiveSquatAnalyzer):
        def push(self, placement, t_s, acc_mps2, gyr_radps):
            if t_s[-1] > self._fail_after_s:
                raise FloatingPointError("numerical trouble")
            return super().push(placement, t_s, acc_mps2, gyr_radps)

    athlete = SimulatedAthlete("fay", sets=[CLEAN_SPEC], seed=2)
    sink = BrokenSink()
    gateway, source = _gateway(tmp_path, [athlete], sink=sink)

    def factory(setup):
        analyzer = FailingAnalyzer(load_kg=setup.load_kg)
        analyzer._fail_after_s = source.played[-1].base_s + 5.0
        return analyzer

    gateway.analyzer_factory = factory
    (events,), _ = _run(gateway, {})
    assert gateway.stats.sink_errors > 0 and gateway.stats.samples == source.samples_sent
    failures = [e for e in events if isinstance(e, QualityWarning) and e.code == "analysis_failed"]
    assert len(failures) == 1 and "re-analyse" in failures[0].message
    assert any(isinstance(e, SetStopped) for e in events)


def test_the_athletes_baseline_sets_the_live_threshold(tmp_path):
    from fusion.baseline import PersonalBaseline

    # threshold 11 + 1.5 x sqrt(1 + 2^2) = 14.35 deg
    noisy = PersonalBaseline(centre_deg=11.0, spread_deg=1.0, reps=9)
    athlete = SimulatedAthlete("cara", sets=[WINK_SPEC], seed=13)
    settings = GatewaySettings(config_file=tmp_path / "gateway.json")
    store = Assignments()
    store.assign(athlete.sacrum_address, "simulated", athlete.athlete_id, "sacrum")
    store.assign(athlete.thigh_address, "simulated", athlete.athlete_id, "thigh")
    gateway = Gateway(settings, store, sink=MemorySink())
    source = SimulatedSource(
        [athlete],
        realtime=False,
        on_set_start=lambda a, p: gateway.start_set(
            a.athlete_id, a.variant, a.load_kg, now_s=p.first_received_s - 1e-3, baseline=noisy
        ),
        on_set_end=lambda a, p: gateway.stop_set(a.athlete_id, now_s=p.last_received_s + 1e-3),
    )
    gateway.add_source(source)
    (events,), _ = _run(gateway, {})
    reps = [e.metrics for e in events if isinstance(e, RepCompleted)]
    assert len(reps) == WINK_SPEC.reps
    for rep in reps:  # 12-deg winks: under this lifter's 14.35-deg threshold
        assert (rep.threshold_source, rep.baseline_reps) == ("personal", 9)
        assert rep.wink_threshold_deg == pytest.approx(11.0 + 1.5 * 5**0.5)
        assert rep.wink_uncertainty_deg == pytest.approx((1.2**2 + 0.32**2) ** 0.5)
        assert not rep.butt_wink and 10.0 < rep.wink_deg < 14.0
    assert not any(isinstance(e, WinkOnset) for e in events)


def test_a_set_with_one_sensor_assigned_warns_in_words_the_coach_reads(tmp_path) -> None:
    """The warning names the missing sensor, not the gateway's athlete key (the page shows it
    under the athlete's name)."""
    store = Assignments()
    store.assign("sim-sacrum-7", "simulated", "7", "sacrum")
    gateway = Gateway(
        GatewaySettings(config_file=tmp_path / "gateway.json"), store, sink=MemorySink()
    )
    gateway.start_set("7", now_s=0.0)
    (warning,) = [e for e in gateway.sink.events if isinstance(e, QualityWarning)]
    assert warning.code == "sensor_unassigned"
    assert warning.message.startswith("no thigh sensor assigned to this athlete:")
    assert "7" not in warning.message


def test_the_analysis_core_is_loaded_with_the_gateway_not_at_the_first_set(tmp_path):
    """A first set start importing the core (~0.1 s) would stall every sensor's packets."""
    import subprocess
    import sys

    code = (
        "import sys\n"
        "from sensor_gateway.config import Assignments, GatewaySettings\n"
        "from sensor_gateway.gateway import Gateway\n"
        "store = Assignments()\n"
        "store.assign('AA:00', 'winkwatch', 'alice', 'sacrum')\n"
        "store.assign('AA:01', 'winkwatch', 'alice', 'thigh')\n"
        f"gateway = Gateway(GatewaySettings(config_file={str(tmp_path / 'g.json')!r}), store)\n"
        "loaded = set(sys.modules)\n"
        "gateway.start_set('alice', 'back_squat', 60.0, now_s=0.0)\n"
        "print(sorted(set(sys.modules) - loaded))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert result.stdout.strip() == "[]", result.stdout


def test_a_stop_before_the_sources_end_leaves_no_unretrieved_error(tmp_path) -> None:
    # Found by probing: `winkwatch gateway --replay DIR --duration-s 3` (a replay stopped before
    # its end) logged "ERROR _GatheringFuture exception was never retrieved" with a
    # CancelledError traceback: the wait for the sources' end was never collected.
    import gc

    class Endless:
        async def run(self, on_batch, on_status) -> None:
            await asyncio.Event().wait()

    gateway = Gateway(GatewaySettings(config_file=tmp_path / "g.json"), Assignments())
    gateway.add_source(Endless())

    async def main() -> list[dict]:
        reported: list[dict] = []
        asyncio.get_running_loop().set_exception_handler(lambda _loop, ctx: reported.append(ctx))
        asyncio.get_running_loop().call_later(0.1, gateway.request_stop)
        await gateway.run(stop_when_sources_end=True)
        gc.collect()
        await asyncio.sleep(0)
        return reported

    assert asyncio.run(main()) == []


def test_a_reconnect_after_the_sensor_clock_wrapped_keeps_one_clock(tmp_path) -> None:
    """The sensor's 32-bit microsecond clock wrapped during one connection; each connection
    has its own decoder, so the next one starts from the raw clock again, 71.6 min lower.
    That is the same clock going on: no clock reset live, and the stored sensor times stay
    one growing clock, so the set's clock can be mapped again from them (re-analysis)."""
    from sensor_gateway.clock import map_clock_offline
    from sensor_gateway.protocols import winkwatch

    settings = GatewaySettings(config_file=tmp_path / "gateway.json")
    store = Assignments()
    store.assign("AA:00", "winkwatch", "ann", "thigh")
    sink = MemorySink()
    gateway = Gateway(settings, store, sink=sink)
    gateway.start_set("ann", now_s=99.0)
    acc, gyr = np.zeros((4, 3), np.int16), np.zeros((4, 3), np.int16)
    acc[:, 2] = 2048  # 1 g
    t0_us = (1 << 32) - 2_000_000  # 2 s before the clock wraps
    for first, last in ((0, 300), (400, 700)):  # a 2 s drop-out after the wrap
        decoder = winkwatch.WinkWatchDecoder("AA:00")
        for seq, k in enumerate(range(first, last)):
            payload = winkwatch.encode_packet(seq, t0_us + k * 20_000, 5_000, acc, gyr)
            batch = decoder.feed(payload, 100.0 + k * 0.02 + 0.019)
            assert batch is not None
            gateway.on_batch(batch)
        gateway.on_status(SensorStatus("AA:00", LinkState.DISCONNECTED, 100.0 + last * 0.02))
    mapper = gateway.registry.sensor("AA:00", None).mapper
    assert mapper.clock_resets == 0
    sensor_s = np.concatenate([s.sensor_time_s for s in sink.samples])
    received_s = np.concatenate([s.received_s for s in sink.samples])
    assert sensor_s.size == 600 * 4 and np.all(np.diff(sensor_s) > 0)
    np.testing.assert_allclose(sensor_s[-1] - sensor_s[0], 699 * 0.02 + 0.015, atol=1e-9)
    assert map_clock_offline(sensor_s, received_s) is not None


@pytest.mark.parametrize(("interval_us", "per_packet"), [(5_000, 4), (10_000, 1)])
def test_a_winkwatch_losing_every_other_packet_is_reported_lost_not_slower(
    tmp_path, interval_us, per_packet
) -> None:
    """A weak link drops alternate notifications for 3 s of a set. The gateway took the
    longer steps for a halved rate after 4 packets: no more gap warnings, no lost samples
    counted, the analyser not told. The packets' seq numbers (and, 4 a packet, their own
    interval_us) say samples were lost: every lost packet is a gap, warned and counted."""
    from sensor_gateway.protocols import winkwatch

    settings = GatewaySettings(config_file=tmp_path / "gateway.json")
    store = Assignments()
    store.assign("AA:00", "winkwatch", "ann", "thigh")
    sink = MemorySink()
    gateway = Gateway(settings, store, sink=sink)
    gateway.start_set("ann", now_s=99.0)
    acc, gyr = np.zeros((per_packet, 3), np.int16), np.zeros((per_packet, 3), np.int16)
    acc[:, 2] = 2048  # 1 g
    packet_us = per_packet * interval_us
    packets = 10_000_000 // packet_us  # 10 s
    lost = [seq for seq in range(packets) if seq % 2 and 4e6 <= seq * packet_us < 7e6]
    decoder = winkwatch.WinkWatchDecoder("AA:00")
    for seq in range(packets):
        if seq in lost:
            continue
        payload = winkwatch.encode_packet(seq, 1_000_000 + seq * packet_us, interval_us, acc, gyr)
        batch = decoder.feed(payload, 100.0 + (seq + 1) * packet_us * 1e-6 + 0.004)
        assert batch is not None
        gateway.on_batch(batch)
    warned = [e for e in sink.events if isinstance(e, QualityWarning) and e.code == "sensor_gap"]
    (snapshot,) = [s for s in gateway.sensors() if s.address == "AA:00"]
    assert len(lost) == 3_000_000 // packet_us // 2
    assert len(warned) == snapshot.gaps == len(lost)
    assert snapshot.samples_missing == len(lost) * per_packet
    mapper = gateway.registry.sensor("AA:00", None).mapper
    assert mapper.measured_rate_hz == pytest.approx(1e6 / interval_us, rel=1e-3)
