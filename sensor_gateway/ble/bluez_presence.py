"""Is bluetoothd running? Follows the owner of the `org.bluez` name on the system bus.

When bluetoothd restarts (crash, package upgrade, `systemctl restart bluetooth`) its bus
name leaves and returns, every link and the discovery session die with it, and bleak keeps
its cached view of the old daemon's objects (it only resets on a D-Bus *connection* loss).
`BlueZPresence` watches `NameOwnerChanged` for `org.bluez` on a D-Bus connection of its
own, so the BLE source can mark every link down the moment BlueZ leaves and start over
(fresh bleak state, a new scan) as soon as it returns. `forget_bleak_bluez_state` makes
bleak drop its cache for this event loop.
"""

from __future__ import annotations

import asyncio
import logging

from dbus_fast import BusType, Message, MessageType
from dbus_fast.aio import MessageBus

log = logging.getLogger(__name__)

BLUEZ_BUS_NAME = "org.bluez"


def _dbus_call(member: str, body: list[str]) -> Message:
    """A call to the bus daemon itself (org.freedesktop.DBus), one string argument."""
    return Message(
        destination="org.freedesktop.DBus",
        path="/org/freedesktop/DBus",
        interface="org.freedesktop.DBus",
        member=member,
        signature="s",
        body=body,
    )


_MATCH_RULE = (
    "type='signal',sender='org.freedesktop.DBus',interface='org.freedesktop.DBus',"
    f"member='NameOwnerChanged',arg0='{BLUEZ_BUS_NAME}'"
)
# What can go wrong reaching the system bus (no daemon, no permission, a broken socket).
BUS_ERRORS = (OSError, EOFError, ValueError, ConnectionError, asyncio.TimeoutError)


class BlueZPresence:
    """`present` is True while some process owns `org.bluez`; `wait(present)` awaits a change."""

    def __init__(self, bus: MessageBus) -> None:
        self._bus = bus
        self.present = False
        self._changed = asyncio.Event()

    @classmethod
    async def connect(cls) -> BlueZPresence | None:
        """Start watching; None when the system bus cannot be reached (then nothing is known)."""
        try:
            bus = await MessageBus(bus_type=BusType.SYSTEM).connect()
        except BUS_ERRORS as exc:
            log.info("cannot watch for bluetoothd restarts (no system bus: %s)", exc)
            return None
        presence = cls(bus)
        bus.add_message_handler(presence._on_message)
        try:
            await bus.call(_dbus_call("AddMatch", [_MATCH_RULE]))
            reply = await bus.call(_dbus_call("NameHasOwner", [BLUEZ_BUS_NAME]))
        except BUS_ERRORS as exc:
            log.info("cannot watch for bluetoothd restarts: %s", exc)
            presence.close()
            return None
        if reply is not None and reply.message_type == MessageType.METHOD_RETURN:
            presence._set(bool(reply.body[0]))
        return presence

    def _on_message(self, message: Message) -> None:
        if (
            message.message_type == MessageType.SIGNAL
            and message.member == "NameOwnerChanged"
            and message.body
            and message.body[0] == BLUEZ_BUS_NAME
        ):
            self._set(bool(message.body[2]))

    def _set(self, present: bool) -> None:
        if present != self.present:
            self.present = present
            self._changed.set()
            self._changed = asyncio.Event()

    async def wait(self, present: bool) -> None:
        """Return once BlueZ is (`present=True`) or is not (`False`) on the bus."""
        while self.present != present:
            await self._changed.wait()

    def close(self) -> None:
        self._bus.disconnect()


def forget_bleak_bluez_state() -> None:
    """Make bleak drop what it cached from a BlueZ that is gone (for this event loop).

    bleak resets its BlueZ manager only when its own D-Bus connection dies; closing that
    connection does exactly that (devices reported disconnected, caches cleared), and the
    next scan or connect opens a fresh one and reads the new daemon's objects. This reaches
    into bleak's manager module (tested with bleak 3.1); if its layout changes, nothing
    is reset and the links still recover once bleak sees the new daemon's objects.
    """
    try:
        from bleak.backends.bluezdbus import manager
    except ImportError:  # not the BlueZ backend
        return
    instances = getattr(manager, "_global_instances", {})
    instance = instances.get(asyncio.get_running_loop())
    bus = getattr(instance, "_bus", None)
    if bus is not None and getattr(bus, "connected", False):
        bus.disconnect()
