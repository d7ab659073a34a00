"""Rep segmentation and wink measurement on traces with known answers."""

import numpy as np
import pytest

from fusion.reps import RepThresholds, segment_reps
from fusion.wink import measure_wink

RATE_HZ = 100.0


def _rep_profile(depth_deg: float, duration_s: float = 2.6) -> np.ndarray:
    phase = np.linspace(0, 2 * np.pi, int(duration_s * RATE_HZ))
    return depth_deg * 0.5 * (1 - np.cos(phase))


def _set(depths: list[float], pause_s: float = 0.6, base_deg: float = 0.0) -> np.ndarray:
    pause = np.zeros(int(pause_s * RATE_HZ))
    parts = [np.zeros(int(1.5 * RATE_HZ))]
    for depth in depths:
        parts += [_rep_profile(depth), pause]
    return np.concatenate(parts) + base_deg


def test_counts_full_and_partial_reps_with_their_depths() -> None:
    depths = [100.0, 45.0, 120.0, 60.0]
    thigh = _set(depths, base_deg=-6.0)
    found = segment_reps(thigh)
    assert len(found.reps) == 4 and found.incomplete == 0
    np.testing.assert_allclose([thigh[r.bottom] + 6.0 for r in found.reps], depths, atol=0.05)
    for rep in found.reps:
        assert rep.start < rep.bottom < rep.end
        assert thigh[rep.start] + 6.0 < 0.05 * 120 + 2.1
        assert thigh[rep.end] + 6.0 < 0.05 * 120 + 2.1


def test_noise_between_thresholds_does_not_split_a_rep() -> None:
    rng = np.random.default_rng(0)
    thigh = _set([90.0, 90.0]) + rng.normal(0, 1.5, size=_set([90.0, 90.0]).size)
    assert len(segment_reps(thigh).reps) == 2


def test_shallow_bobbing_is_not_a_rep() -> None:
    thigh = _set([15.0, 12.0])
    assert segment_reps(thigh, RepThresholds(enter_deg=20.0, exit_deg=10.0)).reps == []


def test_excursions_cut_off_by_the_recording_are_incomplete() -> None:
    full = _set([90.0, 90.0, 90.0])
    cut = full[int(2.6 * RATE_HZ) : -int(2.0 * RATE_HZ)]  # starts mid-rep 1, ends mid-rep 3
    found = segment_reps(cut)
    assert len(found.reps) == 1
    assert found.incomplete == 2


def test_wink_amplitude_and_onset_from_a_known_tilt_trace() -> None:
    thigh = _set([110.0])
    k, onset_deg, wink_deg = 0.3, 80.0, 9.0
    # Rhythm up to the onset, then posterior rotation growing to wink_deg at the bottom.
    s = np.clip((thigh - onset_deg) / (110.0 - onset_deg), 0, 1)
    tilt = np.where(thigh < onset_deg, k * thigh, k * onset_deg - wink_deg * s)
    rep = segment_reps(thigh).reps[0]
    wink = measure_wink(thigh, tilt, rep)
    assert abs(wink.wink_deg - wink_deg) < 0.15  # grid sampling of the peak
    assert abs(thigh[wink.peak_index] - onset_deg) < 1.0


def test_no_wink_when_tilt_follows_the_rhythm_through_the_bottom() -> None:
    thigh = _set([110.0])
    wink = measure_wink(thigh, 0.3 * thigh, segment_reps(thigh).reps[0])
    # Only the ascent's first few degrees are inside the bottom window.
    assert wink.wink_deg < 0.3 * 3.0


def test_with_keep_edges_cut_excursions_are_reps_marked_as_edges() -> None:
    full = _set([90.0, 90.0, 90.0])
    cut = full[int(2.6 * RATE_HZ) : -int(2.0 * RATE_HZ)]  # starts mid-rep 1, ends mid-rep 3
    found = segment_reps(cut, keep_edges=True)
    assert [w.edge for w in found.reps] == ["start", None, "end"]
    assert found.incomplete == 0
    assert found.reps[0].start == 0 and found.reps[-1].end == cut.size - 1


def test_edges_need_a_complete_rep_and_enough_depth() -> None:
    full = _set([90.0, 90.0])
    only_cut = full[int(2.6 * RATE_HZ) :][: int(3.0 * RATE_HZ)]  # one excursion, cut at the start
    assert segment_reps(only_cut, keep_edges=True).reps == []
    shallow_tail = np.concatenate([_set([90.0]), np.linspace(0.0, 30.0, 50)])
    found = segment_reps(shallow_tail, keep_edges=True)
    assert [w.edge for w in found.reps] == [None]
    assert found.incomplete == 1


def _forward_filled_runs(values: np.ndarray, high: float, low: float) -> list[tuple[int, int]]:
    """The per-sample definition of the hysteresis: the last decided state, filled forward."""
    state = np.full(values.shape, -1, dtype=np.int8)
    state[values > high] = 1
    state[values < low] = 0
    filled = np.zeros(values.shape, dtype=np.int8)
    current = 0
    for i, s in enumerate(state.tolist()):
        current = s if s >= 0 else current
        filled[i] = current
    edges = np.flatnonzero(np.diff(np.concatenate(([0], filled, [0]))))
    return [(int(a), int(b) - 1) for a, b in zip(edges[::2], edges[1::2])]


def test_hysteresis_runs_from_run_starts_match_the_forward_filled_state() -> None:
    from fusion.reps import _hysteresis_runs

    rng = np.random.default_rng(4)
    for trial in range(3000):
        values = np.cumsum(rng.normal(size=int(rng.integers(0, 60))))
        if trial % 3 == 0:
            values = np.round(values)  # samples exactly at a threshold
        low, high = sorted(rng.normal(size=2) * 3)[:: (1 if trial % 4 else -1)]
        assert _hysteresis_runs(values, high, low) == _forward_filled_runs(values, high, low)


def test_wink_smoothing_is_each_segments_own_moving_average_by_running_sums(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The per-rep tilt smoothing took np.convolve, a BLAS dot per output (~0.8 M of the ~27 M
    # instructions outside the filter per set, issue 13); now running sums. Each segment is
    # still averaged over its own edge-held samples only.
    from fusion.wink import WINK_SMOOTHING_S, smoothed_tilts_deg

    def no_convolve(*args, **kwargs):  # type: ignore[no-untyped-def]
        raise AssertionError("np.convolve: one BLAS dot per output")

    monkeypatch.setattr(np, "convolve", no_convolve)
    rng = np.random.default_rng(3)
    rate_hz = 200.0
    width = int(round(WINK_SMOOTHING_S * rate_hz))
    lengths = np.array([5, 19, 20, 21, 400, 1, 97])  # shorter than, equal to, over the width
    offsets = np.concatenate(([0], np.cumsum(lengths)[:-1]))
    tilt = rng.normal(20.0, 15.0, int(lengths.sum()))
    smoothed = smoothed_tilts_deg(tilt, offsets, lengths, rate_hz)
    for first, count in zip(offsets.tolist(), lengths.tolist()):
        segment = tilt[first : first + count]
        if count < width:
            np.testing.assert_array_equal(smoothed[first : first + count], segment)
            continue
        held = np.concatenate(
            (np.full(width // 2, segment[0]), segment, np.full(width - 1 - width // 2, segment[-1]))
        )
        expected = [held[i : i + width].mean() for i in range(count)]
        np.testing.assert_allclose(smoothed[first : first + count], expected, rtol=0, atol=1e-10)


@pytest.mark.parametrize("lengths", [[5, 19, 20, 21, 400, 1, 97], [6000] + [25] * 40])
def test_each_segments_smoothing_is_the_same_bits_as_alone(lengths: list[int]) -> None:
    # Batched (one row per segment, or segment by segment when the lengths are too uneven
    # for one table) or alone: a rep's smoothed tilt must not depend on its neighbours.
    from fusion.wink import smoothed_tilt_deg, smoothed_tilts_deg

    rng = np.random.default_rng(5)
    counts = np.array(lengths)
    offsets = np.concatenate(([0], np.cumsum(counts)[:-1]))
    tilt = rng.normal(20.0, 15.0, int(counts.sum()))
    smoothed = smoothed_tilts_deg(tilt, offsets, counts, 200.0)
    for first, count in zip(offsets.tolist(), counts.tolist()):
        alone = smoothed_tilt_deg(tilt[first : first + count].copy(), 200.0)
        np.testing.assert_array_equal(smoothed[first : first + count], alone)
