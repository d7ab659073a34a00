"""The console script builds only the asked command's module; that map must stay complete."""

import subprocess
import sys

import pytest
import typer.main

from api.cli import main


def test_every_command_has_its_module_in_the_start_up_map() -> None:
    group = typer.main.get_command(main.app)
    commands = set(group.commands) - {"version"}  # type: ignore[attr-defined]
    assert commands == set(main.COMMAND_HOMES)
    for name, module in main.COMMAND_HOMES.items():
        narrowed = typer.main.get_command(main.build_app((module,)))
        assert name in narrowed.commands  # type: ignore[attr-defined]


@pytest.mark.parametrize("argv", [["analyze", "--help"], ["--help"], ["token", "--help"]])
def test_run_serves_the_asked_command(argv: list[str]) -> None:
    code = (
        "import sys; from api.cli.main import run; sys.argv = ['winkwatch', *sys.argv[1:]]; run()"
    )
    result = subprocess.run(
        [sys.executable, "-c", code, *argv], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert "Usage: winkwatch" in result.stdout


def test_analyze_does_not_import_the_web_stack_or_rich() -> None:
    code = (  # printed by an exit handler: `analyze` ends the process at once
        "import sys, atexit; from api.cli.main import run; "
        "sys.argv = ['winkwatch', 'analyze', '--help']\n"
        "heavy = ('rich', 'pydantic', 'fastapi', 'sqlalchemy', 'numpy.ma')\n"
        "atexit.register(lambda: print([m for m in heavy if m in sys.modules], file=sys.stderr))\n"
        "run()"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60
    )
    assert result.stderr.strip().splitlines()[-1] == "[]"


def test_the_console_script_imports_only_the_asked_command_module() -> None:
    code = (
        "import sys, atexit; from api.cli.main import run; "
        "sys.argv = ['winkwatch', 'analyze', '--help']\n"
        "atexit.register(lambda: print(sorted(m for m in sys.modules if m.startswith('api.cli.')), "
        "file=sys.stderr))\n"
        "run()"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60
    )
    loaded = result.stderr.strip().splitlines()[-1]
    assert loaded == "['api.cli.analyze_command', 'api.cli.common', 'api.cli.main']", loaded


def test_analyze_ends_at_once_with_its_output_and_exit_code(tmp_path) -> None:
    from fusion.simulator import SensorSpec, SquatSetSpec, simulate_set
    from sensor_gateway.recording_csv import write_recording_csv

    sim = simulate_set(
        SquatSetSpec(reps=3, sacrum=SensorSpec(rate_hz=100.0), thigh=SensorSpec(rate_hz=100.0)),
        seed=2,
    )
    write_recording_csv(tmp_path / "s.csv", sim.sacrum)
    write_recording_csv(tmp_path / "t.csv", sim.thigh)
    code = (
        "import sys, atexit; from api.cli.main import run; "
        "atexit.register(lambda: print('exit handler ran', file=sys.stderr)); "
        "sys.argv = ['winkwatch', *sys.argv[1:]]; run()"
    )
    command = [sys.executable, "-c", code, "analyze", "--sacrum", str(tmp_path / "s.csv")]
    done = subprocess.run(
        [*command, "--thigh", str(tmp_path / "t.csv")], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    rows = done.stdout.splitlines()  # written through a pipe: flushed before the exit
    assert rows[0].startswith("rep,") and len(rows) == 1 + 3
    assert "3 rep(s)" in done.stderr and "exit handler ran" in done.stderr
    missing = subprocess.run(
        [*command, "--thigh", str(tmp_path / "none.csv")],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert missing.returncode == 2
    assert "none.csv" in missing.stderr and "exit handler ran" in missing.stderr
