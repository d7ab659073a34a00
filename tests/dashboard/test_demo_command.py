"""`winkwatch demo` as a user runs it: a subprocess, its printed URL and token, reps, Ctrl-C."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx2
import pytest

from api.demo_scenario import SAM_ONSET_DEPTH_DEG
from tests.api.helpers import free_port

pytestmark = pytest.mark.slow
REPS_TIMEOUT_S = 60.0


def _winkwatch() -> list[str]:
    script = Path(sys.executable).parent / "winkwatch"
    return [str(script)] if script.exists() else [sys.executable, "-m", "api.cli.main"]


def _read_banner(process: subprocess.Popen, timeout_s: float = 30.0) -> dict[str, str]:
    """The dashboard URL and read-only token the demo prints before serving."""
    found: dict[str, str] = {}
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline and not {"url", "token"} <= found.keys():
        line = process.stdout.readline()
        if not line:
            break
        if match := re.match(r"Dashboard: (http://\S+)/#token=(\S+)", line):
            found["url"], found["url_token"] = match.groups()
        if match := re.match(r"Read-only token: (\S+)", line):
            found["token"] = match.group(1)
    assert {"url", "token"} <= found.keys(), f"demo printed no URL/token; got {found}"
    # Then the sign-in QR code: block characters, the same width on every line.
    while time.monotonic() < deadline and not line.startswith("Scan to open"):
        line = process.stdout.readline()
    qr = []
    while (line := process.stdout.readline()).strip(" \n") and set(line.strip("\n")) <= set(
        " \u2580\u2584\u2588"
    ):
        qr.append(line.rstrip("\n"))
    found["qr_lines"] = str(len(qr))
    found["qr_widths"] = ",".join(sorted({str(len(q)) for q in qr}))
    return found


def test_demo_serves_two_simulated_athletes_until_ctrl_c(tmp_path) -> None:
    port = free_port()
    env = dict(os.environ, HOME=str(tmp_path / "home"), XDG_DATA_HOME=str(tmp_path / "xdg"))
    env.pop("WINKWATCH_DATABASE_URL", None)
    process = subprocess.Popen(
        [*_winkwatch(), "demo", "--port", str(port), "--data-dir", str(tmp_path / "data")],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        cwd=tmp_path,
    )
    try:
        banner = _read_banner(process)
        assert banner["url"] == f"http://127.0.0.1:{port}"
        assert banner["url_token"] == banner["token"]
        assert int(banner["qr_lines"]) >= 15 and "," not in banner["qr_widths"], banner
        headers = {"Authorization": f"Bearer {banner['token']}"}
        with httpx2.Client(base_url=banner["url"], timeout=10.0) as client:
            _wait_until_up(client)
            athletes = {
                a["name"]: a["id"] for a in client.get("/athletes", headers=headers).json()["items"]
            }
            assert set(athletes) == {"Alex (clean)", "Sam (winks under load)"}
            reps = _wait_for_reps(client, headers, athletes.values(), per_athlete=2)
            # The token is read-only: it may look, not change.
            denied = client.post("/athletes", json={"name": "x"}, headers=headers)
            assert denied.status_code == 403
            assert client.get("/athletes").status_code == 401
    finally:
        process.send_signal(signal.SIGINT)
        try:
            out, err = process.communicate(timeout=40)
        except subprocess.TimeoutExpired:
            process.kill()
            out, err = process.communicate()
            pytest.fail(f"demo did not stop within 40 s of Ctrl-C; stderr:\n{err[-2000:]}")
    assert process.returncode == 0, err[-2000:]
    assert "demo stopped" in out
    assert "Traceback" not in err, err[-2000:]

    # Ground truth of the scenario: Alex never winks; Sam's loaded back squats wink from ~85 deg.
    alex = [r for r in reps if r["athlete_id"] == athletes["Alex (clean)"]]
    sam = [r for r in reps if r["athlete_id"] == athletes["Sam (winks under load)"]]
    assert all(not r["butt_wink"] and r["wink_deg"] < 5.0 for r in alex), alex
    assert all(r["depth_deg"] > 85.0 for r in alex), alex
    sam_back = [r for r in sam if r["variant"] == "back_squat"]
    assert sam_back, sam
    for rep in sam_back:
        assert rep["butt_wink"] and rep["loaded_wink"], rep
        assert 8.0 <= rep["wink_deg"] <= 18.0, rep
        assert abs(rep["wink_onset_depth_deg"] - SAM_ONSET_DEPTH_DEG) < 10.0, rep


def _wait_until_up(client: httpx2.Client, timeout_s: float = 30.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            if client.get("/health").status_code == 200:
                return
        except httpx2.TransportError:
            pass
        time.sleep(0.2)
    pytest.fail("the demo server did not answer /health")


def _wait_for_reps(
    client: httpx2.Client, headers: dict, athlete_ids, per_athlete: int
) -> list[dict]:
    deadline = time.monotonic() + REPS_TIMEOUT_S
    while True:
        reps = client.get("/reps", params={"limit": 500}, headers=headers).json()["items"]
        counts = [sum(r["athlete_id"] == a for r in reps) for a in athlete_ids]
        if min(counts) >= per_athlete:
            return reps
        assert time.monotonic() < deadline, f"reps per athlete after {REPS_TIMEOUT_S} s: {counts}"
        time.sleep(0.5)


def test_demo_refuses_a_port_in_use_with_advice(tmp_path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        outcome = subprocess.run(
            [*_winkwatch(), "demo", "--port", str(port), "--data-dir", str(tmp_path)],
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert outcome.returncode == 2
    assert f"port {port}" in outcome.stderr and "--port" in outcome.stderr
    assert "Dashboard:" not in outcome.stdout


def test_demo_refuses_a_data_dir_it_cannot_use_with_advice(tmp_path) -> None:
    # found by probing: FileExistsError's / FileNotFoundError's traceback
    a_file = tmp_path / "a-file"
    a_file.write_text("not a folder")
    for data_dir in (a_file, a_file / "below"):
        outcome = subprocess.run(
            [*_winkwatch(), "demo", "--port", str(free_port()), "--data-dir", str(data_dir)],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert outcome.returncode == 2, outcome.stderr
        assert "Traceback" not in outcome.stderr
        assert f"cannot use --data-dir {data_dir}" in outcome.stderr


def test_demo_removes_its_temporary_folder_at_exit(tmp_path) -> None:
    port = free_port()
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    env = dict(os.environ, HOME=str(tmp_path / "home"), TMPDIR=str(scratch))
    env.pop("WINKWATCH_DATABASE_URL", None)
    process = subprocess.Popen(
        [*_winkwatch(), "demo", "--port", str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        cwd=tmp_path,
    )
    try:
        banner = _read_banner(process)
        with httpx2.Client(base_url=banner["url"], timeout=10.0) as client:
            _wait_until_up(client)
        made = list(scratch.glob("winkwatch-demo-*"))
        assert len(made) == 1 and (made[0] / "winkwatch-demo.db").exists()
    finally:
        process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=40)
    assert process.returncode == 0, err[-2000:]
    assert list(scratch.glob("winkwatch-demo-*")) == [], "the demo left its temporary folder"
    assert f"removed {made[0]}" in out
