"""`serve` and `demo` say why they cannot listen: only a port in use is "in use". A --host
that is not an address (999.1.1.1, a typo'd name) was "port ... is in use (another
`winkwatch serve`?)", sending the user after a server that does not exist (found by the
probe)."""

from __future__ import annotations

import socket

import pytest
from typer.testing import CliRunner

from api.cli.demo_command import port_problem
from api.cli.main import app
from tests.api.helpers import free_port


def test_a_port_in_use_is_said_as_such() -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        problem = port_problem("127.0.0.1", port, "serve")
    assert problem is not None and f"port {port} on 127.0.0.1 is in use" in problem
    assert port_problem("127.0.0.1", port, "serve") is None  # free again


@pytest.mark.parametrize("host", ["999.1.1.1", "no-such-host.invalid"])
@pytest.mark.parametrize("command", ["serve", "demo"])
def test_a_host_that_is_not_an_address_is_said_as_such(tmp_path, monkeypatch, host, command):
    monkeypatch.setenv("WINKWATCH_DATABASE_URL", f"sqlite:///{tmp_path / 'ww.db'}")
    monkeypatch.setenv("WINKWATCH_GATEWAY_CONFIG_FILE", str(tmp_path / "gw" / "sensors.toml"))
    args = [command, "--host", host, "--port", str(free_port())]
    if command == "demo":
        args += ["--data-dir", str(tmp_path / "data")]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 2, result.output
    assert f"cannot listen on {host}" in result.output and "in use" not in result.output
    assert "--host must be an address of this machine" in result.output
