"""The BLE sample source: streams a list of (address, kind) sensors through one adapter."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from sensor_gateway.ble.battery import battery_from_advertisement
from sensor_gateway.ble.bluez_presence import BlueZPresence, forget_bleak_bluez_state
from sensor_gateway.ble.connection import ConnectionManager
from sensor_gateway.ble.errors import AdapterUnavailableError, SensorConfigError
from sensor_gateway.ble.link import LinkStats, LinkTiming, SensorLink
from sensor_gateway.ble.scanner import AdvertisementTracker, scan_sensors
from sensor_gateway.discovery import DiscoveredSensor
from sensor_gateway.protocols import UnsupportedRateError, get_protocol, recognise_kind
from sensor_gateway.samples import BatchCallback, SensorKind, StatusCallback

log = logging.getLogger(__name__)

BLUEZ_RETRY_S = 1.0  # reaching BlueZ costs one D-Bus call: retry often, recover fast
BLUEZ_SETTLE_S = 0.5  # after bluetoothd takes its bus name, before it has its adapter up


@dataclass(frozen=True)
class BleSensor:
    """A sensor to stream. `rate_hz` None: the kind's default (DOT: as set in the sensor)."""

    address: str
    kind: SensorKind
    rate_hz: int | None = None


class BleSource:
    """`SampleSource` for BLE sensors: one process owns the adapter; one scan, one
    connection attempt at a time, every sensor reconnecting by itself.

    The sensor list may change while it runs (`set_sensors`): a sensor added is connected at
    once, one removed is disconnected. With no sensor to stream it leaves the radio alone.
    """

    def __init__(
        self,
        sensors: Iterable[BleSensor | tuple[str, SensorKind | str]] = (),
        *,
        timing: LinkTiming = LinkTiming(),
        adapter: str | None = None,
    ) -> None:
        self.sensors = _checked(sensors)
        self.timing = timing
        self.adapter = adapter
        self.links: dict[str, SensorLink] = {}
        self._link_tasks: dict[str, asyncio.Task[None]] = {}
        self._streamed: dict[str, BleSensor] = {}  # what each link in `links` was made for
        self._group: asyncio.TaskGroup | None = None
        self._new_link: Callable[[BleSensor], SensorLink] | None = None
        self._sensors_changed = asyncio.Event()
        self._tracker: AdvertisementTracker | None = None

    def set_sensors(self, sensors: Iterable[BleSensor | tuple[str, SensorKind | str]]) -> None:
        """Stream these sensors from now on (call from the event loop's thread). Raises
        SensorConfigError for an unknown kind, a rate it cannot do or an address listed twice."""
        self.sensors = _checked(sensors)
        self._sensors_changed.set()
        if self._group is not None:  # else not streaming yet: run() starts with the new list
            self._reconcile()

    def _reconcile(self) -> None:
        """Links for exactly `self.sensors`: new ones started, removed or changed ones ended."""
        assert self._new_link is not None
        wanted = {s.address: s for s in self.sensors}
        for address, streamed in list(self._streamed.items()):
            if wanted.get(address) != streamed:  # removed, or its kind or rate changed
                self._link_tasks.pop(address).cancel()
                del self.links[address], self._streamed[address]
        for address, sensor in wanted.items():
            if address not in self.links:
                self._start_link(sensor, self._new_link(sensor))

    async def run(self, on_batch: BatchCallback, on_status: StatusCallback) -> None:
        """Stream until cancelled. Waits for BlueZ if it cannot be reached, and starts over
        (links reconnect, gaps reported) when bluetoothd restarts."""
        while not self.sensors:  # nothing to stream: no scan, no BlueZ
            self._sensors_changed.clear()
            await self._sensors_changed.wait()
        connections = ConnectionManager()
        tracker = AdvertisementTracker(self.adapter)

        def new_link(sensor: BleSensor) -> SensorLink:
            return SensorLink(
                sensor.address,
                get_protocol(sensor.kind),
                sensor.rate_hz,
                tracker=tracker,
                connections=connections,
                on_batch=on_batch,
                on_status=on_status,
                timing=self.timing,
            )

        self._streamed = {s.address: s for s in self.sensors}
        self.links = {s.address: new_link(s) for s in self.sensors}
        presence = await BlueZPresence.connect()
        try:
            await self._start_scanning(tracker)
            self._tracker = tracker
            async with asyncio.TaskGroup() as group:
                self._group, self._new_link = group, new_link
                for sensor in list(self._streamed.values()):
                    self._start_link(sensor, self.links[sensor.address])
                self._reconcile()  # the list may have changed while BlueZ was reached
                if presence is not None:
                    group.create_task(self._follow_bluez(tracker, presence), name="bluez-presence")
                group.create_task(self._keep_open(), name="ble-source-open")
        finally:
            self._group = self._new_link = self._tracker = None
            self._link_tasks.clear()
            self._streamed.clear()
            if presence is not None:
                presence.close()
            await tracker.stop()

    async def discover(self, timeout_s: float) -> list[DiscoveredSensor]:
        """Sensors heard within `timeout_s`: from the scan that runs while sensors stream (it
        hears every device; a streamed sensor, connected and so silent, is included from its
        last advertisement), or one scan of its own when none streams. Raises
        AdapterUnavailableError when BlueZ or its adapter cannot be used."""
        tracker = self._tracker
        if tracker is None:
            return [
                DiscoveredSensor(r.address.upper(), r.name, r.kind, r.rssi_dbm, r.battery_pct)
                for r in await scan_sensors(timeout_s, adapter=self.adapter)
                if r.kind is not None
            ]
        since_s = time.monotonic()
        await asyncio.sleep(timeout_s)
        found = []
        for address, sighting in tracker.sightings().items():
            if sighting.seen_s < since_s and address not in self.links:
                continue
            advertisement = sighting.advertisement
            name = advertisement.local_name or sighting.device.name
            kind = recognise_kind(
                name, advertisement.service_uuids, advertisement.manufacturer_data.keys()
            )
            if kind is not None:
                battery = battery_from_advertisement(advertisement)
                found.append(DiscoveredSensor(address, name, kind, advertisement.rssi, battery))
        return found

    def _start_link(self, sensor: BleSensor, link: SensorLink) -> None:
        assert self._group is not None
        self.links[sensor.address] = link
        self._streamed[sensor.address] = sensor
        self._link_tasks[link.address] = self._group.create_task(
            link.run(), name=f"ble-link-{link.address}"
        )

    async def _keep_open(self) -> None:
        """Keeps the task group open while every link has ended (sensors may be added)."""
        await asyncio.Event().wait()

    async def _start_scanning(self, tracker: AdvertisementTracker) -> None:
        """Start the scan, retrying every BLUEZ_RETRY_S while BlueZ cannot be reached."""
        last_problem = None
        while True:
            try:
                await tracker.start()
                return
            except AdapterUnavailableError as exc:
                problem = str(exc)
            if problem != last_problem:  # say it once, not every retry
                log.warning("%s; retrying every %g s", problem, BLUEZ_RETRY_S)
                for link in self.links.values():
                    link.report_down(f"{problem}; retrying every {BLUEZ_RETRY_S:g} s")
                last_problem = problem
            await asyncio.sleep(BLUEZ_RETRY_S)

    async def _follow_bluez(self, tracker: AdvertisementTracker, presence: BlueZPresence) -> None:
        while True:
            await presence.wait(present=False)
            log.warning(
                "BlueZ (bluetoothd) left the system bus; every link is down until it returns"
            )
            for link in self.links.values():
                link.bluez_lost()
            await tracker.stop()
            forget_bleak_bluez_state()
            await presence.wait(present=True)
            log.info("BlueZ is back; scanning again")
            # bluetoothd exports its adapter a moment after taking its name
            await asyncio.sleep(BLUEZ_SETTLE_S)
            await self._start_scanning(tracker)

    def stats(self) -> dict[str, LinkStats]:
        return {address: link.stats for address, link in self.links.items()}


def _checked(sensors: Iterable[BleSensor | tuple[str, SensorKind | str]]) -> list[BleSensor]:
    checked = [_as_sensor(s) for s in sensors]
    addresses = [s.address for s in checked]
    if len(set(addresses)) != len(addresses):
        raise SensorConfigError(f"a sensor address is listed twice: {addresses}")
    return checked


def _as_sensor(item: BleSensor | tuple[str, SensorKind | str]) -> BleSensor:
    if isinstance(item, BleSensor):
        sensor = item
    else:
        address, kind = item
        try:
            sensor = BleSensor(address, SensorKind(kind))
        except ValueError:
            raise SensorConfigError(f"unknown sensor kind {kind!r} for {address}") from None
    try:
        get_protocol(sensor.kind).check_rate(sensor.rate_hz)
    except UnsupportedRateError as exc:
        raise SensorConfigError(f"{sensor.address}: {exc}") from exc
    except ValueError as exc:
        raise SensorConfigError(f"{sensor.address}: {exc}") from exc
    return BleSensor(sensor.address.upper(), sensor.kind, sensor.rate_hz)
