"""VLAN-aware bridge rules: guests put in a VLAN the wire never sees, and uplinks that
carry no VLAN at all (a VLAN-filtering bridge drops every frame there)."""

from __future__ import annotations

from collections.abc import Iterator

from kvmtui.audit.findings import Finding
from kvmtui.bridge_vlans import carried, filtering_bridge, pvid, uplinks, vid_ranges, vlans_by_port
from kvmtui.facts import is_tap, libvirt_helper_tap, ports
from kvmtui.model import Link, Snapshot
from kvmtui.node_keys import link_key

RULES = {
    "bridge-vlan-guest-pvid": "a guest tap on a VLAN-filtering bridge whose PVID is a VLAN none of the bridge's uplinks carries",
    "bridge-vlan-uplink-none": "an uplink of a VLAN-filtering bridge that carries no VLAN at all",
}


def _judged(snapshot: Snapshot) -> Iterator[tuple[Link, list[Link], dict]]:
    """Each VLAN-filtering bridge with uplinks whose VLAN tables were read, its uplinks, the tables."""
    if not snapshot.bridge_vlans:
        return  # not read (a recording without them): an empty table would look like a finding
    vlans_of = vlans_by_port(snapshot)
    for bridge in snapshot.links:
        if bridge.kind == "bridge" and filtering_bridge(snapshot, bridge) is bridge:
            wire = uplinks(snapshot, bridge.ifname)
            if wire:  # a bridge without uplink is a host-only network: its VLANs stay inside
                yield bridge, wire, vlans_of


def guest_pvid(snapshot: Snapshot) -> Iterator[Finding]:
    for bridge, wire, vlans_of in _judged(snapshot):
        on_wire = carried(vlans_of, wire)
        if not on_wire:
            continue  # bridge-vlan-uplink-none says why nothing passes
        names = ", ".join(link.ifname for link in wire)
        names += f" (the uplinks of {bridge.ifname})" if len(wire) > 1 else f" (the uplink of {bridge.ifname})"
        for tap in ports(snapshot, bridge.ifname):
            native = pvid(vlans_of.get(tap.ifname, ()))
            if not is_tap(tap) or libvirt_helper_tap(tap) or native is None or native in on_wire:
                continue
            yield Finding(
                "bridge-vlan-guest-pvid", "warning", link_key(tap.ifname), f"{bridge.ifname} port {tap.ifname}",
                f"{tap.ifname} puts its guest's untagged frames in VLAN {native}, which {names} "
                f"does not carry; {'they carry' if len(wire) > 1 else 'it carries'} {vid_ranges(on_wire)}",
                f"the guest reaches only the other ports of {bridge.ifname} in VLAN {native}, "
                "never the network behind the uplink",
                f"add VLAN {native} to the uplink if the guest belongs there, or give {tap.ifname} "
                "the PVID of a VLAN the uplink carries",
                (f"bridge vlan add dev {wire[0].ifname} vid {native}",
                 f"bridge vlan show dev {tap.ifname}"),
            )


def uplink_none(snapshot: Snapshot) -> Iterator[Finding]:
    for bridge, wire, vlans_of in _judged(snapshot):
        # the VLANs the guests are in are the ones the uplink most likely has to carry
        guests = sorted({native for port in ports(snapshot, bridge.ifname) if port not in wire
                         and (native := pvid(vlans_of.get(port.ifname, ()))) is not None})
        for uplink in wire:
            if vlans_of.get(uplink.ifname):
                continue
            commands = tuple(f"bridge vlan add dev {uplink.ifname} vid {vid}" for vid in guests[:4]) \
                or (f"bridge vlan add dev {uplink.ifname} vid 1 pvid untagged",)
            yield Finding(
                "bridge-vlan-uplink-none", "warning", link_key(uplink.ifname), f"{bridge.ifname} uplink {uplink.ifname}",
                f"{uplink.ifname}, an uplink of the VLAN-filtering bridge {bridge.ifname}, carries no VLAN",
                f"{bridge.ifname} drops every frame to or from {uplink.ifname}, tagged or not: "
                "nothing behind the bridge reaches the wire through it",
                f"add the VLANs the switch port sends to {uplink.ifname} (tagged), and its native "
                "VLAN as PVID untagged",
                (*commands, f"bridge vlan show dev {uplink.ifname}"),
            )


CHECKS = (guest_pvid, uplink_none)
