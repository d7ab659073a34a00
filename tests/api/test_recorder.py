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
    sink.record_event(rep, on_stored=lambda: published.append(1))
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
    assert published == [1]
    with database.sessions() as db:
        row = set_store.set_by_key(db, info.set_key)
        assert row is not None
        assert len(set_store.load_raw(db, row.id, Placement.THIGH)) == 50
        assert len(rep_store.list_reps(db, rep_store.RepFilter(set_id=row.id)).items) == 1
        assert set_store.set_by_key(db, stray.set_key) is None
