"""The live mirrored-axis watch (`sensor_gateway.mirrored_axes`) alone, on simulated sensors
with known axes: a mirror is said once per set, within a few windows of motion; a good or a
resting sensor never; the samples kept stay a few windows' worth however long the set."""

from __future__ import annotations

import numpy as np

from fusion.simulator import SensorSpec, SquatSetSpec, simulate_set
from sensor_gateway.mirrored_axes import KEPT_WINDOWS, MirroredAxisWatch

BATCH = 4  # samples per packet, as the simulated and WinkWatch sensors send them


def _feed(watch: MirroredAxisWatch, rec, set_key: str = "set-1") -> list[tuple[float, object]]:
    """Every mirror the watch says over `rec`'s samples (s into the recording, finding)."""
    found = []
    for start in range(0, len(rec.t_s), BATCH):
        rows = slice(start, start + BATCH)
        mirror = watch.add("AA:01", set_key, rec.t_s[rows], rec.acc_mps2[rows], rec.gyr_radps[rows])
        if mirror is not None:
            found.append((float(rec.t_s[rows][-1] - rec.t_s[0]), mirror))
    return found


def _set(seed: int, acc_axes: str = "", gyr_axes: str = "", reps: int = 6):
    sensor = SensorSpec(acc_mirrored_axes=acc_axes, gyr_mirrored_axes=gyr_axes)
    return simulate_set(SquatSetSpec(reps=reps, wink_deg=8.0, thigh=sensor), seed)


def test_a_mirrored_thigh_is_said_once_per_set_within_a_few_windows() -> None:
    sim = _set(3, acc_axes="y")
    watch = MirroredAxisWatch()
    ((at_s, mirror),) = _feed(watch, sim.thigh)
    assert at_s < 10.0
    assert "y" in mirror.disagreeing + mirror.agreeing
    assert mirror.message("thigh").startswith("the thigh sensor's gyroscope and accelerometer")
    assert len(_feed(watch, sim.thigh, "set-2")) == 1  # the next set is checked afresh


def test_good_sensors_and_a_resting_mirrored_one_are_never_said() -> None:
    for seed in (1, 2, 3, 4):
        sim = _set(seed)
        assert _feed(MirroredAxisWatch(), sim.thigh) == []
        assert _feed(MirroredAxisWatch(), sim.sacrum) == []
    resting = _set(5, acc_axes="x", gyr_axes="y")
    standing = resting.thigh.t_s < resting.thigh.t_s[0] + 1.5  # before the first descent
    rec = resting.thigh
    t_s = rec.t_s[0] + np.arange(40 * 100) * 0.01  # 40 s of its standing samples, repeated
    still = np.flatnonzero(standing)
    rows = still[np.arange(t_s.size) % still.size]
    watch = MirroredAxisWatch()
    for start in range(0, t_s.size, BATCH):
        picked = rows[start : start + BATCH]
        batch = t_s[start : start + BATCH], rec.acc_mps2[picked], rec.gyr_radps[picked]
        assert watch.add("AA:01", "set-1", *batch) is None


def test_the_samples_kept_are_bounded() -> None:
    sim = _set(6, reps=10)
    watch = MirroredAxisWatch(window_s=1.0)
    _feed(watch, sim.sacrum)
    (sensor,) = watch._sensors.values()
    kept_s = sum(float(t[-1] - t[0]) for t, _, _ in sensor.windows)
    assert len(sensor.windows) == KEPT_WINDOWS
    assert kept_s < KEPT_WINDOWS * 1.1  # each window: 1 s and the batch that closes it
    assert sim.sacrum.t_s[-1] - sim.sacrum.t_s[0] > 8 * kept_s
