"""intent + Snapshot -> Plan (pure): the steps with their inverses, what must hold after
them, the checks and planning helpers that the device kinds share, and the diff the user
confirms. The kinds themselves, and `make_plan` over them, are kvmtui/kinds/ (above this
package: a kind is built on these helpers)."""

from kvmtui.plan.model import Plan
from kvmtui.plan.validate import PlanError

__all__ = ["Plan", "PlanError"]
