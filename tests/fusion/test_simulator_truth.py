"""Per-rep ground truth matches the spec and the simulated trajectories."""

import numpy as np
import pytest

from fusion.simulator import (
    OutOfPlaneSpec,
    SensorSpec,
    SimulationSpecError,
    SquatSetSpec,
    random_spec,
    simulate_set,
)


def _fine(**changes) -> SquatSetSpec:
    base = dict(truth_rate_hz=2000.0, sacrum=SensorSpec.ideal(50.0), thigh=SensorSpec.ideal(50.0))
    base.update(changes)
    return SquatSetSpec(**base)


def _rep_window(sim, rep):
    t = sim.truth.t_s
    return (t >= rep.start_s) & (t <= rep.end_s)


def test_wink_amplitude_onset_and_depth_match_the_spec_and_the_trajectory() -> None:
    spec = _fine(
        reps=4,
        depth_deg=105.0,
        depth_jitter_deg=4.0,
        wink_deg=11.0,
        wink_onset_fraction=0.7,
        bottom_pause_s=(0.3, 0.5),
    )
    sim = simulate_set(spec, seed=21)
    assert len(sim.reps) == 4
    for rep in sim.reps:
        assert rep.wink_deg == 11.0
        assert rep.wink_onset_depth_deg == pytest.approx(0.7 * rep.depth_deg, abs=1e-12)
        window = _rep_window(sim, rep)
        thigh, tilt, hip = (
            sim.truth.thigh_deg[window],
            sim.truth.pelvic_tilt_deg[window],
            sim.truth.hip_flexion_deg[window],
        )
        t = sim.truth.t_s[window]
        assert thigh.max() == pytest.approx(rep.depth_deg, abs=1e-9)
        descent = t <= rep.start_s + rep.descent_s
        peak = np.argmax(tilt[descent])
        assert tilt[descent][peak] == pytest.approx(rep.pelvic_tilt_peak_deg, abs=1e-4)
        assert rep.pelvic_tilt_peak_deg == pytest.approx(
            rep.rhythm_k * rep.wink_onset_depth_deg, abs=1e-12
        )
        assert thigh[descent][peak] == pytest.approx(rep.wink_onset_depth_deg, abs=0.1)
        assert t[descent][peak] == pytest.approx(rep.wink_onset_s, abs=1e-3)
        at_bottom = thigh >= rep.depth_deg - 1e-9
        assert at_bottom.sum() > 500  # the bottom pause: tilt stays put
        np.testing.assert_allclose(tilt[at_bottom], rep.pelvic_tilt_peak_deg - 11.0, atol=1e-9)
        assert tilt[descent][peak] - tilt[thigh > rep.wink_onset_depth_deg].min() == pytest.approx(
            11.0, abs=1e-6
        )
        assert hip.max() == pytest.approx(rep.hip_flexion_max_deg, abs=1e-4)
        assert abs(t[np.argmin(np.abs(t - rep.bottom_s))] - rep.bottom_s) < 1e-3
        # rhythm below the blend, monotone turn into the wink, monotone wink
        early = descent & (thigh < rep.wink_onset_depth_deg - spec.rhythm_blend_deg)
        np.testing.assert_allclose(tilt[early], rep.rhythm_k * thigh[early], atol=1e-12)
        rising = np.diff(tilt[descent][: peak + 1])
        falling = np.diff(tilt[descent][peak:])
        assert rising.min() >= -1e-12 and falling.max() <= 1e-12


def test_ascent_mirrors_the_descent_as_a_function_of_thigh_angle() -> None:
    sim = simulate_set(_fine(reps=1, wink_deg=9.0), seed=2)
    rep = sim.reps[0]
    t, thigh, tilt = sim.truth.t_s, sim.truth.thigh_deg, sim.truth.pelvic_tilt_deg
    down = (t >= rep.start_s) & (t <= rep.start_s + rep.descent_s)
    up = (t >= rep.end_s - rep.ascent_s) & (t <= rep.end_s)
    np.testing.assert_allclose(np.interp(thigh[up], thigh[down], tilt[down]), tilt[up], atol=1e-3)


def test_without_wink_tilt_follows_the_rhythm_and_peaks_at_the_bottom() -> None:
    sim = simulate_set(_fine(reps=2, wink_deg=0.0), seed=5)
    for rep in sim.reps:
        assert rep.wink_deg == 0.0 and rep.wink_onset_depth_deg is None and rep.wink_onset_s is None
        window = _rep_window(sim, rep)
        thigh, tilt = sim.truth.thigh_deg[window], sim.truth.pelvic_tilt_deg[window]
        np.testing.assert_allclose(tilt, rep.rhythm_k * thigh, atol=1e-12)
        assert rep.pelvic_tilt_peak_deg == pytest.approx(rep.rhythm_k * rep.depth_deg)
        assert rep.hip_flexion_max_deg == pytest.approx((1 + rep.rhythm_k) * rep.depth_deg)


def test_onset_in_degrees_spares_partial_reps_that_stay_above_it() -> None:
    spec = _fine(reps=6, depth_deg=75.0, depth_jitter_deg=12.0, wink_deg=10.0, wink_onset_deg=72.0)
    sim = simulate_set(spec, seed=9)
    winking = [r for r in sim.reps if r.wink_onset_depth_deg is not None]
    sparing = [r for r in sim.reps if r.wink_onset_depth_deg is None]
    assert winking and sparing
    assert all(r.depth_deg >= 72.0 + 5.0 and r.wink_deg == 10.0 for r in winking)
    assert all(r.depth_deg < 72.0 + 5.0 and r.wink_deg == 0.0 for r in sparing)


def test_partial_squat_with_jittered_wink() -> None:
    spec = _fine(
        reps=8,
        depth_deg=55.0,
        depth_jitter_deg=0.0,
        wink_deg=8.0,
        wink_jitter_deg=1.0,
        wink_onset_fraction=0.6,
        wink_onset_jitter_deg=2.0,
    )
    sim = simulate_set(spec, seed=4)
    winks = np.array([r.wink_deg for r in sim.reps])
    onsets = np.array([r.wink_onset_depth_deg for r in sim.reps])
    assert np.all(np.array([r.depth_deg for r in sim.reps]) == 55.0)
    assert winks.std() > 0.2 and abs(winks.mean() - 8.0) < 1.5
    assert onsets.std() > 0.5 and abs(onsets.mean() - 33.0) < 3.0


def test_default_tempo_is_a_typical_squat() -> None:
    sim = simulate_set(_fine(reps=8, depth_deg=95.0), seed=1)
    durations = np.array([r.end_s - r.start_s for r in sim.reps])
    assert durations.min() >= 2.3 and durations.max() <= 3.1
    speed_degps = np.abs(np.gradient(sim.truth.thigh_deg, sim.truth.t_s))
    assert 115 <= speed_degps.max() <= 145


def test_no_standing_period_and_timeline() -> None:
    sim = simulate_set(_fine(reps=3, standing_s=0.0, pause_between_s=(0.2, 1.0)), seed=3)
    assert sim.reps[0].start_s == 0.0
    gaps = [b.start_s - a.end_s for a, b in zip(sim.reps, sim.reps[1:])]
    assert all(0.2 <= g <= 1.0 for g in gaps)
    assert sim.truth.t_s[-1] == pytest.approx(sim.reps[-1].end_s + 2.0, abs=1e-3)
    assert sim.sacrum.t_s[0] < 0.05 and sim.thigh.t_s[0] < 0.05


def test_out_of_plane_motion_does_not_leak_into_the_truth_angles() -> None:
    plain = simulate_set(_fine(reps=2, wink_deg=10.0, out_of_plane=OutOfPlaneSpec.none()), seed=6)
    twisted = simulate_set(
        _fine(reps=2, wink_deg=10.0, out_of_plane=OutOfPlaneSpec(knees_out_deg=10.0)), seed=6
    )
    np.testing.assert_allclose(plain.truth.thigh_deg, twisted.truth.thigh_deg)
    assert not np.allclose(plain.truth.thigh_quat_wxyz, twisted.truth.thigh_quat_wxyz)


def test_random_specs_cover_the_benchmark_mix() -> None:
    rng = np.random.default_rng(1000)
    specs = [random_spec(rng) for _ in range(40)]
    rates = [s.sacrum.rate_hz for s in specs] + [s.thigh.rate_hz for s in specs]
    assert min(rates) >= 50 and max(rates) <= 200 and len(set(rates)) > 3
    assert any(s.sacrum.rate_hz != s.thigh.rate_hz for s in specs)
    assert sum(s.depth_deg < 70 for s in specs) >= 4 and max(s.depth_deg for s in specs) > 110
    assert sum(s.wink_deg >= 8 for s in specs) >= 10 and sum(s.wink_deg <= 2 for s in specs) >= 10
    assert (
        all(abs(s.sacrum.drift_ppm) <= 200 for s in specs)
        and max(abs(s.thigh.drift_ppm) for s in specs) > 50
    )
    assert all(s.thigh.soft_tissue_deg == 0 for s in specs)
    soft = random_spec(np.random.default_rng(1000), soft_tissue_max_deg=2.0)
    assert soft.depth_deg == specs[0].depth_deg and 0 < soft.thigh.soft_tissue_deg <= 2.0


@pytest.mark.parametrize(
    ("changes", "knob"),
    [
        ({"depth_deg": 200.0}, "depth_deg"),
        ({"wink_deg": -1.0}, "wink_deg"),
        ({"pause_between_s": (1.0, 0.5)}, "pause_between_s"),
        ({"reps": 0}, "reps"),
    ],
)
def test_out_of_range_knobs_are_refused_with_their_name(changes, knob) -> None:
    with pytest.raises(SimulationSpecError, match=knob):
        SquatSetSpec(**changes)


def test_sensor_knobs_are_checked() -> None:
    with pytest.raises(SimulationSpecError, match="mount"):
        SensorSpec(mount="sideways")
    with pytest.raises(SimulationSpecError, match="loss_probability"):
        SensorSpec(loss_probability=0.9)
