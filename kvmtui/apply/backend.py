"""What a backend is: it runs one step on the host (the kernel, libvirt, later the host's
own network configuration) and tells a step that failed because its object is gone from
one that failed. Every backend refuses in a read-only process before touching anything."""

from __future__ import annotations

from typing import Protocol

from kvmtui.errors import KvmtuiError
from kvmtui.plan.steps import Step
from kvmtui.privileges import process_is_readonly


class ReadOnlyRefused(KvmtuiError):
    def __init__(self) -> None:
        super().__init__("read-only mode: kvmtui changes nothing on this host")


def refuse_if_readonly() -> None:
    if process_is_readonly():
        raise ReadOnlyRefused()


class Backend(Protocol):
    def run(self, step: Step) -> None:
        """Make the change, or raise; call refuse_if_readonly() first."""

    def gone(self, step: Step, exc: BaseException) -> bool:
        """Did `step` (an inverse, in an undo) fail because the very object it acts on was
        deleted meanwhile? Then there is nothing left to undo, and that is no failure."""
