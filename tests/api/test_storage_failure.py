"""The database's disk fills while `winkwatch serve --simulate 1` records (SQLite's
max_page_count, tests/api/full_disk.py), then space comes back.

Found by probing serve --simulate on a full disk: the phone got no more reps and never its
set_stopped (held behind the reps that could not be stored), /health said ok, raw samples
past MAX_PENDING_SAMPLES were dropped with a log line per chunk and no count anywhere.
"""

from __future__ import annotations

import asyncio
import json
import time

import httpx2
import pytest
import websockets

from api.runtime import build_server
from api.settings import Settings
from api.storage import reps as rep_store
from api.storage import sets as set_store
from api.storage.db import open_database
from api.vocab import Placement, SetStatus
from tests.api.full_disk import FullDisk
from tests.api.helpers import serve_in_thread
from tests.api.test_live_server import _tokens

pytestmark = pytest.mark.slow
WAIT_S = 90.0  # generous: two cores shared with other sessions


class Stream:
    """The live WebSocket of one athlete, read in the background into `messages`."""

    def __init__(self, port: int, athlete_id: int, token: str) -> None:
        self.uri = f"ws://127.0.0.1:{port}/live/ws?athlete_id={athlete_id}"
        self.headers = {"Authorization": f"Bearer {token}"}
        self.messages: list[dict] = []

    async def wait_for(self, ws, match, what: str) -> dict:
        deadline = time.monotonic() + WAIT_S
        for message in self.messages:
            if match(message):
                return message
        while time.monotonic() < deadline:
            message = json.loads(await asyncio.wait_for(ws.recv(), deadline - time.monotonic()))
            if message["type"] != "live_angles":
                self.messages.append(message)
            if match(message):
                return message
        kinds = [(m["type"], m.get("code"), m.get("stored")) for m in self.messages[-15:]]
        raise AssertionError(f"no {what} within {WAIT_S} s; last: {kinds}")


def _get(port: int, path: str, token: str) -> httpx2.Response:
    return httpx2.get(
        f"http://127.0.0.1:{port}{path}", headers={"Authorization": f"Bearer {token}"}, timeout=20
    )


def test_a_full_disk_is_said_reps_still_reach_the_phone_and_storing_resumes(tmp_path) -> None:
    url = f"sqlite:///{tmp_path / 'ww.db'}"
    admin, reader = _tokens(url)
    server = build_server(
        Settings(database_url=url, gateway_id="full-disk"), simulate=1, config_dir=tmp_path
    )
    disk = FullDisk(server.database.engine)
    served = serve_in_thread(server)
    port = served.port
    athlete_id = int(server.gateway.assignments.athletes()[0])
    stream = Stream(port, athlete_id, reader)

    async def scenario() -> dict:
        async with websockets.connect(stream.uri, additional_headers=stream.headers) as ws:
            first = await stream.wait_for(
                ws, lambda m: m["type"] == "rep_completed", "first stored rep"
            )
            assert first["stored"] is True
            set_key, set_id = first["set_key"], first["set_id"]
            disk.fill()
            warning = await stream.wait_for(
                ws, lambda m: m.get("code") == "storage_failing", "storage_failing warning"
            )
            unstored = await stream.wait_for(
                ws,
                lambda m: m["type"] == "rep_completed" and m["stored"] is False,
                "a rep marked not stored",
            )
            health = httpx2.get(f"http://127.0.0.1:{port}/health", timeout=20)
            ready = _get(port, f"/athletes/{athlete_id}/ready", reader).json()
            stop = httpx2.post(
                f"http://127.0.0.1:{port}/sets/{set_id}/stop",
                headers={"Authorization": f"Bearer {admin}"},
                timeout=20,
            )
            stopped = await stream.wait_for(
                ws,
                lambda m: m["type"] == "set_stopped" and m["set"]["set_key"] == set_key,
                "set_stopped",
            )
            disk.free()
            again = await stream.wait_for(
                ws,
                lambda m: (
                    m["type"] == "rep_completed"
                    and m["stored"] is True
                    and m["metrics"]["rep"] == unstored["metrics"]["rep"]
                    and m["set_key"] == unstored["set_key"]
                ),
                "the unstored rep again, stored",
            )
            return dict(
                set_key=set_key,
                warning=warning,
                unstored=unstored,
                health=health,
                ready=ready,
                stop=stop,
                stopped=stopped,
                again=again,
            )

    try:
        seen = asyncio.run(scenario())
        # Once storing works, health says so (the writer retries every second).
        deadline = time.monotonic() + WAIT_S
        while (healthy := httpx2.get(f"http://127.0.0.1:{port}/health", timeout=20)).status_code:
            if healthy.status_code == 200 or time.monotonic() > deadline:
                break
            time.sleep(0.5)
    finally:
        served.stop()

    warning = seen["warning"]["message"]
    assert "disk is full" in warning and "Free disk space" in warning, warning
    assert seen["warning"]["athlete_id"] == str(athlete_id)

    health = seen["health"]
    assert health.status_code == 503, health.text
    body = health.json()
    assert body["status"] == "degraded" and body["database"] == "ok"
    storage = body["storage"]
    assert storage["state"] == "failing"
    assert "disk is full" in storage["detail"] and "Free disk space" in storage["detail"]
    assert "database or disk is full" in storage["error"]
    assert storage["waiting_samples"] > 0 and storage["waiting_reps"] >= 1

    assert seen["ready"]["ready"] is False
    assert "disk is full" in seen["ready"]["storage_problem"]
    assert seen["ready"]["advice"].startswith("Not ready: the database's disk is full")

    # The stop reached the gateway and the phone; its answer says it is not stored yet.
    assert seen["stop"].status_code == 503
    assert "stopped recording" in seen["stop"].json()["detail"]
    assert "not stored yet" in seen["stop"].json()["detail"]

    assert healthy.status_code == 200, healthy.text
    after = healthy.json()["storage"]
    assert after["state"] == "ok" and after["detail"] is None
    assert after["lost_samples"] == 0 and after["lost_reps"] == 0  # all kept, all stored

    shown = [
        m["metrics"]["rep"]
        for m in stream.messages
        if m["type"] == "rep_completed" and m["set_key"] == seen["set_key"]
    ]
    database = open_database(url)
    try:
        with database.sessions() as db:
            row = set_store.set_by_key(db, seen["set_key"])
            assert row.status == SetStatus.COMPLETED.value
            stored = [
                r.rep for r in rep_store.list_reps(db, rep_store.RepFilter(set_id=row.id)).items
            ]
            # Nothing stored before was lost, and every rep the phone was shown is stored.
            assert set(shown) <= set(stored), (shown, stored)
            assert 1 in stored
            for placement in Placement:
                t_s = set_store.load_raw(db, row.id, placement).t_s
                assert t_s.size > 100
                gaps_s = t_s[1:] - t_s[:-1]
                assert gaps_s.max() < 1.0  # no raw samples lost while the disk was full
    finally:
        database.dispose()


def test_sigterm_while_the_disk_is_full_stops_soon_and_says_what_was_not_stored(
    tmp_path,
) -> None:
    import os
    import signal
    import subprocess
    import sys

    from tests.api.helpers import free_port

    url = f"sqlite:///{tmp_path / 'ww.db'}"
    admin, _ = _tokens(url)
    flag = tmp_path / "disk-full"
    port = free_port()
    env = dict(
        os.environ,
        WINKWATCH_DATABASE_URL=url,
        WINKWATCH_GATEWAY_ID="full-disk-stop",
        WINKWATCH_GATEWAY_CONFIG_FILE=str(tmp_path / "gateway.json"),
    )
    stderr_path = tmp_path / "stderr.txt"
    with stderr_path.open("wb") as stderr:
        process = subprocess.Popen(
            [sys.executable, "-m", "tests.api.full_disk", str(flag), "serve", "--simulate", "1"]
            + ["--port", str(port), "--log-level", "warning"],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=stderr,
        )
    try:
        deadline = time.monotonic() + WAIT_S
        while True:
            assert process.poll() is None, stderr_path.read_text()
            assert time.monotonic() < deadline, "the server did not start a set"
            try:
                sets = _get(port, "/sets?status=recording", admin).json()["items"]
                if sets:
                    break
            except httpx2.TransportError:
                pass
            time.sleep(0.3)
        flag.touch()
        while True:  # until the server says its storage fails, with samples waiting
            assert time.monotonic() < deadline, "health never said the storage fails"
            health = httpx2.get(f"http://127.0.0.1:{port}/health", timeout=20).json()
            if health["storage"]["state"] == "failing" and health["storage"]["waiting_samples"]:
                break
            time.sleep(0.3)
        started = time.monotonic()
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        took_s = time.monotonic() - started
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    stderr = stderr_path.read_text()
    assert took_s <= 5.0, (took_s, stderr[-3000:])
    assert "Traceback" not in stderr, stderr[-3000:]
    assert process.returncode == 0, (process.returncode, stderr[-2000:])
    assert "not stored, the server stopped while the database's disk is full" in stderr, stderr
    # One line when storing failed, one when the server stopped: not one per retry.
    assert stderr.count("ERROR") <= 4, stderr[-3000:]
    # The raw samples waiting at the stop are said on the set, after the next start at least.
    from api.runtime import build_runtime, close_unstarted
    from sensor_gateway.config import GatewaySettings

    again = build_runtime(
        Settings(database_url=url, gateway_id="full-disk-stop"),
        gateway_settings=GatewaySettings(config_file=tmp_path / "gateway.json"),
    )
    try:
        with again.database.sessions() as db:
            findings = json.loads(set_store.get_set(db, sets[0]["id"]).findings_json)
    finally:
        close_unstarted(again)
    lost = [f for f in findings if f["code"] == "raw_samples_lost"]
    assert lost and all("disk is full" in f["message"] for f in lost), (findings, stderr[-3000:])
