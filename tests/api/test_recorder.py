"""DatabaseSink: the gateway's events and raw samples end up in the database, in order."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
from sqlalchemy import event, func, select
from sqlalchemy.exc import OperationalError

from api.storage import reps as rep_store
from api.storage import sets as set_store
from api.storage.models import RawChunk
from api.storage.recorder import DatabaseSink
from api.vocab import Placement, SetStatus
from sensor_gateway.events import Calibrated, RepCompleted, SetStarted, SetStopped, StopReason
from tests.api.helpers import athlete_key, metrics, raw_samples, set_info


def _common(info):
    return dict(athlete_id=info.athlete_id, t_s=info.started_s, wall_utc=info.started_utc)


def test_sink_stores_a_whole_set(database) -> None:
    sink = DatabaseSink(database, gateway_id="gw", start_thread=False)
    info = set_info(athlete_key(database, "Ana"), started_s=500.0)
    sink.record_event(SetStarted(set=info, **_common(info)))
    t_all = 500.0 + np.arange(600) / 200.0
    sent = {Placement.SACRUM: [], Placement.THIGH: []}
    for second in range(3):  # three flushes, as the writer thread would do once a second
        t_chunk = t_all[second * 200 : (second + 1) * 200]
        for seed, placement in enumerate(Placement):
            for part in np.array_split(t_chunk, 10):  # ten notifications per second
                chunk = raw_samples(info, placement, part, seed=seed * 100 + int(part[0]))
                sent[placement].append(chunk)
                sink.write_samples(chunk)
        if second == 1:
            sink.record_event(
                Calibrated(set_key=info.set_key, ok=True, message="standing found", **_common(info))
            )
            # The gateway's reps are in s since the set started (RepCompleted): stored as sent.
            rep = replace(metrics(1, start_s=1.0), wink_onset_s=2.0)
            sink.record_event(RepCompleted(set_key=info.set_key, metrics=rep, **_common(info)))
        assert sink.flush()
    sink.record_event(
        SetStopped(set=info, reason=StopReason.REQUESTED, rep_count=1, **_common(info))
    )
    sink.close()

    with database.sessions() as db:
        row = set_store.set_by_key(db, info.set_key)
        assert row.status == SetStatus.COMPLETED.value
        assert row.recorded_s == t_all[-1] - 500.0
        chunks = db.scalar(
            select(func.count()).select_from(RawChunk).where(RawChunk.set_id == row.id)
        )
        assert chunks == 6  # one per sensor per flush, never a row per sample
        for placement in Placement:
            stored = set_store.load_raw(db, row.id, placement)
            np.testing.assert_allclose(stored.t_s, t_all - 500.0, atol=1e-9)
            expected_acc = np.concatenate([c.acc_mps2 for c in sent[placement]])
            np.testing.assert_allclose(stored.acc_mps2, expected_acc, rtol=1e-6)
        reps = rep_store.list_reps(db, rep_store.RepFilter(set_id=row.id)).items
        assert len(reps) == 1
        assert (reps[0].start_s, reps[0].wink_onset_s) == (1.0, 2.0)  # set-relative
        assert reps[0].athlete_id == row.athlete_id


def test_failed_flush_keeps_data_for_the_next_try(database, monkeypatch) -> None:
    sink = DatabaseSink(database, gateway_id="gw", start_thread=False)
    info = set_info(athlete_key(database, "Ana"))
    sink.record_event(SetStarted(set=info, **_common(info)))
    sink.write_samples(raw_samples(info, Placement.THIGH, 1000.0 + np.arange(50) / 100.0))
    real_begin = database.sessions.begin

    def broken():
        from sqlalchemy.exc import OperationalError

        raise OperationalError("connect", {}, Exception("server closed the connection"))

    monkeypatch.setattr(database.sessions, "begin", broken)
    assert not sink.flush()
    assert "server closed" in sink.last_error
    monkeypatch.setattr(database.sessions, "begin", real_begin)
    assert sink.flush()
    with database.sessions() as db:
        row = set_store.set_by_key(db, info.set_key)
        assert len(set_store.load_raw(db, row.id, Placement.THIGH)) == 50


def test_a_set_whose_start_was_not_committed_is_not_remembered_by_its_id(database) -> None:
    # Found by probing `serve --simulate 3` on a full tmpfs: POST /sets got its 503, but the
    # sink kept the rolled-back row's id for the set; SQLite then gave that id to the next
    # set (another athlete's), and the first set's raw samples and reps went into it (on
    # PostgreSQL the id never exists: they were dropped as unstorable)
    sink = DatabaseSink(database, gateway_id="gw", start_thread=False)
    ana = set_info(athlete_key(database, "Ana"), key="ana-set")
    bo = set_info(athlete_key(database, "Bo"), key="bo-set")
    full = [True]

    def disk_full(_connection) -> None:
        if full[0]:
            raise OperationalError("COMMIT", {}, Exception("database or disk is full"))

    event.listen(database.engine, "commit", disk_full)
    with pytest.raises(OperationalError):
        sink.ensure_set(ana)
    full[0] = False
    bo_id = sink.ensure_set(bo)  # the next set stored: SQLite reuses the rolled-back id
    sink.record_event(SetStarted(set=ana, **_common(ana)))
    sink.write_samples(raw_samples(ana, Placement.THIGH, 1000.0 + np.arange(50) / 100.0))
    sink.record_event(RepCompleted(set_key=ana.set_key, metrics=metrics(1), **_common(ana)))
    assert sink.flush()

    with database.sessions() as db:
        stored = set_store.set_by_key(db, ana.set_key)
        assert stored is not None and stored.id != bo_id
        assert str(stored.athlete_id) == ana.athlete_id
        assert len(set_store.load_raw(db, stored.id, Placement.THIGH)) == 50
        assert len(rep_store.list_reps(db, rep_store.RepFilter(set_id=stored.id)).items) == 1
        assert set_store.raw_placements(db, bo_id) == []
        assert rep_store.list_reps(db, rep_store.RepFilter(set_id=bo_id)).items == []


def test_data_is_kept_when_the_database_fails_while_a_bad_item_is_skipped(database) -> None:
    # Found by probing on a full tmpfs: one item the database rejected sent the writer item
    # by item, each of those commits failed for the full disk, and every item was dropped as
    # unstorable (771 on that run, reps already published among them) where a failed commit
    # keeps the data for the next try
    sink = DatabaseSink(database, gateway_id="gw", start_thread=False)
    info = set_info(athlete_key(database, "Ana"))
    stray = set_info("424242", key="stray")  # no such athlete: rejected (NotFoundError)
    published: list[int] = []
    sink.record_event(SetStarted(set=info, **_common(info)))
    sink.write_samples(raw_samples(info, Placement.THIGH, 1000.0 + np.arange(50) / 100.0))
    rep = RepCompleted(set_key=info.set_key, metrics=metrics(1), **_common(info))
    sink.record_event(rep, on_stored=lambda stored: published.append(stored))
    sink.record_event(
        SetStopped(set=stray, reason=StopReason.REQUESTED, rep_count=0, **_common(stray))
    )
    full = [True]

    def disk_full(_connection) -> None:
        if full[0]:
            raise OperationalError("COMMIT", {}, Exception("database or disk is full"))

    event.listen(database.engine, "commit", disk_full)
    assert not sink.flush()
    assert published == []  # not stored: not published
    full[0] = False
    assert sink.flush()
    assert published == [True]
    with database.sessions() as db:
        row = set_store.set_by_key(db, info.set_key)
        assert row is not None
        assert len(set_store.load_raw(db, row.id, Placement.THIGH)) == 50
        assert len(rep_store.list_reps(db, rep_store.RepFilter(set_id=row.id)).items) == 1
        assert set_store.set_by_key(db, stray.set_key) is None


def _full_disk(database):
    """Every commit fails as on a full disk while `full[0]`; returns the switch."""
    full = [True]

    def disk_full(_connection) -> None:
        if full[0]:
            raise OperationalError("COMMIT", {}, Exception("database or disk is full"))

    event.listen(database.engine, "commit", disk_full)
    return full


def test_a_full_disk_is_said_counted_and_storing_resumes(database, monkeypatch, caplog) -> None:
    # Found by probing serve --simulate on a full disk: nothing said storing failed but a log
    # line per retry (with the SQL statement), and every raw chunk dropped past
    # MAX_PENDING_SAMPLES was one more log line, counted nowhere a client could read.
    import api.storage.recorder as recorder

    monkeypatch.setattr(recorder, "MAX_PENDING_SAMPLES", 120)
    sink = DatabaseSink(database, gateway_id="gw", start_thread=False)
    info = set_info(athlete_key(database, "Ana"))
    sink.record_event(SetStarted(set=info, **_common(info)))
    sink.write_samples(raw_samples(info, Placement.THIGH, 1000.0 + np.arange(50) / 100.0))
    assert sink.flush() and sink.storage_problem() is None
    full = _full_disk(database)
    calls: list[bool] = []
    sink.record_event(
        RepCompleted(set_key=info.set_key, metrics=metrics(1), **_common(info)),
        on_stored=calls.append,
    )
    for second in range(1, 5):  # 4 x 50 samples: 80 past the limit of 120
        t_s = 1000.0 + second * 0.5 + np.arange(50) / 100.0
        sink.write_samples(raw_samples(info, Placement.THIGH, t_s))
        assert not sink.flush()
    problem = sink.storage_problem()
    assert problem is not None and "disk is full" in problem and "Free disk space" in problem
    health = sink.health()
    assert not health.ok and health.failing_since is not None
    assert "database or disk is full" in health.error and "INSERT" not in health.error
    assert (health.waiting_samples, health.waiting_reps) == (100, 1)
    assert health.lost_samples == 100  # the two oldest chunks of 50
    assert calls == []
    errors = [r.getMessage() for r in caplog.records if r.levelname == "ERROR"]
    assert len(errors) == 2, errors  # storing failed; oldest samples dropped from now on
    assert "INSERT" not in " ".join(errors)

    full[0] = False
    assert sink.flush()
    assert sink.storage_problem() is None and sink.health().ok
    assert calls == [True]
    assert any("storing gateway data again" in r.getMessage() for r in caplog.records)
    with database.sessions() as db:
        row = set_store.set_by_key(db, info.set_key)
        # what was stored before the disk filled, and what waited, are there
        assert len(set_store.load_raw(db, row.id, Placement.THIGH)) == 50 + 100
        assert len(rep_store.list_reps(db, rep_store.RepFilter(set_id=row.id)).items) == 1


def test_closing_while_the_disk_is_full_is_quick_and_says_what_was_not_stored(
    database, caplog
) -> None:
    sink = DatabaseSink(database, gateway_id="gw", start_thread=False)
    info = set_info(athlete_key(database, "Ana"))
    sink.record_event(SetStarted(set=info, **_common(info)))
    sink.write_samples(raw_samples(info, Placement.THIGH, 1000.0 + np.arange(50) / 100.0))
    _full_disk(database)
    calls: list[bool] = []
    sink.record_event(
        RepCompleted(set_key=info.set_key, metrics=metrics(1), **_common(info)),
        on_stored=calls.append,
    )
    sink.record_event(
        SetStopped(set=info, reason=StopReason.SHUTDOWN, rep_count=1, **_common(info))
    )
    sink.close()
    sink.close()  # the runtime closes twice: no second attempt, no second report
    assert calls == [False]  # given up: the gateway publishes it as not stored
    health = sink.health()
    assert (health.lost_samples, health.lost_reps, health.lost_events) == (50, 1, 2)
    assert health.waiting_samples == 0
    said = [
        r.getMessage() for r in caplog.records if "not stored, the server stopped" in r.getMessage()
    ]
    assert len(said) == 1, said
    assert "the database's disk is full" in said[0] and "50 raw samples" in said[0]
    assert f"athlete {info.athlete_id} set " in said[0] and ": rep 1" in said[0]


def test_closing_while_a_commit_hangs_is_bounded(database, caplog) -> None:
    import threading
    import time

    import api.storage.recorder as recorder

    sink = DatabaseSink(database, gateway_id="gw", commit_interval_s=0.05)
    info = set_info(athlete_key(database, "Ana"))
    sink.record_event(SetStarted(set=info, **_common(info)))
    release = threading.Event()
    hanging = threading.Event()

    def hang(_connection) -> None:
        hanging.set()
        release.wait(60.0)

    event.listen(database.engine, "commit", hang)
    sink.write_samples(raw_samples(info, Placement.THIGH, 1000.0 + np.arange(50) / 100.0))
    assert hanging.wait(30.0)
    sink.write_samples(raw_samples(info, Placement.THIGH, 1001.0 + np.arange(50) / 100.0))
    started = time.monotonic()
    try:
        sink.close()
        took_s = time.monotonic() - started
    finally:
        release.set()
    assert took_s < 2 * recorder.CLOSE_TIMEOUT_S + 5.0  # not the 30 s join it was
    assert any("a commit still hung" in r.getMessage() for r in caplog.records)
    assert sink.health().lost_samples == 50  # the batch not in the hung commit


def test_a_corrected_rep_updates_only_the_stored_reps_quality(database) -> None:
    """A rep recorded again with `correction=True` (the gateway found a dead axis after
    storing it) takes its new quality codes in its stored row: no second row, and a load
    corrected meanwhile (PATCH /sets/{id}) stays; a correction of a rep never stored adds it."""
    sink = DatabaseSink(database, gateway_id="gw", start_thread=False)
    info = set_info(athlete_key(database, "Ana"))
    sink.record_event(SetStarted(set=info, **_common(info)))
    first, second = replace(metrics(1), load_kg=80.0), replace(metrics(2), load_kg=80.0)
    sink.record_event(RepCompleted(set_key=info.set_key, metrics=first, **_common(info)))
    assert sink.flush()
    with database.sessions.begin() as db:
        set_id = set_store.set_by_key(db, info.set_key).id
        set_store.update_set(db, set_id, load_kg=100.0)
    for rep in (first, second):  # rep 2's first store was lost
        dead = replace(rep, quality=(*rep.quality, "sacrum_dead_axis"))
        sink.record_event(
            RepCompleted(set_key=info.set_key, metrics=dead, correction=True, **_common(info))
        )
    assert sink.flush()
    with database.sessions() as db:
        reps = rep_store.list_reps(db, rep_store.RepFilter(set_id=set_id)).items
        assert sorted((r.rep, r.quality, r.load_kg) for r in reps) == [
            (1, "sacrum_dead_axis", 100.0),
            (2, "sacrum_dead_axis", 80.0),
        ]


def test_a_correction_waiting_or_lost_is_not_counted_as_a_rep(database, caplog) -> None:
    """A correction of a stored rep (its dead-axis mark) that waits on a full disk, and is
    then lost at the stop, is no rep waiting or lost: /health's waiting_reps and lost_reps
    count reps never stored, and the stop's log does not name a stored rep as not stored."""
    sink = DatabaseSink(database, gateway_id="gw", start_thread=False)
    info = set_info(athlete_key(database, "Ana"))
    sink.record_event(SetStarted(set=info, **_common(info)))
    sink.record_event(RepCompleted(set_key=info.set_key, metrics=metrics(1), **_common(info)))
    assert sink.flush()
    full = [True]

    def disk_full(_connection) -> None:
        if full[0]:
            raise OperationalError("COMMIT", {}, Exception("database or disk is full"))

    event.listen(database.engine, "commit", disk_full)
    dead = replace(metrics(1), quality=("sacrum_dead_axis",))
    sink.record_event(
        RepCompleted(set_key=info.set_key, metrics=dead, correction=True, **_common(info))
    )
    sink.record_event(RepCompleted(set_key=info.set_key, metrics=metrics(2), **_common(info)))
    assert not sink.flush()
    assert sink.health().waiting_reps == 1  # rep 2; rep 1 is stored
    caplog.set_level("ERROR")
    sink.close()
    health = sink.health()
    assert (health.lost_reps, health.lost_events) == (1, 1)
    (line,) = [r.getMessage() for r in caplog.records if "not stored" in r.getMessage()]
    named = f"athlete {info.athlete_id} set "
    assert (
        f"1 reps ({named}" in line
        and f"1 corrections of stored reps (the new quality of {named}" in line
    )
    reps_said, corrections_said = line.split("corrections of stored reps")
    assert reps_said.endswith(": rep 2), 1 ") and corrections_said.startswith(" (the new quality")
    assert ": rep 1) and 0 other events" in corrections_said
