"""Address, route, FDB and bridge-VLAN dumps -> model objects.

The FDB decoder is the hot path (tens of thousands of entries on a busy host),
so it walks attributes inline instead of building a dict per message.
"""

from __future__ import annotations

import operator
import socket
import struct
from collections import defaultdict
from collections.abc import Iterable

from kvmtui.collect.fastbuild import maker
from kvmtui.collect.nlattr import ip_address, opt, string, u32
from kvmtui.collect.rtnl import NLATTR, RTM_NEWADDR, RTM_NEWLINK, RTM_NEWNEIGH, RTM_NEWROUTE, attributes, iter_messages
from kvmtui.model.links import Address, BridgeVlan, FdbEntry, Route
from kvmtui.vocabulary import (
    BRIDGE_VLAN_INFO_PVID,
    BRIDGE_VLAN_INFO_UNTAGGED,
    IFA_F_PERMANENT,
    IFA_F_SECONDARY,
    NTF_NAMES,
    NUD_NOARP,
    NUD_PERMANENT,
    NUD_STALE,
    ROUTE_PROTOCOLS,
    ROUTE_TYPES,
    RT_TABLE_MAIN,
    RTNH_F_ONLINK,
    SCOPES,
)

IFADDRMSG = struct.Struct("=BBBBI")
RTMSG = struct.Struct("=BBBBBBBBI")
NDMSG = struct.Struct("=BxxxiHBB")
BRIDGE_VLAN_INFO = struct.Struct("=HH")
_U16 = struct.Struct("=H").unpack_from
_LENGTH_TYPE = struct.Struct("=IH").unpack_from  # the start of a netlink message header
_U32 = struct.Struct("=I").unpack_from
_CACHEINFO_UPDATED = struct.Struct("=8xI").unpack_from

FAMILIES = {socket.AF_INET: "inet", socket.AF_INET6: "inet6"}
USER_HZ = 100

IFA_ADDRESS, IFA_LOCAL, IFA_LABEL, IFA_BROADCAST = 1, 2, 3, 4
RTA_DST, RTA_OIF, RTA_GATEWAY, RTA_PRIORITY, RTA_PREFSRC, RTA_TABLE = 1, 4, 5, 6, 7, 15
NDA_DST, NDA_LLADDR, NDA_CACHEINFO, NDA_VLAN, NDA_VNI, NDA_MASTER = 1, 2, 3, 5, 7, 9
IFLA_AF_SPEC, IFLA_BRIDGE_VLAN_INFO = 26, 2


def decode_addresses(chunks: list[bytes]) -> dict[int, tuple[Address, ...]]:
    """Addresses per ifindex, in the kernel's order (the order `ip addr` shows)."""
    per_link: dict[int, list[Address]] = defaultdict(list)
    for data, offset, length in iter_messages(chunks, RTM_NEWADDR):
        family, prefixlen, flags, scope, index = IFADDRMSG.unpack_from(data, offset + 16)
        a = attributes(data, offset + 24, offset + length)
        local = opt(ip_address, data, a, IFA_LOCAL) or opt(ip_address, data, a, IFA_ADDRESS)
        if local is None or family not in FAMILIES:
            continue
        per_link[index].append(Address(
            family=FAMILIES[family], local=local, prefixlen=prefixlen,
            scope=SCOPES.get(scope, str(scope)), label=opt(string, data, a, IFA_LABEL),
            broadcast=opt(ip_address, data, a, IFA_BROADCAST), secondary=bool(flags & IFA_F_SECONDARY),
            dynamic=not flags & IFA_F_PERMANENT,
        ))
    return {index: tuple(addrs) for index, addrs in per_link.items()}


def decode_routes(chunks: list[bytes], names: dict[int, str]) -> tuple[Route, ...]:
    """Routes of the main table, what `ip route show` lists (multipath next hops are not split)."""
    routes = []
    for data, offset, length in iter_messages(chunks, RTM_NEWROUTE):
        family, dst_len, _src, _tos, table, proto, scope, rtype, flags = RTMSG.unpack_from(data, offset + 16)
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
            onlink=bool(flags & RTNH_F_ONLINK),
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


def decode_fdb(chunks: Iterable[bytes], names: dict[int, str]) -> tuple[FdbEntry, ...]:
    """Every entry of an AF_BRIDGE neighbour dump, as `bridge fdb show` lists them.

    A busy bridge repeats a handful of attribute layouts tens of thousands of
    times, so each layout seen is compiled once (`_FdbLayout`) and reused for every
    message of the same length whose attribute headers match it exactly.
    """
    entries: list[FdbEntry] = []
    append = entries.append
    new_entry = _new_fdb_entry
    layouts: dict[int, _FdbLayout | None] = {}
    states: dict[int, str] = {}
    flag_words: dict[int, tuple[str, ...]] = {}
    ifnames = names.get
    header = _LENGTH_TYPE
    for data in chunks:  # the message walk is inlined: this loop runs once per FDB entry
        offset, end = 0, len(data)
        while offset + 16 <= end:
            length, kind = header(data, offset)
            if length < 16:
                break
            if kind == RTM_NEWNEIGH:
                layout = layouts.get(length)
                fields = None
                if layout is not None:
                    record = layout.unpack(data, offset)
                    if layout.headers(record) == layout.expected:
                        fields = layout.pick(record + _NONE)
                if fields is None:
                    fields = _fdb_fields(data, offset, length)
                    if length not in layouts:
                        layouts[length] = _FdbLayout.of(data, offset, length)
                index, state, flags, lladdr, vlan, master, updated, dst, vni = fields
                if lladdr is not None:
                    if state not in states:
                        states[state] = _fdb_state(state)
                    if flags not in flag_words:
                        flag_words[flags] = tuple(word for bit, word in NTF_NAMES if flags & bit)
                    append(new_entry(lladdr.hex(":"), ifnames(index) or str(index), index,
                                     ifnames(master) if master else None, vlan, states[state], flag_words[flags],
                                     dst, vni, None if updated is None else updated // USER_HZ))
            offset += (length + 3) & ~3
    return tuple(entries)


_new_fdb_entry = maker(FdbEntry)
_FdbFields = tuple  # (ifindex, state, flags, lladdr bytes, vlan, master, updated, dst, vni)


def _fdb_fields(data: bytes, offset: int, length: int) -> _FdbFields:
    """The general walk over one neighbour message's attributes."""
    _family, index, state, flags, _type = NDMSG.unpack_from(data, offset + 16)
    pos, end = offset + 28, offset + length
    lladdr = dst = vlan = vni = master = updated = None
    while pos + 4 <= end:
        alen, akind = NLATTR.unpack_from(data, pos)
        if alen < 4:
            break
        akind &= 0x3FFF
        if akind == NDA_LLADDR:
            lladdr = data[pos + 4 : pos + alen]
        elif akind == NDA_VLAN:
            vlan = _U16(data, pos + 4)[0]
        elif akind == NDA_MASTER:
            master = _U32(data, pos + 4)[0]
        elif akind == NDA_CACHEINFO:
            updated = _CACHEINFO_UPDATED(data, pos + 4)[0]
        elif akind == NDA_DST:
            dst = ip_address(data, (pos + 4, alen - 4))
        elif akind == NDA_VNI:
            vni = _U32(data, pos + 4)[0]
        pos += (alen + 3) & ~3
    return index, state, flags, lladdr, vlan, master, updated, dst, vni


# How the fast path reads the attributes it needs: struct code for the payload.
_FAST_ATTRS = {(NDA_LLADDR, 10): "6s", (NDA_VLAN, 6): "H", (NDA_MASTER, 8): "I", (NDA_CACHEINFO, 20): "8xI4x"}
_FIELD_ORDER = (NDA_LLADDR, NDA_VLAN, NDA_MASTER, NDA_CACHEINFO)


class _FdbLayout:
    """A compiled reader for one attribute layout of RTM_NEWNEIGH messages: one unpack
    gives the attribute headers (to check that a message really has this layout) and
    the values, so a message costs a single struct call."""

    def __init__(self, fmt: str, header_slots: tuple[int, ...], expected: tuple, value_slots: tuple[int, ...]):
        self.unpack = struct.Struct(fmt).unpack_from
        self.headers = operator.itemgetter(*header_slots)  # attributes come in (length, type) pairs: never one item
        self.expected = expected
        # ifindex, state, flags, then the attribute values; -1 picks the None appended to the record.
        self.pick = operator.itemgetter(*value_slots, -1, -1)

    @classmethod
    def of(cls, data: bytes, offset: int, length: int) -> _FdbLayout | None:
        fmt, header_slots, expected, values = ["=20xiHB1x"], [], [], {}
        slot = 3  # after ifindex, state, flags
        pos, end = offset + 28, offset + length
        while pos + 4 <= end:
            alen, akind = NLATTR.unpack_from(data, pos)
            padded = (alen + 3) & ~3
            if alen < 4 or (akind & 0x3FFF, alen) not in _FAST_ATTRS and akind & 0x3FFF in (NDA_DST, NDA_VNI):
                return None  # vxlan entries: rare, take the general walk
            code = _FAST_ATTRS.get((akind & 0x3FFF, alen))
            fmt.append("HH" + (f"{code}{padded - alen}x" if code else f"{padded - 4}x"))
            header_slots += [slot, slot + 1]
            expected += [alen, akind]
            if code:
                values[akind & 0x3FFF] = slot + 2
            slot += 3 if code else 2
            pos += padded
        if pos != end or not header_slots:
            return None
        value_slots = (0, 1, 2, *(values.get(k, -1) for k in _FIELD_ORDER))
        return cls("".join(fmt), tuple(header_slots), tuple(expected), value_slots)


_NONE = (None,)




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


