"""Hostile input to `winkwatch analyze` / `winkwatch orient`: never a traceback, always a
message on stderr and a documented exit code (0 done, 2 bad file or option, 3 cannot be
analysed, 4 sensors misplaced). Specific cases found by probing, then a property-based sweep (hypothesis)."""

from __future__ import annotations

import math
import os
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from api.cli.main import app
from fusion.simulator import SquatSetSpec, simulate_set
from fusion.types import ImuRecording
from sensor_gateway.recording_csv import write_recording_csv

runner = CliRunner()
CLEAN_EXIT_CODES = {0, 2, 3, 4}  # 4: sensors look swapped or misplaced


@pytest.fixture(scope="module")
def good_set(tmp_path_factory) -> tuple[Path, Path]:
    folder = tmp_path_factory.mktemp("good")
    sim = simulate_set(SquatSetSpec(reps=2, depth_deg=100.0, wink_deg=10.0), seed=5)
    write_recording_csv(folder / "sacrum.csv", sim.sacrum)
    write_recording_csv(folder / "thigh.csv", sim.thigh)
    return folder / "sacrum.csv", folder / "thigh.csv"


def _assert_clean(result, expected_code: int | None = None, says: str | None = None) -> None:
    assert result.exception is None or isinstance(result.exception, SystemExit), (
        f"traceback: {result.exception!r}\n{result.stderr}"
    )
    assert result.exit_code in CLEAN_EXIT_CODES, (result.exit_code, result.stderr)
    if expected_code is not None:
        assert result.exit_code == expected_code, (result.exit_code, result.stderr)
    assert "Traceback" not in result.stderr
    if result.exit_code != 0:  # ours ("error: ...") or click's usage error ("Error: ...")
        assert "error: " in result.stderr.lower(), result.stderr
    if says is not None:
        assert says in result.stderr, result.stderr


def _write(path: Path, t_s, acc, gyr) -> Path:
    t_s = np.asarray(t_s, float)
    n = t_s.size
    write_recording_csv(
        path,
        ImuRecording(
            t_s,
            np.broadcast_to(np.asarray(acc, float), (n, 3)).copy(),
            np.broadcast_to(np.asarray(gyr, float), (n, 3)).copy(),
        ),
    )
    return path


def _analyze(sacrum: Path, thigh: Path, *options: str):
    return runner.invoke(app, ["analyze", "--sacrum", str(sacrum), "--thigh", str(thigh), *options])


@pytest.mark.parametrize("value", [0.0, 5e-324, 1e-310])
def test_a_zero_or_denormal_accelerometer_cannot_be_analysed(tmp_path, good_set, value) -> None:
    t_s = np.arange(2000) / 100.0
    sacrum = _write(tmp_path / "s.csv", t_s, [value, value, value], [0.0, 0.01, 0.0])
    result = _analyze(sacrum, good_set[1])
    _assert_clean(result, 3, says="accelerometer")


def test_absurdly_large_values_cannot_be_analysed(tmp_path) -> None:
    t_s = np.arange(1000) / 100.0
    sacrum = _write(tmp_path / "s.csv", t_s, [1e300, 1e300, 1e300], [1e300, 1e300, 1e300])
    thigh = _write(tmp_path / "t.csv", t_s, [1e300, -1e300, 1e300], [1e300, 1e300, -1e300])
    result = _analyze(sacrum, thigh)
    _assert_clean(result, 3, says="physical range")


def test_a_gyroscope_in_degrees_per_second_is_refused_not_analysed(tmp_path) -> None:
    # Found by probing: both files' gyroscope columns in deg/s gave 61 "reps", 30 of them
    # winking, with exit 0 (a squat's 2 rad/s reads 130 "rad/s", under the old 1000 limit)
    sim = simulate_set(SquatSetSpec(reps=2), seed=5)
    sacrum = _write(
        tmp_path / "s.csv", sim.sacrum.t_s, sim.sacrum.acc_mps2, np.degrees(sim.sacrum.gyr_radps)
    )
    thigh = _write(
        tmp_path / "t.csv", sim.thigh.t_s, sim.thigh.acc_mps2, np.degrees(sim.thigh.gyr_radps)
    )
    _assert_clean(_analyze(sacrum, thigh), 3, says="rad/s")


@pytest.mark.parametrize(
    ("sensor", "instrument", "axis", "value"),
    [
        ("sacrum", "gyr", 1, 0.0),
        ("sacrum", "gyr", 0, 0.0123),
        ("thigh", "gyr", 1, 0.0),
        ("thigh", "gyr", 2, 0.0),
        ("thigh", "acc", 0, 0.0),
    ],
)
def test_a_dead_axis_is_refused_not_analysed(tmp_path, sensor, instrument, axis, value) -> None:
    # Found by probing: one column constant gave exit 0 with a 9.7-deg wink read as 5.9 (sacrum
    # gyroscope y), a 98-deg depth as 93 (thigh gyroscope y) or 72 (thigh accelerometer x), or
    # exit 4 "one sensor looks to be on the wrong segment" (thigh gyroscope z)
    sim = simulate_set(SquatSetSpec(reps=3, depth_deg=100.0, wink_deg=10.0), seed=1)
    paths = {}
    for name, rec in (("sacrum", sim.sacrum), ("thigh", sim.thigh)):
        acc, gyr = rec.acc_mps2.copy(), rec.gyr_radps.copy()
        if name == sensor:
            (acc if instrument == "acc" else gyr)[:, axis] = value
        paths[name] = _write(tmp_path / f"{name}.csv", rec.t_s, acc, gyr)
    column = ("ax_mps2", "ay_mps2", "az_mps2", "gx_radps", "gy_radps", "gz_radps")[
        axis + (3 if instrument == "gyr" else 0)
    ]
    result = _analyze(paths["sacrum"], paths["thigh"])
    _assert_clean(result, 3, says=f"{sensor} ")
    assert f"({column}) reads {value:.6g} in every one" in result.stderr
    assert "dead or stuck" in result.stderr


def test_a_still_recording_is_not_called_a_dead_axis(tmp_path) -> None:
    t_s = np.arange(500) / 100.0
    still = _write(tmp_path / "still.csv", t_s, [0.0, 0.0, 9.81], [0.0, 0.0, 0.0])
    result = _analyze(still, still)
    _assert_clean(result, 3)
    assert "dead" not in result.stderr


@pytest.mark.parametrize(
    "t_s",
    [
        np.r_[np.arange(1000) / 100.0, 3e9],  # a timestamp ~100 years in the future
        np.r_[np.arange(1000) / 100.0, 1e15],
        np.arange(3000) * 1e-9,  # rows 1 ns apart
        np.r_[np.arange(2000) * 1e-9, 1e6 + np.arange(3)],
    ],
    ids=["100-years", "1e15-s", "1-ns-rows", "1-ns-rows-then-jump"],
)
def test_timestamps_that_would_need_a_huge_grid_are_refused(tmp_path, t_s) -> None:
    path = _write(tmp_path / "x.csv", t_s, [0.0, 0.0, 9.81], [0.0, 0.0, 0.0])
    for result in (_analyze(path, path), runner.invoke(app, ["orient", str(path)])):
        _assert_clean(result)
        assert result.exit_code != 0
        assert "t_s" in result.stderr, result.stderr


def test_timestamps_in_milliseconds_are_named_as_such(tmp_path, good_set) -> None:
    # 100 Hz written in ms: every interval a 10-s "gap", which the analysis used to report as
    # a recording without a stretch free of long gaps (true, but no hint of the units)
    sim = simulate_set(SquatSetSpec(reps=2), seed=5)
    sacrum = _write(
        tmp_path / "s.csv", sim.sacrum.t_s * 1000.0, sim.sacrum.acc_mps2, sim.sacrum.gyr_radps
    )
    thigh = _write(
        tmp_path / "t.csv", sim.thigh.t_s * 1000.0, sim.thigh.acc_mps2, sim.thigh.gyr_radps
    )
    for result in (_analyze(sacrum, thigh), runner.invoke(app, ["orient", str(sacrum)])):
        _assert_clean(result)
        assert result.exit_code != 0
        assert "t_s must be in seconds" in result.stderr and "milliseconds" in result.stderr


def test_orient_refuses_a_grid_too_large_and_says_why(tmp_path) -> None:
    t_s = np.r_[np.arange(1000) / 100.0, 3e9]
    path = _write(tmp_path / "x.csv", t_s, [0.0, 0.0, 9.81], [0.0, 0.0, 0.0])
    result = runner.invoke(app, ["orient", str(path)])
    _assert_clean(result, 2, says="seconds")


@pytest.mark.parametrize(
    "out", ["missing-folder/reps.csv", "a-folder", "/proc/version", "/dev/full"]
)
def test_analyze_out_that_cannot_be_written(tmp_path, good_set, out) -> None:
    (tmp_path / "a-folder").mkdir()
    target = out if out.startswith("/") else str(tmp_path / out)
    result = _analyze(*good_set, "--out", target)
    _assert_clean(result, 2, says="cannot write")


@pytest.mark.parametrize(
    ("variable", "value", "command"),
    [
        ("WINKWATCH_PORT", "abc", ["sets"]),
        ("WINKWATCH_COMMIT_INTERVAL_S", "5", ["export"]),
        ("WINKWATCH_ALLOWED_ORIGINS", "https://gym.example", ["token", "list"]),
        ("WINKWATCH_GATEWAY_IDLE_STOP_S", "abc", ["gateway", "--list"]),
        ("WINKWATCH_MQTT_PORT", "abc", ["serve", "--edge"]),
        ("WINKWATCH_PORT", "abc", ["analyze", "--athlete", "1"]),
    ],
)
def test_an_environment_variable_that_cannot_be_used_is_named(
    tmp_path, monkeypatch, good_set, variable, value, command
) -> None:
    # Found by probing: every command reading the settings showed pydantic's traceback
    # (ValidationError / SettingsError) for one mistyped WINKWATCH_* variable.
    monkeypatch.setenv("WINKWATCH_DATABASE_URL", f"sqlite:///{tmp_path / 'w.db'}")
    monkeypatch.setenv("WINKWATCH_GATEWAY_ID", "test-gateway")
    monkeypatch.setenv("WINKWATCH_GATEWAY_CONFIG_FILE", str(tmp_path / "gateway.json"))
    monkeypatch.setenv(variable, value)
    if command[0] == "analyze":
        command = [*command, "--sacrum", str(good_set[0]), "--thigh", str(good_set[1])]
    result = runner.invoke(app, command)
    _assert_clean(result, 2, says=f"error: {variable}={value!r} cannot be used")
    assert "unset it" in result.stderr, result.stderr


@pytest.mark.parametrize(
    "command",
    [["serve"], ["serve", "--edge"], ["serve", "--central"], ["demo"], ["gateway", "--list"]],
)  # refused before anything listens: WINKWATCH_PORT / --port only keep the old code's ports
def test_a_log_level_that_does_not_exist_is_a_bad_option(tmp_path, monkeypatch, command) -> None:
    # Found by probing: `--log-level loud` ended serve and demo with uvicorn's KeyError (after
    # the server was built) and gateway with logging's ValueError.
    monkeypatch.setenv("WINKWATCH_DATABASE_URL", f"sqlite:///{tmp_path / 'w.db'}")
    monkeypatch.setenv("WINKWATCH_GATEWAY_ID", "test-gateway")
    monkeypatch.setenv("WINKWATCH_GATEWAY_CONFIG_FILE", str(tmp_path / "gateway.json"))
    monkeypatch.setenv("WINKWATCH_PORT", "18240")
    if command == ["demo"]:
        command = ["demo", "--port", "18241", "--data-dir", str(tmp_path / "demo")]
    result = runner.invoke(app, [*command, "--log-level", "loud"])
    _assert_clean(result, 2, says="Invalid value for '--log-level'")
    assert runner.invoke(app, ["gateway", "--list", "--log-level", "WARNING"]).exit_code == 0


@pytest.mark.parametrize("load", ["-5", "nan", "inf", "-inf"])
def test_a_bad_load_is_a_bad_option(good_set, load) -> None:
    _assert_clean(_analyze(*good_set, "--load-kg", load), 2, says="--load-kg")


@pytest.mark.parametrize("threshold", ["nan", "-1", "0", "inf"])
def test_a_bad_wink_threshold_is_a_bad_option(good_set, threshold) -> None:
    _assert_clean(
        _analyze(*good_set, "--wink-threshold-deg", threshold), 2, says="--wink-threshold-deg"
    )


def test_good_options_still_work(good_set, tmp_path) -> None:
    result = _analyze(
        *good_set, "--load-kg", "0", "--wink-threshold-deg", "7.5", "--out", str(tmp_path / "r.csv")
    )
    _assert_clean(result, 0)
    assert (tmp_path / "r.csv").read_text().startswith("rep,")


# -- property-based sweep ----------------------------------------------------------------------

_HOSTILE_FLOATS = st.one_of(
    st.sampled_from([0.0, -0.0, 5e-324, -5e-324, 1e-310, 1e300, -1e300, 1.7e308, 9.81]),
    st.floats(-1e6, 1e6, allow_nan=False, allow_infinity=False),
)
_STEPS_S = st.one_of(
    st.sampled_from([1e-9, 1e-6, 0.005, 0.01, 1.0, 1e6, 3e9]),
    st.floats(1e-9, 1e3, allow_nan=False),
)


@st.composite
def hostile_recordings(draw) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    n = draw(st.integers(2, 400))
    start_s = draw(st.sampled_from([0.0, -5.0, 1e9, 1.6e9, 1e15]))
    pattern = draw(st.sampled_from(["uniform", "mixed", "jump"]))
    if pattern == "uniform":
        steps = np.full(n - 1, draw(_STEPS_S))
    elif pattern == "mixed":
        steps = np.asarray(draw(st.lists(_STEPS_S, min_size=n - 1, max_size=n - 1)))
    else:
        steps = np.full(n - 1, 0.01)
        steps[draw(st.integers(0, n - 2))] = draw(_STEPS_S)
    t_s = start_s + np.r_[0.0, np.cumsum(steps)]
    keep = np.r_[True, np.diff(t_s) > 0]  # float rounding can merge steps at large offsets
    t_s = t_s[keep]
    if t_s.size < 2 or not np.all(np.isfinite(t_s)):
        t_s = np.array([0.0, 0.01])
    kind = draw(st.sampled_from(["constant", "random", "realistic"]))
    m = t_s.size
    if kind == "constant":
        acc = np.full((m, 3), draw(_HOSTILE_FLOATS))
        gyr = np.full((m, 3), draw(_HOSTILE_FLOATS))
    elif kind == "random":
        seed = draw(st.integers(0, 2**32 - 1))
        scale = draw(st.sampled_from([1e-310, 1.0, 9.81, 1e6, 1e300]))
        rng = np.random.default_rng(seed)
        acc = rng.normal(0, 1, (m, 3)) * scale
        gyr = rng.normal(0, 1, (m, 3)) * scale
    else:
        acc = np.tile([0.0, 0.0, 9.81], (m, 1))
        gyr = np.zeros((m, 3))
    return t_s, np.nan_to_num(acc), np.nan_to_num(gyr)


_OPTION_FLOATS = st.one_of(
    st.sampled_from(["nan", "inf", "-inf", "-1", "0", "1e308", "abc", "5"]),
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
)


@settings(
    # 40 by default (CI time); e.g. WINKWATCH_HOSTILE_EXAMPLES=500 for a longer hunt.
    max_examples=int(os.environ.get("WINKWATCH_HOSTILE_EXAMPLES", "40")),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    sacrum=hostile_recordings(),
    thigh=st.one_of(st.none(), hostile_recordings()),
    load=st.one_of(st.none(), _OPTION_FLOATS),
    threshold=st.one_of(st.none(), _OPTION_FLOATS),
    engine=st.sampled_from([None, "vqf", "madgwick", "nope"]),
    out=st.sampled_from([None, "file", "missing/x.csv", "folder", "/dev/full"]),
)
def test_hostile_recordings_and_options_always_exit_cleanly(
    tmp_path_factory, good_set, sacrum, thigh, load, threshold, engine, out
) -> None:
    folder = tmp_path_factory.mktemp("hostile")
    sacrum_path = _write(folder / "s.csv", *sacrum)
    thigh_path = good_set[1] if thigh is None else _write(folder / "t.csv", *thigh)
    options: list[str] = []
    if load is not None:
        options += ["--load-kg", load]
    if threshold is not None:
        options += ["--wink-threshold-deg", threshold]
    if engine is not None:
        options += ["--engine", engine]
    if out is not None:
        (folder / "folder").mkdir(exist_ok=True)
        options += ["--out", out if out.startswith("/") else str(folder / out)]
    _assert_clean(_analyze(sacrum_path, thigh_path, *options))
    orient = runner.invoke(app, ["orient", str(sacrum_path)])
    assert orient.exception is None or isinstance(orient.exception, SystemExit), (
        f"orient traceback: {orient.exception!r}\n{orient.stderr}"
    )
    assert orient.exit_code in {0, 1, 2, 3}
    assert math.isfinite(float(orient.exit_code))
