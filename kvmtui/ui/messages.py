"""What workers and watchers tell the app. Every payload is immutable."""

from __future__ import annotations

from collections.abc import Mapping
import functools
from dataclasses import dataclass
from types import MappingProxyType
from typing import TYPE_CHECKING

from textual.css.query import NoMatches
from textual.message import Message

from kvmtui.collect.watch import HostEvent, SourceStatus
from kvmtui.guard.journal import GuardRecord
from kvmtui.model import Bond, FdbEntry, LinkStats, OvsState, Snapshot

if TYPE_CHECKING:
    from kvmtui.collect.libvirt import LibvirtState


class PartRead(Message):
    """A source's part, freshly read: the kernel's (a Snapshot, which the other sources'
    parts are merged into) or libvirt's (a LibvirtState: guests, networks, or the error)."""

    def __init__(self, source: str, part: Snapshot | LibvirtState) -> None:
        super().__init__()
        self.source = source
        self.part = part


@dataclass(frozen=True, slots=True)
class PollResult:
    """What the kernel gives no events for: counters and the bonding files."""

    taken: float
    counters: Mapping[str, LinkStats]
    bonds: tuple[Bond, ...]
    ovs: OvsState | None = None  # Open vSwitch, polled too (it has no events) when `ovs_read`
    ovs_read: bool = False
    ovs_fdb: bool = False  # its FDB was read too (one poll in OVS_FDB_EVERY)

    def __post_init__(self) -> None:
        """Counters cross threads: a read-only view of a private copy, whatever was passed."""
        object.__setattr__(self, "counters", MappingProxyType(dict(self.counters)))


class PollDone(Message):
    def __init__(self, result: PollResult) -> None:
        super().__init__()
        self.result = result


class BridgeFdbReady(Message):
    """A fresh FDB of one bridge, read after neighbour events."""

    def __init__(self, bridge: str, entries: tuple[FdbEntry, ...]) -> None:
        super().__init__()
        self.bridge = bridge
        self.entries = entries


class HostChanged(Message):
    def __init__(self, event: HostEvent) -> None:
        super().__init__()
        self.event = event


class SourceChanged(Message):
    def __init__(self, status: SourceStatus) -> None:
        super().__init__()
        self.status = status


class NodeChosen(Message):
    """The topology tree's cursor moved to a node (its key)."""

    def __init__(self, key: str) -> None:
        super().__init__()
        self.key = key


class ApplyStep(Message):
    def __init__(self, number: int, total: int, command: str, state: str) -> None:
        super().__init__()
        self.number, self.total, self.command, self.state = number, total, command, state


class ApplyDone(Message):
    """`guard`: the journal after a guarded apply (counting down once verified), else None."""

    def __init__(self, ok: bool, summary: str, guard: GuardRecord | None = None) -> None:
        super().__init__()
        self.ok = ok
        self.summary = summary
        self.guard = guard


@dataclass(frozen=True, slots=True)
class GuardView:
    """An open guard as the bar shows it; `orphaned` and `starting` need file locks, so the
    worker that reads the journal decides them, not the UI thread."""

    record: GuardRecord
    orphaned: bool = False  # its guard died: keep discards the journal, revert reverts here
    starting: bool = False  # journalled a moment ago, its guard not up yet


class GuardsRead(Message):
    """The open guards of the namespace on screen, and the journals of those watched that
    have ended since (kept, reverted... by anyone): their outcome is told once."""

    def __init__(self, views: tuple[GuardView, ...], ended: tuple[GuardRecord, ...], error: str | None = None) -> None:
        super().__init__()
        self.views, self.ended, self.error = views, ended, error


class GuardActed(Message):
    """What `y` (keep) or `u`/`n` (revert now) did: the journal afterwards, or why not."""

    def __init__(self, guard_id: str, verb: str, record: GuardRecord | None, error: str | None = None) -> None:
        super().__init__()
        self.guard_id, self.verb, self.record, self.error = guard_id, verb, record, error


class FindingsReady(Message):
    def __init__(self, findings: tuple) -> None:
        super().__init__()
        self.findings = findings


def while_shown(handler):
    """A worker's result may land while the app shuts down, its screen already gone: it is
    dropped then, not raised (NoMatches from a torn-down screen)."""
    @functools.wraps(handler)
    def handle(app, message) -> None:
        try:
            handler(app, message)
        except NoMatches:
            if not (app._closing or app._closed):
                raise
    return handle
