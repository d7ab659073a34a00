"""Runs the fake BlueZ on its own event loop in a thread, so that tests drive it with plain
calls while the code under test (the gateway, or the CLI) runs its own loop."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from typing import Any, TypeVar

from .bluez import FakeBlueZ
from .sensors import FakeSensor

T = TypeVar("T")


class FakeBlueZThread:
    def __init__(self, bus_address: str) -> None:
        self._bus_address = bus_address
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(
            target=self._loop.run_forever, name="fake-bluez", daemon=True
        )
        self._thread.start()
        self.bluez: FakeBlueZ = self._run(FakeBlueZ(bus_address).start())

    def _run(self, coroutine: Any) -> Any:
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop).result(timeout=10)

    def call(self, function: Callable[..., T], *args: Any) -> T:
        """Run `function(*args)` on the fake's loop and return its result."""

        async def invoke() -> T:
            return function(*args)

        return self._run(invoke())

    def add(self, *sensors: FakeSensor) -> None:
        for sensor in sensors:
            self.call(self.bluez.add_sensor, sensor)

    def sensor(self, address: str) -> FakeSensor:
        return self.bluez.sensor(address)

    def drop_link(self, address: str) -> None:
        self.call(self.bluez.drop_link, address)

    def vanish(self, address: str) -> None:
        self.call(self.bluez.vanish, address)

    def set_flag(self, address: str, name: str, value: bool) -> None:
        self.call(setattr, self.bluez.sensor(address), name, value)

    def crash(self) -> list[FakeSensor]:
        """bluetoothd dies: links end, `org.bluez` leaves the bus. Returns its sensors."""
        sensors = [device.sensor for device in self.bluez.devices.values()]
        self._run(self.bluez.crash())
        return sensors

    def restart(self, sensors: list[FakeSensor]) -> None:
        """bluetoothd starts again (a new process: fresh objects) and sees the same sensors."""
        self.bluez = self._run(FakeBlueZ(self._bus_address).start())
        self.add(*sensors)

    def close(self) -> None:
        try:
            self._run(self.bluez.stop())
        finally:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(timeout=5)
            self._loop.close()
