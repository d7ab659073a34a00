"""GET /dashboard/sets/{id}/angles and the page at `/`: a stored simulated set's angles match
the simulator's truth; errors are 401/404/422 with advice, never 500."""

from __future__ import annotations

import numpy as np
import pytest
from fastapi.testclient import TestClient

from api.auth import create_token
from api.http.app import create_app
from api.settings import Settings
from api.storage import catalog
from api.storage import sets as set_store
from api.storage.db import open_database
from api.vocab import Placement, SetVariant, TokenRole
from fusion.simulator import SensorSpec, SquatSetSpec, simulate_set


@pytest.fixture(scope="module")
def stored(tmp_path_factory):
    url = f"sqlite:///{tmp_path_factory.mktemp('angles') / 'ww.db'}"
    database = open_database(url)
    sim = simulate_set(
        SquatSetSpec(
            reps=3,
            depth_deg=105.0,
            wink_deg=10.0,
            wink_onset_deg=80.0,
            sacrum=SensorSpec(rate_hz=100.0),
            thigh=SensorSpec(rate_hz=100.0),
        ),
        seed=3,
    )
    with database.sessions.begin() as db:
        _, token = create_token(db, "reader", TokenRole.READ)
        athlete = catalog.create_athlete(db, "Ana")
        row = set_store.start_set(db, athlete.id, SetVariant.BACK_SQUAT, load_kg=80.0)
        for placement, recording in ((Placement.SACRUM, sim.sacrum), (Placement.THIGH, sim.thigh)):
            set_store.add_raw_chunk(
                db,
                row.id,
                placement,
                f"SIM-{placement.value}",
                0,
                recording.t_s,
                recording.acc_mps2,
                recording.gyr_radps,
            )
        short = set_store.start_set(db, catalog.create_athlete(db, "Bo").id, SetVariant.BACK_SQUAT)
        t_s = np.arange(50) / 100.0
        for placement in Placement:
            set_store.add_raw_chunk(
                db, short.id, placement, "X", 0, t_s, np.ones((50, 3)), np.zeros((50, 3))
            )
        no_raw = set_store.start_set(db, catalog.create_athlete(db, "Cy").id, SetVariant.BACK_SQUAT)
        ids = dict(full=row.id, short=short.id, no_raw=no_raw.id)
    app = create_app(Settings(database_url=url, gateway_id="t"), database=database)
    with TestClient(app) as client:
        yield dict(client=client, token=token, sim=sim, database=database, **ids)
    database.dispose()


def test_angles_follow_the_simulated_truth(stored) -> None:
    client, sim = stored["client"], stored["sim"]
    response = client.get(
        f"/dashboard/sets/{stored['full']}/angles",
        params={"max_rate_hz": 50},
        headers={"Authorization": f"Bearer {stored['token']}"},
    )
    assert response.status_code == 200, response.text
    body = response.json()
    t_s = np.asarray(body["t_s"])
    assert 45.0 <= (t_s.size - 1) / (t_s[-1] - t_s[0]) <= 50.5  # thinned to <= 50 Hz
    for key in ("thigh_deg", "pelvic_tilt_deg", "hip_flexion_deg"):
        truth = np.interp(t_s, sim.truth.t_s, getattr(sim.truth, key))
        rmse = float(np.sqrt(np.mean((np.asarray(body[key], dtype=float) - truth) ** 2)))
        assert rmse < 2.0, (key, rmse)
    assert np.max(body["thigh_deg"]) == pytest.approx(max(r.depth_deg for r in sim.reps), abs=3.0)


def test_a_finished_set_is_analysed_once_until_its_samples_change(stored, monkeypatch) -> None:
    import api.reanalysis

    client, sim, database = stored["client"], stored["sim"], stored["database"]
    headers = {"Authorization": f"Bearer {stored['token']}"}
    with database.sessions.begin() as db:
        row = set_store.start_set(db, catalog.create_athlete(db, "Di").id, SetVariant.BACK_SQUAT)
        for placement, recording in ((Placement.SACRUM, sim.sacrum), (Placement.THIGH, sim.thigh)):
            set_store.add_raw_chunk(
                db,
                row.id,
                placement,
                "S",
                0,
                recording.t_s,
                recording.acc_mps2,
                recording.gyr_radps,
            )
        set_store.finish_set(db, row.id)
        set_id = row.id
    analyses = []
    real = api.reanalysis.analyse_stored_set

    def counted(*args):
        analyses.append(args)
        return real(*args)

    monkeypatch.setattr(api.reanalysis, "analyse_stored_set", counted)
    url = f"/dashboard/sets/{set_id}/angles"
    first = client.get(url, headers=headers).json()
    again = client.get(url, headers=headers, params={"max_rate_hz": 100}).json()
    assert len(analyses) == 1  # kept after the first request
    assert again["t_s"][::2] == first["t_s"]  # the same analysis, thinned less
    truth = np.interp(again["t_s"], sim.truth.t_s, sim.truth.thigh_deg)
    assert float(np.sqrt(np.mean((np.asarray(again["thigh_deg"]) - truth) ** 2))) < 2.0
    # More samples arrive (an edge catching up): the kept angles no longer hold.
    with database.sessions.begin() as db:
        later = sim.thigh.t_s[-1] + (1 + np.arange(20)) / 100.0
        for placement in Placement:
            set_store.add_raw_chunk(
                db, set_id, placement, "S", 1, later, np.ones((20, 3)) * 9.81, np.zeros((20, 3))
            )
    assert client.get(url, headers=headers).status_code == 200
    assert len(analyses) == 2


def test_errors_say_what_is_wrong(stored) -> None:
    client = stored["client"]
    headers = {"Authorization": f"Bearer {stored['token']}"}
    assert client.get(f"/dashboard/sets/{stored['full']}/angles").status_code == 401
    missing = client.get("/dashboard/sets/999/angles", headers=headers)
    assert missing.status_code == 404 and "999" in missing.json()["detail"]
    no_raw = client.get(f"/dashboard/sets/{stored['no_raw']}/angles", headers=headers)
    assert no_raw.status_code == 404 and "raw" in no_raw.json()["detail"]
    short = client.get(f"/dashboard/sets/{stored['short']}/angles", headers=headers)
    assert short.status_code == 422 and "too short" in short.json()["detail"][0]["msg"]


def test_page_and_assets_are_served_without_a_token(stored) -> None:
    client = stored["client"]
    page = client.get("/")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert "/dashboard/static/app.js" in page.text
    for asset in ("app.js", "charts.js", "style.css"):
        response = client.get(f"/dashboard/static/{asset}")
        assert response.status_code == 200 and len(response.content) > 500, asset
    # Fully offline: no asset is fetched from another host.
    assert "http://" not in page.text and "https://" not in page.text
    assert client.get("/dashboard/static/../settings.py").status_code == 404
