"""RTM_NEWLINK messages -> model.Link, with the kind data `ip -d link` shows.

Numbers and words follow the kernel's uapi headers (if_link.h) and iproute2's
names for them, so the result can be compared field by field with `ip -d -j`.
"""

from __future__ import annotations

import ipaddress
import struct

from kvmtui.collect.nlattr import Span, be16, i32, ip_address, mac, opt, string, u8, u16, u32
from kvmtui.collect.rtnl import RTM_NEWLINK, attributes, iter_messages
from kvmtui.model.links import (
    BondInfo,
    BondSlaveInfo,
    BridgeInfo,
    BridgePortInfo,
    Link,
    LinkStats,
    MacvlanInfo,
    TunInfo,
    TunnelInfo,
    VlanInfo,
    VxlanInfo,
)
from kvmtui.vocabulary import (
    AD_SELECT,
    ARP_VALIDATE,
    BOND_MODES,
    FAIL_OVER_MAC,
    LACP_RATE,
    MACVLAN_MODES,
    PRIMARY_RESELECT,
    VLAN_PROTOCOLS,
    XMIT_HASH,
    word,
)

IFINFOMSG = struct.Struct("=BxHiII")
STATS64_HEAD = struct.Struct("=8Q")

IFLA_ADDRESS, IFLA_IFNAME, IFLA_MTU, IFLA_LINK = 1, 3, 4, 5
IFLA_MASTER, IFLA_OPERSTATE, IFLA_LINKINFO, IFLA_STATS64 = 10, 16, 18, 23
IFLA_PROMISCUITY, IFLA_CARRIER, IFLA_LINK_NETNSID = 30, 33, 37
IFLA_MAX_MTU, IFLA_PARENT_DEV_BUS_NAME = 51, 57
IFLA_IFALIAS = 20
IFLA_INFO_KIND, IFLA_INFO_DATA, IFLA_INFO_SLAVE_KIND, IFLA_INFO_SLAVE_DATA = 1, 2, 4, 5

OPERSTATES = ("UNKNOWN", "NOTPRESENT", "DOWN", "LOWERLAYERDOWN", "TESTING", "DORMANT", "UP")
# Interface flags in the order iproute2 prints them.
IFF_NAMES = (
    (0x8, "LOOPBACK"), (0x2, "BROADCAST"), (0x10, "POINTOPOINT"), (0x1000, "MULTICAST"),
    (0x80, "NOARP"), (0x200, "ALLMULTI"), (0x100, "PROMISC"), (0x400, "MASTER"),
    (0x800, "SLAVE"), (0x4, "DEBUG"), (0x8000, "DYNAMIC"), (0x4000, "AUTOMEDIA"),
    (0x2000, "PORTSEL"), (0x20, "NOTRAILERS"), (0x1, "UP"), (0x10000, "LOWER_UP"),
    (0x20000, "DORMANT"), (0x40000, "ECHO"),
)
IFF_UP, IFF_RUNNING = 0x1, 0x40
ARPHRD_IP_TUNNELS = {768, 776, 778}  # ipip, sit, gre: the "MAC" is an IPv4 address
ARPHRD_IP6_TUNNELS = {769, 823}  # ip6tnl, ip6gre: an IPv6 address

BOND_SLAVE_STATE = ("ACTIVE", "BACKUP")
BOND_MII = ("UP", "GOING_DOWN", "DOWN", "GOING_BACK")
BRPORT_STATES = ("disabled", "listening", "learning", "forwarding", "blocking")
IFLA_VXLAN_COLLECT_METADATA = 25  # `external`: the VNI and remote come per packet (OVS, tc, BGP EVPN)
# linux/if_tunnel.h: IFLA_GRE_* (gre, gretap, ip6gre, ip6gretap) and IFLA_IPTUN_* (ipip, sit, ip6tnl)
IFLA_GRE_LINK, IFLA_GRE_IFLAGS, IFLA_GRE_OFLAGS, IFLA_GRE_IKEY, IFLA_GRE_OKEY = 1, 2, 3, 4, 5
IFLA_GRE_LOCAL, IFLA_GRE_REMOTE, IFLA_GRE_TTL, IFLA_GRE_COLLECT_METADATA = 6, 7, 8, 18
GRE_KEY = 0x2000  # in IFLA_GRE_[IO]FLAGS (big-endian): the key attribute means something
IFLA_IPTUN_LINK, IFLA_IPTUN_LOCAL, IFLA_IPTUN_REMOTE, IFLA_IPTUN_TTL, IFLA_IPTUN_COLLECT_METADATA = 1, 2, 3, 4, 19
# linux/if_link.h: IFLA_GENEVE_*
IFLA_GENEVE_ID, IFLA_GENEVE_REMOTE, IFLA_GENEVE_TTL, IFLA_GENEVE_PORT = 1, 2, 3, 5
IFLA_GENEVE_COLLECT_METADATA, IFLA_GENEVE_REMOTE6 = 6, 7
_BE32 = struct.Struct("!I").unpack_from


def _word(table: tuple[str, ...], value: int) -> str:
    return word(table, value) or str(value)


def decode_links(chunks: list[bytes]) -> tuple[Link, ...]:
    """Decode a link dump. Two passes: names first, since masters and parents are ifindexes."""
    messages = []
    for data, offset, length in iter_messages(chunks, RTM_NEWLINK):
        _family, arphrd, index, flags, _change = IFINFOMSG.unpack_from(data, offset + 16)
        attrs = attributes(data, offset + 32, offset + length)
        messages.append((data, arphrd, index, flags, attrs))
    names = {index: string(data, attrs[IFLA_IFNAME]) for data, _, index, _, attrs in messages if IFLA_IFNAME in attrs}
    return tuple(_link(data, arphrd, index, flags, attrs, names) for data, arphrd, index, flags, attrs in messages)


def _link(data: bytes, arphrd: int, index: int, flags: int, attrs: dict[int, Span], names: dict[int, str]) -> Link:
    kind = slave_kind = None
    info_data = slave_data = None
    if IFLA_LINKINFO in attrs:
        start, length = attrs[IFLA_LINKINFO]
        info = attributes(data, start, start + length)
        kind = opt(string, data, info, IFLA_INFO_KIND)
        slave_kind = opt(string, data, info, IFLA_INFO_SLAVE_KIND)
        if kind in KIND_DECODERS and IFLA_INFO_DATA in info:
            info_data = KIND_DECODERS[kind](data, _nested(data, info[IFLA_INFO_DATA]), names)
        if slave_kind in SLAVE_DECODERS and IFLA_INFO_SLAVE_DATA in info:
            slave_data = SLAVE_DECODERS[slave_kind](data, _nested(data, info[IFLA_INFO_SLAVE_DATA]))
    link_netnsid = opt(i32, data, attrs, IFLA_LINK_NETNSID)
    link_index = opt(i32, data, attrs, IFLA_LINK)
    if link_index == 0 or (link_index == index and link_netnsid is None):
        link_index = None  # physical devices report themselves as their own link; a peer elsewhere may share the number
    return Link(
        ifindex=index,
        ifname=names.get(index, str(index)),
        kind=kind,
        mac=_link_address(data, attrs, arphrd),
        mtu=opt(u32, data, attrs, IFLA_MTU, 0),
        operstate=_word(OPERSTATES, opt(u8, data, attrs, IFLA_OPERSTATE, 0)),
        flags=_flag_names(flags),
        carrier=bool(opt(u8, data, attrs, IFLA_CARRIER, 0)),
        promiscuity=opt(u32, data, attrs, IFLA_PROMISCUITY, 0),
        master=names.get(opt(u32, data, attrs, IFLA_MASTER, 0)),
        link=None if link_netnsid is not None or link_index is None else names.get(link_index),
        link_index=link_index,
        link_netnsid=link_netnsid,
        max_mtu=opt(u32, data, attrs, IFLA_MAX_MTU),
        parentbus=opt(string, data, attrs, IFLA_PARENT_DEV_BUS_NAME),
        info_data=info_data,
        slave_kind=slave_kind,
        info_slave_data=slave_data,
        stats=decode_stats(data, attrs.get(IFLA_STATS64)),
        alias=opt(string, data, attrs, IFLA_IFALIAS) or None,
    )


def _nested(data: bytes, span: Span) -> dict[int, Span]:
    return attributes(data, span[0], span[0] + span[1])


def _link_address(data: bytes, attrs: dict[int, Span], arphrd: int) -> str | None:
    span = attrs.get(IFLA_ADDRESS)
    if span is None:
        return None
    if (arphrd in ARPHRD_IP_TUNNELS and span[1] == 4) or (arphrd in ARPHRD_IP6_TUNNELS and span[1] == 16):
        return ip_address(data, span)
    return mac(data, span)


def _flag_names(flags: int) -> tuple[str, ...]:
    names = [name for bit, name in IFF_NAMES if flags & bit]
    if flags & IFF_UP and not flags & IFF_RUNNING:
        names.insert(0, "NO-CARRIER")
    return tuple(names)


def decode_stats(data: bytes, span: Span | None) -> LinkStats | None:
    if span is None or span[1] < STATS64_HEAD.size:
        return None
    rxp, txp, rxb, txb, rxe, txe, rxd, txd = STATS64_HEAD.unpack_from(data, span[0])
    return LinkStats(rxb, rxp, rxe, rxd, txb, txp, txe, txd)


def _bridge(data: bytes, a: dict[int, Span], names: dict[int, str]) -> BridgeInfo:
    def bridge_id(span: Span) -> str:
        prio = data[span[0] : span[0] + 2].hex()
        addr = ":".join(f"{b:x}" for b in data[span[0] + 2 : span[0] + 8])  # glibc ether_ntoa: no padding
        return f"{prio}.{addr}"

    protocol = opt(be16, data, a, 8)
    return BridgeInfo(
        stp_state=opt(u32, data, a, 5, 0),
        forward_delay=opt(u32, data, a, 1, 0),
        hello_time=opt(u32, data, a, 2, 0),
        max_age=opt(u32, data, a, 3, 0),
        ageing_time=opt(u32, data, a, 4, 0),
        priority=opt(u16, data, a, 6, 0),
        vlan_filtering=bool(opt(u8, data, a, 7, 0)),
        vlan_protocol=None if protocol is None else VLAN_PROTOCOLS.get(protocol, hex(protocol)),
        bridge_id=bridge_id(a[11]) if 11 in a else None,
        root_id=bridge_id(a[10]) if 10 in a else None,
    )


def _bond(data: bytes, a: dict[int, Span], names: dict[int, str]) -> BondInfo:
    validate = opt(u32, data, a, 9, 0)
    targets: tuple[str, ...] = ()
    if 8 in a:
        targets = tuple(ip_address(data, span) for span in _nested(data, a[8]).values())
    return BondInfo(
        mode=_word(BOND_MODES, opt(u8, data, a, 1, 0)),
        miimon=opt(u32, data, a, 3, 0),
        updelay=opt(u32, data, a, 4, 0),
        downdelay=opt(u32, data, a, 5, 0),
        arp_interval=opt(u32, data, a, 7, 0),
        arp_ip_target=targets,
        arp_validate=_word(ARP_VALIDATE, validate) if validate else None,  # ip prints null for "none"
        primary=names.get(opt(u32, data, a, 11, 0)),
        primary_reselect=_word(PRIMARY_RESELECT, opt(u8, data, a, 12, 0)),
        active_slave=names.get(opt(u32, data, a, 2, 0)),
        fail_over_mac=_word(FAIL_OVER_MAC, opt(u8, data, a, 13, 0)),
        xmit_hash_policy=_word(XMIT_HASH, opt(u8, data, a, 14, 0)),
        ad_lacp_rate=_word(LACP_RATE, opt(u8, data, a, 21, 0)),
        ad_select=_word(AD_SELECT, opt(u8, data, a, 22, 0)),
        min_links=opt(u32, data, a, 18, 0),
    )


def _vlan(data: bytes, a: dict[int, Span], names: dict[int, str]) -> VlanInfo:
    protocol = opt(be16, data, a, 5, 0x8100)
    return VlanInfo(protocol=VLAN_PROTOCOLS.get(protocol, hex(protocol)), id=opt(u16, data, a, 1, 0))


def _macvlan(data: bytes, a: dict[int, Span], names: dict[int, str]) -> MacvlanInfo:
    mode = opt(u32, data, a, 1, 0)
    return MacvlanInfo(mode=MACVLAN_MODES.get(mode, str(mode)))


def _vxlan(data: bytes, a: dict[int, Span], names: dict[int, str]) -> VxlanInfo:
    peer = opt(ip_address, data, a, 2) or opt(ip_address, data, a, 16)
    if peer is not None and ipaddress.ip_address(peer).is_unspecified:
        peer = None
    multicast = peer is not None and ipaddress.ip_address(peer).is_multicast
    local = opt(ip_address, data, a, 4) or opt(ip_address, data, a, 17)
    return VxlanInfo(
        id=opt(u32, data, a, 1, 0),
        port=opt(be16, data, a, 15, 0),
        local=None if local in ("0.0.0.0", "::") else local,
        remote=None if multicast else peer,
        group=peer if multicast else None,
        link=names.get(opt(u32, data, a, 3, 0)),
        learning=bool(opt(u8, data, a, 7, 1)),
        external=bool(opt(u8, data, a, IFLA_VXLAN_COLLECT_METADATA, 0)),
        ttl=opt(u8, data, a, 5, 0),
    )


def _specified(address: str | None) -> str | None:
    """None for 0.0.0.0 and ::, which tunnels report for "any"."""
    return None if address is None or ipaddress.ip_address(address).is_unspecified else address


def _gre(data: bytes, a: dict[int, Span], names: dict[int, str]) -> TunnelInfo:
    def key(flags: int, attr: int) -> int | None:
        if not opt(be16, data, a, flags, 0) & GRE_KEY or attr not in a:
            return None
        return _BE32(data, a[attr][0])[0]

    return TunnelInfo(
        local=_specified(opt(ip_address, data, a, IFLA_GRE_LOCAL)),
        remote=_specified(opt(ip_address, data, a, IFLA_GRE_REMOTE)),
        link=names.get(opt(u32, data, a, IFLA_GRE_LINK, 0)),
        ttl=opt(u8, data, a, IFLA_GRE_TTL, 0),
        ikey=key(IFLA_GRE_IFLAGS, IFLA_GRE_IKEY),
        okey=key(IFLA_GRE_OFLAGS, IFLA_GRE_OKEY),
        external=IFLA_GRE_COLLECT_METADATA in a,
    )


def _ip_tunnel(data: bytes, a: dict[int, Span], names: dict[int, str]) -> TunnelInfo:
    return TunnelInfo(
        local=_specified(opt(ip_address, data, a, IFLA_IPTUN_LOCAL)),
        remote=_specified(opt(ip_address, data, a, IFLA_IPTUN_REMOTE)),
        link=names.get(opt(u32, data, a, IFLA_IPTUN_LINK, 0)),
        ttl=opt(u8, data, a, IFLA_IPTUN_TTL, 0),
        external=IFLA_IPTUN_COLLECT_METADATA in a,
    )


def _geneve(data: bytes, a: dict[int, Span], names: dict[int, str]) -> TunnelInfo:
    remote = opt(ip_address, data, a, IFLA_GENEVE_REMOTE) or opt(ip_address, data, a, IFLA_GENEVE_REMOTE6)
    return TunnelInfo(
        remote=_specified(remote),
        ttl=opt(u8, data, a, IFLA_GENEVE_TTL, 0),
        id=opt(u32, data, a, IFLA_GENEVE_ID, 0),
        port=opt(be16, data, a, IFLA_GENEVE_PORT),
        external=IFLA_GENEVE_COLLECT_METADATA in a,
    )


def _tun(data: bytes, a: dict[int, Span], names: dict[int, str]) -> TunInfo:
    return TunInfo(
        type="tap" if opt(u8, data, a, 3, 1) == 2 else "tun",
        pi=bool(opt(u8, data, a, 4, 0)),
        vnet_hdr=bool(opt(u8, data, a, 5, 0)),
        multi_queue=bool(opt(u8, data, a, 7, 0)),
        persist=bool(opt(u8, data, a, 6, 0)),
    )


def _bridge_port(data: bytes, a: dict[int, Span]) -> BridgePortInfo:
    return BridgePortInfo(
        state=_word(BRPORT_STATES, opt(u8, data, a, 1, 0)),
        priority=opt(u16, data, a, 2, 0),
        cost=opt(u32, data, a, 3, 0),
        hairpin=bool(opt(u8, data, a, 4, 0)),
        learning=bool(opt(u8, data, a, 8, 0)),
        flood=bool(opt(u8, data, a, 9, 0)),
        mcast_flood=bool(opt(u8, data, a, 27, 0)),
        bcast_flood=bool(opt(u8, data, a, 30, 0)),
        isolated=bool(opt(u8, data, a, 33, 0)),
        guard=bool(opt(u8, data, a, 5, 0)),
    )


def _bond_slave(data: bytes, a: dict[int, Span]) -> BondSlaveInfo:
    return BondSlaveInfo(
        state=_word(BOND_SLAVE_STATE, opt(u8, data, a, 1, 0)),
        mii_status=_word(BOND_MII, opt(u8, data, a, 2, 0)),
        link_failure_count=opt(u32, data, a, 3, 0),
        perm_hwaddr=opt(mac, data, a, 4),
        queue_id=opt(u16, data, a, 5, 0),
        ad_aggregator_id=opt(u16, data, a, 6),
    )


KIND_DECODERS = {
    "bridge": _bridge,
    "bond": _bond,
    "vlan": _vlan,
    "macvlan": _macvlan,
    "macvtap": _macvlan,
    "vxlan": _vxlan,
    "tun": _tun,
    **dict.fromkeys(("gre", "gretap", "ip6gre", "ip6gretap"), _gre),
    **dict.fromkeys(("ipip", "sit", "ip6tnl"), _ip_tunnel),
    "geneve": _geneve,
}
SLAVE_DECODERS = {"bridge": _bridge_port, "bond": _bond_slave}
