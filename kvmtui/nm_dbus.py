"""Talking to NetworkManager over D-Bus (dbus-fast), for the checkpoints of guarded changes
and for the profiles a saved change writes: one connection per call, on the system bus
that $DBUS_SYSTEM_BUS_ADDRESS names, else the default socket. Synchronous: callers are
plain threads and processes without an event loop (or with one: then a thread of its own)."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

from dbus_fast import BusType, Message, MessageFlag, MessageType
from dbus_fast.aio import MessageBus

T = TypeVar("T")
SYSTEM_BUS = "unix:path=/run/dbus/system_bus_socket"
NM, NM_PATH = "org.freedesktop.NetworkManager", "/org/freedesktop/NetworkManager"
DEVICE = f"{NM}.Device"
BUS, BUS_PATH = "org.freedesktop.DBus", "/org/freedesktop/DBus"
CONNECT_TIMEOUT = 1.0  # no bus, or a socket nobody answers on, must not hold up an apply
CALL_TIMEOUT = 30.0  # a rollback re-activates the devices before NM answers


class NoNetworkManager(Exception):
    """No system bus, or no NetworkManager on it: nothing of NM's to guard or write."""


class DBusError(Exception):
    """The bus or NM answered a call with an error (its text), or not in time."""


def bus_address() -> str:
    return os.environ.get("DBUS_SYSTEM_BUS_ADDRESS") or SYSTEM_BUS


class NetworkManagerBus:
    def __init__(self, bus: MessageBus) -> None:
        self.bus = bus

    async def call(self, path: str, interface: str, member: str, signature: str = "", body: tuple = (),
                   destination: str = NM) -> list:
        # NO_AUTOSTART: an activatable NM that is not running is not started by asking it
        try:
            reply = await asyncio.wait_for(self.bus.call(Message(
                destination=destination, path=path, interface=interface, member=member, signature=signature,
                body=list(body), flags=MessageFlag.NO_AUTOSTART)), CALL_TIMEOUT)
        except asyncio.TimeoutError:
            raise DBusError(f"no answer to {member} within {CALL_TIMEOUT:.0f} s") from None
        if reply.message_type == MessageType.ERROR:
            raise DBusError(str(reply.body[0]) if reply.body else reply.error_name)
        return reply.body

    async def prop(self, path: str, interface: str, name: str):
        return (await self.call(path, f"{BUS}.Properties", "Get", "ss", (interface, name)))[0].value

    async def checkpoints(self) -> list[str]:
        return await self.prop(NM_PATH, NM, "Checkpoints")

    async def name_of(self, device: str) -> str:
        try:
            return await self.prop(device, DEVICE, "Interface")
        except DBusError:  # deleted: NM no longer shows the object, nor its name
            return f"device #{device.rsplit('/', 1)[-1]} (deleted meanwhile)"


def with_nm(work: Callable[[NetworkManagerBus], Awaitable[T]]) -> T:
    """work(NM) on a fresh connection, in asyncio.run: in this thread, or in a fresh one when
    this one runs an event loop already."""
    async def connected() -> T:
        try:
            bus = await asyncio.wait_for(MessageBus(bus_address=bus_address(), bus_type=BusType.SYSTEM).connect(),
                                         CONNECT_TIMEOUT)
        except Exception as exc:  # noqa: BLE001 - no socket, refused, auth, timeout: no bus to speak of
            raise NoNetworkManager(f"no system bus at {bus_address()}: {exc or type(exc).__name__}") from None
        try:
            nm = NetworkManagerBus(bus)
            if not (await nm.call(BUS_PATH, BUS, "NameHasOwner", "s", (NM,), destination=BUS))[0]:
                raise NoNetworkManager(f"NetworkManager is not running on the system bus at {bus_address()}")
            return await work(nm)
        finally:
            bus.disconnect()

    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(connected())
    with ThreadPoolExecutor(1, thread_name_prefix="kvmtui-nm") as pool:  # asyncio.run cannot nest in a loop
        return pool.submit(lambda: asyncio.run(connected())).result()
