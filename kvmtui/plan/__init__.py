"""intent + Snapshot -> Plan (pure). `make_plan` checks the intent against the host and
returns ordered steps with inverses, or raises PlanError naming the field at fault.

The intents and their planners are the device kinds' (kvmtui/kinds/), which build on this
package's helpers: they are imported when first asked for, not when this package loads."""

from kvmtui.model import Snapshot
from kvmtui.plan.eligible import kernel_checks_off
from kvmtui.plan.model import Plan
from kvmtui.plan.validate import PlanError, check_values


def make_plan(intent, snapshot: Snapshot, kernel_checks: bool = True) -> Plan:
    """kernel_checks=False is for tests only: it plans what the kernel would refuse (EBUSY),
    so that a test can apply it and see the kernel refuse it, and the checks stay true."""
    from kvmtui.kinds import kind_of

    check_values(intent)
    planner = kind_of(intent).plan
    if kernel_checks:
        return planner(intent, snapshot)
    with kernel_checks_off():
        return planner(intent, snapshot)


def __getattr__(name: str):
    """CreateBridge, ..., Intent: the kinds' intents, as `from kvmtui.plan import CreateBridge`."""
    from kvmtui import kinds

    if name in kinds.INTENTS or name == "Intent":
        return getattr(kinds, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = ["AttachInterface", "CreateBond", "CreateBridge", "CreateVlan", "DeleteLink", "DetachInterface",
           "Intent", "Plan", "PlanError", "make_plan"]
