"""The radio side: scanning, connecting (one attempt at a time) and streaming BLE sensors.

bleak is imported here; code that must start fast imports this package lazily.
"""

from sensor_gateway.ble.backoff import reconnect_delay_s
from sensor_gateway.ble.errors import AdapterUnavailableError, BleError, SensorConfigError
from sensor_gateway.ble.link import LinkStats, LinkTiming
from sensor_gateway.ble.scanner import ScanResult, scan_sensors
from sensor_gateway.ble.source import BleSensor, BleSource

__all__ = [
    "AdapterUnavailableError",
    "BleError",
    "BleSensor",
    "BleSource",
    "LinkStats",
    "LinkTiming",
    "ScanResult",
    "SensorConfigError",
    "reconnect_delay_s",
    "scan_sensors",
]
