"""Everything the kernel's rtnetlink knows about the namespace, in one pass."""

from __future__ import annotations

import os
import socket
import struct
from dataclasses import dataclass, replace

from kvmtui.collect.decode_links import decode_links
from kvmtui.collect.decode_tables import decode_addresses, decode_bridge_vlans, decode_fdb, decode_routes
from kvmtui.collect.netns import NETNS_RUN_DIR
from kvmtui.collect.rtnl import (
    NLATTR,
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


@dataclass(frozen=True)
class NetlinkState:
    links: tuple[Link, ...]
    fdb: tuple[FdbEntry, ...]
    bridge_vlans: tuple[BridgeVlan, ...]
    routes: tuple[Route, ...]


def read_netlink(with_fdb: bool = True) -> NetlinkState:
    """Dump links, addresses, routes, FDB and bridge VLANs of the calling thread's namespace.

    The small dumps come first (every dump holds the kernel's RTNL lock, so they
    would otherwise wait behind the FDB). Then the FDB, by far the largest table, is
    read by a reader thread while this thread decodes the rest, and its datagrams
    are decoded as they arrive.
    """
    with RtnlSocket() as sock, RtnlSocket() as fdb_sock:
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
        for _attempt in range(5):
            if fdb_dump is None:
                break
            fdb = decode_fdb(fdb_dump, names)
            if not fdb_dump.interrupted:
                break
            fdb_dump = fdb_dump.restart()
        peers_elsewhere = {link.link_netnsid for link in links if link.link_netnsid is not None}
        netns_names = namespace_names(sock, peers_elsewhere) if peers_elsewhere else {}
    links = tuple(
        replace(link, addresses=addresses.get(link.ifindex, ()), link_netns=netns_names.get(link.link_netnsid))
        if link.ifindex in addresses or link.link_netnsid in netns_names else link
        for link in links
    )
    return NetlinkState(links=links, fdb=fdb, bridge_vlans=bridge_vlans, routes=routes)


def read_bridge_fdb(bridge_ifindex: int, names: dict[int, str]) -> tuple[FdbEntry, ...]:
    """The FDB of one bridge only, filtered by the kernel (what `bridge fdb show br X` asks):
    cheap enough to re-read on every burst of neighbour events."""
    with RtnlSocket() as sock:
        chunks = sock.dump_chunks(RTM_GETNEIGH, socket.AF_BRIDGE, master=bridge_ifindex)
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
