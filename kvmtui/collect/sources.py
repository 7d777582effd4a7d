"""The live dashboard's sources: each reads its part of the host, merges it into the
Snapshot on screen, names the watcher that says when to read again, and keeps its own
stale/error state for the status line (no Textual here).

The UI runs `read` in a worker thread (it blocks: a namespace to enter, a daemon that
may hang) and everything else on its own thread, one read of a source at a time; so
`read` touches no state of the source but what only reads use. A new source (Open
vSwitch, say) is one more class with these methods, listed in ui/live.py.
"""

from __future__ import annotations

import errno
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime, timezone
from functools import partial
from typing import TYPE_CHECKING, Protocol

from kvmtui.collect.snapshot import LibvirtReader, collect_kernel, keep_known, merge_libvirt
from kvmtui.collect.watch import EventSink, LibvirtWatcher, NetlinkWatcher, SourceStatus, StatusSink
from kvmtui.errors import NetlinkError
from kvmtui.model import FdbEntry, Snapshot

if TYPE_CHECKING:
    from kvmtui.collect.libvirt import LibvirtState

SLOW = 3.0  # seconds a read may be in flight before the status line gives the data's age
LIBVIRT_TIMEOUT = 15.0  # seconds a libvirt read may take before the daemon counts as lost


class Watcher(Protocol):
    def start(self) -> None: ...

    def stop(self) -> None: ...


@dataclass
class SourceHealth:
    """What the status line says of a source. Mutable; the UI thread's only."""

    watch: SourceStatus | None = None  # its watcher's last word; None: not heard from yet
    failed: bool = False  # the last read raised
    lost_at: tuple[float, str] | None = None  # monotonic, "HH:MM:SS" UTC: lost since then

    @property
    def watching(self) -> bool:
        return self.watch is None or self.watch.ok

    def note_lost(self, lost: bool) -> None:
        """Since when is kept until the source is back."""
        if lost and self.lost_at is None:
            self.lost_at = (time.monotonic(), datetime.now(timezone.utc).strftime("%H:%M:%S"))
        elif not lost:
            self.lost_at = None


class Source(Protocol):
    name: str  # the key of its watcher's SourceStatus, and of its worker
    health: SourceHealth

    def watcher(self, on_event: EventSink, on_status: StatusSink) -> Watcher: ...

    def begin(self, shown: Snapshot | None) -> Callable[[], object]:
        """On the UI thread, as a read starts: the read itself, blocking, for a worker
        thread; it returns this source's part (an immutable value)."""

    def merge(self, shown: Snapshot | None, part: object) -> Snapshot | None:
        """On the UI thread: the snapshot to show with `part` in place of this source's last part."""

    def read_failed(self) -> None: ...

    def watch_changed(self, status: SourceStatus) -> None: ...

    def freshness(self, shown: Snapshot | None, reading_for: float) -> str | None:
        """The status line's words on this source's data; None when there is nothing to say."""


class KernelSource:
    """Links, addresses, routes, FDB, bonds and sysctls of one namespace. A read after link
    events only (`full=False`) keeps the FDB shown, which neighbour events keep current:
    a fraction of the cost on a big host."""

    name = "netlink"

    def __init__(self, netns: str | None) -> None:
        self.netns = netns
        self.health = SourceHealth()
        self.want_full = True  # the next read re-reads the FDB too

    def watcher(self, on_event: EventSink, on_status: StatusSink) -> Watcher:
        return NetlinkWatcher(self.netns, on_event, on_status)

    def begin(self, shown: Snapshot | None) -> Callable[[], Snapshot]:
        """A full read if one was asked for since the last; else one keeping the FDB shown."""
        full, self.want_full = self.want_full or shown is None, False
        return partial(self.read, None if full else shown)

    def read(self, previous: Snapshot | None) -> Snapshot:
        snapshot = collect_kernel(self.netns, with_fdb=previous is None)
        if previous is not None:  # keep the FDB entries of devices that still exist
            names = {link.ifname for link in snapshot.links}
            snapshot = replace(snapshot, fdb=tuple(e for e in previous.fdb if e.ifname in names))
        return snapshot

    def read_fdb(self, bridge_ifindex: int, names: dict[int, str]) -> tuple[FdbEntry, ...]:
        """One bridge's FDB, after neighbour events: no full dump for a few new MACs. A bridge
        deleted since it was shown (an apply, another admin) has none: that is no error."""
        from kvmtui.collect.netlink import read_bridge_fdb
        from kvmtui.collect.netns import run_in_netns

        try:
            return run_in_netns(self.netns, lambda: read_bridge_fdb(bridge_ifindex, names))
        except NetlinkError as exc:
            if exc.errno != errno.ENODEV:
                raise
            return ()

    def merge(self, shown: Snapshot | None, part: Snapshot) -> Snapshot:
        """The kernel's part is the base the other sources merge into: it is the snapshot."""
        self.health.failed = False
        return part

    def read_failed(self) -> None:
        self.health.failed = True

    def watch_changed(self, status: SourceStatus) -> None:
        self.health.watch = status

    def freshness(self, shown: Snapshot | None, reading_for: float) -> str | None:
        """"live" while events keep it current, with the time of the last read (a quiet host
        is not re-read: nothing changed); otherwise the age of what is shown."""
        if shown is None:
            return None
        slow = reading_for > SLOW
        if self.health.watching and not self.health.failed and not slow:
            return f"live, read {shown.host.taken_at[11:19]} UTC"
        age = time.monotonic() - shown.monotonic
        why = "refresh failed" if self.health.failed else "refreshing" if slow else "no events"
        return f"data of {shown.host.taken_at[11:19]} UTC, {age:.0f} s old ({why})"


class LibvirtSource:
    """Guests and networks, host-wide, read apart from the kernel's part: a hung or lost
    libvirtd leaves the last guests on screen (stale) and never holds up a new tap."""

    name = "libvirt"

    def __init__(self, uri: str | None, timeout: float = LIBVIRT_TIMEOUT) -> None:
        self.uri = uri
        self.health = SourceHealth()
        self.state: LibvirtState | None = None  # the last state merged
        self._reader = LibvirtReader(uri, timeout)  # used by reads only, one at a time

    def watcher(self, on_event: EventSink, on_status: StatusSink) -> Watcher:
        return LibvirtWatcher(self.uri, on_event, on_status)

    def begin(self, shown: Snapshot | None) -> Callable[[], LibvirtState]:
        return self._reader.read

    def merge(self, shown: Snapshot | None, part: LibvirtState | None = None) -> Snapshot | None:
        """`part=None`: the last state into a fresh kernel part. A failed read keeps the
        guests last seen, marked with the error."""
        previous = self.state
        if part is not None:
            self.state = keep_known(previous, part)
            self.note_lost()
        if shown is None:
            return None
        return merge_libvirt(shown, self.state, previous if part is not None else None)

    def read_failed(self) -> None:
        """The read raised (not a reported error): the schedule goes on, the state stays."""

    def watch_changed(self, status: SourceStatus) -> None:
        self.health.watch = status
        self.note_lost()

    def note_lost(self) -> None:
        """Lost: the watcher lost its connection or the last read failed."""
        self.health.note_lost(not self.health.watching or (self.state is not None and self.state.error is not None))

    @property
    def stale(self) -> bool:
        """libvirt is lost and the guests and networks on screen are the last ones seen."""
        return self.health.lost_at is not None and self.state is not None and self.state.version is not None

    def freshness(self, shown: Snapshot | None, reading_for: float) -> str | None:
        """None when libvirt is current."""
        if self.stale:
            since, clock = self.health.lost_at
            return f"libvirt lost since {clock} UTC ({time.monotonic() - since:.0f} s), last known guests shown"
        if self.health.lost_at is not None:
            return "libvirt: unreachable"
        if reading_for > SLOW:
            return f"libvirt: no answer for {reading_for:.0f} s"
        if self.state is None:
            return "libvirt: reading…"
        return None
