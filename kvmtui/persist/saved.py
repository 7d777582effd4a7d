"""A plan's change to the saved configuration, as the confirmation shows it (pure: the
files are read through the function given)."""

from __future__ import annotations

from dataclasses import asdict, dataclass

from kvmtui.errors import KvmtuiError
from kvmtui.model import Snapshot
from kvmtui.persist.choose import choose_backend
from kvmtui.persist.desired import desired_config
from kvmtui.persist.model import FileChange, ReadFile
from kvmtui.persist.overlay import left_out, unsavable
from kvmtui.persist.render import file_diff, render_for
from kvmtui.persist.vlan_aware import unsavable as vlans_unsavable
from kvmtui.plan.model import Plan
from kvmtui.plan.steps import NETWORK_STEPS


@dataclass(frozen=True, slots=True)
class SavedChange:
    backend: str | None  # None: nothing is saved (live only), `why` says why
    why: str
    changes: tuple[FileChange, ...] = ()
    left_out: tuple[str, ...] = ()  # what the saved configuration cannot say (a vxlan's FDB entries)

    def lines(self) -> tuple[str, ...]:
        """What the confirmation shows: where it is saved and why, then each file's diff."""
        if self.backend is None:
            return (f"not saved: {self.why}",)
        if not self.changes:
            return (f"{self.backend}: its configuration already says this ({self.why})",)
        return (f"saved in {self.backend} once the change is verified (and kept): {self.why}",
                *(f"not saved: {note}" for note in self.left_out), *(file_diff(change) for change in self.changes))

    def to_data(self) -> dict:
        return {"backend": self.backend, "why": self.why, "changes": [asdict(c) for c in self.changes],
                "left_out": list(self.left_out)}


def saved_from_data(data: dict) -> SavedChange:
    return SavedChange(data["backend"], data["why"], tuple(FileChange(**c) for c in data.get("changes", ())),
                       tuple(data.get("left_out", ())))


def saved_change(plan: Plan, snapshot: Snapshot, read: ReadFile, forced: str | None = None) -> SavedChange:
    """Raises KvmtuiError when the configuration cannot be written (a backend kvmtui cannot
    write, a file it cannot edit): nothing is applied then, unless --no-persist."""
    desired = desired_config(plan, snapshot)
    if not desired.devices and not desired.removed:
        if plan.steps and all(isinstance(step, NETWORK_STEPS) for step in plan.steps):
            return SavedChange(None, "libvirt keeps its networks' definitions itself (virsh net-dumpxml --inactive)")
        if plan.steps and all(step.backend == "ovs" for step in plan.steps):
            return SavedChange(None, "Open vSwitch keeps its bridges and ports in its own database (conf.db)")
        return SavedChange(None, "the change touches no device a configuration describes")
    if forced is not None and snapshot.netconfig is None:
        raise KvmtuiError("--persist: this host's saved configuration was not read here (a named namespace or a "
                          "recording): it describes the host's own devices; nothing changed")
    choice = choose_backend(snapshot, desired, forced)
    if choice.backend is None or snapshot.netconfig is None:
        return SavedChange(None, choice.why)
    if (why := unsavable(choice.backend, desired.devices) or vlans_unsavable(choice.backend, desired.devices)):
        return SavedChange(None, why)
    return SavedChange(choice.backend, choice.why, render_for(choice.backend, snapshot.netconfig, desired, read),
                       left_out(choice.backend, desired.devices))
