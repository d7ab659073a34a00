"""Shared pieces of every protocol: decoded samples, drop counters, the streaming decoder.

A `StreamDecoder` lives for one BLE connection of one sensor. It turns each notification
payload into a `SampleBatch` (SI units: m/s^2, rad/s, seconds), or into nothing when the
payload is malformed (counted in `stats`, never raised) or holds no complete sample yet.
A packet with any value beyond what the sensor can physically measure (its full scale,
plus PHYSICAL_RANGE_MARGIN for calibration) is malformed too (`out_of_range`): one
corrupted float of 3e38 m/s^2 must not reach the analysis.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections import Counter
from dataclasses import dataclass, field

import numpy as np

from fusion.types import STANDARD_GRAVITY_MPS2
from sensor_gateway.protocols.errors import ProtocolError
from sensor_gateway.samples import SampleBatch, SensorKind

# Calibrated outputs may slightly exceed the nominal full scale; nothing real exceeds it by 10%.
PHYSICAL_RANGE_MARGIN = 1.1


def acc_limit_mps2(full_scale_g: float) -> float:
    """Largest specific force a sensor with this accelerometer full scale can report."""
    return full_scale_g * STANDARD_GRAVITY_MPS2 * PHYSICAL_RANGE_MARGIN


def gyr_limit_radps(full_scale_dps: float) -> float:
    """Largest angular rate a sensor with this gyroscope full scale can report."""
    return float(np.deg2rad(full_scale_dps)) * PHYSICAL_RANGE_MARGIN


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

    Each value is unwrapped to the one nearest the previous value: a step backwards by more
    than half the range is one wrap-around forwards, and a step forwards by more than half
    the range (a late value from before a wrap) is a step backwards across it. Smaller
    steps backwards are passed through unchanged (the decoder or clock mapper judges them).
    """

    def __init__(self, modulus: int) -> None:
        self._modulus = modulus
        self._last: int | None = None  # the previous value, unwrapped

    def unwrap(self, raw: int) -> int:
        if self._last is None:
            self._last = raw
            return raw
        step = (raw - self._last) % self._modulus
        if step > self._modulus // 2:
            step -= self._modulus
        self._last += step
        return self._last


class StreamDecoder(ABC):
    """Decodes the notifications of one sensor connection into `SampleBatch`es."""

    kind: SensorKind
    # Physical limits of the sensor (full scale with margin); subclasses set their own.
    max_acc_mps2: float = acc_limit_mps2(16)
    max_gyr_radps: float = gyr_limit_radps(2000)

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
            decoded = self._decode(payload if type(payload) is bytes else bytes(payload))
        except ProtocolError as exc:
            self.stats.count_drop(exc.reason)
            return None
        if decoded is None or len(decoded) == 0:
            return None
        if not self._physically_possible(decoded):
            self.stats.count_drop("out_of_range")
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
            range_checked=True,  # `_physically_possible` above
        )

    def _physically_possible(self, decoded: DecodedSamples) -> bool:
        """Every value finite and within the sensor's measuring range."""
        # The largest magnitude: NaN propagates through max and fails the comparison.
        return bool(
            np.abs(decoded.acc_mps2).max() <= self.max_acc_mps2
            and np.abs(decoded.gyr_radps).max() <= self.max_gyr_radps
        )

    @abstractmethod
    def _decode(self, payload: bytes) -> DecodedSamples | None:
        """Decode one payload; raise ProtocolError when it is malformed."""
