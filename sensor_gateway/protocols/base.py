"""Shared pieces of every protocol: decoded samples, drop counters, the streaming decoder.

A `StreamDecoder` lives for one BLE connection of one sensor. It turns each notification
payload into a `SampleBatch` (SI units: m/s^2, rad/s, seconds), or into nothing when the
payload is malformed (counted in `stats`, never raised) or holds no complete sample yet.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections import Counter
from dataclasses import dataclass, field

import numpy as np

from sensor_gateway.protocols.errors import ProtocolError
from sensor_gateway.samples import SampleBatch, SensorKind


@dataclass(frozen=True)
class DecodedSamples:
    """Samples decoded from one packet, sensor frame.

    `acc_mps2` (N, 3) specific force, `gyr_radps` (N, 3) angular rate, `sensor_time_s` (N,)
    the device clock per sample (None when the protocol has no timestamp), `seq` the packet
    sequence number as sent (None when the protocol has none).
    """

    acc_mps2: np.ndarray
    gyr_radps: np.ndarray
    sensor_time_s: np.ndarray | None = None
    seq: int | None = None
    rate_hz: float | None = None  # when the packet states its own sample rate

    def __len__(self) -> int:
        return int(self.acc_mps2.shape[0])


@dataclass
class DecodeStats:
    """Counters of one streaming decoder (one connection)."""

    packets_decoded: int = 0
    samples_decoded: int = 0
    packets_dropped: int = 0
    bytes_discarded: int = 0
    drop_reasons: Counter[str] = field(default_factory=Counter)

    def count_drop(self, reason: str) -> None:
        self.packets_dropped += 1
        self.drop_reasons[reason] += 1


class WrapUnwrapper:
    """Turns a wrapping unsigned counter (sequence, timestamp ticks) into a growing int.

    A step backwards by more than half the range is taken as one wrap-around; smaller steps
    backwards are passed through unchanged (the clock mapper downstream judges them).
    """

    def __init__(self, modulus: int) -> None:
        self._modulus = modulus
        self._offset = 0
        self._last: int | None = None

    def unwrap(self, raw: int) -> int:
        if self._last is not None and self._last - raw > self._modulus // 2:
            self._offset += self._modulus
        self._last = raw
        return self._offset + raw


class StreamDecoder(ABC):
    """Decodes the notifications of one sensor connection into `SampleBatch`es."""

    kind: SensorKind

    def __init__(self, address: str, nominal_rate_hz: float | None = None) -> None:
        self.address = address
        self.nominal_rate_hz = nominal_rate_hz
        self.stats = DecodeStats()

    def feed(
        self, payload: bytes | bytearray | memoryview, received_s: float
    ) -> SampleBatch | None:
        """Decode one notification received at `received_s` (gateway clock, s).

        Returns None when the payload holds no complete sample or was dropped as malformed
        (see `stats`). Never raises for bad bytes.
        """
        try:
            decoded = self._decode(bytes(payload))
        except ProtocolError as exc:
            self.stats.count_drop(exc.reason)
            return None
        if decoded is None or len(decoded) == 0:
            return None
        self.stats.packets_decoded += 1
        self.stats.samples_decoded += len(decoded)
        return SampleBatch(
            address=self.address,
            kind=self.kind,
            received_s=received_s,
            acc_mps2=decoded.acc_mps2,
            gyr_radps=decoded.gyr_radps,
            sensor_time_s=decoded.sensor_time_s,
            seq=decoded.seq,
            nominal_rate_hz=decoded.rate_hz
            if decoded.rate_hz is not None
            else self.nominal_rate_hz,
        )

    @abstractmethod
    def _decode(self, payload: bytes) -> DecodedSamples | None:
        """Decode one payload; raise ProtocolError when it is malformed."""
