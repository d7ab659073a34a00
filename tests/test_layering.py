"""Dependencies point one way: fusion <- sensor_gateway <- api.

Every module's imports are read with `ast` (including imports inside functions and under
TYPE_CHECKING), so a lazy import cannot slip an upward dependency past the check.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

# package -> first-party packages it must never import
FORBIDDEN = {
    "fusion": {"sensor_gateway", "api"},
    "sensor_gateway": {"api"},
}
# The pure core does no I/O, no asyncio, no database, no web.
FUSION_FORBIDDEN_LIBRARIES = {
    "asyncio",
    "socket",
    "sqlite3",
    "sqlalchemy",
    "fastapi",
    "starlette",
    "uvicorn",
    "bleak",
    "typer",
}


def imported_modules(source: str, module: str) -> set[str]:
    """Absolute names of every module `source` (the text of `module`) imports."""
    found: set[str] = set()
    package = module.rsplit(".", 1)[0]
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative: resolve against the importing module's package
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)]
                found.add(".".join(base + ([node.module] if node.module else [])))
            elif node.module:
                found.add(node.module)
    return found


def upward_imports(package: str, root: Path = ROOT) -> list[str]:
    """'module imports name' for each import that breaks the layering inside `package`."""
    forbidden = FORBIDDEN.get(package, set())
    if package == "fusion":
        forbidden = forbidden | FUSION_FORBIDDEN_LIBRARIES
    problems = []
    for path in sorted((root / package).rglob("*.py")):
        module = ".".join(path.relative_to(root).with_suffix("").parts)
        for name in sorted(imported_modules(path.read_text(encoding="utf-8"), module)):
            if name.split(".")[0] in forbidden:
                problems.append(f"{module} imports {name}")
    return problems


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_no_upward_imports(package: str) -> None:
    assert upward_imports(package) == []


def test_the_check_sees_lazy_relative_and_type_checking_imports() -> None:
    source = (
        "from typing import TYPE_CHECKING\n"
        "if TYPE_CHECKING:\n"
        "    from api.storage import db\n"
        "def f():\n"
        "    import sensor_gateway.events\n"
        "from ..api import http\n"
        "from . import reps\n"
    )
    names = imported_modules(source, "fusion.live.analyzer")
    assert {"api.storage", "sensor_gateway.events", "fusion.api", "fusion.live"} <= names


def test_the_check_fails_on_an_upward_import(tmp_path: Path) -> None:
    (tmp_path / "fusion" / "live").mkdir(parents=True)
    (tmp_path / "fusion" / "live" / "analyzer.py").write_text(
        "def f():\n    from sensor_gateway.events import SetInfo\n    import asyncio\n"
    )
    (tmp_path / "sensor_gateway").mkdir()
    (tmp_path / "sensor_gateway" / "gateway.py").write_text("from api.vocab import SetStatus\n")
    assert upward_imports("fusion", tmp_path) == [
        "fusion.live.analyzer imports asyncio",
        "fusion.live.analyzer imports sensor_gateway.events",
    ]
    assert upward_imports("sensor_gateway", tmp_path) == [
        "sensor_gateway.gateway imports api.vocab"
    ]


def test_the_packages_are_where_the_check_looks() -> None:
    for package in FORBIDDEN:
        assert (ROOT / package / "__init__.py").is_file()
