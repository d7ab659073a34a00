"""Data-quality findings are surfaced for the problems they name, and only for those."""

import numpy as np
import pytest

from fusion.errors import AnalysisError
from fusion.pipeline import analyze_recordings
from fusion.quality import clipping_mask
from fusion.simulator import SensorSpec, SquatSetSpec, simulate_set
from fusion.types import ImuRecording


def codes(result, sensor=None) -> set[str]:
    return {f.code for f in result.findings if sensor is None or f.sensor == sensor}


def clean_sensor(**changes) -> SensorSpec:
    return SensorSpec(loss_probability=0.0, **changes)


def test_clean_recording_has_no_findings() -> None:
    sim = simulate_set(SquatSetSpec(reps=3, sacrum=clean_sensor(), thigh=clean_sensor()), seed=2)
    assert codes(analyze_recordings(sim.sacrum, sim.thigh)) == set()


def test_uncalibrated_accelerometer_is_reported_and_tolerated() -> None:
    spec = SquatSetSpec(reps=3, sacrum=clean_sensor(), thigh=clean_sensor(acc_scale=12.7 / 9.81))
    sim = simulate_set(spec, seed=2)
    result = analyze_recordings(sim.sacrum, sim.thigh)
    assert codes(result, "thigh") == {"gravity_off"}
    assert "12.7" in next(f.message for f in result.findings if f.code == "gravity_off")
    for rep, truth in zip(result.reps, sim.reps):
        assert abs(rep.depth_deg - truth.depth_deg) < 2.0


def test_missing_still_period_is_reported() -> None:
    spec = SquatSetSpec(
        reps=3,
        standing_s=0.0,
        pause_between_s=(0.1, 0.2),
        sacrum=clean_sensor(),
        thigh=clean_sensor(),
    )
    sim = simulate_set(spec, seed=2)
    result = analyze_recordings(sim.sacrum, sim.thigh)
    assert "no_still_period" in codes(result)
    assert len(result.reps) == 3


def test_gaps_are_reported_per_recording_and_per_rep() -> None:
    sim = simulate_set(SquatSetSpec(reps=3, sacrum=clean_sensor(), thigh=clean_sensor()), seed=2)
    bottom = sim.reps[1].bottom_s
    keep = np.abs(sim.thigh.t_s - bottom) > 0.2
    thigh = ImuRecording(sim.thigh.t_s[keep], sim.thigh.acc_mps2[keep], sim.thigh.gyr_radps[keep])
    result = analyze_recordings(sim.sacrum, thigh)
    assert "gaps" in codes(result, "thigh")
    assert [("gap" in r.quality) for r in result.reps] == [False, True, False]


def test_clipping_is_reported() -> None:
    spec = SquatSetSpec(
        reps=3,
        sacrum=clean_sensor(),
        thigh=clean_sensor(gyr_range_radps=np.radians(100.0), mount="aligned"),
    )
    sim = simulate_set(spec, seed=2)
    result = analyze_recordings(sim.sacrum, sim.thigh)
    assert "clipping" in codes(result, "thigh")
    assert any("clipping" in r.quality for r in result.reps)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_clipping_mask_marks_plateaus_at_either_end_of_the_range(dtype) -> None:
    rng = np.random.default_rng(5)
    t_s = np.arange(400) / 100.0
    acc = rng.normal(0.0, 3.0, (400, 3))
    gyr = rng.normal(0.0, 1.0, (400, 3))
    gyr[50:54, 0] = 4.0  # stuck at the top of a +-4 rad/s range
    gyr[200:203, 2] = -4.0  # and at the bottom, on another axis
    gyr[300, 1] = -4.0  # a single sample at the limit is not a plateau
    acc[100:102, 1] = -40.0  # the accelerometer at -40 m/s^2 (above the 2 g floor)
    acc[120:122, 1] = 40.0
    rec = ImuRecording(t_s, acc.astype(dtype), gyr.astype(dtype))
    expected = np.zeros(400, dtype=bool)
    for span in (slice(50, 54), slice(200, 203), slice(100, 102), slice(120, 122)):
        expected[span] = True
    np.testing.assert_array_equal(clipping_mask(rec), expected)
    quiet = ImuRecording(t_s, (acc / 10.0).astype(dtype), gyr.astype(dtype) / 10.0)
    assert not clipping_mask(quiet).any()  # below the floors nothing is clipping


def test_recordings_that_do_not_overlap_are_refused() -> None:
    sim = simulate_set(SquatSetSpec(reps=2), seed=2)
    later = ImuRecording(sim.thigh.t_s + 1000.0, sim.thigh.acc_mps2, sim.thigh.gyr_radps)
    with pytest.raises(AnalysisError, match="overlap"):
        analyze_recordings(sim.sacrum, later)
