"""Everything the kernel's rtnetlink knows about the namespace, in one pass."""

from __future__ import annotations

import socket
from dataclasses import dataclass, replace

from kvmtui.collect.decode_links import decode_links
from kvmtui.collect.decode_tables import decode_addresses, decode_bridge_vlans, decode_fdb, decode_routes
from kvmtui.collect.rtnl import RTEXT_FILTER_BRVLAN, RTM_GETADDR, RTM_GETLINK, RTM_GETNEIGH, RTM_GETROUTE, RtnlSocket
from kvmtui.model.links import BridgeVlan, FdbEntry, Link, Route


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
    links = tuple(replace(link, addresses=addresses[link.ifindex]) if link.ifindex in addresses else link for link in links)
    return NetlinkState(links=links, fdb=fdb, bridge_vlans=bridge_vlans, routes=routes)
