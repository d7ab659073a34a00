"""The rep CSV export, byte for byte: what `csv.writer` writes for the stored reps taken
through the ORM (RepMetrics' columns with flags as 0/1 and the quality codes joined, the ids,
`performed_at.isoformat()`; a field with a CR quoted too), on SQLite and PostgreSQL, though
PostgreSQL writes it with COPY (two batches at a time) and SQLite's batches go through
orjson as JSON (api.rep_export.rows_csv)."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta

import numpy as np
from sqlalchemy import update

from api.rep_export import iter_reps_csv, rows_csv
from api.rep_export_sql import REP_EXPORT_COLUMNS
from api.storage import catalog, lost_samples
from api.storage import sets as set_store
from api.storage.models import ExerciseSet, Rep
from api.storage.reps import RepFilter
from api.vocab import SetVariant
from tests.api.helpers import store_awkward_reps

STARTED = datetime(2026, 3, 1, 9, 30, 15, tzinfo=UTC)
BATCH_ROWS = 400  # several batches in the tests; the export's own is larger
# Floats whose repr is awkward to reach another way: exponents, 1e15..1e16 written in full,
# the smallest subnormal, infinities (and NaN, which SQLite stores as NULL). Not a fraction
# in 1e15..1e16: PostgreSQL writes those with an exponent (api.rep_export_sql.csv_float).
AWKWARD_FLOATS = [1e-05, 1.5e-07, 1e15, 9007199254740993.0, 1e16, 1.25e300, 5e-324, -2.5e-310]
AWKWARD_FLOATS += [float("inf"), -float("inf"), float("nan")]
AWKWARD_TEXTS = ['say "hi"', "two\nlines", "cr\ronly", "a,b", ""]


def _store(database, n_reps: int) -> int:
    return store_awkward_reps(
        database,
        variant=SetVariant.FRONT_SQUAT,
        set_load_kg=40.0,
        started=STARTED,
        n_reps=n_reps,
        # whole seconds, then microseconds: isoformat writes them only if not 0
        performed_at=lambda r: STARTED + timedelta(seconds=3 * r, microseconds=(r % 2) * 1250),
        depth_deg=lambda r: 95.0 + r,
        qualities=["", "low_confidence", "gap,quoted;low_confidence"],
    )


_REP_COLUMNS = [c.name for c in Rep.__table__.columns if c.name not in ("id", "set_id")]


def _csv_line(values: list) -> str:
    """One row as csv.writer writes it, a lone CR counting as a line break (quoted)."""
    out = io.StringIO()
    csv.writer(out, lineterminator="\r\n").writerow(values)
    return out.getvalue()[:-2] + "\n"


def _expected(database, where: RepFilter, samples_lost_sets: frozenset[int] = frozenset()) -> str:
    """What csv.writer writes for the stored reps; a rep of `samples_lost_sets` gets the set's
    `raw_samples_lost` after its own quality codes."""
    lines = [_csv_line(list(REP_EXPORT_COLUMNS))]
    with database.sessions() as db:
        for rep in db.query(Rep).order_by(Rep.id):
            if where.athlete_id is not None and rep.athlete_id != where.athlete_id:
                continue
            session_id = db.get(ExerciseSet, rep.set_id).session_id
            values = []
            for name in REP_EXPORT_COLUMNS:
                if name == "rep_id":
                    value = rep.id
                elif name == "session_id":
                    value = session_id
                elif name == "performed_at":
                    value = rep.performed_at.isoformat()
                elif name == "quality" and rep.set_id in samples_lost_sets:
                    value = ";".join(code for code in (rep.quality, "raw_samples_lost") if code)
                else:
                    value = getattr(rep, name)
                values.append(int(value) if isinstance(value, bool) else value)
            lines.append(_csv_line(values))
    return "".join(lines)


def _store_awkward_values(database) -> None:
    """Rep k (k = 1, 2, ...) gets AWKWARD_FLOATS[k - 1] (NaN in a nullable column only:
    SQLite stores it as NULL) and a text from AWKWARD_TEXTS."""
    table = Rep.__table__
    with database.sessions.begin() as db:
        for k, value in enumerate(AWKWARD_FLOATS, start=1):
            db.execute(
                update(table)
                .where(table.c.id == k)
                .values(start_s=value if value == value else 0.5, load_kg=-value)
            )
        for k, value in enumerate(AWKWARD_TEXTS, start=1):
            db.execute(update(table).where(table.c.id == k).values(quality=value, wink_grade=value))


def test_rep_export_is_what_csv_writer_writes_for_the_stored_reps(database) -> None:
    n_reps = 2 * BATCH_ROWS + 7  # three batches
    athlete = _store(database, n_reps)
    _store_awkward_values(database)
    for where in (RepFilter(), RepFilter(athlete_id=athlete), RepFilter(athlete_id=athlete + 1)):
        with database.sessions() as db:
            chunks = list(iter_reps_csv(db, where, batch_rows=BATCH_ROWS))
        text = "".join(chunks)
        assert text == _expected(database, where)
        rows = len(list(csv.reader(io.StringIO(text, newline="")))) - 1
        assert rows == (0 if where.athlete_id == athlete + 1 else n_reps)
        assert len(chunks) == (1 if where.athlete_id == athlete + 1 else 4)  # header, batches
    with database.sessions() as db:
        text = "".join(iter_reps_csv(db, RepFilter()))
    assert "15+00:00\n" in text and ".001250+00:00\n" in text and '"gap,quoted;' in text
    assert ",1e-05," in text and ",1000000000000000.0," in text and ',"cr\ronly",' in text
    assert ",inf," in text and ",-inf," in text and ',"say ""hi""",' in text


def test_a_set_that_lost_raw_samples_says_so_in_its_reps_quality(database) -> None:
    # Found with the shutdown gap (api.storage.lost_samples): a set whose raw samples were not
    # all stored says so in its findings, but the rep CSV has no column for a set's findings,
    # so a file of its reps looked complete. Its reps' quality codes now end with the code.
    ada = _store(database, BATCH_ROWS + 7)  # two batches; qualities "", one code, two with a comma
    with database.sessions.begin() as db:
        lost_set = db.query(ExerciseSet).filter_by(athlete_id=ada).one()
        bo = catalog.create_athlete(db, "Bo").id
        complete = set_store.start_set(db, bo, SetVariant.BACK_SQUAT)
        copied = [
            {**{c: getattr(r, c) for c in _REP_COLUMNS}, "set_id": complete.id, "athlete_id": bo}
            for r in db.query(Rep).order_by(Rep.id).limit(30)
        ]
        db.execute(Rep.__table__.insert(), copied)
        finding = lost_samples.lost_finding(
            "thigh", lost_samples.LostSamples(1200, 10.0, 25.0), 0.0, STARTED, "disk full"
        )
        lost_samples.add_finding(lost_set, finding)
        # another set finding, even one whose message names the code, leaves the codes alone
        other = {"code": "gaps", "message": "not raw_samples_lost", "sensor": None, "rep": None}
        lost_samples.add_finding(complete, other)
        lost_id, complete_id = lost_set.id, complete.id
    with database.sessions() as db:
        text = "".join(iter_reps_csv(db, RepFilter(), batch_rows=BATCH_ROWS))
    assert text == _expected(database, RepFilter(), samples_lost_sets=frozenset({lost_id}))
    rows = list(csv.DictReader(io.StringIO(text, newline="")))
    by_set = {
        s: [r["quality"] for r in rows if r["set_id"] == str(s)] for s in (lost_id, complete_id)
    }
    assert by_set[lost_id][:3] == [
        "raw_samples_lost",
        "low_confidence;raw_samples_lost",
        "gap,quoted;low_confidence;raw_samples_lost",
    ]
    assert by_set[complete_id][:3] == ["", "low_confidence", "gap,quoted;low_confidence"]


def test_an_export_closed_midway_leaves_no_statement_running(database) -> None:
    """A client that disconnects closes the generator between batches: each batch was read
    whole, so nothing is left running on the server and the session carries on."""
    _store(database, 3 * BATCH_ROWS)
    with database.sessions() as db:
        chunks = iter_reps_csv(db, RepFilter(), batch_rows=BATCH_ROWS)
        next(chunks), next(chunks)  # the header and the first batch
        chunks.close()
        if db.get_bind().dialect.name == "postgresql":
            running = db.connection().exec_driver_sql(
                "SELECT count(*) FROM pg_stat_activity WHERE state = 'active' "
                "AND left(query, 4) = 'COPY' AND datname = current_database()"
            )
            assert running.scalar_one() == 0
        assert db.query(Rep).count() == 3 * BATCH_ROWS


def _random_doubles(rng: np.random.Generator, n: int, below: float | None = None) -> list[float]:
    """`n` finite doubles: random bit patterns (every exponent, subnormals), values written
    out and with an exponent on either side of repr's switches (1e-4, 1e16), integral values
    and numbers with few digits; `below` keeps |x| under it."""
    bits = rng.integers(0, 2**64, size=n, dtype=np.uint64).view(np.float64)
    near = rng.choice([1e-5, 1e-4, 1e15, 1e16, 1.0], size=n) * rng.uniform(0.5, 20, size=n)
    values = np.concatenate(
        [bits, near, np.round(near), np.round(rng.uniform(-200, 200, size=n), 2)]
    )
    values = values[np.isfinite(values)]
    if below is not None:
        values = values[np.abs(values) < below]
    rng.shuffle(values)
    return [float(v) for v in values]


def test_rows_csv_is_what_csv_writer_writes(monkeypatch) -> None:
    """Floats as repr (400k random doubles), '' and None empty, ints as str, a text of joined
    fields as it is: through the JSON (the value-by-value fallback made to fail), and still
    exact where the JSON is not plain (a quoted text, an infinity, NaN, a None, a control
    character, a text holding "null"), which falls back."""
    rng = np.random.default_rng(13)
    floats = _random_doubles(rng, 100_000)
    assert len(floats) > 350_000
    texts = ["front_squat", "", "ünïcode", "1e-05", "[a]", "x,1e-5,0.00001,2", "a;b"]
    nasty = [float("inf"), -float("inf"), float("nan"), None, '"a,b"', '"x""y"', "\t"]
    nasty += ["tab\there", "back\\slash", "null"]
    rows = []
    for k in range(0, len(floats) - 8, 9):
        row: list[object] = [k, *floats[k : k + 4], "" if k % 5 else floats[k + 4]]
        row += [k % 2, texts[k % len(texts)], *floats[k + 5 : k + 9]]
        rows.append(tuple(row))
    expected = "".join(_csv_line(["" if v is None else v for v in row]) for row in rows)
    expected = expected.replace('"x,1e-5,0.00001,2"', "x,1e-5,0.00001,2")  # joined, not quoted
    with monkeypatch.context() as patched:
        patched.setattr("api.rep_export._csv_field", None)  # the fallback would fail
        assert rows_csv(rows) == expected
    for extra in nasty:
        rows_with = rows.copy()
        rows_with[len(rows) // 2] = (*rows[len(rows) // 2][:-1], extra)
        expected = "".join(_csv_line(["" if v is None else v for v in row]) for row in rows_with)
        # csv.writer would quote the pre-quoted texts again: the export's SQL quotes them
        expected = expected.replace('"""a,b"""', '"a,b"').replace('"""x""""y"""', '"x""y"')
        expected = expected.replace('"x,1e-5,0.00001,2"', "x,1e-5,0.00001,2")
        assert rows_csv(rows_with) == expected
    assert rows_csv([]) == ""


def test_rows_csv_respells_only_whole_numbers() -> None:
    """orjson's "1e-5" and "0.00001" become repr's "1e-05"; text that looks alike does not,
    nor a field of a joined text (between commas inside the JSON's string)."""
    rows = [(1, 1e-05, 1.5e-07, 1e16, 0.00012, "1e-5", "x0.00001", 2.5e-310, -0.0, "a,1e-5,b")]
    expected = "1,1e-05,1.5e-07,1e+16,0.00012,1e-5,x0.00001,2.5e-310,-0.0,a,1e-5,b\n"
    assert rows_csv(rows) == expected
    assert rows_csv([(5e-324, "")]) == "5e-324,\n"


def test_random_doubles_export_as_repr(database) -> None:
    """Stored random doubles come out as csv.writer writes them: SQLite any finite double,
    PostgreSQL below 1e15 (api.rep_export_sql.csv_float). Texts without quotes, so SQLite's
    batches take rows_csv's JSON path."""
    n_reps = BATCH_ROWS + 50
    _store(database, n_reps)
    below = 1e15 if database.engine.dialect.name == "postgresql" else None
    floats = iter(_random_doubles(np.random.default_rng(7), 1_000, below))
    table = Rep.__table__
    columns = ["start_s", "depth_deg", "wink_onset_depth_deg", "load_kg", "rhythm_lag_deg"]
    with database.sessions.begin() as db:
        for rep_id in range(1, n_reps + 1):
            values = {name: next(floats) for name in columns} | {"quality": "low_confidence"}
            db.execute(update(table).where(table.c.id == rep_id).values(**values))
    with database.sessions() as db:
        text = "".join(iter_reps_csv(db, RepFilter(), batch_rows=BATCH_ROWS))
    assert text == _expected(database, RepFilter())


def test_sqlite_plain_batches_and_their_fallback_write_the_same_bytes(
    database, monkeypatch
) -> None:
    """SQLite writes a batch from its plain (unquoted) columns unless a text needs quoting or
    another check fails, and then that batch alone again with the quoting columns: each
    batch below holds one awkward value, and the file is still csv.writer's, batch by batch."""
    n_reps = 6 * BATCH_ROWS
    athlete = _store_clean(database, n_reps)
    table = Rep.__table__
    awkward = {  # first rep of batch k -> its awkward values
        0: {"start_s": 1e-05, "depth_deg": 1e16, "load_kg": 5e-324},  # respelled, plain
        1: {"threshold_source": "a,b"},  # a comma in a joined text
        2: {"variant": 'x"y', "quality": "null"},
        3: {"quality": "two words, one comma"},
        4: {"wink_grade": "cr\ronly", "start_s": float("inf")},
    }
    with database.sessions.begin() as db:
        for k, values in awkward.items():
            db.execute(update(table).where(table.c.id == k * BATCH_ROWS + 1).values(**values))
    quoted = []
    monkeypatch.setattr(
        "api.rep_export.rows_csv", lambda rows: quoted.append(rows[0][0]) or rows_csv(rows)
    )
    if database.engine.dialect.name == "sqlite":
        with database.sessions() as db:
            text = "".join(iter_reps_csv(db, RepFilter(athlete_id=athlete), batch_rows=BATCH_ROWS))
        assert text == _expected(database, RepFilter())
        assert quoted == [k * BATCH_ROWS + 1 for k in (1, 2, 3, 4)]  # their first reps
        assert ",1e-05," in text and ",1e+16," in text and ",5e-324," in text
    else:  # COPY quotes by itself
        with database.sessions() as db:
            text = "".join(iter_reps_csv(db, RepFilter(), batch_rows=BATCH_ROWS))
        assert text == _expected(database, RepFilter())


def _store_clean(database, n_reps: int) -> int:
    """Reps whose texts need no quoting, performed at whole seconds and with microseconds."""
    return store_awkward_reps(
        database,
        variant=SetVariant.BOX_SQUAT,
        set_load_kg=None,
        started=STARTED,
        n_reps=n_reps,
        performed_at=lambda r: STARTED + timedelta(seconds=2 * r, microseconds=(r % 3) * 7),
        depth_deg=lambda r: 90.0 + r / 7,
        qualities=["", "low_confidence", "gap;low_confidence"],
    )
