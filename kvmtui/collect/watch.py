"""Change notifications from the kernel and libvirt, for the live dashboard.

Neither watcher collects anything: they only say *that* something changed, and the
dashboard schedules one debounced snapshot. Both run on threads of their own, so a
slow namespace setup or a hung libvirtd can never block the screen; they report
through plain callbacks (the UI turns them into messages).
"""

from __future__ import annotations

import asyncio
import errno
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from pyroute2 import AsyncIPRoute
from pyroute2.netlink.rtnl import (
    RTMGRP_IPV4_IFADDR,
    RTMGRP_IPV4_ROUTE,
    RTMGRP_IPV6_IFADDR,
    RTMGRP_IPV6_ROUTE,
    RTMGRP_LINK,
    RTMGRP_NEIGH,
)

NETLINK_GROUPS = (RTMGRP_LINK | RTMGRP_NEIGH | RTMGRP_IPV4_IFADDR | RTMGRP_IPV6_IFADDR
                  | RTMGRP_IPV4_ROUTE | RTMGRP_IPV6_ROUTE)


@dataclass(frozen=True, slots=True)
class HostEvent:
    """Something changed. `source` is "netlink" or "libvirt"; `what` says what, for the log."""

    source: str
    what: str
    resync: bool = False  # events were lost (ENOBUFS, reconnect): everything must be re-read


@dataclass(frozen=True, slots=True)
class SourceStatus:
    """A source came or went: shown on screen, e.g. "libvirt: connection lost, retrying"."""

    source: str
    ok: bool
    text: str


EventSink = Callable[[HostEvent], None]
StatusSink = Callable[[SourceStatus], None]


class NetlinkWatcher:
    """Link, address, route and neighbour/FDB events of one namespace, through pyroute2."""

    def __init__(self, netns: str | None, on_event: EventSink, on_status: StatusSink, rcvbuf: int | None = None):
        self.netns, self.on_event, self.on_status, self.rcvbuf = netns, on_event, on_status, rcvbuf
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._main, name="netlink-watch", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()

    def _main(self) -> None:
        asyncio.run(self._watch_forever())

    async def _watch_forever(self) -> None:
        while not self._stop.is_set():
            try:
                await self._watch()
            except OSError as exc:
                if exc.errno == errno.ENOBUFS:  # the kernel dropped events: re-read all, listen again
                    self.on_event(HostEvent("netlink", "event buffer overflow", resync=True))
                    continue
                self.on_status(SourceStatus("netlink", False, f"netlink events: {exc.strerror or exc}"))
                await asyncio.sleep(2)
            except Exception as exc:  # noqa: BLE001 - any failure: say so, retry
                self.on_status(SourceStatus("netlink", False, f"netlink events: {exc}"))
                await asyncio.sleep(2)

    async def _watch(self) -> None:
        async with AsyncIPRoute(netns=self.netns) if self.netns else AsyncIPRoute() as ipr:
            await ipr.bind(groups=NETLINK_GROUPS)
            if self.rcvbuf:
                ipr.socket.setsockopt(1, 8, self.rcvbuf)  # SOL_SOCKET, SO_RCVBUF (tests provoke ENOBUFS)
            self.on_status(SourceStatus("netlink", True, "netlink events"))
            while not self._stop.is_set():
                async for msg in ipr.get():
                    event = msg.get("event") or "netlink"
                    self.on_event(HostEvent("netlink", event))
                    if self._stop.is_set():
                        return


class LibvirtWatcher:
    """Domain lifecycle/device and network events; reconnects when libvirtd comes back.

    libvirt's default event loop is registered before any connection is opened (it
    must be), keepalive detects a dead daemon, and the close callback starts the
    reconnect loop.
    """

    RETRY_SECONDS = 2.0
    _loop_registered = False
    _loop_lock = threading.Lock()

    def __init__(self, uri: str | None, on_event: EventSink, on_status: StatusSink):
        self.uri, self.on_event, self.on_status = uri, on_event, on_status
        self._stop = threading.Event()
        self._closed = threading.Event()

    @classmethod
    def register_event_loop(cls) -> None:
        """Once per process, before the first connection; runs the loop on a daemon thread."""
        import libvirt

        with cls._loop_lock:
            if cls._loop_registered:
                return
            libvirt.registerErrorHandler(lambda *_: None, None)
            libvirt.virEventRegisterDefaultImpl()

            def run() -> None:
                while True:
                    libvirt.virEventRunDefaultImpl()

            threading.Thread(target=run, name="libvirt-events", daemon=True).start()
            cls._loop_registered = True

    def start(self) -> None:
        self.register_event_loop()
        threading.Thread(target=self._main, name="libvirt-watch", daemon=True).start()

    def stop(self) -> None:
        self._stop.set()
        self._closed.set()

    def _main(self) -> None:
        import libvirt

        from kvmtui.collect.libvirt import open_connection, resolve_uri

        uri = resolve_uri(self.uri)
        lost_before = False
        while not self._stop.is_set():
            try:
                conn = open_connection(uri)
            except Exception as exc:  # noqa: BLE001 - LibvirtUnavailable or worse: retry
                self.on_status(SourceStatus("libvirt", False, f"{exc}; retrying"))
                lost_before = True
                self._stop.wait(self.RETRY_SECONDS)
                continue
            self._closed.clear()
            try:
                self._subscribe(conn, libvirt)
                self.on_status(SourceStatus("libvirt", True, f"libvirt {uri}"))
                if lost_before:
                    self.on_event(HostEvent("libvirt", "reconnected", resync=True))
                self._closed.wait()
            finally:
                try:
                    conn.close()
                except libvirt.libvirtError:
                    pass
            if not self._stop.is_set():
                self.on_status(SourceStatus("libvirt", False, f"libvirt {uri}: connection lost, retrying"))
                self.on_event(HostEvent("libvirt", "connection lost", resync=True))
                lost_before = True
                time.sleep(self.RETRY_SECONDS)

    def _subscribe(self, conn, libvirt) -> None:
        def closed(_conn, _reason, _opaque) -> None:
            self._closed.set()

        def domain_event(_conn, dom, *_args) -> None:
            self.on_event(HostEvent("libvirt", f"domain {dom.name()}"))

        def network_event(_conn, net, *_args) -> None:
            self.on_event(HostEvent("libvirt", f"network {net.name()}"))

        conn.registerCloseCallback(closed, None)
        try:
            conn.setKeepAlive(5, 3)
        except libvirt.libvirtError:
            pass  # test:/// and other local drivers have no keepalive
        for event_id in (libvirt.VIR_DOMAIN_EVENT_ID_LIFECYCLE, libvirt.VIR_DOMAIN_EVENT_ID_DEVICE_ADDED,
                         libvirt.VIR_DOMAIN_EVENT_ID_DEVICE_REMOVED):
            conn.domainEventRegisterAny(None, event_id, domain_event, None)
        conn.networkEventRegisterAny(None, libvirt.VIR_NETWORK_EVENT_ID_LIFECYCLE, network_event, None)
