"""Helpers for the BLE tests: run a BleSource against the fake BlueZ and collect what it emits."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

import numpy as np

from sensor_gateway.ble import BleSource
from sensor_gateway.samples import LinkState, SampleBatch, SensorStatus
from tests.gateway.fake_bluez import FakeBlueZThread, FakeSensor

IN_FLIGHT_SETTLE_S = 0.3
# Bounds only a hang: on a loaded machine the packets in flight can take seconds to land.
IN_FLIGHT_DEADLINE_S = 30.0


@dataclass
class Collected:
    batches: dict[str, list[SampleBatch]] = field(default_factory=dict)
    statuses: list[SensorStatus] = field(default_factory=list)

    def on_batch(self, batch: SampleBatch) -> None:
        self.batches.setdefault(batch.address, []).append(batch)

    def on_status(self, status: SensorStatus) -> None:
        self.statuses.append(status)

    def states(self, address: str) -> list[LinkState]:
        return [s.state for s in self.statuses if s.address == address]

    def samples(self, address: str) -> int:
        return sum(len(b.acc_mps2) for b in self.batches.get(address, []))

    def streaming(self, address: str) -> list[SensorStatus]:
        return [s for s in self.statuses if s.address == address and s.state is LinkState.STREAMING]


async def wait_until(condition: Callable[[], bool], timeout_s: float, what: str) -> None:
    deadline_s = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline_s:
            raise AssertionError(f"timed out after {timeout_s} s waiting for {what}")
        await asyncio.sleep(0.01)


def run_source(
    fake: FakeBlueZThread,
    source: BleSource,
    scenario: Callable[[Collected], Awaitable[None]],
    timeout_s: float = 30.0,
) -> Collected:
    """Run `source` while `scenario` acts; then let in-flight packets land and stop it."""
    collected = Collected()

    async def main() -> None:
        task = asyncio.create_task(source.run(collected.on_batch, collected.on_status))
        try:
            async with asyncio.timeout(timeout_s):
                await scenario(collected)
            addresses = [s.address for s in source.sensors]
            for address in addresses:
                await asyncio.to_thread(fake.set_flag, address, "paused", True)
            await _wait_for_in_flight(fake, collected, addresses)
            await asyncio.sleep(IN_FLIGHT_SETTLE_S)  # room for any extra (duplicate) sample
        finally:
            task.cancel()
            try:
                await task
            except asyncio.CancelledError:
                pass

    asyncio.run(main())
    return collected


async def _wait_for_in_flight(
    fake: FakeBlueZThread, collected: Collected, addresses: list[str]
) -> None:
    """Until every sample the paused sensors sent has arrived (or IN_FLIGHT_DEADLINE_S): the
    caller's assertions then say what is missing, instead of a fixed settle time guessing."""

    def landed() -> bool:
        return all(
            collected.samples(address) >= len(fake.sensor(address).sent_indices)
            for address in addresses
        )

    deadline_s = time.monotonic() + IN_FLIGHT_DEADLINE_S
    while not landed() and time.monotonic() < deadline_s:
        await asyncio.sleep(0.01)


def assert_every_sent_sample_arrived(collected: Collected, sensor: FakeSensor) -> None:
    """Bit-exact, in order, none missing, none extra (ground truth: what the fake sent)."""
    batches = collected.batches.get(sensor.address, [])
    assert batches, f"no samples from {sensor.address}"
    sent = np.array(sensor.sent_indices)
    acc = np.vstack([b.acc_mps2 for b in batches])
    gyr = np.vstack([b.gyr_radps for b in batches])
    expected_acc, expected_gyr = sensor.expected_si(sent)
    assert acc.shape == expected_acc.shape, f"{len(acc)} samples received, {len(sent)} sent"
    np.testing.assert_array_equal(acc, expected_acc)
    np.testing.assert_array_equal(gyr, expected_gyr)
    if batches[0].sensor_time_s is not None:
        times = np.concatenate([b.sensor_time_s for b in batches])
        np.testing.assert_array_equal(times, sensor.sensor_time_s(sent))
