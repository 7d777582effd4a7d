"""Keeping the dashboard current: the watchers, the debounced snapshot, the selected
bridge's FDB and the poll of what has no events. Mixed into KvmtuiApp.

The kernel's part and libvirt's part are read by separate workers, each with its own
in-flight guard, and the screen shows their merge: a hung or lost libvirtd leaves the
last guests on screen (marked stale) and never holds up a new tap. Netlink events
schedule one debounced kernel refresh (a storm of events is one refresh; link events
re-read links only, keeping the FDB); libvirt events, one libvirt read; neighbour
events re-read only the FDB of the bridge on screen, one read at a time. Counters and
bonding files, which have no events, are polled, and the poll re-arms only after the
previous one finished.
"""

from __future__ import annotations

import time
from collections import deque
from datetime import datetime, timezone

from textual import work

from kvmtui.collect.watch import HostEvent, LibvirtWatcher, NetlinkWatcher, SourceStatus
from kvmtui.counters import rates_between
from kvmtui.model import Snapshot
from kvmtui.ui.details_pane import HISTORY
from kvmtui.ui.memory import AfterBurst
from kvmtui.ui.messages import (BridgeFdbReady, HostChanged, LibvirtReady, PollDone, PollResult, SnapshotReady,
                                SourceChanged)
from kvmtui.views import bridge_of, with_bridge_fdb

DEBOUNCE = 0.2  # seconds: events closer than this become one refresh
LIBVIRT_TIMEOUT = 15.0  # seconds a libvirt read may take before the daemon counts as lost
SLOW = 3.0  # seconds a read may be in flight before the status line gives the data's age
STALE_TABS = ("guests", "networks")  # the panes that show libvirt's part
# Every @work names a `description` (tests/test_workers.py checks): without one, Textual
# builds it from repr() of the arguments, and repr() of a snapshot with 50,000 FDB
# entries costs the UI ~0.1 s.


class LiveUpdates:
    def init_live(self) -> None:
        self._refresh_timer = None
        self._collecting = self._dirty = self._collect_failed = False
        self._want_full = True
        self._last_collect = 0.0
        self._libvirt_timer = None
        self._libvirt_reading = self._libvirt_dirty = False
        self._libvirt_started = 0.0
        self._libvirt_reader = None
        self.libvirt = None  # the last LibvirtState merged into the snapshot
        self.libvirt_lost_at: tuple[float, str] | None = None  # monotonic, "HH:MM:SS"
        self._tab_labels: dict[str, str] = {}  # tab -> its label before it was marked stale
        self._fdb_timer = None
        self._fdb_reading = self._fdb_dirty = False
        self._after_burst = AfterBurst(self.set_timer)

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

    # -- the kernel's part -----------------------------------------------------------
    def request_refresh(self, delay: float = DEBOUNCE, full: bool = True) -> None:
        """Leading edge: a change after a quiet spell is read at once; during a burst the
        events collapse into one trailing refresh. `full=False`: links only, keeping the
        FDB (neighbour events keep that current), which costs a fraction on a big host.
        A full refresh (start, `r`, after an apply) re-reads libvirt too."""
        if full:
            self.request_libvirt_refresh(delay)
        self._want_full = self._want_full or full
        self._schedule_collect(delay)

    def _schedule_collect(self, delay: float = DEBOUNCE) -> None:
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

        from kvmtui.collect.snapshot import collect_kernel

        snapshot = collect_kernel(self.options.netns, with_fdb=full)
        if previous is not None:  # keep the FDB entries of devices that still exist
            names = {link.ifname for link in snapshot.links}
            snapshot = replace(snapshot, fdb=tuple(e for e in previous.fdb if e.ifname in names))
        self.post_message(SnapshotReady(snapshot))

    def on_snapshot_ready(self, message: SnapshotReady) -> None:
        from kvmtui.collect.snapshot import merge_libvirt

        self._collecting = self._collect_failed = False
        self.last_error = None
        self.show_snapshot(merge_libvirt(message.snapshot, self.libvirt))
        self.forget_gone_links()
        self._after_burst.shown(len(self.snapshot.links))  # a big drop: the memory handed back, once quiet
        self.request_fdb_refresh()  # the bridge on screen: read fresh, only it
        if self._dirty:  # changes during the read: one more, as full as one of them asked
            self._schedule_collect()

    def forget_gone_links(self) -> None:
        """Rates and their history only of devices that still exist."""
        names = {link.ifname for link in self.snapshot.links}
        self.rates = {name: rate for name, rate in self.rates.items() if name in names}
        self.history = {name: kept for name, kept in self.history.items() if name in names}

    # -- libvirt's part ----------------------------------------------------------------
    def request_libvirt_refresh(self, delay: float = DEBOUNCE) -> None:
        """One read at a time; events during it make one more read after it."""
        if not self.options.with_libvirt:
            return
        if self._libvirt_reading:
            self._libvirt_dirty = True
        elif self._libvirt_timer is None:
            self._libvirt_timer = self.set_timer(max(delay, 0.001), self._start_libvirt_read)

    def _start_libvirt_read(self) -> None:
        from kvmtui.collect.snapshot import LibvirtReader

        self._libvirt_timer = None
        self._libvirt_reading, self._libvirt_dirty = True, False
        self._libvirt_started = time.monotonic()
        if self._libvirt_reader is None:
            self._libvirt_reader = LibvirtReader(self.options.uri, LIBVIRT_TIMEOUT)
        self.read_libvirt(self._libvirt_reader)

    @work(thread=True, group="libvirt", description="libvirt", exit_on_error=False)
    def read_libvirt(self, reader) -> None:
        self.post_message(LibvirtReady(reader.read()))

    def on_libvirt_ready(self, message: LibvirtReady) -> None:
        from kvmtui.collect.snapshot import keep_known, merge_libvirt

        self._libvirt_reading = False
        previous, self.libvirt = self.libvirt, keep_known(self.libvirt, message.state)
        self.note_libvirt()
        if self.snapshot is not None:
            self.show_snapshot(merge_libvirt(self.snapshot, self.libvirt, previous))
        if self._libvirt_dirty:
            self.request_libvirt_refresh()

    def note_libvirt(self) -> None:
        """Lost: the watcher lost its connection or the last read failed. Since when is
        kept until a read succeeds again; the guest and network tabs say "stale"."""
        status = self.sources.get("libvirt")
        lost = (status is not None and not status.ok) or (self.libvirt is not None and self.libvirt.error is not None)
        if lost and self.libvirt_lost_at is None:
            self.libvirt_lost_at = (time.monotonic(), datetime.now(timezone.utc).strftime("%H:%M:%S"))
        elif not lost:
            self.libvirt_lost_at = None
        self.mark_stale(self.libvirt_stale())

    def libvirt_stale(self) -> bool:
        """libvirt is lost and the guests and networks on screen are the last ones seen."""
        return self.libvirt_lost_at is not None and self.libvirt is not None and self.libvirt.version is not None

    def mark_stale(self, stale: bool) -> None:
        from textual.widgets import TabbedContent

        tabs = self.query_one(TabbedContent)
        for pane in STALE_TABS:
            tab = tabs.get_tab(pane)
            if stale and pane not in self._tab_labels:
                self._tab_labels[pane] = str(tab.label)
                tab.label = f"{self._tab_labels[pane]} (stale)"
            elif not stale and pane in self._tab_labels:
                tab.label = self._tab_labels.pop(pane)

    # -- what the status line says of the data ------------------------------------------
    def kernel_freshness(self, snapshot: Snapshot) -> str:
        """"live" while events keep it current, with the time of the last read (a quiet host
        is not re-read: nothing changed); otherwise the age of what is shown."""
        netlink = self.sources.get("netlink")  # None: not started yet (it says so when it fails)
        slow = self._collecting and time.monotonic() - self._last_collect > SLOW
        if (netlink is None or netlink.ok) and not self._collect_failed and not slow:
            return f"live, read {snapshot.host.taken_at[11:19]} UTC"
        age = time.monotonic() - snapshot.monotonic
        why = "refresh failed" if self._collect_failed else "refreshing" if slow else "no events"
        return f"data of {snapshot.host.taken_at[11:19]} UTC, {age:.0f} s old ({why})"

    def libvirt_freshness(self) -> str | None:
        """None when libvirt is current (or not asked for)."""
        if not self.options.with_libvirt:
            return None
        if self.libvirt_stale():
            since, clock = self.libvirt_lost_at
            return f"libvirt lost since {clock} UTC ({time.monotonic() - since:.0f} s), last known guests shown"
        if self.libvirt_lost_at is not None:
            return "libvirt: unreachable"
        waited = time.monotonic() - self._libvirt_started
        if self._libvirt_reading and waited > SLOW:
            return f"libvirt: no answer for {waited:.0f} s"
        if self.libvirt is None:
            return "libvirt: reading…"
        return None

    # -- the FDB of the bridge on screen ---------------------------------------------------
    def request_fdb_refresh(self) -> None:
        """At most one FDB read in flight (an older read could otherwise land after a newer
        one); events during a read make one trailing read."""
        if not self.live:
            return
        if self._fdb_reading:
            self._fdb_dirty = True
        elif self._fdb_timer is None:
            self._fdb_timer = self.set_timer(DEBOUNCE, self._start_fdb_refresh)

    def _start_fdb_refresh(self) -> None:
        self._fdb_timer = None
        self._fdb_dirty = False
        bridge = self.snapshot.link(bridge_of(self.snapshot, self._selected_ifname())) if self.snapshot else None
        if bridge is not None:
            self._fdb_reading = True
            names = {link.ifindex: link.ifname for link in self.snapshot.links}
            self.read_fdb(bridge.ifname, bridge.ifindex, names)

    @work(thread=True, group="fdb", description="fdb", exit_on_error=False)
    def read_fdb(self, bridge: str, ifindex: int, names: dict[int, str]) -> None:
        from kvmtui.collect.netlink import read_bridge_fdb
        from kvmtui.collect.netns import run_in_netns

        entries = run_in_netns(self.options.netns, lambda: read_bridge_fdb(ifindex, names))
        self.post_message(BridgeFdbReady(bridge, entries))

    def on_bridge_fdb_ready(self, message: BridgeFdbReady) -> None:
        self.fdb_read_done()
        if self.snapshot is None or self.snapshot.link(message.bridge) is None:
            return
        self.snapshot = with_bridge_fdb(self.snapshot, message.bridge, message.entries)
        self.show_fdb()
        self.schedule_audit()

    def fdb_read_done(self) -> None:
        self._fdb_reading = False
        if self._fdb_dirty:
            self.request_fdb_refresh()

    def live_worker_failed(self, group: str | None) -> None:
        """After the app has shown a worker's error: release its guard, keep schedules going."""
        if group == "collect":
            self._collecting, self._collect_failed = False, True
            if self._dirty:
                self._schedule_collect()
        elif group == "libvirt":
            self._libvirt_reading = False
            if self._libvirt_dirty:
                self.request_libvirt_refresh()
        elif group == "fdb":
            self.fdb_read_done()
        elif group == "poll":
            self.set_timer(self.options.interval, self.poll_once)

    # -- what has no events -----------------------------------------------------------------
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

    def on_host_changed(self, message: HostChanged) -> None:
        event = message.event
        if event.source == "libvirt":
            self.request_libvirt_refresh()
        elif event.what in ("RTM_NEWNEIGH", "RTM_DELNEIGH") and not event.resync:
            self.request_fdb_refresh()
        else:
            self.request_refresh(full=event.resync)
