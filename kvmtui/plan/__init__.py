"""intent + Snapshot -> Plan (pure). `make_plan` checks the intent against the host and
returns ordered steps with inverses, or raises PlanError naming the field at fault."""

from kvmtui.model import Snapshot
from kvmtui.plan.build_guests import plan_attach, plan_detach
from kvmtui.plan.build_links import plan_create_bond, plan_create_bridge, plan_create_vlan, plan_delete
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


def make_plan(intent: Intent, snapshot: Snapshot) -> Plan:
    check_values(intent)
    return _BUILDERS[type(intent)](intent, snapshot)


__all__ = ["AttachInterface", "CreateBond", "CreateBridge", "CreateVlan", "DeleteLink", "DetachInterface",
           "Intent", "Plan", "PlanError", "make_plan"]
