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
    code = (
        "import sys; from api.cli.main import run; "
        "sys.argv = ['winkwatch', 'analyze', '--help']\n"
        "try:\n    run()\nexcept SystemExit:\n    pass\n"
        "heavy = [m for m in ('rich', 'pydantic', 'fastapi', 'sqlalchemy', 'numpy.ma') if m in sys.modules]\n"
        "print(heavy, file=sys.stderr)"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60
    )
    assert result.stderr.strip().splitlines()[-1] == "[]"
