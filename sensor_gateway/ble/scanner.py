"""Finding sensors: a one-shot scan for `winkwatch scan`, and a continuous advertisement
tracker that the BLE source uses to know when a sensor can be (re)connected."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Iterable
from dataclasses import dataclass

from bleak import BleakScanner
from bleak.args.bluez import BlueZScannerArgs
from bleak.backends.device import BLEDevice
from bleak.backends.scanner import AdvertisementData
from bleak.exc import BleakBluetoothNotAvailableError, BleakError

from sensor_gateway.ble.battery import battery_from_advertisement, read_battery_pct
from sensor_gateway.ble.connection import ConnectionManager
from sensor_gateway.ble.errors import AdapterUnavailableError
from sensor_gateway.protocols import recognise_kind
from sensor_gateway.samples import SensorKind

log = logging.getLogger(__name__)

BATTERY_CONNECT_TIMEOUT_S = 10.0


@dataclass(frozen=True)
class ScanResult:
    """One device heard during a scan. `kind` None: not a sensor WinkWatch speaks."""

    address: str
    name: str | None
    kind: SensorKind | None
    rssi_dbm: int | None
    battery_pct: int | None = None
    battery_source: str | None = None  # "advertisement" or "connection"


def _bluez_args(adapter: str | None) -> BlueZScannerArgs:
    return {"adapter": adapter} if adapter else {}


async def scan_sensors(
    timeout_s: float = 5.0,
    *,
    read_battery: bool = False,
    include_unknown: bool = False,
    service_uuids: Iterable[str] | None = None,
    adapter: str | None = None,
) -> list[ScanResult]:
    """Scan for `timeout_s` seconds; strongest signal first.

    `read_battery`: for sensors that do not advertise their battery level, connect briefly
    (one at a time) and read it. `service_uuids`: only devices advertising one of these.
    """
    uuids = [u.lower() for u in service_uuids] if service_uuids else None
    try:
        if uuids:
            found = await BleakScanner.discover(
                timeout=timeout_s, return_adv=True, service_uuids=uuids, bluez=_bluez_args(adapter)
            )
        else:
            found = await BleakScanner.discover(
                timeout=timeout_s, return_adv=True, bluez=_bluez_args(adapter)
            )
    except BleakBluetoothNotAvailableError as exc:
        raise AdapterUnavailableError(
            f"no usable Bluetooth adapter: {exc}. Plug in or power "
            "on an adapter (bluetoothctl power on)"
        ) from exc
    except (BleakError, FileNotFoundError, ConnectionError) as exc:
        raise AdapterUnavailableError(
            f"cannot reach BlueZ ({exc}); is bluetoothd running?"
        ) from exc
    results: list[tuple[ScanResult, BLEDevice]] = []
    for device, advertisement in found.values():
        name = advertisement.local_name or device.name
        kind = recognise_kind(
            name, advertisement.service_uuids, advertisement.manufacturer_data.keys()
        )
        if kind is None and not include_unknown:
            continue
        battery = battery_from_advertisement(advertisement)
        results.append(
            (
                ScanResult(
                    address=device.address,
                    name=name,
                    kind=kind,
                    rssi_dbm=advertisement.rssi,
                    battery_pct=battery,
                    battery_source="advertisement" if battery is not None else None,
                ),
                device,
            )
        )
    if read_battery:
        connections = ConnectionManager()
        results = [
            (
                await _with_connected_battery(connections, result, device)
                if result.kind is not None and result.battery_pct is None
                else result,
                device,
            )
            for result, device in results
        ]
    return sorted(
        (r for r, _ in results), key=lambda r: -(r.rssi_dbm if r.rssi_dbm is not None else -999)
    )


async def _with_connected_battery(
    connections: ConnectionManager, result: ScanResult, device: BLEDevice
) -> ScanResult:
    try:
        async with asyncio.timeout(BATTERY_CONNECT_TIMEOUT_S):
            client = await connections.connect(device, name=result.name or result.address)
            try:
                battery = await read_battery_pct(client, device)
            finally:
                await client.disconnect()
    except (BleakError, TimeoutError, OSError) as exc:
        log.info("%s: could not connect to read the battery: %s", result.address, exc)
        return result
    if battery is None:
        return result
    return ScanResult(
        result.address, result.name, result.kind, result.rssi_dbm, battery, "connection"
    )


@dataclass(frozen=True)
class Sighting:
    device: BLEDevice
    advertisement: AdvertisementData
    seen_s: float  # gateway clock (time.monotonic())


SCAN_STOP_TIMEOUT_S = 2.0  # StopDiscovery on a dying adapter must not hold up a shutdown


class AdvertisementTracker:
    """One continuous scan for the whole process; remembers the last sighting per address.

    BlueZ runs one discovery session per D-Bus client, so every sensor link shares this.
    """

    def __init__(self, adapter: str | None = None) -> None:
        self._adapter = adapter
        self._scanner: BleakScanner | None = None
        self._sightings: dict[str, Sighting] = {}
        self._changed = asyncio.Event()

    async def start(self) -> None:
        """Start scanning (again, e.g. after bluetoothd restarted); raises
        AdapterUnavailableError when BlueZ or its adapter cannot be used."""
        await self.stop()
        scanner = BleakScanner(
            detection_callback=self._on_advertisement, bluez=_bluez_args(self._adapter)
        )
        try:
            await scanner.start()
        except BleakBluetoothNotAvailableError as exc:
            raise AdapterUnavailableError(f"no usable Bluetooth adapter: {exc}") from exc
        except (BleakError, FileNotFoundError, ConnectionError, EOFError) as exc:
            raise AdapterUnavailableError(
                f"cannot reach BlueZ ({exc}); is bluetoothd running?"
            ) from exc
        self._scanner = scanner

    async def stop(self) -> None:
        """Stop scanning (idempotent; errors of a gone adapter are only logged)."""
        scanner, self._scanner = self._scanner, None
        if scanner is None:
            return
        try:
            async with asyncio.timeout(SCAN_STOP_TIMEOUT_S):
                await scanner.stop()
        except (BleakError, EOFError, OSError, TimeoutError) as exc:
            log.info("stopping the scan failed (the adapter may be gone): %s", exc)

    async def __aenter__(self) -> AdvertisementTracker:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()

    def _on_advertisement(self, device: BLEDevice, advertisement: AdvertisementData) -> None:
        self._sightings[device.address.upper()] = Sighting(device, advertisement, time.monotonic())
        self._changed.set()
        self._changed = asyncio.Event()

    def sightings(self) -> dict[str, Sighting]:
        """The last sighting of every device heard (address upper case), a copy."""
        return dict(self._sightings)

    def last_sighting(self, address: str) -> Sighting | None:
        return self._sightings.get(address.upper())

    async def wait_for(
        self, address: str, *, seen_after_s: float, timeout_s: float
    ) -> Sighting | None:
        """The sensor's sighting once it has advertised after `seen_after_s`; None on timeout."""
        deadline_s = time.monotonic() + timeout_s
        while True:
            sighting = self.last_sighting(address)
            if sighting is not None and sighting.seen_s > seen_after_s:
                return sighting
            remaining_s = deadline_s - time.monotonic()
            if remaining_s <= 0:
                return None
            try:
                await asyncio.wait_for(self._changed.wait(), remaining_s)
            except TimeoutError:
                return None
