"""A guest NIC plugged into a Linux bridge (libvirt <interface type='bridge'>)."""

from __future__ import annotations

from kvmtui.kinds.attach import COMMAND, FORM_ORDER, GUEST, HELP, NIC, TITLE, AttachInterface, NicSource, \
    drop_mode_without_macvtap, plan_attach
from kvmtui.kinds.spec import KindSpec, Offer, Param, Selection, device_choices, selected_of
from kvmtui.model import Snapshot
from kvmtui.plan.model import Plan
from kvmtui.plan.validate import PlanError, existing_link


def _bridges(snapshot: Snapshot, selection: Selection) -> Offer:
    bridges = [l for l in snapshot.links if l.kind == "bridge"]
    return Offer(selected_of(selection, bridges), device_choices(bridges))


PARAMS = (
    GUEST,
    Param("bridge", "plug the NIC into this bridge", "--bridge", "BR", required=True, exclusive="target",
          label="Bridge (for a bridge interface)", widget="choice", offer=_bridges, optional=True),
    *NIC,
)


def _on_bridge(intent: AttachInterface, snapshot: Snapshot) -> NicSource:
    bridge = existing_link(snapshot, intent.bridge, "bridge")
    if bridge.kind != "bridge":
        raise PlanError("bridge", f"{bridge.ifname} is not a bridge")
    return NicSource("bridge", bridge.ifname)


def plan_attach_bridge(intent: AttachInterface, snapshot: Snapshot) -> Plan:
    return plan_attach(intent, snapshot, _on_bridge)


SPEC = KindSpec("attach_bridge", AttachInterface, PARAMS, plan_attach_bridge, help=HELP, title=TITLE, noun="bridge NIC",
                command=COMMAND, form_order=FORM_ORDER, claims=lambda intent: intent.macvtap is None,
                form_fixup=drop_mode_without_macvtap)
