"""Everything the kernel's rtnetlink knows about the namespace, in one pass.

A device whose peer (or lower device) lives in another namespace knows it only by a
number there; the kernel (>= 4.20) answers RTM_GETLINK for that namespace
(IFLA_TARGET_NETNSID), so a veth's far end is named with its bridge or bond.
"""

from __future__ import annotations

import os
import socket
import struct
from dataclasses import dataclass, replace

from kvmtui.collect.decode_links import IFINFOMSG, IFLA_IFNAME, IFLA_MASTER, decode_links
from kvmtui.collect.decode_tables import decode_addresses, decode_bridge_vlans, decode_fdb, decode_routes
from kvmtui.collect.fastbuild import bulk_decoding
from kvmtui.collect.netns import NETNS_RUN_DIR
from kvmtui.collect.nlattr import string, u32
from kvmtui.collect.rtnl import (
    NLATTR,
    NLMSGHDR,
    RTEXT_FILTER_BRVLAN,
    RTM_GETADDR,
    RTM_GETLINK,
    RTM_GETNEIGH,
    RTM_GETNSID,
    RTM_GETROUTE,
    RtnlSocket,
    attributes,
)
from kvmtui.errors import KvmtuiError
from kvmtui.model.links import BridgeVlan, FdbEntry, Link, Route


NETNSA_NSID, NETNSA_FD = 1, 3
IFLA_TARGET_NETNSID = 46  # kernel >= 4.20 (4.15-4.19: IFLA_IF_NETNSID, same number)
FDB_ATTEMPTS = 5


@dataclass(frozen=True)
class NetlinkState:
    links: tuple[Link, ...]
    fdb: tuple[FdbEntry, ...]
    bridge_vlans: tuple[BridgeVlan, ...]
    routes: tuple[Route, ...]
    problems: tuple[str, ...] = ()  # sentences for Snapshot.problems


def fdb_incomplete(attempts: int = FDB_ATTEMPTS) -> str:
    """What the user is told when every FDB dump raced with a change."""
    return f"the FDB changed while it was read {attempts} times: it may be incomplete"


def read_netlink(with_fdb: bool = True) -> NetlinkState:
    """Dump links, addresses, routes, FDB and bridge VLANs of the calling thread's namespace.

    The small dumps come first (every dump holds the kernel's RTNL lock, so they
    would otherwise wait behind the FDB). Then the FDB, by far the largest table, is
    read by a reader thread while this thread decodes the rest, and its datagrams
    are decoded as they arrive.
    """
    with RtnlSocket() as sock, RtnlSocket() as fdb_sock, bulk_decoding():
        link_chunks = sock.dump_chunks(RTM_GETLINK)
        addr_chunks = sock.dump_chunks(RTM_GETADDR)
        route_chunks = sock.dump_chunks(RTM_GETROUTE)
        vlan_chunks = sock.dump_chunks(RTM_GETLINK, socket.AF_BRIDGE, RTEXT_FILTER_BRVLAN)
        fdb_dump = fdb_sock.dump_in_background(RTM_GETNEIGH, socket.AF_BRIDGE) if with_fdb else None
        links = decode_links(link_chunks)  # decoding overlaps the kernel's FDB work from here on
        names = {link.ifindex: link.ifname for link in links}
        addresses = decode_addresses(addr_chunks)
        bridge_vlans = decode_bridge_vlans(vlan_chunks, names)
        routes = decode_routes(route_chunks, names)
        fdb: tuple[FdbEntry, ...] = ()
        problems: tuple[str, ...] = ()
        for attempt in range(1, FDB_ATTEMPTS + 1):
            if fdb_dump is None:
                break
            fdb = decode_fdb(fdb_dump, names)
            if not fdb_dump.interrupted:
                break
            if attempt == FDB_ATTEMPTS:
                problems = (fdb_incomplete(attempt),)
                break
            fdb_dump = fdb_dump.restart()
        elsewhere = [link for link in links if link.link_netnsid is not None]
        far_ends = _far_ends(sock, elsewhere) if elsewhere else {}
    links = tuple(
        replace(link, addresses=addresses.get(link.ifindex, ()), **far_ends.get(link.ifindex, {}))
        if link.ifindex in addresses or link.ifindex in far_ends else link
        for link in links
    )
    return NetlinkState(links=links, fdb=fdb, bridge_vlans=bridge_vlans, routes=routes, problems=problems)


def _far_ends(sock: RtnlSocket, elsewhere: list[Link]) -> dict[int, dict[str, str | None]]:
    """ifindex -> the Link fields that name what lies in another namespace: its name
    under /run/netns, and the peer's name and master as that namespace sees them."""
    netns_names = namespace_names(sock, {link.link_netnsid for link in elsewhere})
    found: dict[int, dict[str, str | None]] = {}
    seen: dict[tuple[int, int], tuple[str, int] | None] = {}
    for link in elsewhere:
        fields: dict[str, str | None] = {}
        if link.link_netnsid in netns_names:
            fields["link_netns"] = netns_names[link.link_netnsid]
        peer = _link_in(sock, link.link_netnsid, link.link_index, seen) if link.link_index else None
        if peer is not None:
            fields["link_netns_ifname"] = peer[0]
            master = _link_in(sock, link.link_netnsid, peer[1], seen) if peer[1] else None
            fields["link_netns_master"] = master[0] if master else None
        if fields:
            found[link.ifindex] = fields
    return found


def _link_in(sock: RtnlSocket, netnsid: int, ifindex: int,
             seen: dict[tuple[int, int], tuple[str, int] | None]) -> tuple[str, int] | None:
    """(name, master ifindex) of device `ifindex` in peer namespace `netnsid`; None when
    the kernel refuses (EINVAL before 4.15, EPERM without CAP_NET_ADMIN there) or does
    not know the attribute (then it would answer for this namespace: the reply must echo it)."""
    if (netnsid, ifindex) in seen:
        return seen[netnsid, ifindex]
    body = IFINFOMSG.pack(0, 0, ifindex, 0, 0) + NLATTR.pack(8, IFLA_TARGET_NETNSID) + struct.pack("=i", netnsid)
    answer = None
    try:
        data, offset = sock.request(RTM_GETLINK, body)
    except KvmtuiError:
        data = None
    if data is not None:
        length = NLMSGHDR.unpack_from(data, 0)[0]
        attrs = attributes(data, offset + IFINFOMSG.size, min(length, len(data)))
        if IFLA_TARGET_NETNSID in attrs and IFLA_IFNAME in attrs:
            master = u32(data, attrs[IFLA_MASTER]) if IFLA_MASTER in attrs else 0
            answer = (string(data, attrs[IFLA_IFNAME]), master)
    seen[netnsid, ifindex] = answer
    return answer


def read_bridge_fdb(bridge_ifindex: int, names: dict[int, str]) -> tuple[FdbEntry, ...]:
    """The FDB of one bridge only, filtered by the kernel (what `bridge fdb show br X` asks):
    cheap enough to re-read on every burst of neighbour events."""
    with RtnlSocket() as sock:
        chunks = sock.dump_chunks(RTM_GETNEIGH, socket.AF_BRIDGE, master=bridge_ifindex)
    with bulk_decoding():
        return decode_fdb(chunks, names)


def namespace_names(sock: RtnlSocket, wanted: set[int]) -> dict[int, str]:
    """netnsid (as this namespace numbers its peers) -> name under /run/netns.

    The kernel knows a peer namespace only by a local id; asking it for the id of
    each named namespace (RTM_GETNSID with NETNSA_FD) turns ids back into names.
    """
    names: dict[int, str] = {}
    try:
        entries = sorted(os.listdir(NETNS_RUN_DIR))
    except OSError:
        return names
    for name in entries:
        try:
            fd = os.open(os.path.join(NETNS_RUN_DIR, name), os.O_RDONLY | os.O_CLOEXEC)
        except OSError:
            continue
        try:
            body = bytes(4) + NLATTR.pack(8, NETNSA_FD) + struct.pack("=I", fd)
            data, offset = sock.request(RTM_GETNSID, body)
            attrs = attributes(data, offset + 4, len(data))
            if NETNSA_NSID in attrs:
                (nsid,) = struct.unpack_from("=i", data, attrs[NETNSA_NSID][0])
                if nsid in wanted:
                    names[nsid] = name
        except KvmtuiError:
            continue
        finally:
            os.close(fd)
        if len(names) == len(wanted):
            break
    return names
