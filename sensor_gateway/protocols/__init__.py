"""Sensor protocols: byte-exact decoders and command encoders, one module per sensor family.

`get_protocol(kind)` gives the GATT layout, commands and a per-connection `StreamDecoder`
that turns notifications into `SampleBatch`es (SI units) and counts what it drops.
"""

from sensor_gateway.protocols.base import DecodedSamples, DecodeStats, StreamDecoder
from sensor_gateway.protocols.errors import ProtocolError, UnsupportedRateError
from sensor_gateway.protocols.registry import (
    BLE_KINDS,
    PROTOCOLS,
    ProtocolSpec,
    get_protocol,
    recognise_kind,
)

__all__ = [
    "BLE_KINDS",
    "PROTOCOLS",
    "DecodeStats",
    "DecodedSamples",
    "ProtocolError",
    "ProtocolSpec",
    "StreamDecoder",
    "UnsupportedRateError",
    "get_protocol",
    "recognise_kind",
]
