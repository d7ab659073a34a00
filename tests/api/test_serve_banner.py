"""`winkwatch serve` says which database it serves without its password."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from tests.api.conftest import POSTGRES_URL
from tests.api.helpers import free_port

PASSWORD = "s3cret-pw-not-for-logs"


@pytest.mark.postgres
@pytest.mark.skipif(POSTGRES_URL is None, reason="WINKWATCH_TEST_POSTGRES_URL is not set")
def test_serve_prints_the_database_url_without_its_password(tmp_path) -> None:
    """The start-up line was "WinkWatch API on http://...; database
    postgresql+psycopg://USER:PASSWORD@HOST/DB": the password in the terminal, in journald
    and in every log collector. The local test server trusts any password."""
    assert POSTGRES_URL is not None
    url = make_url(POSTGRES_URL).set(password=PASSWORD).render_as_string(hide_password=False)
    schema = f"ww_test_{uuid.uuid4().hex[:12]}"
    env = dict(
        os.environ,
        WINKWATCH_DATABASE_URL=url,
        WINKWATCH_DATABASE_SCHEMA=schema,
        WINKWATCH_GATEWAY_ID="banner-test",
        WINKWATCH_GATEWAY_CONFIG_FILE=str(tmp_path / "gateway.json"),
    )
    command = [sys.executable, "-m", "api.cli.main", "serve", "--port", str(free_port())]
    process = subprocess.Popen(
        command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        assert process.stdout is not None
        deadline = time.monotonic() + 60
        banner = ""
        while time.monotonic() < deadline and "WinkWatch API on" not in banner:
            banner = process.stdout.readline()
            assert banner or process.poll() is None, process.stderr.read()  # type: ignore[union-attr]
        assert "WinkWatch API on" in banner
        process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        admin = create_engine(POSTGRES_URL)
        with admin.begin() as connection:
            connection.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        admin.dispose()
    assert "***" in banner, banner
    assert PASSWORD not in banner + out + err
