"""The console script builds only the asked command's module; that map must stay complete."""

import subprocess
import sys

import pytest
import typer.main

from api.cli import analyze_command, analyze_plain, main
from api.cli.app import build_app


def test_every_command_has_its_module_in_the_start_up_map() -> None:
    group = typer.main.get_command(main.app)
    commands = set(group.commands) - {"version"}  # type: ignore[attr-defined]
    assert commands == set(main.COMMAND_HOMES)
    for name, module in main.COMMAND_HOMES.items():
        narrowed = typer.main.get_command(build_app((module,)))
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
    expected = ["api.cli.analyze_command", "api.cli.analyze_plain", "api.cli.app"]
    assert loaded == str([*expected, "api.cli.common", "api.cli.main"]), loaded


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


@pytest.fixture(scope="module")
def recording_pair(tmp_path_factory):
    """A 3-rep set as the two CSV files `analyze` reads."""
    from fusion.simulator import SensorSpec, SquatSetSpec, simulate_set
    from sensor_gateway.recording_csv import write_recording_csv

    folder = tmp_path_factory.mktemp("pair")
    sim = simulate_set(
        SquatSetSpec(reps=3, sacrum=SensorSpec(rate_hz=100.0), thigh=SensorSpec(rate_hz=100.0)),
        seed=2,
    )
    write_recording_csv(folder / "s.csv", sim.sacrum)
    write_recording_csv(folder / "t.csv", sim.thigh)
    (folder / "bad.csv").write_text("t_s,acc_x\n0.0,1.0\n")
    return folder


# (exit code, stdout, stderr, --out file) of `analyze ARGS` through the console script
# (plain path where it applies) or through typer alone, in a child process each.
_THROUGH_RUN = (
    "import sys; from api.cli.main import run; sys.argv = ['winkwatch', *sys.argv[1:]]; run()"
)
_THROUGH_TYPER = (
    "import sys; from api.cli.app import build_app; "
    "build_app(('analyze_command',))(args=sys.argv[1:], prog_name='winkwatch')"
)
_ANALYZE_CASES = [
    ["--sacrum", "{d}/s.csv", "--thigh", "{d}/t.csv"],
    ["--sacrum={d}/s.csv", "--thigh", "{d}/t.csv", "--out", "{d}/reps.csv", "--load-kg", "40"],
    ["--thigh", "{d}/t.csv", "--sacrum", "{d}/s.csv", "--wink-threshold-deg=7.5"],
    ["--sacrum", "{d}/t.csv", "--thigh", "{d}/s.csv"],  # swapped: exit 4
    ["--sacrum", "{d}/t.csv", "--thigh", "{d}/s.csv", "--ignore-sensor-checks"],
    ["--sacrum", "{d}/s.csv", "--thigh", "{d}/bad.csv"],  # malformed: exit 2
    ["--sacrum", "{d}/s.csv", "--thigh", "{d}/none.csv"],  # missing file: exit 2
    ["--sacrum", "{d}/s.csv", "--thigh", "{d}/t.csv", "--engine", "nope"],
    ["--sacrum", "{d}/s.csv", "--thigh", "{d}/t.csv", "--load-kg", "nan"],
    ["--sacrum", "{d}/s.csv", "--thigh", "{d}/t.csv", "--out", "{d}/no/such/dir.csv"],
    ["--sacrum", "{d}/s.csv", "--thigh", "{d}/t.csv", "--load-kg", "-1"],  # to typer
    ["--sacrum", "{d}/s.csv"],  # missing option: typer's usage error
    ["--sacrum", "{d}/s.csv", "--thigh", "{d}/t.csv", "--load-kg", "heavy"],  # typer's error
]


def _analyze_child(code: str, args: list[str], folder) -> tuple[int, str, str, str | None]:
    out = folder / "reps.csv"
    out.unlink(missing_ok=True)
    done = subprocess.run(
        [sys.executable, "-c", code, "analyze", *args],
        capture_output=True,
        text=True,
        timeout=60,
    )
    return (
        done.returncode,
        done.stdout,
        done.stderr,
        out.read_text() if out.exists() else None,
    )


@pytest.mark.parametrize("case", _ANALYZE_CASES, ids=lambda case: " ".join(case[4:]) or "plain")
def test_the_plain_path_answers_as_typer_does(case, recording_pair) -> None:
    args = [arg.format(d=recording_pair) for arg in case]
    plain = _analyze_child(_THROUGH_RUN, args, recording_pair)
    typer_only = _analyze_child(_THROUGH_TYPER, args, recording_pair)
    assert plain == typer_only
    assert plain[0] in (0, 2, 4) and (plain[1] or plain[2])


def test_a_plain_analyze_imports_neither_typer_nor_click(recording_pair) -> None:
    code = (
        "import sys, atexit\n"
        "atexit.register(lambda: print(sorted({m.split('.')[0] for m in sys.modules} & "
        "{'typer', 'click'}), file=sys.stderr))\n" + _THROUGH_RUN
    )
    args = ["--sacrum", str(recording_pair / "s.csv"), "--thigh", str(recording_pair / "t.csv")]
    code_, rows, stderr, _ = _analyze_child(code, args, recording_pair)
    assert code_ == 0 and rows.startswith("rep,") and "3 rep(s)" in stderr
    assert stderr.strip().splitlines()[-1] == "[]"


def _typer_arguments(args: list[str], monkeypatch) -> dict[str, object]:
    """The keyword arguments typer passes to `analyze_set` for `analyze ARGS`."""
    from typer.testing import CliRunner

    seen: dict[str, object] = {}

    def capture(sacrum, thigh, **options) -> None:
        seen.update(sacrum=sacrum, thigh=thigh, **options)

    monkeypatch.setattr(analyze_command, "analyze_set", capture)
    result = CliRunner().invoke(build_app(("analyze_command",)), ["analyze", *args])
    assert result.exit_code == 0, result.output
    return seen


@pytest.mark.parametrize(
    "args",
    [
        ["--sacrum", "a.csv", "--thigh", "b.csv"],
        ["--thigh=b.csv", "--sacrum=a.csv", "--athlete", "12", "--no-ignore-sensor-checks"],
        ["--sacrum", "a", "--thigh", "b", "--load-kg", "1e1", "--engine", "vqf", "--out", "o"],
        ["--sacrum", "a", "--thigh", "b", "--athlete-baseline", "x.json", "--ignore-sensor-checks"],
        ["--sacrum", "a", "--thigh", "b", "--wink-threshold-deg", " 6", "--athlete", "+3"],
    ],
)
def test_plain_arguments_are_what_typer_passes(args, monkeypatch) -> None:
    assert analyze_plain.plain_arguments(args) == _typer_arguments(args, monkeypatch)


@pytest.mark.parametrize(
    "args",
    [
        ["--help"],
        ["--sacrum", "a.csv"],
        ["--sacrum", "a.csv", "--thigh", "b.csv", "--sacrum", "c.csv"],
        ["--sacrum", "a.csv", "--thigh", "b.csv", "extra"],
        ["--sacrum", "a.csv", "--thigh", "b.csv", "--load-kg", "-5"],
        ["--sacrum", "a.csv", "--thigh", "b.csv", "--load-kg", "five"],
        ["--sacrum", "a.csv", "--thigh", "b.csv", "--athlete", "1.5"],
        ["--sacrum", "a.csv", "--thigh", "b.csv", "--out"],
        ["--sacrum=", "--thigh", "b.csv"],
        ["--sacrum", "a.csv", "--thigh", "b.csv", "--ignore-sensor-checks=1"],
        ["--sacrum", "a.csv", "--thigh", "b.csv", "--sacr", "c.csv"],
        ["--sacrum", "a.csv", "--thigh", "b.csv", "--", "--out", "x"],
    ],
)
def test_anything_else_goes_to_typer(args) -> None:
    assert analyze_plain.plain_arguments(args) is None


def test_the_plain_option_tables_are_typers() -> None:
    group = typer.main.get_command(build_app(("analyze_command",)))
    command = group.commands["analyze"]  # type: ignore[attr-defined]
    values, flags, required, defaults = {}, {}, set(), {}
    for param in command.params:
        if param.is_flag:
            flags.update(dict.fromkeys(param.opts, (param.name, True)))
            flags.update(dict.fromkeys(param.secondary_opts, (param.name, False)))
        else:
            values.update(dict.fromkeys(param.opts, param.name))
        if param.required:
            required.add(param.name)
        else:
            defaults[param.name] = param.default
    assert values == {opt: name for opt, (name, _) in analyze_plain.VALUE_OPTIONS.items()}
    assert flags == analyze_plain.FLAG_OPTIONS
    assert required == set(analyze_plain.REQUIRED)
    assert defaults == analyze_plain.DEFAULTS
