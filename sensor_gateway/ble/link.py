"""One sensor's link: connect, subscribe, start, stream, and recover by itself.

States reported through `on_status`: CONNECTING on each attempt, STREAMING when the first
samples of a connection arrive (with the gap since the last samples, after a drop),
DISCONNECTED on an unexpected drop, GONE when the sensor has not been seen for the give-up
time or the source stops.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass, field

from bleak.exc import BleakError
from bleak_retry_connector import BleakClientWithServiceCache

from sensor_gateway.ble.backoff import (
    GIVE_UP_AFTER_S,
    RETRY_BASE_DELAY_S,
    RETRY_MAX_DELAY_S,
    reconnect_delay_s,
)
from sensor_gateway.ble.battery import battery_from_advertisement, read_battery_pct
from sensor_gateway.ble.connection import ConnectionManager
from sensor_gateway.ble.scanner import AdvertisementTracker, Sighting
from sensor_gateway.gaps import Gap, SampleInterval, packets_lost_between, reconnect_gap
from sensor_gateway.protocols import DecodeStats, ProtocolSpec, StreamDecoder
from sensor_gateway.samples import (
    BatchCallback,
    LinkState,
    SampleBatch,
    SensorStatus,
    StatusCallback,
)

log = logging.getLogger(__name__)

# Stop commands on shutdown are a courtesy (saves the sensor's battery); never wait long.
STOP_COMMAND_TIMEOUT_S = 2.0
# The received rate is checked over this long after streaming starts; a mismatch beyond
# this fraction of the asked rate is reported (200 vs 125 Hz is one; BLE jitter is not).
RATE_CHECK_WINDOW_S = 3.0
RATE_MISMATCH_FRACTION = 0.2
# Connection errors that mean "try again later", not "bug".
CONNECT_ERRORS = (BleakError, TimeoutError, EOFError, BrokenPipeError, ConnectionError, OSError)


@dataclass(frozen=True)
class LinkTiming:
    """Give-up and retry timing of one link (seconds)."""

    give_up_after_s: float = GIVE_UP_AFTER_S
    retry_base_delay_s: float = RETRY_BASE_DELAY_S
    retry_max_delay_s: float = RETRY_MAX_DELAY_S


@dataclass
class LinkStats:
    """What happened on one link, for logs and benchmarks."""

    connections: int = 0
    failed_attempts: int = 0
    drops: int = 0
    decode: DecodeStats = field(default_factory=DecodeStats)
    connect_durations_s: list[float] = field(default_factory=list)
    measured_rate_hz: float | None = None  # samples/s received (last connection's check)

    def absorb(self, decoder_stats: DecodeStats) -> None:
        self.decode.packets_decoded += decoder_stats.packets_decoded
        self.decode.samples_decoded += decoder_stats.samples_decoded
        self.decode.packets_dropped += decoder_stats.packets_dropped
        self.decode.bytes_discarded += decoder_stats.bytes_discarded
        self.decode.drop_reasons.update(decoder_stats.drop_reasons)


class SensorLink:
    def __init__(
        self,
        address: str,
        spec: ProtocolSpec,
        rate_hz: int | None,
        *,
        tracker: AdvertisementTracker,
        connections: ConnectionManager,
        on_batch: BatchCallback,
        on_status: StatusCallback,
        timing: LinkTiming = LinkTiming(),
    ) -> None:
        self.address = address.upper()
        self.spec = spec
        self.rate_hz = spec.check_rate(rate_hz)
        self._tracker = tracker
        self._connections = connections
        self._on_batch = on_batch
        self._on_status = on_status
        self._timing = timing
        self.stats = LinkStats()
        self._battery_pct: int | None = None
        self._last_batch: SampleBatch | None = None  # last batch delivered before a gap
        # the sensor's real sample interval, from its timestamps (as the clock mapper's)
        self.interval = SampleInterval(self.rate_hz)
        self._awaiting_first_batch = False
        self._rate_checked = False
        self._rate_window: tuple[float, int] | None = None
        self._gap_pending = False
        self._link_up = False
        self._dropped = asyncio.Event()
        self._drop_s = float("nan")

    # --- the loop ------------------------------------------------------------------------------

    async def run(self) -> None:
        """Stream until cancelled or the sensor is gone; never raises for link trouble."""
        seen_after_s = -float("inf")
        failed_attempts = 0
        try:
            while True:
                sighting = await self._tracker.wait_for(
                    self.address, seen_after_s=seen_after_s, timeout_s=self._timing.give_up_after_s
                )
                if sighting is None:
                    self._status(
                        LinkState.GONE,
                        time.monotonic(),
                        f"not seen for {self._timing.give_up_after_s:g} s; gave up",
                    )
                    return
                client = await self._connect(sighting, failed_attempts)
                if client is None:
                    failed_attempts += 1
                    self.stats.failed_attempts += 1
                    await asyncio.sleep(
                        reconnect_delay_s(
                            failed_attempts,
                            base_s=self._timing.retry_base_delay_s,
                            max_s=self._timing.retry_max_delay_s,
                        )
                    )
                    continue
                failed_attempts = 0
                drop_s = await self._stream(client, sighting)
                seen_after_s = drop_s
                await asyncio.sleep(reconnect_delay_s(0))
        except asyncio.CancelledError:
            self._status(LinkState.GONE, time.monotonic(), "stopped")
            raise

    async def _connect(
        self, sighting: Sighting, failed_attempts: int
    ) -> BleakClientWithServiceCache | None:
        self._status(
            LinkState.CONNECTING,
            time.monotonic(),
            f"attempt {failed_attempts + 1}",
            rssi_dbm=sighting.advertisement.rssi,
        )
        started_s = time.monotonic()
        try:
            client = await self._connections.connect(
                sighting.device,
                name=sighting.advertisement.local_name or self.address,
                disconnected_callback=self._on_disconnected,
            )
        except CONNECT_ERRORS as exc:
            delay_s = reconnect_delay_s(
                failed_attempts + 1,
                base_s=self._timing.retry_base_delay_s,
                max_s=self._timing.retry_max_delay_s,
            )
            self._status(
                LinkState.DISCONNECTED,
                time.monotonic(),
                f"connect failed: {exc}; retrying in {delay_s:g} s",
            )
            return None
        if not client.is_connected:  # dropped again before we got hold of it
            self._status(LinkState.DISCONNECTED, time.monotonic(), "link lost while connecting")
            await client.disconnect()
            return None
        self.stats.connect_durations_s.append(time.monotonic() - started_s)
        self._dropped = asyncio.Event()
        self._link_up = True
        return client

    async def _stream(self, client: BleakClientWithServiceCache, sighting: Sighting) -> float:
        """Subscribe and start; returns the gateway time of the unexpected drop."""
        decoder = self.spec.new_decoder(self.address, self.rate_hz)
        try:
            try:
                self._battery_pct = battery_from_advertisement(
                    sighting.advertisement
                ) or await read_battery_pct(client, sighting.device)
                self._awaiting_first_batch = True
                self._rate_checked, self._rate_window = False, None
                await client.start_notify(
                    self.spec.notify_char_uuid,
                    lambda _char, data: self._on_notification(decoder, data),
                )
                if self.spec.rate_char_uuid is not None:
                    for command in self.spec.rate_commands(self.rate_hz):
                        await client.write_gatt_char(
                            self.spec.rate_char_uuid, command, response=True
                        )
                for k, command in enumerate(self.spec.start_commands(self.rate_hz)):
                    if k and self.spec.command_spacing_s:
                        await asyncio.sleep(self.spec.command_spacing_s)
                    await client.write_gatt_char(
                        self.spec.control_char_uuid, command, response=self.spec.write_with_response
                    )
            except CONNECT_ERRORS as exc:
                if not self._dropped.is_set():
                    log.warning("%s: could not start streaming: %s", self.address, exc)
                    self._on_disconnected(client)
            else:
                self.stats.connections += 1
            await self._dropped.wait()
            return self._drop_s
        except asyncio.CancelledError:
            self._link_up = False  # a disconnect from here on is ours, not a drop
            await self._stop_sensor(client)
            raise
        finally:
            self._link_up = False
            self.stats.absorb(decoder.stats)
            # after an unexpected drop, this releases bleak's D-Bus connection of the link
            await self._release(client)

    async def _release(self, client: BleakClientWithServiceCache) -> None:
        try:
            async with asyncio.timeout(STOP_COMMAND_TIMEOUT_S):
                await client.disconnect()
        except CONNECT_ERRORS as exc:  # BlueZ itself may be gone (bluetoothd restart)
            log.info("%s: disconnect not confirmed: %s", self.address, exc)

    def bluez_lost(self) -> None:
        """bluetoothd went away: the link is down whatever bleak still believes."""
        if self._link_up and not self._dropped.is_set():
            self._on_disconnected(None, detail="BlueZ (bluetoothd) stopped; waiting for it")
        else:
            self.report_down("BlueZ (bluetoothd) stopped; waiting for it")

    def report_down(self, detail: str) -> None:
        """Report the link down for a reason outside it (e.g. no BlueZ to reach)."""
        self._status(LinkState.DISCONNECTED, time.monotonic(), detail)

    def _on_disconnected(
        self,
        _client: BleakClientWithServiceCache | None,
        detail: str = "link lost; reconnecting",
    ) -> None:
        if not self._link_up or self._dropped.is_set():
            return
        self._drop_s = time.monotonic()
        self._dropped.set()
        self.stats.drops += 1
        self._awaiting_first_batch = False
        self._gap_pending = self._last_batch is not None
        self._status(LinkState.DISCONNECTED, self._drop_s, detail)

    async def _stop_sensor(self, client: BleakClientWithServiceCache) -> None:
        if not client.is_connected or not self.spec.stop_commands:
            return
        try:
            async with asyncio.timeout(STOP_COMMAND_TIMEOUT_S):
                for command in self.spec.stop_commands:
                    await client.write_gatt_char(
                        self.spec.control_char_uuid, command, response=self.spec.write_with_response
                    )
        except CONNECT_ERRORS as exc:
            log.info("%s: stop command not delivered: %s", self.address, exc)

    # --- samples -----------------------------------------------------------------------------

    def _on_notification(self, decoder: StreamDecoder, data: bytearray) -> None:
        batch = decoder.feed(data, time.monotonic())
        if batch is None:
            return
        first_of_connection = self._awaiting_first_batch
        if first_of_connection:
            self._awaiting_first_batch = False
            self._report_streaming(batch)
        self._track_interval(batch, after_gap=first_of_connection)
        self._check_rate(batch)
        self._last_batch = batch
        try:
            self._on_batch(batch)
        except Exception:  # a consumer's bug must not stop the radio side
            log.exception("%s: on_batch callback failed; the batch was dropped", self.address)

    def _report_streaming(self, first: SampleBatch) -> None:
        gap: Gap | None = None
        detail = "streaming"
        if self._gap_pending and self._last_batch is not None:
            # the rate it streamed at (it may not be the one asked for), as measured
            rate_hz = self.interval.rate_hz if self.interval.steps_seen else None
            gap = reconnect_gap(self._last_batch, first, rate_hz or first.nominal_rate_hz)
            detail = f"streaming again after a {gap.duration_s:.2f} s gap" + (
                f", {gap.missing_text} missing" if gap.missing_samples is not None else ""
            )
        self._gap_pending = False
        self._status(LinkState.STREAMING, first.received_s, detail, gap=gap)

    def _check_rate(self, batch: SampleBatch) -> None:
        """Once per connection, compare the rate received with the rate asked for.

        Counted from receive times over RATE_CHECK_WINDOW_S, so it also works for sensors
        without timestamps (WitMotion); a sensor that ignored or misread its rate command
        is reported (a STREAMING status saying so) instead of silently mis-timed."""
        expected_hz = batch.nominal_rate_hz
        if self._rate_checked or not expected_hz:
            return
        if self._rate_window is None:
            self._rate_window = (batch.received_s, 0)  # samples counted after this batch
            return
        started_s, samples = self._rate_window
        samples += len(batch.acc_mps2)
        self._rate_window = (started_s, samples)
        span_s = batch.received_s - started_s
        if span_s < RATE_CHECK_WINDOW_S:
            return
        self._rate_checked = True
        measured_hz = samples / span_s
        self.stats.measured_rate_hz = measured_hz
        if abs(measured_hz - expected_hz) > RATE_MISMATCH_FRACTION * expected_hz:
            detail = (
                f"asked for {expected_hz:g} Hz but receiving {measured_hz:.0f} Hz; the "
                "sensor may not support this rate or use another rate code "
                "(see firmware_notes/supported_sensors.md)"
            )
            log.warning("%s: %s", self.address, detail)
            self._status(LinkState.STREAMING, batch.received_s, detail)

    def _track_interval(self, batch: SampleBatch, *, after_gap: bool) -> None:
        """Measure the sample interval from the sensor's timestamps (`interval`): within the
        batch, and from the last batch unless a reconnect lies between them."""
        times = batch.sensor_time_s
        if times is None:
            return
        first_s, last_s = float(times[0]), float(times[-1])
        self.interval.add_batch(first_s, last_s, len(times))
        before = self._last_batch
        if not after_gap and before is not None and before.sensor_time_s is not None:
            step_s = first_s - float(before.sensor_time_s[-1])
            self.interval.step(step_s, packets_lost_between(before.seq, batch.seq))

    def _status(
        self,
        state: LinkState,
        at_s: float,
        detail: str,
        *,
        rssi_dbm: int | None = None,
        gap: Gap | None = None,
    ) -> None:
        if rssi_dbm is None:
            sighting = self._tracker.last_sighting(self.address)
            rssi_dbm = sighting.advertisement.rssi if sighting is not None else None
        status = SensorStatus(
            address=self.address,
            state=state,
            at_s=at_s,
            battery_pct=self._battery_pct,
            rssi_dbm=rssi_dbm,
            detail=detail,
            gap=gap,
        )
        log.info("%s %s: %s", self.address, state.value, detail)
        try:
            self._on_status(status)
        except Exception:
            log.exception("%s: on_status callback failed", self.address)
