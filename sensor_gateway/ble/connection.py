"""Connecting: one attempt at a time per adapter, through bleak-retry-connector."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from bleak.backends.device import BLEDevice
from bleak_retry_connector import BleakClientWithServiceCache, establish_connection

# One attempt per call: the adapter lock is held for the whole call, so a sensor that keeps
# refusing must not make the others wait; the link's own capped backoff does the retrying.
# (bleak-retry-connector still retries errors it knows to be transient, e.g. BlueZ's
# le-connection-abort-by-local.)
CONNECT_ATTEMPTS_PER_CALL = 1


class ConnectionManager:
    """Serialises connection attempts: BlueZ handles one LE connection attempt per adapter."""

    def __init__(self, attempts_per_call: int = CONNECT_ATTEMPTS_PER_CALL) -> None:
        self._lock = asyncio.Lock()
        self._attempts_per_call = attempts_per_call

    async def connect(
        self,
        device: BLEDevice,
        *,
        name: str,
        disconnected_callback: Callable[[BleakClientWithServiceCache], None] | None = None,
    ) -> BleakClientWithServiceCache:
        """A connected client with services resolved; raises bleak's errors on failure."""
        async with self._lock:
            return await establish_connection(
                BleakClientWithServiceCache,
                device,
                name,
                disconnected_callback=disconnected_callback,
                max_attempts=self._attempts_per_call,
            )
