"""Address, route, FDB and bridge-VLAN dumps -> model objects.

The FDB decoder is the hot path (tens of thousands of entries on a busy host),
so it walks attributes inline instead of building a dict per message.
"""

from __future__ import annotations

import socket
import struct
from collections import defaultdict

from kvmtui.collect.nlattr import ip_address, opt, string, u32
from kvmtui.collect.rtnl import NLATTR, RTM_NEWADDR, RTM_NEWLINK, RTM_NEWNEIGH, RTM_NEWROUTE, attributes, iter_messages
from kvmtui.model.links import Address, BridgeVlan, FdbEntry, Route

IFADDRMSG = struct.Struct("=BBBBI")
RTMSG = struct.Struct("=BBBBBBBBI")
NDMSG = struct.Struct("=BxxxiHBB")
BRIDGE_VLAN_INFO = struct.Struct("=HH")
_U16 = struct.Struct("=H").unpack_from
_U32 = struct.Struct("=I").unpack_from
_CACHEINFO_UPDATED = struct.Struct("=8xI").unpack_from

FAMILIES = {socket.AF_INET: "inet", socket.AF_INET6: "inet6"}
SCOPES = {0: "global", 200: "site", 253: "link", 254: "host", 255: "nowhere"}
ROUTE_PROTOCOLS = {
    0: "unspec", 1: "redirect", 2: "kernel", 3: "boot", 4: "static", 8: "gated", 9: "ra",
    10: "mrt", 11: "zebra", 12: "bird", 13: "dnrouted", 14: "xorp", 15: "ntk", 16: "dhcp",
    17: "keepalived", 18: "babel", 42: "openr", 186: "bgp", 187: "isis", 188: "ospf",
    189: "rip", 192: "eigrp",
}
ROUTE_TYPES = {1: "unicast", 2: "local", 3: "broadcast", 4: "anycast", 5: "multicast",
               6: "blackhole", 7: "unreachable", 8: "prohibit", 9: "throw", 10: "nat"}
RT_TABLE_MAIN = 254
USER_HZ = 100

IFA_ADDRESS, IFA_LOCAL, IFA_LABEL = 1, 2, 3
RTA_DST, RTA_OIF, RTA_GATEWAY, RTA_PRIORITY, RTA_PREFSRC, RTA_TABLE = 1, 4, 5, 6, 7, 15
NDA_DST, NDA_LLADDR, NDA_CACHEINFO, NDA_VLAN, NDA_VNI, NDA_MASTER = 1, 2, 3, 5, 7, 9
NUD_PERMANENT, NUD_NOARP, NUD_STALE = 0x80, 0x40, 0x04
# ndm_flags in the order `bridge fdb` prints them.
NTF_NAMES = ((0x02, "self"), (0x80, "router"), (0x10, "extern_learn"), (0x20, "offload"),
             (0x04, "master"), (0x40, "sticky"))
IFLA_AF_SPEC, IFLA_BRIDGE_VLAN_INFO = 26, 2
BRIDGE_VLAN_INFO_PVID, BRIDGE_VLAN_INFO_UNTAGGED = 0x2, 0x4


def decode_addresses(chunks: list[bytes]) -> dict[int, tuple[Address, ...]]:
    """Addresses per ifindex, in the kernel's order (the order `ip addr` shows)."""
    per_link: dict[int, list[Address]] = defaultdict(list)
    for data, offset, length in iter_messages(chunks, RTM_NEWADDR):
        family, prefixlen, _flags, scope, index = IFADDRMSG.unpack_from(data, offset + 16)
        a = attributes(data, offset + 24, offset + length)
        local = opt(ip_address, data, a, IFA_LOCAL) or opt(ip_address, data, a, IFA_ADDRESS)
        if local is None or family not in FAMILIES:
            continue
        per_link[index].append(Address(
            family=FAMILIES[family], local=local, prefixlen=prefixlen,
            scope=SCOPES.get(scope, str(scope)), label=opt(string, data, a, IFA_LABEL),
        ))
    return {index: tuple(addrs) for index, addrs in per_link.items()}


def decode_routes(chunks: list[bytes], names: dict[int, str]) -> tuple[Route, ...]:
    """Routes of the main table, what `ip route show` lists (multipath next hops are not split)."""
    routes = []
    for data, offset, length in iter_messages(chunks, RTM_NEWROUTE):
        family, dst_len, _src, _tos, table, proto, scope, rtype, _flags = RTMSG.unpack_from(data, offset + 16)
        a = attributes(data, offset + 28, offset + length)
        table = opt(u32, data, a, RTA_TABLE, table)
        if table != RT_TABLE_MAIN or family not in FAMILIES:
            continue
        dst = opt(ip_address, data, a, RTA_DST)
        routes.append(Route(
            family=FAMILIES[family],
            dst="default" if dst is None else (dst if dst_len == 8 * (4 if family == socket.AF_INET else 16) else f"{dst}/{dst_len}"),
            gateway=opt(ip_address, data, a, RTA_GATEWAY),
            dev=names.get(opt(u32, data, a, RTA_OIF, 0)),
            prefsrc=opt(ip_address, data, a, RTA_PREFSRC),
            protocol=ROUTE_PROTOCOLS.get(proto, str(proto)),
            scope=SCOPES.get(scope, str(scope)),
            table=table,
            metric=opt(u32, data, a, RTA_PRIORITY),
            type=ROUTE_TYPES.get(rtype, str(rtype)),
        ))
    return tuple(routes)


def _fdb_state(state: int) -> str:
    if state & NUD_PERMANENT:
        return "permanent"
    if state & NUD_NOARP:
        return "static"
    if state & NUD_STALE:
        return "stale"
    return ""


def decode_fdb(chunks: list[bytes], names: dict[int, str]) -> tuple[FdbEntry, ...]:
    """Every entry of an AF_BRIDGE neighbour dump, as `bridge fdb show` lists them."""
    entries = []
    append = entries.append
    attr = NLATTR.unpack_from
    states: dict[int, str] = {}
    flag_words: dict[int, tuple[str, ...]] = {}
    for data, offset, length in iter_messages(chunks, RTM_NEWNEIGH):
        _family, index, state, flags, _type = NDMSG.unpack_from(data, offset + 16)
        pos, end = offset + 28, offset + length
        lladdr = dst = None
        vlan = vni = master = updated = None
        while pos + 4 <= end:
            alen, akind = attr(data, pos)
            if alen < 4:
                break
            akind &= 0x3FFF
            if akind == NDA_LLADDR:
                lladdr = data[pos + 4 : pos + alen].hex(":")
            elif akind == NDA_VLAN:
                vlan = _U16(data, pos + 4)[0]
            elif akind == NDA_MASTER:
                master = _U32(data, pos + 4)[0]
            elif akind == NDA_CACHEINFO:
                updated = _CACHEINFO_UPDATED(data, pos + 4)[0] // USER_HZ
            elif akind == NDA_DST:
                dst = ip_address(data, (pos + 4, alen - 4))
            elif akind == NDA_VNI:
                vni = _U32(data, pos + 4)[0]
            pos += (alen + 3) & ~3
        if lladdr is None:
            continue
        if state not in states:
            states[state] = _fdb_state(state)
        if flags not in flag_words:
            flag_words[flags] = tuple(word for bit, word in NTF_NAMES if flags & bit)
        ifname = names.get(index, str(index))
        append(FdbEntry(lladdr, ifname, index, names.get(master) if master else None, vlan,
                        states[state], flag_words[flags], dst, vni, updated))
    return tuple(entries)


def decode_bridge_vlans(chunks: list[bytes], names: dict[int, str]) -> tuple[BridgeVlan, ...]:
    """VLANs per bridge port from an AF_BRIDGE link dump asked with RTEXT_FILTER_BRVLAN."""
    vlans = []
    for data, offset, length in iter_messages(chunks, RTM_NEWLINK):
        index = struct.unpack_from("=i", data, offset + 20)[0]
        a = attributes(data, offset + 32, offset + length)
        if IFLA_AF_SPEC not in a:
            continue
        start, size = a[IFLA_AF_SPEC]
        pos, end = start, start + size
        while pos + 4 <= end:
            alen, akind = NLATTR.unpack_from(data, pos)
            if alen < 4:
                break
            if akind & 0x3FFF == IFLA_BRIDGE_VLAN_INFO:
                flags, vid = BRIDGE_VLAN_INFO.unpack_from(data, pos + 4)
                vlans.append(BridgeVlan(names.get(index, str(index)), vid,
                                        bool(flags & BRIDGE_VLAN_INFO_PVID),
                                        bool(flags & BRIDGE_VLAN_INFO_UNTAGGED)))
            pos += (alen + 3) & ~3
    return tuple(vlans)


