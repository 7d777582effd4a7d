"""Keeping the dashboard current: the watchers, the debounced snapshot, the selected
bridge's FDB and the poll of what has no events. Mixed into KvmtuiApp.

Netlink and libvirt events schedule one debounced refresh (a storm of events is one
refresh; link events re-read links only, keeping the FDB); neighbour events re-read
only the FDB of the bridge on screen; counters and bonding files, which have no
events, are polled, and the poll re-arms only after the previous one finished.
"""

from __future__ import annotations

import time
from collections import deque

from textual import work

from kvmtui.collect.watch import HostEvent, LibvirtWatcher, NetlinkWatcher, SourceStatus
from kvmtui.counters import rates_between
from kvmtui.model import Snapshot
from kvmtui.ui.details_pane import HISTORY
from kvmtui.ui.messages import BridgeFdbReady, HostChanged, PollDone, PollResult, SnapshotReady, SourceChanged
from kvmtui.views import bridge_of, with_bridge_fdb

DEBOUNCE = 0.2  # seconds: events closer than this become one refresh
# Every @work names a `description` (tests/test_workers.py checks): without one, Textual
# builds it from repr() of the arguments, and repr() of a snapshot with 50,000 FDB
# entries costs the UI ~0.1 s.


class LiveUpdates:
    def start_watchers(self) -> None:
        def event(e: HostEvent) -> None:
            self.post_message(HostChanged(e))

        def status(s: SourceStatus) -> None:
            self.post_message(SourceChanged(s))

        self._watchers.append(NetlinkWatcher(self.options.netns, event, status))
        if self.options.with_libvirt:
            self._watchers.append(LibvirtWatcher(self.options.uri, event, status))  # registers libvirt's loop first
        for watcher in self._watchers:
            watcher.start()

    def request_refresh(self, delay: float = DEBOUNCE, full: bool = True) -> None:
        """Leading edge: a change after a quiet spell is read at once; during a burst the
        events collapse into one trailing refresh. `full=False`: links only, keeping the
        FDB (neighbour events keep that current), which costs a fraction on a big host."""
        self._want_full = self._want_full or full
        if self._collecting:
            self._dirty = True
        elif self._refresh_timer is None:
            quiet = time.monotonic() - self._last_collect >= DEBOUNCE
            self._refresh_timer = self.set_timer(0.001 if quiet else max(delay, 0.001), self._start_collect)

    def _start_collect(self) -> None:
        self._refresh_timer = None
        self._collecting, self._dirty = True, False
        self._last_collect = time.monotonic()
        full, self._want_full = self._want_full or self.snapshot is None, False
        self.collect(full, None if full else self.snapshot)

    @work(thread=True, group="collect", description="collect", exit_on_error=False)
    def collect(self, full: bool, previous: Snapshot | None) -> None:
        from dataclasses import replace

        from kvmtui.collect.snapshot import collect_snapshot

        o = self.options
        snapshot = collect_snapshot(netns=o.netns, uri=o.uri, with_libvirt=o.with_libvirt, with_fdb=full)
        if previous is not None:  # keep the FDB entries of devices that still exist
            names = {link.ifname for link in snapshot.links}
            snapshot = replace(snapshot, fdb=tuple(e for e in previous.fdb if e.ifname in names))
        self.post_message(SnapshotReady(snapshot))

    def request_fdb_refresh(self) -> None:
        if self._fdb_timer is None:
            self._fdb_timer = self.set_timer(DEBOUNCE, self._start_fdb_refresh)

    def _start_fdb_refresh(self) -> None:
        self._fdb_timer = None
        bridge = self.snapshot.link(bridge_of(self.snapshot, self._selected_ifname())) if self.snapshot else None
        if bridge is not None:
            names = {link.ifindex: link.ifname for link in self.snapshot.links}
            self.read_fdb(bridge.ifname, bridge.ifindex, names)

    @work(thread=True, group="fdb", description="fdb", exit_on_error=False)
    def read_fdb(self, bridge: str, ifindex: int, names: dict[int, str]) -> None:
        from kvmtui.collect.netlink import read_bridge_fdb
        from kvmtui.collect.netns import run_in_netns

        entries = run_in_netns(self.options.netns, lambda: read_bridge_fdb(ifindex, names))
        self.post_message(BridgeFdbReady(bridge, entries))

    def poll_once(self) -> None:
        bonds = tuple(link.ifname for link in self.snapshot.links if link.kind == "bond") if self.snapshot else ()
        self.poll(bonds, self._selected_ifname())

    @work(thread=True, group="poll", description="poll", exit_on_error=False)
    def poll(self, bond_names: tuple[str, ...], counters_of: str | None) -> None:
        from kvmtui.collect.snapshot import read_polled

        taken, counters, bonds = read_polled(self.options.netns, bond_names, counters_of)
        self.post_message(PollDone(PollResult(taken, counters, bonds)))

    def on_poll_done(self, message: PollDone) -> None:
        result = message.result
        if self._counters is not None and result.taken > self._counters[0]:
            self.rates = rates_between(self._counters[1], result.counters, result.taken - self._counters[0])
            for name, rate in self.rates.items():
                self.history.setdefault(name, deque(maxlen=HISTORY)).append(rate)
        self._counters = (result.taken, result.counters)
        if self.snapshot is not None and result.bonds and result.bonds != self.snapshot.bonds:
            from dataclasses import replace

            self.snapshot = replace(self.snapshot, bonds=result.bonds)
            self.show_bonds()
        if result.counters:
            self.show_details()
        self.set_timer(self.options.interval, self.poll_once)

    def on_bridge_fdb_ready(self, message: BridgeFdbReady) -> None:
        if self.snapshot is None or self.snapshot.link(message.bridge) is None:
            return
        self.snapshot = with_bridge_fdb(self.snapshot, message.bridge, message.entries)
        self.show_fdb()
        self.schedule_audit()

    def on_host_changed(self, message: HostChanged) -> None:
        event = message.event
        if event.source == "netlink" and event.what in ("RTM_NEWNEIGH", "RTM_DELNEIGH") and not event.resync:
            self.request_fdb_refresh()
        else:
            self.request_refresh(full=event.resync or event.source == "libvirt")
