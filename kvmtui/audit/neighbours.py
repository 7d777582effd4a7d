"""Rules on what the switches say about the cables (LLDP or CDP, as lldpd, NetworkManager or
networkd heard them: the Snapshot's `neighbours`): a bond whose slaves reach two switches in
a mode that needs one, and a port whose switch sends another VLAN untagged than the host
takes untagged frames for.
Silent where no neighbour is known: nothing listening, nothing to judge."""

from __future__ import annotations

from collections.abc import Iterator

from kvmtui.audit.bonds import bonds
from kvmtui.audit.findings import Finding
from kvmtui.bridge_vlans import filtering_bridge, pvid, vlans_by_port
from kvmtui.model import Link, Snapshot
from kvmtui.model.wire import Neighbour
from kvmtui.node_keys import link_key

RULES = {
    "lldp-bond-switches": "an 802.3ad, balance-xor or balance-rr bond whose slaves' LLDP neighbours are different "
                          "switches, and whose LACP partners do not show them as one (MLAG) system",
    "lldp-native-vlan": "a port whose switch sends another VLAN untagged (LLDP native VLAN) than the host expects "
                        "untagged: the PVID on a VLAN-filtering bridge, or a VLAN device that waits for it tagged",
}

# modes whose slaves must end in one port channel: one switch, or an MLAG pair acting as one
ONE_SWITCH_MODES = ("802.3ad", "balance-xor", "balance-rr")
SEE = "lldpcli show neighbors"


def _switch(n: Neighbour) -> str:
    return n.system_name or n.chassis_id or "an unnamed switch"


def _heard(snapshot: Snapshot, ifname: str) -> Neighbour | None:
    """The first neighbour known on the port (one cable, one switch)."""
    known = snapshot.neighbours_on.get(ifname, ())
    return known[0].neighbour if known else None


def bond_switches(snapshot: Snapshot) -> Iterator[Finding]:
    for bond in bonds(snapshot):
        if bond.mode not in ONE_SWITCH_MODES:
            continue
        reached = {slave.name: n for slave in bond.slaves if (n := _heard(snapshot, slave.name)) and n.chassis_id}
        chassis = {n.chassis_id for n in reached.values()}
        if len(chassis) < 2:
            continue
        partners = {slave.partner.system_mac for slave in bond.slaves if slave.name in reached and slave.partner}
        if bond.mode == "802.3ad" and len(partners) == 1 and None not in partners and not _zero(partners):
            continue  # LACP agreed with one system across both: an MLAG pair (vPC, MC-LAG, a stack) does that
        where = ", ".join(f"{name} to {n.brief}" for name, n in sorted(reached.items()))
        switches = " and ".join(sorted({_switch(n) for n in reached.values()}))
        yield Finding(
            "lldp-bond-switches", "warning", link_key(bond.name), f"bond {bond.name}",
            f"{bond.name} ({bond.mode}) has slaves on {len(chassis)} different switches by LLDP: {where}",
            f"{bond.mode} sends one flow's frames over any slave and needs the far ends to be one port channel: "
            f"two separate switches ({switches}) each see half a bond, and frames are lost or looped unless the "
            "switches run MLAG (vPC, MC-LAG, a stack) and present one LACP system",
            "configure MLAG on the switch pair, or move the slaves to one switch, or use active-backup, which "
            "needs no switch support",
            (SEE, f"cat /proc/net/bonding/{bond.name}"))


def _zero(macs: set) -> bool:
    return any(mac is not None and set(mac.replace(":", "")) <= {"0"} for mac in macs)


def _wire_ports(snapshot: Snapshot, link: Link) -> list[str]:
    """Where `link`'s cables are: itself, or a bond's slaves."""
    if link.kind == "bond":
        return [l.ifname for l in snapshot.links if l.master == link.ifname]
    return [link.ifname]


def native_vlan(snapshot: Snapshot) -> Iterator[Finding]:
    vlans_of = vlans_by_port(snapshot) if snapshot.bridge_vlans else None
    for link in snapshot.links:
        if link.kind not in (None, "bond", "veth", "dummy") or "LOOPBACK" in link.flags:
            continue
        if getattr(snapshot.link(link.master), "kind", None) == "bond":
            continue  # judged with its bond
        heard = {name: n for name in _wire_ports(snapshot, link)
                 if (n := _heard(snapshot, name)) and n.native_vlan is not None}
        for name, n in sorted(heard.items()):
            yield from _on_filtering_bridge(snapshot, link, name, n, vlans_of)
            yield from _tagged_devices(snapshot, link, name, n)


def _on_filtering_bridge(snapshot: Snapshot, link: Link, cable: str, n: Neighbour, vlans_of) -> Iterator[Finding]:
    bridge = filtering_bridge(snapshot, link) if link.master else None
    if bridge is None or vlans_of is None:
        return
    port_pvid = pvid(vlans_of.get(link.ifname, ()))
    if port_pvid is None or port_pvid == n.native_vlan:
        return  # no PVID: untagged frames are dropped, as the bridge means
    via = f" (by its slave {cable})" if cable != link.ifname else ""
    yield Finding(
        "lldp-native-vlan", "warning", link_key(link.ifname), f"{bridge.ifname} port {link.ifname}",
        f"{n.brief} sends VLAN {n.native_vlan} untagged (its native VLAN, by LLDP){via}, but {link.ifname}'s PVID "
        f"on {bridge.ifname} is {port_pvid}",
        f"the switch's VLAN {n.native_vlan} lands in the bridge's VLAN {port_pvid}: guests there reach the wrong "
        f"network, and VLAN {port_pvid} of the bridge leaves the switch as VLAN {n.native_vlan}",
        f"make the PVID {n.native_vlan}, or set the switch port's native VLAN to {port_pvid}",
        (f"bridge vlan add dev {link.ifname} vid {n.native_vlan} pvid untagged", f"bridge vlan show dev {link.ifname}",
         SEE))


def _tagged_devices(snapshot: Snapshot, link: Link, cable: str, n: Neighbour) -> Iterator[Finding]:
    for upper in snapshot.links_on.get(link.ifname, ()):
        info = upper.info_data
        if upper.kind != "vlan" or getattr(info, "protocol", None) != "802.1Q" or info.id != n.native_vlan:
            continue
        above = snapshot.link(upper.master)
        on = f" (and {above.kind} {above.ifname} on it)" if above is not None else ""
        via = f", heard on {cable}" if cable != link.ifname else ""
        yield Finding(
            "lldp-native-vlan", "warning", link_key(upper.ifname), f"VLAN {upper.ifname}",
            f"{n.brief} sends VLAN {n.native_vlan} untagged (its native VLAN, by LLDP{via}), but {upper.ifname}"
            f"{on} expects it tagged on {link.ifname}",
            f"untagged frames go to {link.ifname} itself, not to {upper.ifname}: {upper.ifname} receives nothing "
            "from the switch",
            f"tag VLAN {n.native_vlan} on the switch port (another native VLAN), or use {link.ifname} itself "
            f"for VLAN {n.native_vlan}",
            (f"ip -d link show {upper.ifname}", SEE))


CHECKS = (bond_switches, native_vlan)
