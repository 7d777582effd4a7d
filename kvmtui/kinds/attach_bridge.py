"""A guest NIC plugged into a bridge (libvirt <interface type='bridge'>): a Linux bridge, or
an Open vSwitch bridge or fake bridge, where libvirt adds the tap with ovs-vsctl
(<virtualport type='openvswitch'/>) and gives the port its VLAN tag at every start."""

from __future__ import annotations

from kvmtui.bridge_vlans import filtering_bridge
from kvmtui.kinds.attach import COMMAND, FORM_ORDER, GUEST, HELP, NIC, TITLE, AttachInterface, \
    NicSource, drop_mode_without_macvtap, plan_attach
from kvmtui.kinds.spec import KindSpec, Offer, Param, Selection, device_choices
from kvmtui.model import Snapshot
from kvmtui.plan.model import Plan
from kvmtui.plan.validate import VID_MAX, VID_MIN, PlanError, existing_link


def _ovs_choices(snapshot: Snapshot) -> tuple[tuple[str, str], ...]:
    if snapshot.ovs is None:
        return ()
    return (tuple((f"{b.name} (ovs bridge)", b.name) for b in snapshot.ovs.bridges)
            + tuple((f"{f.name} (ovs, vlan {f.vlan} of {f.parent})", f.name) for f in snapshot.ovs.fake_bridges))


def _bridges(snapshot: Snapshot, selection: Selection) -> Offer:
    choices = device_choices([l for l in snapshot.links if l.kind == "bridge"]) + _ovs_choices(snapshot)
    return Offer(selection.ifname if selection.ifname in {name for _shown, name in choices} else None, choices)


PARAMS = (
    GUEST,
    Param("bridge", "plug the NIC into this bridge (a Linux or an Open vSwitch bridge)", "--bridge", "BR",
          required=True, exclusive="target", label="Bridge (for a bridge interface)", widget="choice", offer=_bridges,
          optional=True),
    *NIC,
    Param("vlan", f"the NIC's VLAN, {VID_MIN} to {VID_MAX}: its OVS port's tag, which libvirt sets at every start "
                  "(an Open vSwitch bridge only)", "--vlan", "VID", type=int,
          label=f"VLAN tag ({VID_MIN}-{VID_MAX}, Open vSwitch bridges; empty: none)", widget="number"),
)


def _on_ovs(intent: AttachInterface, snapshot: Snapshot) -> NicSource | None:
    """None when `intent.bridge` is not an OVS bridge or fake bridge."""
    ovs = snapshot.ovs
    fake = ovs.fake_bridge(intent.bridge) if ovs is not None else None
    if fake is not None and intent.vlan is not None and intent.vlan != fake.vlan:
        raise PlanError("vlan", f"{fake.name} is VLAN {fake.vlan} of OVS bridge {fake.parent}: its ports are on that "
                                f"VLAN. For VLAN {intent.vlan} attach to {fake.parent} with --vlan {intent.vlan}")
    if fake is None and (ovs is None or ovs.bridge(intent.bridge) is None):
        return None
    # ovs-vsctl add-port on a fake bridge tags the port with its VLAN itself
    return NicSource("bridge", intent.bridge, virtualport="openvswitch", vlan=None if fake else intent.vlan)


def linux_vlan_refusal(snapshot: Snapshot, bridge, vid: int) -> PlanError:
    """Why a guest NIC on a Linux bridge takes no VLAN tag (attach and guest-set say the same)."""
    durable = (f"For a VLAN the guest keeps, attach to a bridge per VLAN (a bridge on a VLAN device, NIC.{vid}) or to an "
               f"Open vSwitch bridge with --vlan {vid}")
    if filtering_bridge(snapshot, bridge) is None:
        return PlanError("vlan", f"{bridge.ifname} is a Linux bridge without VLAN filtering: it cannot put one port on "
                                 f"a VLAN. {durable}, or make {bridge.ifname} VLAN-aware "
                                 f"(`kvmtui apply set {bridge.ifname} --vlan-filtering on`)")
    return PlanError("vlan", f"libvirt does not keep a Linux bridge port's VLAN: it makes the guest's tap anew at every "
                             f"start, on the bridge's default VLAN. Attach without --vlan and give the tap VLAN {vid} "
                             f"(`kvmtui apply vlans TAP --access {vid}`; gone when the guest restarts). {durable}")


def _on_bridge(intent: AttachInterface, snapshot: Snapshot) -> NicSource:
    on_ovs = _on_ovs(intent, snapshot)
    if on_ovs is not None:
        return on_ovs
    bridge = existing_link(snapshot, intent.bridge, "bridge")
    if bridge.kind != "bridge":
        raise PlanError("bridge", f"{bridge.ifname} is not a bridge")
    if intent.vlan is not None:
        raise linux_vlan_refusal(snapshot, bridge, intent.vlan)
    return NicSource("bridge", bridge.ifname)


def plan_attach_bridge(intent: AttachInterface, snapshot: Snapshot) -> Plan:
    return plan_attach(intent, snapshot, _on_bridge)


SPEC = KindSpec("attach_bridge", AttachInterface, PARAMS, plan_attach_bridge, help=HELP, title=TITLE, noun="bridge NIC",
                command=COMMAND, form_order=FORM_ORDER, claims=lambda intent: intent.macvtap is None,
                form_fixup=drop_mode_without_macvtap)
