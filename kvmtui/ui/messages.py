"""What workers and watchers tell the app. Every payload is immutable."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import TYPE_CHECKING

from textual.message import Message

from kvmtui.collect.watch import HostEvent, SourceStatus
from kvmtui.model import Bond, FdbEntry, LinkStats, Snapshot

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
    def __init__(self, ok: bool, summary: str) -> None:
        super().__init__()
        self.ok = ok
        self.summary = summary


class FindingsReady(Message):
    def __init__(self, findings: tuple) -> None:
        super().__init__()
        self.findings = findings
