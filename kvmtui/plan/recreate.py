"""A deleted vxlan or macvlan made again as the Snapshot shows it (pure): the undo of a
delete. The same `ip link add` words their wizards plan with, plus what the wizards leave
to the kernel (MAC, TTL); and a vxlan's static FDB entries, which go with the device."""

from __future__ import annotations

from kvmtui.model import Link, MacvlanInfo, Snapshot, VxlanInfo
from kvmtui.plan import steps as s

ZEROS = "00:00:00:00:00:00"


def _device(link: Link) -> s.Settings:
    """Its MAC (the IPv6 link-local address and a bridge's id follow from it) and MTU."""
    return ((("address", link.mac),) if link.mac else ()) + (("mtu", str(link.mtu)),)


def unrecreatable(link: Link) -> str | None:
    """Why an undo could not make this device again as it is (None: it can)."""
    info = link.info_data
    if link.kind == "vxlan":
        if not isinstance(info, VxlanInfo):
            return f"kvmtui cannot read {link.ifname}'s settings, so an undo could not make it again"
        if info.external:
            return (f"{link.ifname} takes its VNI from each packet (external, as Open vSwitch's and flow-based "
                    "tunnels do): the program that made it deletes it")
    if link.kind == "macvlan":
        if not isinstance(info, MacvlanInfo):
            return f"kvmtui cannot read {link.ifname}'s mode, so an undo could not make it again"
        if not link.link:
            return f"{link.ifname}'s lower device is in another namespace: an undo could not make it again from here"
        if info.mode == "source":
            return f"{link.ifname} is a source-mode macvlan: its list of source MACs would not come back with an undo"
    return None


def vxlan_add(link: Link) -> s.LinkAdd:
    info = link.info_data
    assert isinstance(info, VxlanInfo)
    options = _device(link) + (("id", str(info.id)),)
    options += (("remote", info.remote),) if info.remote else ()
    options += (("group", info.group),) if info.group else ()
    options += (("local", info.local),) if info.local else ()
    options += (("dev", info.link),) if info.link else ()
    options += (("dstport", str(info.port)),) + ((("nolearning", ""),) if not info.learning else ())
    options += (("ttl", str(info.ttl)),) if info.ttl else ()
    return s.link_add(link.ifname, "vxlan", options)


def vxlan_fdb(snapshot: Snapshot, link: Link) -> list[s.Step]:
    """The remote VTEPs and MACs an administrator gave it (`bridge fdb append ... dst`), in
    the order listed; not the entry the kernel makes for its remote or group, nor learned ones."""
    info = link.info_data
    made = {info.remote, info.group} if isinstance(info, VxlanInfo) else set()
    vni = info.id if isinstance(info, VxlanInfo) else None
    return [s.fdb_append(link.ifname, e.dst, e.mac) for e in snapshot.fdb
            if e.ifname == link.ifname and e.dst and "self" in e.flags and e.state in ("permanent", "static")
            and e.vni in (None, vni) and not (e.mac == ZEROS and e.dst in made)]


def fdb_left_out(snapshot: Snapshot, link: Link) -> list[str]:
    """Entries an undo would not give back: those with a VNI of their own."""
    info = link.info_data
    vni = info.id if isinstance(info, VxlanInfo) else None
    return [f"{e.mac} dst {e.dst} vni {e.vni}" for e in snapshot.fdb
            if e.ifname == link.ifname and e.dst and e.vni not in (None, vni)]


def macvlan_add(link: Link) -> s.LinkAdd:
    info = link.info_data
    assert isinstance(info, MacvlanInfo)
    return s.link_add(link.ifname, "macvlan", _device(link) + (("mode", info.mode),), parent=link.link)
