"""Bridge rules: ports that pass nothing, loops waiting to happen, addresses in the wrong
place, and MACs the FDB shows where they do not belong (a guest's MAC behind another port,
a MAC that moved between two snapshots)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator

from kvmtui.audit.findings import Finding
from kvmtui.facts import (
    claimed_targets,
    global_addresses,
    guest_nics,
    guest_subject,
    guests_in_view,
    is_downstream_port,
    is_tap,
    lands_on_bridge,
    libvirt_helper_tap,
    ports,
)
from kvmtui.model import BridgeInfo, BridgePortInfo, Link, Snapshot
from kvmtui.node_keys import guest_key, link_key

RULES = {
    "bridge-port-blocked": "a bridge port in STP state blocking or disabled while its bridge is up",
    "bridge-down-with-guests": "a bridge that is down while guests are attached to it",
    "bridge-stp-off-uplinks": "STP off on a bridge with two or more uplinks",
    "bridge-port-address": "an IP address on a bridge port instead of on the bridge",
    "bridge-mac-two-ports": "a running guest's MAC in its bridge's FDB on a port that is not the guest's tap",
    "bridge-mac-moved": "a MAC that moved to another port of the same bridge and VLAN since the previous snapshot",
}

# vxlan and the Ethernet tunnels (gretap, geneve): a tunnel to the same network
UPLINK_KINDS = frozenset({None, "bond", "team", "vlan", "veth", "vxlan", "gretap", "ip6gretap", "geneve"})


def _bridges(snapshot: Snapshot) -> list[Link]:
    return [link for link in snapshot.links if link.kind == "bridge"]


def port_blocked(snapshot: Snapshot) -> Iterator[Finding]:
    claimed = claimed_targets(snapshot)
    orphans_judged = guests_in_view(snapshot)
    for bridge in _bridges(snapshot):
        if not bridge.is_up:
            continue  # every port of a down bridge is disabled; bridge-down-with-guests says why
        for port in ports(snapshot, bridge.ifname):
            info = port.info_slave_data
            if not isinstance(info, BridgePortInfo) or info.state not in ("blocking", "disabled"):
                continue
            if libvirt_helper_tap(port):
                continue  # down by design
            guest = claimed.get(port.ifname)
            if guest is not None and guest[2].link_state == "down":
                continue  # the administrator unplugged the guest's cable on purpose
            if guest is None and orphans_judged and is_tap(port):
                continue  # a tap no guest claims: guest-orphan-tap says what it is
            if info.state == "blocking":
                yield Finding(
                    "bridge-port-blocked", "warning", link_key(port.ifname), f"{bridge.ifname} port {port.ifname}",
                    f"STP blocks port {port.ifname} of {bridge.ifname}",
                    "STP found a second path to the same network (a loop) through this port and "
                    "drops everything it receives or would send there",
                    "find the second path (two uplinks to one switch, a guest bridging two NICs) "
                    "and remove it, or bond the uplinks; if it is a guest port, a guest runs STP",
                    (f"bridge -d link show dev {port.ifname}",),
                )
            else:
                admin_down = not port.is_up
                yield Finding(
                    "bridge-port-blocked", "warning", link_key(port.ifname), f"{bridge.ifname} port {port.ifname}",
                    f"port {port.ifname} of {bridge.ifname} is disabled: "
                    + ("the device is down" if admin_down else "it has no carrier"),
                    "nothing passes through a disabled port: whatever is behind it is cut off "
                    "from the bridge",
                    "bring the device up" if admin_down else
                    "check what should give it carrier: the cable and switch port for a NIC, "
                    "the guest (or its process) for a tap, the peer for a veth",
                    (f"ip link set dev {port.ifname} up",) if admin_down else (f"ip link show dev {port.ifname}",),
                )


def down_with_guests(snapshot: Snapshot) -> Iterator[Finding]:
    for bridge in _bridges(snapshot):
        if bridge.is_up:
            continue
        guests = sorted({d.name for d, _n, nic in guest_nics(snapshot) if d.active and guests_in_view(snapshot)
                         and lands_on_bridge(snapshot, nic, True) == bridge.ifname})
        claimed = claimed_targets(snapshot)
        taps = sorted(p.ifname for p in ports(snapshot, bridge.ifname)
                      if is_tap(p) and p.carrier and p.ifname not in claimed)
        if not guests and not taps:
            continue
        users = [f"guest {g}" for g in guests] + [f"tap {t}" for t in taps]
        who = ", ".join(users) + (" use" if len(users) > 1 else " uses")
        yield Finding(
            "bridge-down-with-guests", "error", link_key(bridge.ifname), bridge.ifname,
            f"bridge {bridge.ifname} is down while {who} it",
            "a down bridge forwards nothing: those guests are cut off from each other, the "
            "host and the wire",
            "bring the bridge up",
            (f"ip link set dev {bridge.ifname} up",),
        )


def _uplinks(snapshot: Snapshot, bridge: Link) -> list[Link]:
    """Ports that lead to a wire: NICs, bonds, VLANs, veths whose peer is in this namespace,
    vxlans (a tunnel reaches the same network another uplink or tunnel may reach)."""
    return [p for p in ports(snapshot, bridge.ifname)
            if p.kind in UPLINK_KINDS and not is_downstream_port(p) and "LOOPBACK" not in p.flags]


def stp_off_uplinks(snapshot: Snapshot) -> Iterator[Finding]:
    for bridge in _bridges(snapshot):
        info = bridge.info_data
        if not isinstance(info, BridgeInfo) or info.stp_state != 0:
            continue
        uplinks = _uplinks(snapshot, bridge)
        if len(uplinks) < 2:
            continue
        names = ", ".join(p.ifname for p in uplinks)
        yield Finding(
            "bridge-stp-off-uplinks", "warning", link_key(bridge.ifname), bridge.ifname,
            f"{bridge.ifname} has STP off and {len(uplinks)} uplinks ({names})",
            "if two uplinks reach the same network, the bridge forwards frames in a loop: a "
            "broadcast storm that takes the network down",
            "bond the uplinks instead (kvmtui's wizard can), or turn STP on",
            (f"ip link set dev {bridge.ifname} type bridge stp_state 1",),
        )


def port_address(snapshot: Snapshot) -> Iterator[Finding]:
    for bridge in _bridges(snapshot):
        for port in ports(snapshot, bridge.ifname):
            addresses = global_addresses(port)
            if not addresses:
                continue
            yield Finding(
                "bridge-port-address", "warning", link_key(port.ifname), f"{bridge.ifname} port {port.ifname}",
                f"{port.ifname} is a port of {bridge.ifname} but holds {', '.join(addresses)}",
                "a bridge port hands every frame it receives to the bridge, so an address on the "
                "port does not answer: it belongs on the bridge",
                f"move the address to {bridge.ifname}",
                tuple(c for a in addresses for c in (f"ip addr del {a} dev {port.ifname}",
                                                     f"ip addr add {a} dev {bridge.ifname}")),
            )


def mac_two_ports(snapshot: Snapshot) -> Iterator[Finding]:
    """A running guest's MAC in its bridge's FDB on another port than the guest's tap.

    The FDB is keyed by (MAC, VLAN), so "one MAC on two ports" only ever shows across
    VLANs, which is normal (a router's VLAN interfaces share a MAC). A guest's MAC is
    different: it may only come in through the guest's own tap, in any VLAN."""
    if not guests_in_view(snapshot):
        return
    where: dict[tuple[str, str], set[str]] = defaultdict(set)  # (bridge, mac) -> ports
    for entry in snapshot.fdb:
        if entry.master:
            where[(entry.master, entry.mac.lower())].add(entry.ifname)
    for domain, number, nic in guest_nics(snapshot):
        if not domain.active or not nic.mac or not nic.target:
            continue
        tap = snapshot.link(nic.target)
        if tap is None or not tap.master:
            continue
        mac = nic.mac.lower()
        elsewhere = sorted(where.get((tap.master, mac), set()) - {tap.ifname, tap.master})
        if not elsewhere:
            continue
        yield Finding(
            "bridge-mac-two-ports", "warning", guest_key(domain, number), guest_subject(domain, nic),
            f"the MAC of guest {domain.name} ({nic.target}) is in {tap.master}'s FDB on "
            f"{', '.join(elsewhere)}",
            "another machine uses the guest's MAC, or a loop sends its frames back: traffic for "
            "the guest goes to the wrong port",
            "find the machine behind that port that uses this MAC (a clone, a second copy of "
            "the guest) and change one MAC, or remove the loop",
            (f"bridge fdb show br {tap.master} | grep -i {mac}",),
        )


def _learned(snapshot: Snapshot) -> dict[tuple[str, str, int | None], tuple[str, int]]:
    """(bridge, MAC, VLAN) -> the port (name, ifindex) the bridge learned it on."""
    return {(e.master, e.mac.lower(), e.vlan): (e.ifname, e.ifindex) for e in snapshot.fdb
            if e.master and e.learned and e.ifname != e.master}


def _same_guest(snapshot: Snapshot, one: str, other: str) -> bool:
    """Both ports are taps of one running guest: a guest bonding its NICs moves its MAC."""
    claimed = claimed_targets(snapshot)
    return one in claimed and other in claimed and claimed[one][0].uuid == claimed[other][0].uuid


def _stp_reroute(snapshot: Snapshot, bridge: str, one: str, other: str) -> bool:
    """Between two uplinks of a bridge running STP, a move is STP healing the topology."""
    info = getattr(snapshot.link(bridge), "info_data", None)
    sides = [snapshot.link(one), snapshot.link(other)]
    return isinstance(info, BridgeInfo) and info.stp_state != 0 and \
        all(p is not None and not is_downstream_port(p) for p in sides)


def mac_moved(previous: Snapshot, snapshot: Snapshot) -> Iterator[Finding]:
    """A MAC learned on one port before and on another port of the same bridge and VLAN now,
    both ports there both times: the bridge keeps relearning it (a loop or a duplicate MAC).
    A port that came or went (a guest restarted on a new vnet, same name or not) explains
    the move, so ports are compared by name and ifindex."""
    before = _learned(previous)
    ports_before = {(link.ifname, link.ifindex) for link in previous.links}
    ports_now = {(link.ifname, link.ifindex) for link in snapshot.links}
    for (bridge, mac, vlan), now in sorted(_learned(snapshot).items(), key=lambda kv: (*kv[0][:2], kv[0][2] or 0)):
        then = before.get((bridge, mac, vlan))
        if then is None or then == now or then not in ports_now or now not in ports_before:
            continue
        old, port = then[0], now[0]
        if _same_guest(snapshot, old, port) or _stp_reroute(snapshot, bridge, old, port):
            continue
        in_vlan = f" in VLAN {vlan}" if vlan is not None else ""
        yield Finding(
            "bridge-mac-moved", "warning", link_key(bridge), bridge,
            f"{mac} moved from {old} to {port} on {bridge}{in_vlan} since {previous.host.taken_at}",
            "in one VLAN a MAC lives behind one port: when the bridge relearns it elsewhere, two "
            "machines use that MAC or a loop sends its frames back, and its traffic flaps between "
            "the ports",
            "find the machines behind both ports that use this MAC and change one, or remove the "
            "loop (STP on, bond the uplinks); watch whether it keeps moving",
            (f"bridge fdb show br {bridge} | grep -i {mac}", f"bridge monitor fdb | grep -i {mac}"),
        )


CHECKS = (port_blocked, down_with_guests, stp_off_uplinks, port_address, mac_two_ports)
DIFF_CHECKS = (mac_moved,)
