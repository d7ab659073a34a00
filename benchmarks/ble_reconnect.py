"""BLE radio side: reconnect time and gap accounting through bleak + a fake BlueZ, and
decoder throughput per protocol.

Reconnect: for each sensor kind, two sensors stream at 200 Hz through the real bleak /
bleak-retry-connector code path into a fake BlueZ on a private dbus-daemon (the test
harness in tests/gateway/fake_bluez); one sensor's link is dropped `--drops` times. For each
drop it reports the time from the drop to the first samples flowing again (the STREAMING
status) and compares the missing samples reported by the gateway with the truth (the
samples the fake sensor took while the link was down). Decoders: packets/s and samples/s of
each streaming decoder on pre-encoded notifications (one core, best of `--repeats`).

    python benchmarks/ble_reconnect.py [--drops 5] [--packets 20000] [--repeats 3]

Needs dbus-daemon (.ci/install-system-packages); without it only the decoders are measured.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sensor_gateway.ble import BleSensor, BleSource, LinkTiming  # noqa: E402
from sensor_gateway.protocols import get_protocol, movella_dot, winkwatch, witmotion  # noqa: E402
from sensor_gateway.samples import SensorKind  # noqa: E402
from tests.gateway.ble_scenarios import Collected, run_source, wait_until  # noqa: E402
from tests.gateway.fake_bluez import (  # noqa: E402
    FakeBlueZThread,
    FakeSensor,
    PrivateDbusDaemon,
    bluetoothctl_stub_dir,
    dbus_available,
    squat_signal,
)

KINDS = (SensorKind.WINKWATCH, SensorKind.WITMOTION, SensorKind.MOVELLA_DOT)
STREAM_BETWEEN_DROPS_S = 0.6


def measure_reconnects(kind: SensorKind, drops: int) -> list[tuple[float, int, int | None]]:
    """(seconds from drop to samples flowing again, true missing, reported missing) per drop."""
    daemon = PrivateDbusDaemon()
    address = daemon.start()
    os.environ["DBUS_SYSTEM_BUS_ADDRESS"] = address
    fake = FakeBlueZThread(address)
    try:
        dropped, steady = (
            FakeSensor(kind, f"BE:EF:00:00:00:0{i}", rate_hz=200, seed=i) for i in (1, 2)
        )
        fake.add(dropped, steady)
        rate_hz = None if kind is SensorKind.MOVELLA_DOT else 200
        source = BleSource(
            [BleSensor(s.address, kind, rate_hz) for s in (dropped, steady)],
            timing=LinkTiming(give_up_after_s=30.0),
        )
        recover_s: list[float] = []

        async def scenario(collected: Collected) -> None:
            await wait_until(
                lambda: all(collected.streaming(s.address) for s in (dropped, steady)),
                15,
                "both sensors streaming",
            )
            for n in range(drops):
                await asyncio.sleep(STREAM_BETWEEN_DROPS_S)
                drop_s = time.monotonic()
                await asyncio.to_thread(fake.drop_link, dropped.address)
                await wait_until(
                    lambda n=n: len(collected.streaming(dropped.address)) == n + 2,
                    15,
                    "streaming again",
                )
                recover_s.append(collected.streaming(dropped.address)[-1].at_s - drop_s)
            await asyncio.sleep(0.2)

        collected = run_source(fake, source, scenario, timeout_s=60 + 10 * drops)
        sent = np.array(dropped.sent_indices)
        jumps = np.flatnonzero(np.diff(sent) > 1)
        truth = [int(sent[j + 1] - sent[j] - 1) for j in jumps]
        reported = [
            s.gap.missing_samples if s.gap else None
            for s in collected.streaming(dropped.address)[1:]
        ]
        if steady.sent_indices and np.any(np.diff(steady.sent_indices) != 1):
            print(f"WARNING: the steady {kind.value} sensor lost samples too")
        return list(zip(recover_s, truth, reported))
    finally:
        fake.close()
        daemon.stop()


def encoded_packets(kind: SensorKind, count: int) -> tuple[list[bytes], int]:
    """`count` notifications as the sensor sends them, and the samples they hold."""
    if kind is SensorKind.WINKWATCH:
        per_packet = winkwatch.DEFAULT_SAMPLES_PER_PACKET
        acc, gyr = squat_signal(np.arange(count * per_packet), 200.0, 1)
        acc_c, gyr_c = winkwatch.quantize(acc, gyr)
        return [
            winkwatch.encode_packet(
                i,
                i * 20_000,
                5_000,
                acc_c[i * per_packet : (i + 1) * per_packet],
                gyr_c[i * per_packet : (i + 1) * per_packet],
            )
            for i in range(count)
        ], count * per_packet
    acc, gyr = squat_signal(np.arange(count), 200.0, 1)
    if kind is SensorKind.WITMOTION:
        acc_c, gyr_c = witmotion.quantize(acc, gyr)
        return [witmotion.encode_frame(acc_c[i], gyr_c[i]) for i in range(count)], count
    return [
        movella_dot.encode_payload(i * 5_000, acc[i], np.rad2deg(gyr[i]), padded_to=40)
        for i in range(count)
    ], count


def decoder_throughput(kind: SensorKind, count: int, repeats: int) -> tuple[float, float]:
    packets, samples = encoded_packets(kind, count)
    best_s = float("inf")
    for _ in range(repeats):
        decoder = get_protocol(kind).new_decoder("AA:BB:CC:DD:EE:FF", 200)
        started = time.perf_counter()
        for packet in packets:
            decoder.feed(packet, 0.0)
        best_s = min(best_s, time.perf_counter() - started)
        assert decoder.stats.samples_decoded == samples and decoder.stats.packets_dropped == 0
    return len(packets) / best_s, samples / best_s


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--drops", type=int, default=5)
    parser.add_argument("--packets", type=int, default=20_000)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()

    print(f"## Decoder throughput (one core, best of {args.repeats})\n")
    print("| protocol | packets/s | samples/s | us per packet |")
    print("| --- | ---: | ---: | ---: |")
    for kind in KINDS:
        packets_s, samples_s = decoder_throughput(kind, args.packets, args.repeats)
        print(f"| {kind.value} | {packets_s:,.0f} | {samples_s:,.0f} | {1e6 / packets_s:.1f} |")

    if not dbus_available():
        print("\ndbus-daemon not installed: reconnect benchmark skipped")
        return
    os.environ["PATH"] = (
        f"{bluetoothctl_stub_dir(Path(tempfile.mkdtemp()))}{os.pathsep}{os.environ['PATH']}"
    )
    print(
        f"\n## Reconnect after an unexpected drop (2 sensors x 200 Hz, {args.drops} drops per kind)\n"
    )
    print("| kind | drop -> samples again, median s | max s | missing samples: reported = true |")
    print("| --- | ---: | ---: | --- |")
    for kind in KINDS:
        results = measure_reconnects(kind, args.drops)
        times = np.array([r[0] for r in results])
        exact = sum(1 for _, truth, reported in results if reported == truth)
        errors = [abs(reported - truth) for _, truth, reported in results if reported is not None]
        detail = f"{exact}/{len(results)} exact" + (f", max error {max(errors)}" if errors else "")
        pairs = ", ".join(f"{rep}/{tru}" for _, tru, rep in results)
        print(f"| {kind.value} | {np.median(times):.3f} | {times.max():.3f} | {detail} ({pairs}) |")


if __name__ == "__main__":
    main()
