"""One root exception per package: every exception a package defines derives from its root."""

from __future__ import annotations

import importlib
import inspect
import pkgutil

import pytest

from api.errors import WinkWatchError
from fusion.errors import FusionError
from sensor_gateway.errors import GatewayError

ROOTS: dict[str, type[Exception]] = {
    "fusion": FusionError,
    "sensor_gateway": GatewayError,
    "api": WinkWatchError,
}
SKIP = ("api.migrations",)  # alembic's env.py runs migrations when imported


def exceptions_defined_in(package: str) -> list[type[BaseException]]:
    root = importlib.import_module(package)
    found = []
    for info in pkgutil.walk_packages(root.__path__, prefix=f"{package}."):
        if info.name.startswith(SKIP):
            continue
        module = importlib.import_module(info.name)
        for _, value in inspect.getmembers(module, inspect.isclass):
            if issubclass(value, BaseException) and value.__module__ == module.__name__:
                found.append(value)
    return found


@pytest.mark.parametrize("package", sorted(ROOTS))
def test_every_exception_is_under_the_package_root(package: str) -> None:
    defined = exceptions_defined_in(package)
    assert defined, package
    strays = [
        f"{e.__module__}.{e.__qualname__}" for e in defined if not issubclass(e, ROOTS[package])
    ]
    assert strays == []
