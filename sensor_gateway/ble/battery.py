"""Battery level: from the advertisement when the sensor puts it there, else over a link."""

from __future__ import annotations

import logging
import sys

from bleak import BleakClient
from bleak.backends.device import BLEDevice
from bleak.backends.scanner import AdvertisementData
from bleak.exc import BleakError

log = logging.getLogger(__name__)

BATTERY_SERVICE_UUID = "0000180f-0000-1000-8000-00805f9a34fb"
BATTERY_LEVEL_CHAR_UUID = "00002a19-0000-1000-8000-00805f9a34fb"
BLUEZ_BATTERY_INTERFACE = "org.bluez.Battery1"


def battery_from_advertisement(advertisement: AdvertisementData) -> int | None:
    """Battery Service data (one byte, percent) in the advertisement, if present and sane."""
    data = advertisement.service_data.get(BATTERY_SERVICE_UUID)
    if data and len(data) >= 1 and data[0] <= 100:
        return int(data[0])
    return None


async def read_battery_pct(client: BleakClient, device: BLEDevice) -> int | None:
    """Battery level of a connected sensor, or None when it has no Battery Service.

    BlueZ claims the standard Battery Service itself and exposes it as org.bluez.Battery1
    instead of GATT, so on Linux that interface is read; elsewhere the GATT characteristic.
    """
    char = client.services.get_characteristic(BATTERY_LEVEL_CHAR_UUID) if client.services else None
    if char is not None:
        try:
            value = await client.read_gatt_char(char)
        except (BleakError, TimeoutError) as exc:
            log.info("%s: battery level read failed: %s", device.address, exc)
            return None
        return int(value[0]) if value else None
    path = device.details.get("path") if isinstance(device.details, dict) else None
    if sys.platform == "linux" and path:
        return await _read_bluez_battery(path)
    return None


async def _read_bluez_battery(device_path: str) -> int | None:
    from dbus_fast import BusType, Message, MessageType
    from dbus_fast.aio import MessageBus

    bus = MessageBus(bus_type=BusType.SYSTEM)
    try:
        await bus.connect()
        reply = await bus.call(
            Message(
                destination="org.bluez",
                path=device_path,
                interface="org.freedesktop.DBus.Properties",
                member="Get",
                signature="ss",
                body=[BLUEZ_BATTERY_INTERFACE, "Percentage"],
            )
        )
    except (OSError, EOFError) as exc:
        log.info("battery read over D-Bus failed for %s: %s", device_path, exc)
        return None
    finally:
        bus.disconnect()
    if reply is None or reply.message_type is MessageType.ERROR:
        return None  # this sensor has no Battery Service
    return int(reply.body[0].value)
