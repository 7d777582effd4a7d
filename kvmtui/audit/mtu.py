"""MTU rules: a frame that fits one device but not the one below it on the way to the
wire is dropped silently (bridged traffic gets no ICMP "fragmentation needed"), which
shows up as connections that open and then stall."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterator

from kvmtui.audit.findings import Finding
from kvmtui.facts import STACKED_KINDS, is_downstream_port
from kvmtui.model import Link, Snapshot, VxlanInfo
from kvmtui.node_keys import link_key

RULES = {
    "mtu-larger-than-lower": "a device with a larger MTU than the device below it on the path to the wire",
    "mtu-vxlan-underlay": "a vxlan whose underlay MTU is below the overlay MTU plus the encapsulation",
}

VXLAN_OVERHEAD = {4: 50, 6: 70}  # outer Ethernet 14 + IP 20/40 + UDP 8 + VXLAN 8


def _below(snapshot: Snapshot, link: Link) -> list[tuple[Link, str]]:
    """(device, how) for each device directly below `link` on its path to the wire."""
    found = []
    if link.kind in STACKED_KINDS and link.link:
        lower = snapshot.link(link.link)
        if lower is not None:
            found.append((lower, f"its lower device {lower.ifname}"))
    master = snapshot.link(link.master)
    if master is not None and master.kind == "bridge" and is_downstream_port(link):
        found.append((master, f"its bridge {master.ifname}"))
    if link.kind == "bridge":
        for port in snapshot.links:
            if port.master == link.ifname and not is_downstream_port(port):
                found.append((port, f"its uplink port {port.ifname}"))
    if link.kind == "bond":
        for slave in snapshot.links:
            if slave.master == link.ifname:
                found.append((slave, f"its slave {slave.ifname}"))
    return found


def larger_than_lower(snapshot: Snapshot) -> Iterator[Finding]:
    for link in snapshot.links:
        for lower, how in _below(snapshot, link):
            if link.mtu <= lower.mtu:
                continue
            yield Finding(
                "mtu-larger-than-lower", "warning", link_key(link.ifname), link.ifname,
                f"{link.ifname} has MTU {link.mtu}, {how} only {lower.mtu}",
                f"frames between {lower.mtu} and {link.mtu} bytes from {link.ifname} are dropped on "
                "the way to the wire, without an ICMP error for bridged traffic: large transfers "
                "stall (a path-MTU black hole)",
                f"give {link.ifname} the MTU of the device below, or raise the MTU below (and "
                "everything after it up to the switch)",
                (f"ip link set dev {link.ifname} mtu {lower.mtu}",),
            )


def _overhead(address: str | None) -> int:
    try:
        return VXLAN_OVERHEAD[ipaddress.ip_address(address).version] if address else VXLAN_OVERHEAD[4]
    except ValueError:
        return VXLAN_OVERHEAD[4]


def _holder(snapshot: Snapshot, address: str) -> Link | None:
    """The device that holds `address` (a vxlan's `local`)."""
    try:
        wanted = ipaddress.ip_address(address)
    except ValueError:
        return None
    for link in snapshot.links:
        for a in link.addresses:
            try:
                if ipaddress.ip_address(a.local) == wanted:
                    return link
            except ValueError:
                continue
    return None


def _underlay(snapshot: Snapshot, vxlan: Link, info: VxlanInfo) -> tuple[Link | None, int]:
    """The underlay device and the encapsulation overhead for its IP version.

    Without `dev` the kernel routes each packet: to the remote or group, and to the `dst`
    of each FDB entry (a vxlan without remote learns its peers there), so the tightest of
    those routes counts. With no peer to route to, the device holding `local` is the best
    guess of where packets will leave."""
    peer = info.remote or info.group or info.local
    if info.link:
        return snapshot.link(info.link), _overhead(peer)
    peers = [a for a in (info.remote, info.group) if a]
    peers += sorted({e.dst for e in snapshot.fdb if e.ifname == vxlan.ifname and e.dst})
    candidates = [(link, _overhead(a)) for a in peers if (link := snapshot.link(snapshot.route_dev(a))) is not None]
    if candidates:
        return min(candidates, key=lambda c: c[0].mtu - c[1])
    if info.local:
        return _holder(snapshot, info.local), _overhead(info.local)
    return None, _overhead(peer)


def vxlan_underlay(snapshot: Snapshot) -> Iterator[Finding]:
    for link in snapshot.links:
        if link.kind != "vxlan" or not isinstance(link.info_data, VxlanInfo):
            continue
        underlay, overhead = _underlay(snapshot, link, link.info_data)
        if underlay is None or underlay.ifname == link.ifname or link.mtu + overhead <= underlay.mtu:
            continue
        yield Finding(
            "mtu-vxlan-underlay", "warning", link_key(link.ifname), link.ifname,
            f"vxlan {link.ifname} has MTU {link.mtu} but its underlay {underlay.ifname} only "
            f"{underlay.mtu} (needs {link.mtu + overhead}: {overhead} bytes of encapsulation)",
            f"full-size frames become packets larger than {underlay.ifname} can send: they are "
            "fragmented or dropped, and large transfers stall",
            f"lower {link.ifname}'s MTU to {underlay.mtu - overhead}, or raise the underlay's "
            f"MTU to {link.mtu + overhead} end to end",
            (f"ip link set dev {link.ifname} mtu {underlay.mtu - overhead}",),
        )


CHECKS = (larger_than_lower, vxlan_underlay)
