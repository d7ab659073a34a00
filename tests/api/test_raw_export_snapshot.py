"""A raw export reads one snapshot of the set: deleting the athlete (with their sets) while a
download runs neither cuts the download short nor ends it in an error (it did both: the
export listed the set's chunks, then read them one by one, and a chunk deleted meanwhile
was a NoResultFound traceback and a truncated file). The route's streaming is tested here;
`winkwatch export --raw` reads in the same way (`read_one_snapshot`)."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import numpy as np

from api.export import iter_raw_csv, iter_raw_zip
from api.http.routes.exports import _streamed
from api.storage import catalog
from api.storage import sets as set_store
from api.vocab import Placement, SetVariant
from sensor_gateway.recording_csv import read_recording_csv

SAMPLES = 600
CHUNKS = 4


def _stored_set(database) -> tuple[int, int, np.ndarray]:
    t_s = np.arange(SAMPLES) / 150.0
    rng = np.random.default_rng(3)
    with database.sessions.begin() as db:
        athlete = catalog.create_athlete(db, "Deleted mid-download").id
        row = set_store.start_set(db, athlete, SetVariant.BACK_SQUAT)
        for index, part in enumerate(np.array_split(np.arange(SAMPLES), CHUNKS)):
            for placement in Placement:
                acc = rng.normal(0, 4, (len(part), 3))
                gyr = rng.normal(0, 2, (len(part), 3))
                set_store.add_raw_chunk(db, row.id, placement, "AA", index, t_s[part], acc, gyr)
        set_store.finish_set(db, row.id)
        return athlete, row.id, t_s


def _delete(database, athlete: int) -> None:
    with database.sessions.begin() as db:
        catalog.delete_athlete(db, athlete, delete_sets=True)


def test_a_raw_csv_download_outlives_the_athletes_deletion(database, tmp_path: Path) -> None:
    athlete, set_id, t_s = _stored_set(database)
    chunks = _streamed(
        database, lambda db: iter_raw_csv(db, set_id, Placement.THIGH), snapshot=True
    )
    text = [next(chunks), next(chunks)]  # the header and the first chunk are sent
    _delete(database, athlete)
    text.extend(chunks)
    (tmp_path / "thigh.csv").write_text("".join(text))
    np.testing.assert_allclose(read_recording_csv(tmp_path / "thigh.csv").t_s, t_s, rtol=1e-8)
    with database.sessions() as db:
        assert set_store.raw_placements(db, set_id) == []  # and the deletion did happen


def test_a_raw_zip_download_outlives_the_athletes_deletion(database, tmp_path: Path) -> None:
    athlete, set_id, t_s = _stored_set(database)
    chunks = _streamed(database, lambda db: iter_raw_zip(db, set_id), snapshot=True)
    parts = [next(chunks), next(chunks)]
    _delete(database, athlete)
    parts.extend(chunks)
    archive = zipfile.ZipFile(io.BytesIO(b"".join(parts)))
    assert sorted(archive.namelist()) == [f"set{set_id}_sacrum.csv", f"set{set_id}_thigh.csv"]
    for name in archive.namelist():
        (tmp_path / name).write_bytes(archive.read(name))
        np.testing.assert_allclose(read_recording_csv(tmp_path / name).t_s, t_s, rtol=1e-8)
