"""`winkwatch reanalyze`: stored raw samples of a simulated set give back the simulator's
known reps (ground truth), replacing what was stored before."""

from __future__ import annotations

import numpy as np
import pytest
from typer.testing import CliRunner

from api.cli.main import app
from api.errors import ConflictError, NotFoundError
from api.reanalysis import reanalyze_set
from api.storage import catalog
from api.storage import reps as rep_store
from api.storage import sets as set_store
from api.storage.recorder import DatabaseSink
from api.vocab import Placement, RepSource, SetVariant
from fusion.simulator import random_spec, simulate_set
from sensor_gateway.events import RepCompleted, SetStarted, SetStopped, StopReason
from sensor_gateway.samples import SensorKind
from sensor_gateway.sink import RawSamples
from tests.api.helpers import athlete_key, metrics, set_info

GATEWAY_START_S = 5000.0  # gateway clock at the set start: stored times are relative to it


def _record_simulated_set(database, seed: int, live_clock_error_s: float | None = None):
    """Store a simulated set the way the gateway does: ~10 notifications per second.

    With `live_clock_error_s`, the stored (live-mapped) times are off by that much and the
    sensors' own timestamps (drifting clocks) and receive times are stored too."""
    sim = simulate_set(random_spec(np.random.default_rng(1000 + seed)), seed=seed)
    info = set_info(
        athlete_key(database, "Ana"), started_s=GATEWAY_START_S, key=f"sim{seed}", load_kg=100.0
    )
    common = dict(athlete_id=info.athlete_id, t_s=info.started_s, wall_utc=info.started_utc)
    sink = DatabaseSink(database, gateway_id="gw", start_thread=False)
    sink.record_event(SetStarted(set=info, **common))
    sink.record_event(
        RepCompleted(
            set_key=info.set_key, metrics=metrics(1, start_s=GATEWAY_START_S + 1), **common
        )
    )  # a wrong "live" rep that re-analysis must replace
    for placement, recording in ((Placement.SACRUM, sim.sacrum), (Placement.THIGH, sim.thigh)):
        for part in np.array_split(np.arange(len(recording)), max(1, len(recording) // 20)):
            t_s = GATEWAY_START_S + recording.t_s[part]
            clock = {}
            if live_clock_error_s is not None:
                clock = dict(
                    sensor_time_s=777.0 + recording.t_s[part] * (1 + 150e-6),
                    received_s=np.full(t_s.size, t_s[-1] + 0.006),
                    seq=int(part[0]),
                )
                t_s = t_s + live_clock_error_s
            sink.write_samples(
                RawSamples(
                    set_key=info.set_key,
                    athlete_id=info.athlete_id,
                    placement=placement,
                    address=placement.value,
                    kind=SensorKind.SIMULATED,
                    t_s=t_s,
                    acc_mps2=recording.acc_mps2[part],
                    gyr_radps=recording.gyr_radps[part],
                    **{"received_s": t_s, **clock},
                )
            )
    sink.record_event(SetStopped(set=info, reason=StopReason.REQUESTED, rep_count=1, **common))
    sink.close()
    with database.sessions() as db:
        return sim, set_store.set_by_key(db, info.set_key).id


@pytest.mark.parametrize("seed", [0, 1])
def test_reanalysis_recovers_the_simulated_reps(database, seed) -> None:
    sim, set_id = _record_simulated_set(database, seed)
    outcome = reanalyze_set(database, set_id)
    assert (outcome.reps_before, outcome.reps_after) == (1, len(sim.reps))
    with database.sessions() as db:
        stored = sorted(
            rep_store.list_reps(db, rep_store.RepFilter(set_id=set_id), limit=100).items,
            key=lambda r: r.rep,
        )
        assert set_store.get_set(db, set_id).reps_source == RepSource.REANALYSIS.value
    depth_error = [r.depth_deg - truth.depth_deg for r, truth in zip(stored, sim.reps)]
    assert np.sqrt(np.mean(np.square(depth_error))) < 3.0
    for rep, truth in zip(stored, sim.reps):
        # Times are set-relative again after the gateway-clock round trip.
        assert rep.bottom_s == pytest.approx(truth.bottom_s, abs=0.5)
        assert rep.load_kg == 100.0
        if truth.wink_deg >= 8.0 or truth.wink_deg <= 1.0:  # clear cases only
            assert rep.butt_wink == (truth.wink_deg >= 8.0)


def test_reanalysis_flags_against_the_athletes_baseline(database) -> None:
    from api.storage.baselines import set_baseline
    from fusion.baseline import PersonalBaseline

    sim, set_id = _record_simulated_set(database, 0)
    with database.sessions.begin() as db:
        athlete_id = set_store.get_set(db, set_id).athlete_id
        # threshold 30 + 1.5 x sqrt(1 + 2^2) = 33.35 deg
        set_baseline(db, athlete_id, PersonalBaseline(30.0, 1.0, 9))
    reanalyze_set(database, set_id)
    with database.sessions() as db:
        stored = rep_store.list_reps(db, rep_store.RepFilter(set_id=set_id), limit=100).items
    assert len(stored) == len(sim.reps)
    for rep in stored:
        assert (rep.threshold_source, rep.baseline_reps) == ("personal", 9)
        assert rep.wink_threshold_deg == pytest.approx(30.0 + 1.5 * 5**0.5)
        assert not rep.butt_wink


def test_reanalysis_maps_the_clock_again_from_what_the_sensors_sent(database) -> None:
    """The live mapping stored times 0.8 s off; re-analysis maps the sensors' own clocks
    again, so the reps land at their true times (within 0.3 s, as the live check)."""
    sim, set_id = _record_simulated_set(database, 1, live_clock_error_s=0.8)
    reanalyze_set(database, set_id)
    with database.sessions() as db:
        stored = sorted(
            rep_store.list_reps(db, rep_store.RepFilter(set_id=set_id), limit=100).items,
            key=lambda r: r.rep,
        )
    assert len(stored) == len(sim.reps)
    for rep, truth in zip(stored, sim.reps):
        assert rep.bottom_s == pytest.approx(truth.bottom_s, abs=0.3)


def test_a_load_corrected_while_the_set_is_reanalysed_is_kept(database, monkeypatch) -> None:
    """Found by probing: the coach corrected the set's load (PATCH /sets/{id}) while
    `winkwatch reanalyze` analysed it; the reps it stored carried the load read before the
    analysis (100 kg), so the set said 0 kg and its reps 100 kg, loaded winks included. The
    reps stored carry the set's load as it is when they are stored."""
    import api.reanalysis

    _, set_id = _record_simulated_set(database, 1)
    real_analyse = api.reanalysis.analyse_stored_set

    def corrected_meanwhile(database, set_id):
        result = real_analyse(database, set_id)
        with database.sessions.begin() as db:  # what PATCH /sets/{id} {"load_kg": 0} does
            set_store.update_set(db, set_id, load_kg=0.0)
        return result

    monkeypatch.setattr(api.reanalysis, "analyse_stored_set", corrected_meanwhile)
    outcome = reanalyze_set(database, set_id)
    assert outcome.wink_reps > 0  # so a loaded wink would show
    with database.sessions() as db:
        stored = rep_store.list_reps(db, rep_store.RepFilter(set_id=set_id), limit=100).items
        assert set_store.get_set(db, set_id).load_kg == 0.0
    assert {rep.load_kg for rep in stored} == {0.0}
    assert not any(rep.loaded_wink for rep in stored)


def test_reanalysis_refuses_sets_without_samples_or_still_recording(database) -> None:
    with database.sessions.begin() as db:
        athlete = catalog.create_athlete(db, "Ana")
        running = set_store.start_set(db, athlete.id, SetVariant.BACK_SQUAT)
    with pytest.raises(ConflictError, match="still recording"):
        reanalyze_set(database, running.id)
    with database.sessions.begin() as db:
        set_store.finish_set(db, running.id)
    with pytest.raises(NotFoundError, match="raw sacrum and thigh samples"):
        reanalyze_set(database, running.id)


def test_reanalyze_and_export_commands(db_target, database, tmp_path, monkeypatch) -> None:
    _, set_id = _record_simulated_set(database, 0)
    monkeypatch.setenv("WINKWATCH_DATABASE_URL", db_target.url)
    if db_target.schema:
        monkeypatch.setenv("WINKWATCH_DATABASE_SCHEMA", db_target.schema)
    runner = CliRunner()
    result = runner.invoke(app, ["reanalyze", str(set_id)])
    assert result.exit_code == 0, result.output
    assert f"set {set_id}: 1 rep(s) replaced by" in result.output
    out = tmp_path / "reps.csv"
    result = runner.invoke(app, ["export", "--set", str(set_id), "--out", str(out)])
    assert result.exit_code == 0, result.output
    lines = out.read_text().splitlines()
    with database.sessions() as db:
        assert len(lines) - 1 == len(
            rep_store.list_reps(db, rep_store.RepFilter(set_id=set_id)).items
        )
    result = runner.invoke(
        app, ["export", "--set", str(set_id), "--raw-zip", "--out", str(tmp_path / "raw.zip")]
    )
    assert result.exit_code == 0 and (tmp_path / "raw.zip").stat().st_size > 1000
    result = runner.invoke(app, ["reanalyze", "999999"])
    assert result.exit_code == 2 and "set 999999 does not exist" in result.output
    result = runner.invoke(app, ["token", "create", "tablet", "--role", "admin"])
    assert result.exit_code == 0 and "ww_" in result.output
    result = runner.invoke(app, ["token", "list"])
    assert "tablet" in result.output and "admin" in result.output
    listed = result.stdout.splitlines()
    assert listed[0].split("\t") == ["id", "role", "state", "name"]
    token_id = listed[1].split()[0]
    assert runner.invoke(app, ["token", "revoke", token_id]).exit_code == 0
    assert "revoked" in runner.invoke(app, ["token", "list"]).output


def test_cli_says_which_database_and_refuses_what_does_not_exist(
    db_target, database, monkeypatch
) -> None:
    _, set_id = _record_simulated_set(database, 0)
    monkeypatch.setenv("WINKWATCH_DATABASE_URL", db_target.url)
    if db_target.schema:
        monkeypatch.setenv("WINKWATCH_DATABASE_SCHEMA", db_target.schema)
    runner = CliRunner()
    empty = runner.invoke(app, ["token", "list"])
    assert empty.exit_code == 0 and empty.stdout == ""
    assert "no tokens yet" in empty.stderr and "WINKWATCH_DATABASE_URL" in empty.stderr
    for option in ("--set", "--session", "--athlete"):
        result = runner.invoke(app, ["export", option, "999999"])
        assert result.exit_code == 2, (option, result.output)
        assert "999999 does not exist" in result.stderr and result.stdout == ""
    listed = runner.invoke(app, ["sets"])
    assert listed.exit_code == 0, listed.output
    header, *rows = listed.stdout.splitlines()
    assert header.startswith("set\tstarted (UTC)\tathlete")
    assert [row.split("\t")[0] for row in rows] == [str(set_id)]
    columns = rows[0].split("\t")
    assert columns[2] == "Ana" and columns[4] == "100" and columns[6] == "1"  # the one live rep
    assert runner.invoke(app, ["sets", "--athlete", "999999"]).exit_code == 2


@pytest.mark.parametrize("name", ["", "   ", "a\x00b", "x" * 201])
def test_token_create_refuses_a_name_the_api_would_refuse(db_target, name, monkeypatch) -> None:
    # Found by probing: `token create ''` made a token named ''; a 201-character name was a
    # traceback on PostgreSQL (the column holds 200)
    monkeypatch.setenv("WINKWATCH_DATABASE_URL", db_target.url)
    if db_target.schema:
        monkeypatch.setenv("WINKWATCH_DATABASE_SCHEMA", db_target.schema)
    runner = CliRunner()
    result = runner.invoke(app, ["token", "create", name])
    assert result.exit_code == 2, result.output
    assert "token name" in result.stderr and "ww_" not in result.stdout
    assert "no tokens yet" in runner.invoke(app, ["token", "list"]).stderr
    made = runner.invoke(app, ["token", "create", "  gym tablet "])
    assert made.exit_code == 0 and "'gym tablet'" in made.stderr
    assert runner.invoke(app, ["token", "list"]).stdout.splitlines()[1].endswith("\tgym tablet")


@pytest.mark.parametrize("url", ["garbage", "sqlite://:x@/", "://"])
def test_cli_refuses_a_database_url_it_cannot_parse_without_a_traceback(url, monkeypatch) -> None:
    monkeypatch.setenv("WINKWATCH_DATABASE_URL", url)
    for command in (["sets"], ["token", "list"], ["export", "--set", "1"], ["reanalyze", "1"]):
        result = CliRunner().invoke(app, command)
        assert result.exit_code == 2, (command, result.output)
        assert result.exception is None or isinstance(result.exception, SystemExit)
        assert "is not valid" in result.stderr and "WINKWATCH_DATABASE_URL" in result.stderr


def test_export_to_a_file_it_cannot_write_and_serve_on_a_port_that_is_none(
    tmp_path, monkeypatch
) -> None:
    # found by probing: FileNotFoundError's and OverflowError's tracebacks
    monkeypatch.setenv("WINKWATCH_DATABASE_URL", f"sqlite:///{tmp_path / 'ww.db'}")
    runner = CliRunner()
    for out in (tmp_path / "missing" / "reps.csv", tmp_path):
        result = runner.invoke(app, ["export", "--out", str(out)])
        assert result.exit_code == 2, result.output
        assert result.exception is None or isinstance(result.exception, SystemExit)
        assert f"cannot write {out}" in result.stderr
    for port in ("99999", "-1"):
        result = runner.invoke(app, ["serve", "--port", port])
        assert result.exit_code == 2 and "--port" in result.output, result.output


def test_serve_on_a_port_in_use_says_so_before_it_touches_the_database(
    tmp_path, monkeypatch
) -> None:
    # found by probing: uvicorn's bind error, exit 3, after the start-up had already marked
    # this gateway's recording sets interrupted (those of the server holding the port)
    import socket

    monkeypatch.setenv("WINKWATCH_DATABASE_URL", f"sqlite:///{tmp_path / 'ww.db'}")
    monkeypatch.setenv("WINKWATCH_GATEWAY_CONFIG_FILE", str(tmp_path / "gateway.json"))
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = CliRunner().invoke(app, ["serve", "--port", str(port)])
    assert result.exit_code == 2, result.output
    assert f"port {port}" in result.stderr and "--port" in result.stderr
    assert not (tmp_path / "ww.db").exists()
