"""Memory of the offline analysis of a long recording (traced allocations, deterministic).

A recording read from a file holds float32 samples; the analysis resamples in the
recording's precision, lets go of each recording once it is resampled, and bounds every
temporary by blocks, so a 60-minute pair fits a small machine (benchmarks/analyze_long.py).
"""

from __future__ import annotations

import gc
import tracemalloc
import weakref

import numpy as np
import pytest

import fusion.pipeline as pipeline
from fusion.pipeline import analyze_recordings
from fusion.simulator import SensorSpec, SquatSetSpec, simulate_set
from fusion.types import ImuRecording

PIECES = 5  # 5 x ~2 min: longer than one fusion window (fusion.orientation.windowed)


@pytest.fixture(scope="module")
def long_pair() -> tuple[ImuRecording, ImuRecording]:
    spec = SquatSetSpec(
        reps=30, sacrum=SensorSpec(rate_hz=100.0), thigh=SensorSpec(rate_hz=100.0), wink_deg=6.0
    )
    sim = simulate_set(spec, seed=13)
    period_s = float(min(sim.sacrum.t_s[-1], sim.thigh.t_s[-1])) + 0.01

    def tiled(rec: ImuRecording) -> ImuRecording:
        return ImuRecording(
            np.concatenate([rec.t_s + k * period_s for k in range(PIECES)]),
            np.tile(rec.acc_mps2, (PIECES, 1)).astype(np.float32),
            np.tile(rec.gyr_radps, (PIECES, 1)).astype(np.float32),
        )

    return tiled(sim.sacrum), tiled(sim.thigh)


def _copy(rec: ImuRecording) -> ImuRecording:
    return ImuRecording(rec.t_s.copy(), rec.acc_mps2.copy(), rec.gyr_radps.copy())


def test_float32_samples_stay_float32_and_give_the_float64_answer(long_pair) -> None:
    sacrum, thigh = long_pair
    assert sacrum.acc_mps2.dtype == np.float32 and sacrum.t_s.dtype == np.float64
    lean = analyze_recordings(sacrum, thigh)
    wide = analyze_recordings(
        *(
            ImuRecording(r.t_s, r.acc_mps2.astype(float), r.gyr_radps.astype(float))
            for r in long_pair
        )
    )
    assert len(lean.reps) == len(wide.reps) == 30 * PIECES
    for a, b in zip(lean.reps, wide.reps):
        assert a.start_s == pytest.approx(b.start_s, abs=0.011)
        assert a.depth_deg == pytest.approx(b.depth_deg, abs=0.01)
        assert a.wink_deg == pytest.approx(b.wink_deg, abs=0.01)
    assert np.max(np.abs(lean.thigh_deg - wide.thigh_deg)) < 0.01


def test_each_recording_is_let_go_once_resampled(long_pair, monkeypatch) -> None:
    refs: list[weakref.ref[ImuRecording]] = []
    alive_at_angles: list[bool] = []
    segment_angles = pipeline.segment_angles

    def watched(*args, **kwargs):  # type: ignore[no-untyped-def]
        gc.collect()
        alive_at_angles.extend(ref() is not None for ref in refs)
        return segment_angles(*args, **kwargs)

    def fresh(rec: ImuRecording) -> ImuRecording:
        copy = _copy(rec)
        refs.append(weakref.ref(copy))
        return copy

    monkeypatch.setattr(pipeline, "segment_angles", watched)
    analyze_recordings(fresh(long_pair[0]), fresh(long_pair[1]))
    assert alive_at_angles == [False, False]


def test_peak_memory_per_sample_is_bounded(long_pair) -> None:
    samples = sum(len(r) for r in long_pair)
    gc.collect()
    tracemalloc.start()
    try:
        # Passed without a name here, as `winkwatch analyze` does: the analysis frees them.
        analyze_recordings(_copy(long_pair[0]), _copy(long_pair[1]))
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    # Measured 98 bytes per sample (both sensors counted, the recordings' own 32 included;
    # a third of it the fusion window's filter state, which does not grow with the
    # recording); ~170 before this session's changes (float64 copies, a full-length SVD,
    # moving averages and gap masks over whole recordings).
    assert peak / samples < 110, f"{peak / samples:.0f} bytes per sample"


def test_the_per_rep_checks_of_a_long_set_work_in_bounded_groups() -> None:
    from fusion.calibration import SegmentCalibration, StillWindow
    from fusion.reps import RepWindow
    from fusion.sensor_checks import SensorTrace, reps_sensor_codes

    count = 400_000  # ~33 minutes at 200 Hz, 660 reps of 2.5 s
    rng = np.random.default_rng(1)
    still = StillWindow(0, 100, 0.5, trustworthy=True)
    calibration = SegmentCalibration(
        np.array([1.0, 0, 0]), np.array([0, 1.0, 0]), np.array([0, 0, 1.0]), still, 1.0
    )
    trace = SensorTrace(
        "thigh", rng.normal(size=count), rng.normal(size=(count, 3)).astype(np.float32), calibration
    )
    reps = [RepWindow(start, start + 250, start + 500) for start in range(0, count - 600, 600)]
    gc.collect()
    tracemalloc.start()
    try:
        codes = reps_sensor_codes(reps, (trace,), {"thigh": 0.0}, 200.0)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert len(codes) == len(reps)
    # 8 MB in groups of 65,536 samples; all 660 reps in one batch took 41 MB.
    assert peak < 20e6, f"{peak / 1e6:.0f} MB"


def test_the_rep_metrics_of_a_long_set_work_in_bounded_batches() -> None:
    from fusion.angles import SagittalAngles
    from fusion.baseline import wink_threshold
    from fusion.metrics import rep_metrics, reps_metrics
    from fusion.reps import RepWindow

    count = 400_000  # ~33 minutes at 200 Hz, 660 reps of 2.5 s
    rng = np.random.default_rng(2)
    thigh = 50.0 + 40.0 * np.sin(np.arange(count) * (2 * np.pi / 600)) + rng.normal(size=count)
    tilt = 0.3 * thigh + rng.normal(size=count)
    angles = SagittalAngles(thigh, tilt, thigh + tilt)
    t_s = np.arange(count) / 200.0
    gap = {"gap": np.zeros(count, dtype=bool)}
    threshold = wink_threshold(5.0)
    reps = [RepWindow(start, start + 250, start + 500) for start in range(0, count - 600, 600)]
    gc.collect()
    tracemalloc.start()
    try:
        metrics = reps_metrics(reps, t_s, angles, gap, None, threshold)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert [m.rep for m in metrics] == list(range(1, len(reps) + 1))
    for k in (0, 130, 131, 400, len(reps) - 1):  # on and around batch boundaries
        assert metrics[k] == rep_metrics(k + 1, reps[k], t_s, angles, gap, None, threshold)
    # 6.4 MB traced in batches of 65,536 samples; all 660 reps in one batch took 31 MB.
    assert peak < 15e6, f"{peak / 1e6:.0f} MB"
