"""Host-wide rules: settings that change what happens to every guest's traffic."""

from __future__ import annotations

from collections.abc import Iterator

from kvmtui.audit.findings import Finding
from kvmtui.facts import BRIDGE_NF_CALL_IPTABLES, MACV_KINDS, guest_bridges, is_nic, sysctl, uppers
from kvmtui.model import Link, Snapshot
from kvmtui.node_keys import link_key

RULES = {
    "host-bridge-nf-call-iptables": "net.bridge.bridge-nf-call-iptables=1 on a host with guest bridges",
    "host-promisc-nic": "a promiscuous NIC (or bond) that no bridge or macvlan up its chain explains",
}


def bridge_nf_call_iptables(snapshot: Snapshot) -> Iterator[Finding]:
    if sysctl(snapshot, BRIDGE_NF_CALL_IPTABLES) != "1":
        return
    bridges = guest_bridges(snapshot)
    if not bridges:
        return
    yield Finding(
        "host-bridge-nf-call-iptables", "info", link_key(bridges[0]), "host",
        f"{BRIDGE_NF_CALL_IPTABLES} is 1 and guests use {', '.join(bridges)}",
        "every frame guests exchange over a bridge goes through iptables: host firewall rules "
        "(a FORWARD policy of DROP, as Docker sets) silently filter guest traffic, and it "
        "costs CPU",
        "unless you filter bridged traffic on purpose (libvirt nwfilter, physdev rules), set it "
        "to 0 and make that persistent in /etc/sysctl.d/",
        (f"sysctl -w {BRIDGE_NF_CALL_IPTABLES}=0",),
    )


AGGREGATES = frozenset({"bond", "team"})  # a master that only passes promiscuity on from above


def _asked_for(snapshot: Snapshot, link: Link, above: dict[str, list[Link]], seen: frozenset[str] = frozenset()) -> bool:
    """Promiscuity the topology asks for: the device, the bond or team it is enslaved to
    (recursively), or a VLAN on it is a bridge (or OVS) port, or it carries a macvlan,
    macvtap or ipvlan. A bond slave is promiscuous when its bond is, so only a bridge (or a
    macvlan) somewhere up the chain explains it: a capture is the other way to get there."""
    if link.ifname in seen:
        return False
    seen = seen | {link.ifname}
    if link.master:
        master = snapshot.link(link.master)
        if master is None or master.kind not in AGGREGATES | {"vrf"}:
            return True  # a bridge, Open vSwitch, or a master this snapshot does not show
        if master.kind in AGGREGATES and _asked_for(snapshot, master, above, seen):
            return True
    for upper in above.get(link.ifname, ()):
        if upper.kind in MACV_KINDS or upper.kind in ("ipvlan", "ipvtap"):
            return True
        if upper.kind == "vlan" and _asked_for(snapshot, upper, above, seen):
            return True
    return False


def _chain(snapshot: Snapshot, link: Link) -> str:
    """What the device is part of, for the finding: "its bond bond0", or nothing."""
    master = snapshot.link(link.master)
    return f" and neither it nor its {master.kind} {master.ifname} is a bridge port" \
        if master is not None and master.kind in AGGREGATES else " and belongs to no bridge"


def promisc_nic(snapshot: Snapshot) -> Iterator[Finding]:
    above = uppers(snapshot)
    for link in snapshot.links:
        if link.promiscuity <= 0 or not (is_nic(link) or link.kind in AGGREGATES):
            continue
        if _asked_for(snapshot, link, above):
            continue
        master = snapshot.link(link.master)
        if master is not None and master.kind in AGGREGATES and master.promiscuity > 0:
            continue  # promiscuous because its bond is: the bond is reported
        yield Finding(
            "host-promisc-nic", "warning", link_key(link.ifname), link.ifname,
            f"{link.ifname} is promiscuous (promiscuity {link.promiscuity})" + _chain(snapshot, link),
            "something receives every frame on the wire: a packet capture left running, a "
            "monitoring tool, or an intruder; it also costs CPU",
            "find the program that holds it (packet sockets) and stop it; if it was set by hand, "
            "turn it off",
            ("ss -f link -p", f"ip link set dev {link.ifname} promisc off"),
        )


CHECKS = (bridge_nf_call_iptables, promisc_nic)
