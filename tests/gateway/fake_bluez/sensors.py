"""Fake sensors: generated motion, sampled on a real-time clock, sent as real protocol bytes.

Each fake samples continuously from its creation (sample k at `t_origin_s + k / rate_hz`),
whether or not anyone listens; samples taken while the link is down are never sent, exactly
as with a real sensor. `sent_indices` is the ground truth of what went over the air.
"""

from __future__ import annotations

import struct
import time
from collections import deque

import numpy as np

from fusion.types import STANDARD_GRAVITY_MPS2
from sensor_gateway.protocols import movella_dot, winkwatch, witmotion
from sensor_gateway.samples import SensorKind

# WitMotion notifications cut the frame stream at these sizes in turn: split and merged frames.
WITMOTION_CHUNK_SIZES: tuple[int, ...] = (20, 13, 27, 20, 40, 7, 33)
DOT_PADDED_SIZE = 40


def squat_signal(index: np.ndarray, rate_hz: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Deterministic squat-like motion for sample indices: acc (N,3) m/s^2, gyr (N,3) rad/s.

    A segment pitching 0 -> ~85 deg -> 0 every 2.6 s about the sensor y axis, plus small
    seed-dependent wobble so that two sensors never send the same numbers.
    """
    t_s = np.asarray(index, dtype=float) / rate_hz
    phase = 2 * np.pi * t_s / 2.6 + 0.3 * seed
    amplitude_rad = np.deg2rad(42.0 + seed)
    pitch = amplitude_rad * (1 - np.cos(phase))
    pitch_rate = amplitude_rad * np.sin(phase) * 2 * np.pi / 2.6
    wobble = 0.05 * np.sin(7.3 * t_s + seed)
    acc = np.column_stack(
        [
            STANDARD_GRAVITY_MPS2 * np.sin(pitch) + wobble,
            0.2 * np.sin(3.1 * t_s + seed),
            STANDARD_GRAVITY_MPS2 * np.cos(pitch) - wobble,
        ]
    )
    gyr = np.column_stack([0.1 * np.cos(5.0 * t_s + seed), pitch_rate, 0.05 * wobble])
    return acc, gyr


class FakeSensor:
    """One sensor's behaviour; the fake BlueZ device exposes it over D-Bus."""

    def __init__(
        self,
        kind: SensorKind,
        address: str,
        *,
        rate_hz: int = 200,
        seed: int = 0,
        name: str | None = None,
        rssi_dbm: int = -60,
        battery_pct: int = 87,
        clock_offset_us: int = 0,
        motion: tuple[np.ndarray, np.ndarray] | None = None,
        advertises_service: bool = True,
        manufacturer_data: dict[int, bytes] | None = None,
    ) -> None:
        """`motion`: (acc_mps2 (N, 3), gyr_radps (N, 3)) to play in a loop, e.g. a simulated
        set from fusion.simulator; default: `squat_signal`. `advertises_service`: whether
        the advertisement lists the service UUID (some firmware leaves it out);
        `manufacturer_data`: advertised manufacturer-specific data by company identifier."""
        self.kind = kind
        self.address = address.upper()
        self.rate_hz = rate_hz
        self.seed = seed
        self.name = (
            name
            or {
                SensorKind.WINKWATCH: f"WinkWatch-{self.address[-5:].replace(':', '')}",
                SensorKind.WITMOTION: "WT901BLE68",
                SensorKind.MOVELLA_DOT: "Movella DOT",
            }[kind]
        )
        self.rssi_dbm = rssi_dbm
        self.battery_pct = battery_pct
        self.clock_offset_us = clock_offset_us
        self.motion = motion
        self.advertises_service = advertises_service
        self.manufacturer_data = dict(manufacturer_data or {})
        self.interval_us = round(1e6 / rate_hz)
        self.advertising = True
        self.refuse_connections = False
        self.paused = False  # stops sampling output, e.g. to let in-flight packets land
        self.connected = False
        self.notifying = False
        self.started = kind is SensorKind.WITMOTION  # WitMotion streams as soon as notified
        self.samples_per_packet = 1
        self.commands: list[bytes] = []
        self.command_times_s: list[float] = []
        # a WitMotion firmware that takes any rate code and keeps streaming at `rate_hz`
        self.ignores_rate_codes = False
        self.connect_attempts: list[float] = []
        self.sent_indices: list[int] = []
        self.t_origin_s = time.monotonic()
        self._next_index = 0
        self._seq = 0
        self._witmotion_pending = bytearray()
        self._witmotion_frame_ends: deque[tuple[int, int]] = deque()
        self._witmotion_emitted = 0
        self._witmotion_queued = 0
        self._chunk_turn = 0

    # --- what the gateway should decode -------------------------------------------------

    def si(self, index: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The motion at sample indices: acc (N, 3) m/s^2, gyr (N, 3) rad/s, sensor frame."""
        index = np.asarray(index)
        if self.motion is None:
            return squat_signal(index, self.rate_hz, self.seed)
        acc, gyr = self.motion
        return acc[index % len(acc)], gyr[index % len(gyr)]

    def counts(self, index: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        acc, gyr = self.si(index)
        if self.kind is SensorKind.WITMOTION:
            return witmotion.quantize(acc, gyr)
        return winkwatch.quantize(acc, gyr, 16, 2000)

    def expected_si(self, index: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The exact SI values the protocol carries for these samples (after quantisation)."""
        index = np.asarray(index)
        if self.kind is SensorKind.MOVELLA_DOT:
            acc, gyr = self.si(index)
            acc32 = acc.astype(np.float32).astype(float)
            gyr_dps32 = np.rad2deg(gyr).astype(np.float32).astype(float)
            return acc32, np.deg2rad(gyr_dps32)
        acc_counts, gyr_counts = self.counts(index)
        acc_scale = 16 / 32768 * STANDARD_GRAVITY_MPS2
        gyr_scale = np.deg2rad(2000 / 32768)
        return acc_counts * acc_scale, gyr_counts * gyr_scale

    def sensor_time_s(self, index: np.ndarray) -> np.ndarray:
        return (self.clock_offset_us + np.asarray(index) * self.interval_us) * 1e-6

    # --- link ------------------------------------------------------------------------------

    @property
    def streaming(self) -> bool:
        return self.connected and self.notifying and self.started and not self.paused

    def on_disconnected(self) -> None:
        self.connected = False
        self.notifying = False
        self.started = self.kind is SensorKind.WITMOTION
        self._witmotion_pending.clear()
        self._witmotion_frame_ends.clear()
        self._witmotion_emitted = self._witmotion_queued = 0

    def handle_command(self, data: bytes) -> None:
        """A write to the control characteristic."""
        self.commands.append(bytes(data))
        self.command_times_s.append(time.monotonic())
        if self.kind is SensorKind.WINKWATCH:
            if data[:1] == bytes([winkwatch.CMD_START]) and len(data) == 4:
                rate_hz, self.samples_per_packet = struct.unpack_from("<HB", data, 1)
                if rate_hz != self.rate_hz:
                    raise ValueError(f"fake WinkWatch runs at {self.rate_hz} Hz, asked {rate_hz}")
                self._seq = 0
                self.started = True
            elif data == winkwatch.stop_command():
                self.started = False
        elif self.kind is SensorKind.MOVELLA_DOT:
            if len(data) == movella_dot.DEVICE_CONTROL_SIZE:
                if data[0] & movella_dot.VISIT_INDEX_OUTPUT_RATE:
                    at = movella_dot.OUTPUT_RATE_OFFSET
                    self._set_rate(int.from_bytes(data[at : at + 2], "little"))
            elif data == movella_dot.start_command():
                self.started = True
            elif data == movella_dot.stop_command():
                self.started = False
        elif self.kind is SensorKind.WITMOTION and data[:3] == bytes([0xFF, 0xAA, 0x03]):
            if data != witmotion.rate_command(self.rate_hz) and not self.ignores_rate_codes:
                raise ValueError(f"fake WitMotion runs at {self.rate_hz} Hz, got {data.hex()}")

    def _set_rate(self, rate_hz: int) -> None:
        """A new output rate from the next sample on (the index continues)."""
        self.rate_hz = rate_hz
        self.interval_us = round(1e6 / rate_hz)
        self.t_origin_s = time.monotonic() - self._next_index / rate_hz

    # --- sampling ----------------------------------------------------------------------------

    def due_notifications(self, now_s: float) -> list[bytes]:
        """Notifications to send now; samples taken while not streaming are skipped (lost)."""
        due = int((now_s - self.t_origin_s) * self.rate_hz)
        if not self.streaming:
            self._next_index = max(self._next_index, due)
            return []
        out: list[bytes] = []
        spp = self.samples_per_packet
        while due - self._next_index >= spp:
            index = np.arange(self._next_index, self._next_index + spp)
            self._next_index += spp
            out.extend(self._encode(index))
        if self.kind is SensorKind.WITMOTION:
            out.extend(self._witmotion_chunks())
        return out

    def _encode(self, index: np.ndarray) -> list[bytes]:
        if self.kind is SensorKind.WINKWATCH:
            acc, gyr = self.counts(index)
            t0_us = self.clock_offset_us + int(index[0]) * self.interval_us
            packet = winkwatch.encode_packet(self._seq, t0_us, self.interval_us, acc, gyr)
            self._seq += 1
            self.sent_indices.extend(int(i) for i in index)
            return [packet]
        if self.kind is SensorKind.MOVELLA_DOT:
            out = []
            for i in index:
                acc, gyr = self.si(np.array([i]))
                t_us = self.clock_offset_us + int(i) * self.interval_us
                out.append(
                    movella_dot.encode_payload(
                        t_us, acc[0], np.rad2deg(gyr[0]), padded_to=DOT_PADDED_SIZE
                    )
                )
                self.sent_indices.append(int(i))
            return out
        acc, gyr = self.counts(index)
        for k, i in enumerate(index):
            self._witmotion_pending += witmotion.encode_frame(acc[k], gyr[k])
            self._witmotion_queued += witmotion.FRAME_SIZE
            self._witmotion_frame_ends.append((self._witmotion_queued, int(i)))
        return []

    def _witmotion_chunks(self) -> list[bytes]:
        out = []
        while True:
            size = WITMOTION_CHUNK_SIZES[self._chunk_turn % len(WITMOTION_CHUNK_SIZES)]
            if len(self._witmotion_pending) < size:
                return out
            self._chunk_turn += 1
            out.append(bytes(self._witmotion_pending[:size]))
            del self._witmotion_pending[:size]
            self._witmotion_emitted += size
            while (
                self._witmotion_frame_ends
                and self._witmotion_frame_ends[0][0] <= self._witmotion_emitted
            ):
                self.sent_indices.append(self._witmotion_frame_ends.popleft()[1])
