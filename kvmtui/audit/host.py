"""Host-wide rules: settings that change what happens to every guest's traffic."""

from __future__ import annotations

from collections.abc import Iterator

from kvmtui.audit.facts import BRIDGE_NF_CALL_IPTABLES, MACV_KINDS, guest_bridges, is_nic, link_key, sysctl, uppers
from kvmtui.audit.findings import Finding
from kvmtui.model import Link, Snapshot

RULES = {
    "host-bridge-nf-call-iptables": "net.bridge.bridge-nf-call-iptables=1 on a host with guest bridges",
    "host-promisc-nic": "a promiscuous NIC (or bond) that no bridge, bond or macvlan explains",
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


def _explained(snapshot: Snapshot, link: Link, above: dict[str, list[Link]]) -> bool:
    """Promiscuity a master or an upper device asked for (a bridge port, a bond slave whose
    bond is, a macvlan's lower, the lower of a promiscuous VLAN)."""
    if link.master:
        return True
    for upper in above.get(link.ifname, ()):
        if upper.kind in MACV_KINDS or upper.kind in ("ipvlan", "ipvtap") or upper.promiscuity > 0:
            return True
    return False


def promisc_nic(snapshot: Snapshot) -> Iterator[Finding]:
    above = uppers(snapshot)
    for link in snapshot.links:
        if link.promiscuity <= 0 or not (is_nic(link) or link.kind in ("bond", "team")):
            continue
        if _explained(snapshot, link, above):
            continue
        yield Finding(
            "host-promisc-nic", "warning", link_key(link.ifname), link.ifname,
            f"{link.ifname} is promiscuous (promiscuity {link.promiscuity}) and belongs to no "
            "bridge",
            "something receives every frame on the wire: a packet capture left running, a "
            "monitoring tool, or an intruder; it also costs CPU",
            "find the program that holds it (packet sockets) and stop it; if it was set by hand, "
            "turn it off",
            ("ss -f link -p", f"ip link set dev {link.ifname} promisc off"),
        )


CHECKS = (bridge_nf_call_iptables, promisc_nic)
