"""A fake BlueZ on a private D-Bus: Adapter1, Device1, GattService1, GattCharacteristic1, Battery1.

Only what bleak's BlueZ backend uses, behaving like bluetoothd where bleak can tell:
the adapter reports devices through InterfacesAdded / PropertiesChanged while discovering
(honouring the UUIDs discovery filter), Connect exports the GATT objects and then sets
ServicesResolved, notifications are PropertiesChanged on the characteristic's Value, and a
dropped link sets Connected false and removes the GATT objects.
"""

# No `from __future__ import annotations`: dbus-fast reads D-Bus signatures from annotations.

import asyncio
import time

from dbus_fast import BusType, Variant
from dbus_fast.aio import MessageBus
from dbus_fast.constants import PropertyAccess
from dbus_fast.errors import DBusError
from dbus_fast.service import ServiceInterface, dbus_property, method

from sensor_gateway.protocols import get_protocol
from sensor_gateway.samples import SensorKind

from .sensors import FakeSensor

ADAPTER_PATH = "/org/bluez/hci0"
ADVERTISING_INTERVAL_S = 0.1
STREAM_TICK_S = 0.004
CONNECT_LATENCY_S = 0.03
REFUSED_CONNECT_DELAY_S = 0.05
BATTERY_SERVICE_UUID = "0000180f-0000-1000-8000-00805f9a34fb"


class Adapter(ServiceInterface):
    def __init__(self, bluez: "FakeBlueZ") -> None:
        super().__init__("org.bluez.Adapter1")
        self._bluez = bluez
        self.discovering = False
        self.uuid_filter: set[str] = set()

    @dbus_property(access=PropertyAccess.READ)
    def Address(self) -> "s":
        return "00:1A:7D:DA:71:13"

    @dbus_property(access=PropertyAccess.READ)
    def Name(self) -> "s":
        return "winkwatch-test"

    @dbus_property(access=PropertyAccess.READ)
    def Alias(self) -> "s":
        return "winkwatch-test"

    @dbus_property(access=PropertyAccess.READ)
    def Powered(self) -> "b":
        return True

    @dbus_property(access=PropertyAccess.READ)
    def Discovering(self) -> "b":
        return self.discovering

    @dbus_property(access=PropertyAccess.READ)
    def Roles(self) -> "as":
        return ["central", "peripheral"]

    @dbus_property(access=PropertyAccess.READ)
    def UUIDs(self) -> "as":
        return []

    @method()
    def SetDiscoveryFilter(self, filters: "a{sv}") -> None:
        uuids = filters.get("UUIDs")
        self.uuid_filter = {u.lower() for u in uuids.value} if uuids is not None else set()

    @method()
    def StartDiscovery(self) -> None:
        self.discovering = True
        self.emit_properties_changed({"Discovering": True})
        self._bluez.advertise_now()

    @method()
    def StopDiscovery(self) -> None:
        self.discovering = False
        self.emit_properties_changed({"Discovering": False})

    @method()
    def RemoveDevice(self, device: "o") -> None:
        self._bluez.remove_device_path(device)


class Device(ServiceInterface):
    def __init__(self, bluez: "FakeBlueZ", sensor: FakeSensor, path: str) -> None:
        super().__init__("org.bluez.Device1")
        self._bluez = bluez
        self.sensor = sensor
        self.path = path
        self.services_resolved = False
        self.gatt: list[tuple[str, ServiceInterface]] = []
        self.data_char: "Characteristic | None" = None
        self.battery: "Battery | None" = None

    @dbus_property(access=PropertyAccess.READ)
    def Address(self) -> "s":
        return self.sensor.address

    @dbus_property(access=PropertyAccess.READ)
    def AddressType(self) -> "s":
        return "random"

    @dbus_property(access=PropertyAccess.READ)
    def Name(self) -> "s":
        return self.sensor.name

    @dbus_property(access=PropertyAccess.READ)
    def Alias(self) -> "s":
        return self.sensor.name

    @dbus_property(access=PropertyAccess.READ)
    def Adapter(self) -> "o":
        return ADAPTER_PATH

    @dbus_property(access=PropertyAccess.READ)
    def Connected(self) -> "b":
        return self.sensor.connected

    @dbus_property(access=PropertyAccess.READ)
    def ServicesResolved(self) -> "b":
        return self.services_resolved

    @dbus_property(access=PropertyAccess.READ)
    def Paired(self) -> "b":
        return False

    @dbus_property(access=PropertyAccess.READ)
    def Bonded(self) -> "b":
        return False

    @dbus_property(access=PropertyAccess.READ)
    def Trusted(self) -> "b":
        return False

    @dbus_property(access=PropertyAccess.READ)
    def Blocked(self) -> "b":
        return False

    @dbus_property(access=PropertyAccess.READ)
    def LegacyPairing(self) -> "b":
        return False

    @dbus_property(access=PropertyAccess.READ)
    def RSSI(self) -> "n":
        return self.sensor.rssi_dbm

    @dbus_property(access=PropertyAccess.READ)
    def UUIDs(self) -> "as":
        return self._bluez.advertised_uuids(self.sensor)

    @dbus_property(access=PropertyAccess.READ)
    def ManufacturerData(self) -> "a{qv}":
        return {
            company: Variant("ay", bytes(data))
            for company, data in self.sensor.manufacturer_data.items()
        }

    @dbus_property(access=PropertyAccess.READ)
    def ServiceData(self) -> "a{sv}":
        if self.sensor.kind is SensorKind.WINKWATCH:  # battery level in the advertisement
            return {BATTERY_SERVICE_UUID: Variant("ay", bytes([self.sensor.battery_pct]))}
        return {}

    @method()
    async def Connect(self) -> None:
        sensor = self.sensor
        sensor.connect_attempts.append(time.monotonic())
        if not sensor.advertising:
            await asyncio.sleep(REFUSED_CONNECT_DELAY_S)
            raise DBusError("org.bluez.Error.Failed", "Page Timeout")
        if sensor.refuse_connections:
            await asyncio.sleep(REFUSED_CONNECT_DELAY_S)
            raise DBusError("org.bluez.Error.Failed", "Software caused connection abort")
        if sensor.connected:
            raise DBusError("org.bluez.Error.AlreadyConnected", "Already Connected")
        await asyncio.sleep(CONNECT_LATENCY_S)
        sensor.connected = True
        self.emit_properties_changed({"Connected": True})
        self._bluez.export_gatt(self)
        self.services_resolved = True
        self.emit_properties_changed({"ServicesResolved": True})

    @method()
    def Disconnect(self) -> None:
        self.drop()

    def drop(self) -> None:
        """The link ends (either side): Connected false, GATT objects removed."""
        if not self.sensor.connected:
            return
        self.sensor.on_disconnected()
        self.services_resolved = False
        self.emit_properties_changed({"ServicesResolved": False, "Connected": False})
        self._bluez.unexport_gatt(self)


class Battery(ServiceInterface):
    def __init__(self, sensor: FakeSensor) -> None:
        super().__init__("org.bluez.Battery1")
        self._sensor = sensor

    @dbus_property(access=PropertyAccess.READ)
    def Percentage(self) -> "y":
        return self._sensor.battery_pct


class GattService(ServiceInterface):
    def __init__(self, uuid: str, device_path: str) -> None:
        super().__init__("org.bluez.GattService1")
        self._uuid = uuid
        self._device_path = device_path

    @dbus_property(access=PropertyAccess.READ)
    def UUID(self) -> "s":
        return self._uuid

    @dbus_property(access=PropertyAccess.READ)
    def Primary(self) -> "b":
        return True

    @dbus_property(access=PropertyAccess.READ)
    def Device(self) -> "o":
        return self._device_path

    @dbus_property(access=PropertyAccess.READ)
    def Includes(self) -> "ao":
        return []


class Characteristic(ServiceInterface):
    def __init__(self, uuid: str, service_path: str, flags: list[str], sensor: FakeSensor) -> None:
        super().__init__("org.bluez.GattCharacteristic1")
        self._uuid = uuid
        self._service_path = service_path
        self._flags = flags
        self._sensor = sensor
        self.value = b""

    @dbus_property(access=PropertyAccess.READ)
    def UUID(self) -> "s":
        return self._uuid

    @dbus_property(access=PropertyAccess.READ)
    def Service(self) -> "o":
        return self._service_path

    @dbus_property(access=PropertyAccess.READ)
    def Flags(self) -> "as":
        return self._flags

    @dbus_property(access=PropertyAccess.READ)
    def Value(self) -> "ay":
        return self.value

    @dbus_property(access=PropertyAccess.READ)
    def Notifying(self) -> "b":
        return self._sensor.notifying if "notify" in self._flags else False

    @dbus_property(access=PropertyAccess.READ)
    def MTU(self) -> "q":
        return 247

    @method()
    def ReadValue(self, options: "a{sv}") -> "ay":
        return self.value

    @method()
    def WriteValue(self, value: "ay", options: "a{sv}") -> None:
        if "write" not in self._flags and "write-without-response" not in self._flags:
            raise DBusError("org.bluez.Error.NotPermitted", "Write not permitted")
        try:
            self._sensor.handle_command(bytes(value))
        except ValueError as exc:
            raise DBusError("org.bluez.Error.InvalidArguments", str(exc)) from exc

    @method()
    def StartNotify(self) -> None:
        if "notify" not in self._flags:
            raise DBusError("org.bluez.Error.NotSupported", "Notify not supported")
        self._sensor.notifying = True
        self.emit_properties_changed({"Notifying": True})

    @method()
    def StopNotify(self) -> None:
        self._sensor.notifying = False
        self.emit_properties_changed({"Notifying": False})

    def notify(self, value: bytes) -> None:
        self.value = value
        self.emit_properties_changed({"Value": value})


class FakeBlueZ:
    """Owns `org.bluez` on the given bus and animates its fake sensors in real time."""

    def __init__(self, bus_address: str) -> None:
        self._bus_address = bus_address
        self.bus: MessageBus | None = None
        self.adapter = Adapter(self)
        self.devices: dict[str, Device] = {}
        self._task: asyncio.Task[None] | None = None
        self._last_advertised_s = 0.0

    async def start(self) -> "FakeBlueZ":
        self.bus = await MessageBus(
            bus_address=self._bus_address, bus_type=BusType.SYSTEM
        ).connect()
        self.bus.export(ADAPTER_PATH, self.adapter)
        await self.bus.request_name("org.bluez")
        self._task = asyncio.create_task(self._run())
        return self

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass
        if self.bus is not None:
            self.bus.disconnect()
            await self.bus.wait_for_disconnect()

    async def crash(self) -> None:
        """bluetoothd exits: every radio link ends with it, no signal is sent, the name leaves."""
        for device in self.devices.values():
            if device.sensor.connected:
                device.sensor.on_disconnected()
        await self.stop()

    def add_sensor(self, sensor: FakeSensor) -> Device:
        """Export the sensor's Device1 object (as bluetoothd does once it has seen it)."""
        assert self.bus is not None
        path = f"{ADAPTER_PATH}/dev_{sensor.address.replace(':', '_')}"
        device = Device(self, sensor, path)
        self.devices[sensor.address] = device
        self.bus.export(path, device)
        return device

    def sensor(self, address: str) -> FakeSensor:
        return self.devices[address.upper()].sensor

    def drop_link(self, address: str) -> None:
        """An unexpected disconnect, e.g. the athlete walked out of range for a moment."""
        self.devices[address.upper()].drop()

    def vanish(self, address: str) -> None:
        """The sensor dies for good: the link drops and it never advertises again."""
        device = self.devices[address.upper()]
        device.sensor.advertising = False
        device.drop()

    def remove_device_path(self, path: str) -> None:
        for address, device in list(self.devices.items()):
            if device.path == path and not device.sensor.connected:
                assert self.bus is not None
                self.bus.unexport(path)
                del self.devices[address]
                return
        raise DBusError("org.bluez.Error.DoesNotExist", "Does Not Exist")

    def advertised_uuids(self, sensor: FakeSensor) -> list[str]:
        if not sensor.advertises_service:
            return []
        if sensor.kind is SensorKind.MOVELLA_DOT:
            return ["15170000-4947-11e9-8646-d663bd873d93"]
        return [get_protocol(sensor.kind).service_uuid]

    # --- GATT --------------------------------------------------------------------------------

    def export_gatt(self, device: Device) -> None:
        assert self.bus is not None
        spec = get_protocol(device.sensor.kind)
        service_path = f"{device.path}/service000a"
        objects: list[tuple[str, ServiceInterface]] = [
            (service_path, GattService(spec.service_uuid, device.path))
        ]
        data_char = Characteristic(
            spec.notify_char_uuid, service_path, ["read", "notify"], device.sensor
        )
        objects.append((f"{service_path}/char000b", data_char))
        write_flag = "write" if spec.write_with_response else "write-without-response"
        objects.append(
            (
                f"{service_path}/char000e",
                Characteristic(spec.control_char_uuid, service_path, [write_flag], device.sensor),
            )
        )
        if spec.rate_char_uuid is not None:  # e.g. the DOT's Device Control
            objects.append(
                (
                    f"{service_path}/char0011",
                    Characteristic(
                        spec.rate_char_uuid, service_path, ["read", "write"], device.sensor
                    ),
                )
            )
        for path, interface in objects:
            self.bus.export(path, interface)
        device.gatt = objects
        device.data_char = data_char
        device.battery = Battery(device.sensor)
        self.bus.export(device.path, device.battery)

    def unexport_gatt(self, device: Device) -> None:
        assert self.bus is not None
        for path, interface in reversed(device.gatt):
            self.bus.unexport(path, interface)
        if device.battery is not None:
            self.bus.unexport(device.path, device.battery)
        device.gatt = []
        device.data_char = None
        device.battery = None

    # --- real-time animation -------------------------------------------------------------

    def advertise_now(self) -> None:
        """Report every advertising sensor that passes the discovery filter."""
        for device in self.devices.values():
            sensor = device.sensor
            if not sensor.advertising or sensor.connected:
                continue
            uuids = set(self.advertised_uuids(sensor))
            if self.adapter.uuid_filter and not (uuids & self.adapter.uuid_filter):
                continue
            device.emit_properties_changed({"RSSI": sensor.rssi_dbm})
        self._last_advertised_s = time.monotonic()

    async def _run(self) -> None:
        while True:
            now_s = time.monotonic()
            if (
                self.adapter.discovering
                and now_s - self._last_advertised_s >= ADVERTISING_INTERVAL_S
            ):
                self.advertise_now()
            for device in list(self.devices.values()):
                notifications = device.sensor.due_notifications(now_s)
                if device.data_char is None:
                    continue
                for payload in notifications:
                    device.data_char.notify(payload)
            await asyncio.sleep(STREAM_TICK_S)
