"""Open vSwitch rules: the bond and orphan rules of the kernel's bonds and taps, judged on
what ovs-vswitchd reports (bond/show's may_enable) and the Interface's external_ids."""

from __future__ import annotations

from collections.abc import Iterator
from urllib.parse import urlsplit

from kvmtui.audit.findings import Finding
from kvmtui.facts import libvirt_read
from kvmtui.model import Snapshot
from kvmtui.model.ovs import pair_value
from kvmtui.node_keys import link_key

RULES = {
    "ovs-bond-member-disabled": "an OVS bond member that ovs-vswitchd may not enable (no carrier, or no LACP "
                                "agreement): error when no member of the bond may",
    "ovs-guest-port-orphan": "an OVS port whose external_ids name a guest (vm-id, iface-id) that libvirt does not know",
}


def bond_member_disabled(snapshot: Snapshot) -> Iterator[Finding]:
    if snapshot.ovs is None:
        return
    for bridge in snapshot.ovs.bridges:
        for port in bridge.ports:
            bond = port.bond
            if bond is None or not bond.members:  # no bond/show answer: nothing to judge
                continue
            refused = [m for m in bond.members if not m.may_enable]
            for member in refused:
                none_left = len(refused) == len(bond.members)
                lacp = f" (LACP: {member.lacp})" if member.lacp else ""
                yield Finding(
                    "ovs-bond-member-disabled", "error" if none_left else "warning", link_key(member.name),
                    f"{port.name} member {member.name}",
                    f"member {member.name} of OVS bond {port.name} on {bridge.name} is not may_enable{lacp}"
                    + (f"; no member of {port.name} may carry traffic" if none_left else ""),
                    f"{port.name} carries no traffic at all" if none_left else
                    f"{port.name} runs without redundancy: one more failure and it is down",
                    "check the link of the member and, with LACP on, that the switch ports are one LACP group",
                    (f"ovs-appctl bond/show {port.name}",) + ((f"ovs-appctl lacp/show {port.name}",)
                                                             if bond.lacp != "off" else ()),
                )


def guest_port_orphan(snapshot: Snapshot) -> Iterator[Finding]:
    """Only when this host's libvirt answered: a remote one's guests are not on this OVS."""
    if snapshot.ovs is None or not libvirt_read(snapshot) or urlsplit(snapshot.host.libvirt_uri or "").netloc:
        return
    uuids = {domain.uuid.replace("-", "").lower() for domain in snapshot.domains}
    iface_ids = {value.lower() for domain in snapshot.domains for nic in domain.interfaces
                 if (value := pair_value(nic.virtualport_params, "interfaceid"))}
    for bridge, port, interface in snapshot.ovs.interfaces():
        vm_id, iface_id = interface.vm_id, interface.iface_id
        if vm_id is not None:
            gone = vm_id.replace("-", "").lower() not in uuids
            names = f"vm-id {vm_id}"
        elif iface_id is not None and interface.attached_mac is not None:  # a guest's port without its domain's id
            gone = iface_id.lower() not in iface_ids
            names = f"iface-id {iface_id}"
        else:
            continue
        if gone:
            yield Finding(
                "ovs-guest-port-orphan", "warning", link_key(interface.name), interface.name,
                f"OVS port {port.name} on {bridge.name} names a guest libvirt does not know ({names}"
                + (f", MAC {interface.attached_mac}" if interface.attached_mac else "") + ")",
                "it is the leftover of a guest that was removed: it clutters the bridge, and a new "
                "guest's port may be confused with it",
                "delete the port",
                (f"ovs-vsctl --if-exists del-port {bridge.name} {port.name}",),
            )


CHECKS = (bond_member_disabled, guest_port_orphan)
