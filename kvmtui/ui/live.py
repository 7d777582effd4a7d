"""Keeping the dashboard current: an object the app owns, holding the sources (kernel,
libvirt), their watchers, one SingleFlight per read, and the poll of what has no events.

Each source is read by its own worker, one read at a time, and the screen shows their
merge: a hung or lost libvirtd leaves the last guests on screen (marked stale) and never
holds up a new tap. Netlink events schedule one debounced kernel read (a storm of events
is one read; link events re-read links only, keeping the FDB); libvirt events, one
libvirt read; neighbour events re-read only the FDB of the bridge on screen. Counters
and bonding files, which have no events, are polled, and the poll re-arms only after
the previous one finished. Workers post immutable messages; the app's handlers pass
them here, and what reaches the screen goes through the app's show_* methods.
"""

from __future__ import annotations

from collections import deque
from dataclasses import replace
from typing import Protocol

from kvmtui.collect.sources import LIBVIRT_TIMEOUT, KernelSource, LibvirtSource, Source
from kvmtui.collect.watch import HostEvent, SourceStatus
from kvmtui.counters import LinkRates, rates_between
from kvmtui.model import FdbEntry, OvsState, Snapshot
from kvmtui.ui.details_pane import HISTORY
from kvmtui.ui.memory import AfterBurst
from kvmtui.ui.messages import BridgeFdbReady, HostChanged, PartRead, PollDone, PollResult, SourceChanged
from kvmtui.ui.single_flight import DEBOUNCE, SingleFlight
from kvmtui.views import bridge_of, with_bridge_fdb

FDB = "fdb"  # the worker group of the FDB read; a source's worker is named after the source
POLL = "poll"
OVS_FDB_EVERY = 5  # polls: OVS's FDB (ovs-appctl fdb/show, heavy on a busy bridge) is re-read one poll in 5
# Every worker names a `description` (tests/test_workers.py checks): without one, Textual
# builds it from repr() of the arguments, and repr() of a snapshot with 50,000 FDB entries
# costs the UI ~0.1 s. A failure reaches the app's one worker-error handler (`worker_failed`).


class Dashboard(Protocol):
    """What the live updates need of the app (KvmtuiApp): its options and timers, the
    snapshot on screen and the selection, and the show_* methods that touch widgets."""

    options: object
    snapshot: Snapshot | None
    last_error: str | None

    def set_timer(self, delay: float, callback): ...

    def run_worker(self, work, **options): ...

    def post_message(self, message) -> bool: ...

    def selected_ifname(self) -> str | None: ...

    def show_snapshot(self, snapshot: Snapshot) -> None: ...

    def mark_stale(self, stale: bool) -> None: ...


class LiveUpdates:
    def __init__(self, app: Dashboard, active: bool) -> None:
        """`active`: a live host (False: a recorded snapshot, nothing is read)."""
        options = app.options
        self.app, self.active, self.interval = app, active, options.interval
        self.kernel = KernelSource(options.netns)
        self.libvirt = LibvirtSource(options.uri, LIBVIRT_TIMEOUT) if options.with_libvirt else None
        self.sources: dict[str, Source] = {s.name: s for s in (self.kernel, self.libvirt) if s is not None}
        self.flights = {name: SingleFlight(lambda s=source: self._start_read(s), app.set_timer)
                        for name, source in self.sources.items()}
        self.fdb = SingleFlight(self._start_fdb_read, app.set_timer)
        self._watchers: list = []
        self._counters: tuple[float, dict] | None = None
        self._polls = 0
        self.rates: dict[str, LinkRates] = {}
        self.history: dict[str, deque[LinkRates]] = {}
        self.after_burst = AfterBurst(app.set_timer)

    def start(self) -> None:
        app = self.app
        for source in self.sources.values():  # libvirt's watcher registers libvirt's event loop first
            self._watchers.append(source.watcher(lambda e: app.post_message(HostChanged(e)),
                                                 lambda s: app.post_message(SourceChanged(s))))
        for watcher in self._watchers:
            watcher.start()
        self.request_refresh(0)
        app.set_timer(self.interval, self.poll_once)

    def stop(self) -> None:
        for watcher in self._watchers:
            watcher.stop()

    # -- the sources' reads -----------------------------------------------------------
    def request_refresh(self, delay: float = DEBOUNCE, full: bool = True) -> None:
        """`full=False`: links only, keeping the FDB (neighbour events keep it current). A
        full refresh (start, `r`, after an apply) re-reads every source."""
        self.kernel.want_full = self.kernel.want_full or full
        for name, flight in self.flights.items():
            if full or name == self.kernel.name:
                flight.request(delay)

    def _start_read(self, source: Source) -> None:
        app, name, read = self.app, source.name, source.begin(self.app.snapshot)
        app.run_worker(lambda: app.post_message(PartRead(name, read())), thread=True, group=name, description=name,
                       exit_on_error=False)

    def part_read(self, name: str, part: object) -> None:
        source, before = self.sources[name], self.app.snapshot
        shown = source.merge(before, part)
        if source is self.kernel:
            for other in self.sources.values():
                if other is not self.kernel:
                    shown = other.merge(shown, None)
            self.app.last_error = None
        else:
            self.app.mark_stale(self.stale)
        if shown is not None:
            self.app.show_snapshot(shown)
        if source is self.kernel:
            self.forget_gone_links(shown)
            self.after_burst.shown(len(shown.links))  # a big drop: the memory handed back, once quiet
            self.request_fdb_refresh()  # the bridge on screen: read fresh, only it
        self.flights[name].done()  # events during the read: one more, as full as one of them asked

    def forget_gone_links(self, snapshot: Snapshot) -> None:
        """Rates and their history only of devices that still exist."""
        names = {link.ifname for link in snapshot.links}
        self.rates = {name: rate for name, rate in self.rates.items() if name in names}
        self.history = {name: kept for name, kept in self.history.items() if name in names}

    def source_changed(self, status: SourceStatus) -> None:
        source = self.sources.get(status.source)
        if source is not None:
            source.watch_changed(status)
            self.app.mark_stale(self.stale)

    @property
    def stale(self) -> bool:
        return self.libvirt is not None and self.libvirt.stale

    def freshness(self, shown: Snapshot | None) -> list[str]:
        """What the status line says of the data, source by source, then what a watcher
        reports (a lost libvirt already says so, with since when)."""
        said = [text for name, source in self.sources.items()
                if (text := source.freshness(shown, self.flights[name].in_flight_for()))]
        said += [s.health.watch.text for s in self.sources.values()
                 if not s.health.watching and not (s is self.libvirt and self.stale)]
        return said

    # -- the FDB of the bridge on screen ---------------------------------------------------
    def request_fdb_refresh(self) -> None:
        if self.active:
            self.fdb.request()

    def _start_fdb_read(self) -> bool:
        snapshot = self.app.snapshot
        bridge = snapshot.link(bridge_of(snapshot, self.app.selected_ifname())) if snapshot else None
        if bridge is None or bridge.kind != "bridge":  # an OVS bridge's FDB comes with the OVS read
            return False
        names = {link.ifindex: link.ifname for link in snapshot.links}
        app, kernel = self.app, self.kernel
        app.run_worker(lambda: app.post_message(BridgeFdbReady(bridge.ifname, kernel.read_fdb(bridge.ifindex, names))),
                       thread=True, group=FDB, description=FDB, exit_on_error=False)
        return True

    def fdb_read(self, bridge: str, entries: tuple[FdbEntry, ...]) -> Snapshot | None:
        """The snapshot with the fresh FDB of `bridge` (None: the bridge is gone)."""
        self.fdb.done()
        snapshot = self.app.snapshot
        if snapshot is None or snapshot.link(bridge) is None:
            return None
        return with_bridge_fdb(snapshot, bridge, entries)

    def worker_failed(self, group: str | None) -> None:
        """After the app has shown a worker's error: release its guard, keep schedules going."""
        if group in self.sources:
            self.sources[group].read_failed()
            self.flights[group].done()
        elif group == FDB:
            self.fdb.done()
        elif group == POLL:
            self.app.set_timer(self.interval, self.poll_once)

    # -- what has no events -----------------------------------------------------------------
    def poll_once(self) -> None:
        snapshot = self.app.snapshot
        bonds = tuple(link.ifname for link in snapshot.links if link.kind == "bond") if snapshot else ()
        app, counters_of, netns = self.app, self.app.selected_ifname(), self.kernel.netns

        with_fdb, self._polls = self._polls % OVS_FDB_EVERY == 0, self._polls + 1

        def poll() -> None:
            from kvmtui.collect.ovs import collect_ovs
            from kvmtui.collect.snapshot import read_polled

            ovs, _problems = collect_ovs(with_fdb=with_fdb)  # its problems come with the next kernel read
            app.post_message(PollDone(PollResult(*read_polled(netns, bonds, counters_of), ovs=ovs, ovs_read=True,
                                                 ovs_fdb=with_fdb)))

        app.run_worker(poll, thread=True, group=POLL, description=POLL, exit_on_error=False)

    def poll_done(self, result: PollResult) -> Snapshot | None:
        """Rates since the last poll; the snapshot with fresh bonds, if they changed."""
        if self._counters is not None and result.taken > self._counters[0]:
            self.rates = rates_between(self._counters[1], result.counters, result.taken - self._counters[0])
            for name, rate in self.rates.items():
                self.history.setdefault(name, deque(maxlen=HISTORY)).append(rate)
        self._counters = (result.taken, result.counters)
        if self.active:
            self.app.set_timer(self.interval, self.poll_once)
        snapshot = self.app.snapshot
        if (snapshot is not None and result.ovs_read
                and _ovs_outline(result.ovs, result.ovs_fdb) != _ovs_outline(snapshot.ovs, result.ovs_fdb)):
            self.request_refresh(full=False)  # OVS changed: the kernel read re-reads it and rebuilds the tree
        if snapshot is not None and result.bonds and result.bonds != snapshot.bonds:
            return replace(snapshot, bonds=result.bonds)
        return None

    def host_changed(self, event: HostEvent) -> None:
        if event.source == "libvirt":
            if self.libvirt is not None:
                self.flights[self.libvirt.name].request()
        elif event.what in ("RTM_NEWNEIGH", "RTM_DELNEIGH") and not event.resync:
            self.request_fdb_refresh()
        else:
            self.request_refresh(full=event.resync)


def _ovs_outline(state: OvsState | None, with_fdb: bool) -> OvsState | None:
    return state.outline(with_fdb) if state is not None else None
