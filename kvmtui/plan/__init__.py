"""intent + Snapshot -> Plan (pure). `make_plan` checks the intent against the host and
returns ordered steps with inverses, or raises PlanError naming the field at fault."""

from kvmtui.model import Snapshot
from kvmtui.plan.build_guests import plan_attach, plan_detach
from kvmtui.plan.build_links import plan_create_bond, plan_create_bridge, plan_create_vlan, plan_delete
from kvmtui.plan.eligible import kernel_checks_off
from kvmtui.plan.intents import (
    AttachInterface,
    CreateBond,
    CreateBridge,
    CreateVlan,
    DeleteLink,
    DetachInterface,
    Intent,
)
from kvmtui.plan.model import Plan
from kvmtui.plan.validate import PlanError, check_values

_BUILDERS = {
    CreateBridge: plan_create_bridge,
    CreateBond: plan_create_bond,
    CreateVlan: plan_create_vlan,
    AttachInterface: plan_attach,
    DetachInterface: plan_detach,
    DeleteLink: plan_delete,
}


def make_plan(intent: Intent, snapshot: Snapshot, kernel_checks: bool = True) -> Plan:
    """kernel_checks=False is for tests only: it plans what the kernel would refuse (EBUSY),
    so that a test can apply it and see the kernel refuse it, and the checks stay true."""
    check_values(intent)
    if kernel_checks:
        return _BUILDERS[type(intent)](intent, snapshot)
    with kernel_checks_off():
        return _BUILDERS[type(intent)](intent, snapshot)


__all__ = ["AttachInterface", "CreateBond", "CreateBridge", "CreateVlan", "DeleteLink", "DetachInterface",
           "Intent", "Plan", "PlanError", "make_plan"]
