"""Replay recorded raw-recording CSVs (sensor_gateway.recording_csv) as a sample source.

Each file is one sensor (sacrum.csv, thigh.csv, ...). Its `t_s` column is on a clock shared
by the files, so it is replayed as the sensor timestamp; the packets are received at
`start_s + (t_s - first t_s)` (no added latency), in batches of `samples_per_batch`,
either in real time or (`realtime=False`) as fast as possible: then the gateway clock of
the samples is virtual (it runs ahead of the process clock), which is fine because the
analysis only uses sample times. `on_start` / `on_end` are called before the first and after
the last batch (e.g. to start and stop a set around the recording).
"""

from __future__ import annotations

import asyncio
import heapq
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from fusion.types import ImuRecording
from sensor_gateway.gaps import GAP_STEP_FACTOR
from sensor_gateway.recording_csv import read_recording_csv
from sensor_gateway.samples import (
    BatchCallback,
    LinkState,
    SampleBatch,
    SensorKind,
    SensorStatus,
    StatusCallback,
)

YIELD_EVERY_BATCHES = 64


@dataclass(frozen=True)
class ReplayedSensor:
    """One recorded sensor: its address for the gateway and its samples."""

    address: str
    recording: ImuRecording

    @classmethod
    def from_csv(cls, address: str, path: str | Path) -> ReplayedSensor:
        """Read a raw-recording CSV; raises RecordingFormatError naming the file and line."""
        return cls(address.strip().upper(), read_recording_csv(path))


class ReplaySource:
    """`SampleSource` replaying recordings; ends after the last sample."""

    def __init__(
        self,
        sensors: list[ReplayedSensor],
        *,
        realtime: bool = True,
        samples_per_batch: int = 4,
        start_s: float | None = None,
        on_start: Callable[[float], None] | None = None,
        on_end: Callable[[float], None] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if not sensors:
            raise ValueError("nothing to replay: give at least one recording")
        if samples_per_batch < 1:
            raise ValueError(f"samples_per_batch must be >= 1, got {samples_per_batch}")
        self.sensors = sensors
        self.realtime = realtime
        self.samples_per_batch = samples_per_batch
        self.start_s = start_s
        self.on_start = on_start
        self.on_end = on_end
        self.clock = clock
        self.batches_sent = 0
        self.samples_sent = 0

    async def run(self, on_batch: BatchCallback, on_status: StatusCallback) -> None:
        start_s = self.clock() + 0.01 if self.start_s is None else self.start_s
        t0_s = min(float(s.recording.t_s[0]) for s in self.sensors)
        for sensor in self.sensors:
            on_status(SensorStatus(sensor.address, LinkState.STREAMING, start_s, detail="replay"))
        if self.on_start is not None:
            self.on_start(start_s)
        feeds = [self._batches(s, start_s, t0_s) for s in self.sensors]
        last_s = start_s
        since_yield = 0
        for received_s, batch in heapq.merge(*feeds, key=lambda item: item[0]):
            if self.realtime:
                delay_s = received_s - self.clock()
                if delay_s > 0:
                    await asyncio.sleep(delay_s)
            else:
                since_yield += 1
                if since_yield >= YIELD_EVERY_BATCHES:
                    since_yield = 0
                    await asyncio.sleep(0)
            on_batch(batch)
            self.batches_sent += 1
            self.samples_sent += int(batch.acc_mps2.shape[0])
            last_s = received_s
        if self.on_end is not None:
            self.on_end(last_s + 1e-6)
        for sensor in self.sensors:
            on_status(SensorStatus(sensor.address, LinkState.GONE, last_s, detail="replay ended"))

    def _batches(
        self, sensor: ReplayedSensor, start_s: float, t0_s: float
    ) -> Iterator[tuple[float, SampleBatch]]:
        rec = sensor.recording
        for seq, (a, b) in enumerate(_batch_bounds(rec.t_s, self.samples_per_batch)):
            received_s = start_s + float(rec.t_s[b - 1]) - t0_s
            yield (
                received_s,
                SampleBatch(
                    address=sensor.address,
                    kind=SensorKind.REPLAY,
                    received_s=received_s,
                    acc_mps2=rec.acc_mps2[a:b],
                    gyr_radps=rec.gyr_radps[a:b],
                    sensor_time_s=rec.t_s[a:b],
                    seq=seq,
                ),
            )


def _batch_bounds(t_s: np.ndarray, samples_per_batch: int) -> Iterator[tuple[int, int]]:
    """Index ranges [a, b) of the batches of a recording with sample times `t_s` (N,) s:
    `samples_per_batch` each, but a batch ends where samples are missing (a step longer than
    `GAP_STEP_FACTOR` median steps), so the gap lies between batches, where the gateway looks
    for it (a packet's own samples are taken to step at the sensor's interval), as a sensor
    sends its packets, not inside one."""
    n = int(t_s.size)
    steps_s = np.diff(t_s)
    median_s = float(np.median(steps_s)) if steps_s.size else 0.0
    after_gaps = (np.flatnonzero(steps_s > GAP_STEP_FACTOR * median_s) + 1).tolist()
    a, k = 0, 0
    while a < n:
        b = min(a + samples_per_batch, n)
        while k < len(after_gaps) and after_gaps[k] <= a:
            k += 1
        if k < len(after_gaps) and after_gaps[k] < b:
            b = after_gaps[k]
        yield a, b
        a = b
