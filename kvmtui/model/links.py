"""Kernel network state as the snapshot holds it.

Field names follow `ip -d -j link show`, `ip -j addr`, `ip -j route` and
`bridge -j fdb/vlan show` where those have one (except `mac` for the link-layer
address), so that a recorded snapshot can be compared with iproute2's output.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Address:
    family: str  # "inet" | "inet6"
    local: str
    prefixlen: int
    scope: str  # "global" | "link" | "host" | number as text
    label: str | None = None
    broadcast: str | None = None
    secondary: bool = False  # goes with the primary of its subnet when that is deleted
    dynamic: bool = False  # has a lifetime (a DHCP lease, SLAAC): `ip addr` says "dynamic"


@dataclass(frozen=True, slots=True)
class LinkStats:
    """IFLA_STATS64 counters, the same numbers as `ip -s link` and /proc/net/dev."""

    rx_bytes: int
    rx_packets: int
    rx_errors: int
    rx_dropped: int
    tx_bytes: int
    tx_packets: int
    tx_errors: int
    tx_dropped: int


@dataclass(frozen=True, slots=True)
class BridgeInfo:
    stp_state: int  # 0 off, 1 kernel STP, 2 user-space STP
    forward_delay: int  # centiseconds, as ip -j prints it
    hello_time: int
    max_age: int
    ageing_time: int  # centiseconds
    priority: int
    vlan_filtering: bool
    vlan_protocol: str | None
    bridge_id: str | None
    root_id: str | None


@dataclass(frozen=True, slots=True)
class BondInfo:
    """Bond settings from netlink (IFLA_BOND_*); runtime health is in bonding.Bond."""

    mode: str  # "balance-rr", "active-backup", "802.3ad", ...
    miimon: int
    updelay: int
    downdelay: int
    arp_interval: int
    arp_ip_target: tuple[str, ...]
    arp_validate: str | None
    primary: str | None
    primary_reselect: str | None
    active_slave: str | None
    fail_over_mac: str | None
    xmit_hash_policy: str | None
    ad_lacp_rate: str | None  # as ip -d -j link says it (ip link add and the bonding file: lacp_rate)
    ad_select: str | None
    min_links: int


@dataclass(frozen=True, slots=True)
class VlanInfo:
    protocol: str  # "802.1Q" | "802.1ad"
    id: int


@dataclass(frozen=True, slots=True)
class MacvlanInfo:
    """macvlan and macvtap; mode uses the kernel's words ("passthru", not libvirt's "passthrough")."""

    mode: str  # "private" | "vepa" | "bridge" | "passthru" | "source"


@dataclass(frozen=True, slots=True)
class VxlanInfo:
    id: int  # VNI
    port: int  # UDP destination port
    local: str | None
    remote: str | None
    group: str | None
    link: str | None  # underlay device name (ip's "link" inside info_data)
    learning: bool
    external: bool = False  # collect metadata: the VNI comes with each packet, `id` is then 0
    ttl: int = 0  # of the outer packets; 0: the route's default


@dataclass(frozen=True, slots=True)
class TunnelInfo:
    """gre, gretap, ip6gre, ip6gretap, ipip, sit, ip6tnl and geneve: where the packets go.

    Fields are those of `ip -d -j link` where it has them, except the GRE keys: numbers
    here (ip prints them as dotted quads)."""

    local: str | None = None  # None: any (ip's "any")
    remote: str | None = None  # None: any (a point-to-multipoint or fallback device)
    link: str | None = None  # the underlay device it is bound to (ip's `dev`), when set
    ttl: int = 0  # 0: inherit from the inner packet (geneve: the route's default)
    ikey: int | None = None  # GRE input key, when the key flag is set
    okey: int | None = None  # GRE output key
    id: int | None = None  # geneve VNI
    port: int | None = None  # geneve UDP destination port
    external: bool = False  # collect metadata: remote and key come with each packet


@dataclass(frozen=True, slots=True)
class TunInfo:
    type: str  # "tun" | "tap"
    pi: bool
    vnet_hdr: bool
    multi_queue: bool
    persist: bool


@dataclass(frozen=True, slots=True)
class BridgePortInfo:
    """A bridge port's state (IFLA_BRPORT_*), as `bridge -d link` shows it."""

    state: str  # "disabled" | "listening" | "learning" | "forwarding" | "blocking"
    priority: int
    cost: int
    hairpin: bool
    learning: bool
    flood: bool
    mcast_flood: bool
    bcast_flood: bool
    isolated: bool
    guard: bool


@dataclass(frozen=True, slots=True)
class BondSlaveInfo:
    """A bond port as netlink reports it (IFLA_BOND_SLAVE_*)."""

    state: str  # "ACTIVE" | "BACKUP"
    mii_status: str  # "UP" | "GOING_DOWN" | "DOWN" | "GOING_BACK"
    link_failure_count: int
    perm_hwaddr: str | None
    queue_id: int
    ad_aggregator_id: int | None


KindInfo = BridgeInfo | BondInfo | VlanInfo | MacvlanInfo | VxlanInfo | TunnelInfo | TunInfo
TUNNEL_KINDS = ("gre", "gretap", "ip6gre", "ip6gretap", "ipip", "sit", "ip6tnl", "geneve")
SlaveInfo = BridgePortInfo | BondSlaveInfo

# Which class describes info_data / info_slave_data for a kind; used to read JSON back.
INFO_DATA_CLASSES: dict[str, type] = {
    "bridge": BridgeInfo,
    "bond": BondInfo,
    "vlan": VlanInfo,
    "macvlan": MacvlanInfo,
    "macvtap": MacvlanInfo,
    "vxlan": VxlanInfo,
    "tun": TunInfo,
    **dict.fromkeys(TUNNEL_KINDS, TunnelInfo),
}
SLAVE_DATA_CLASSES: dict[str, type] = {"bridge": BridgePortInfo, "bond": BondSlaveInfo}


@dataclass(frozen=True, slots=True)
class Link:
    ifindex: int
    ifname: str
    kind: str | None  # IFLA_INFO_KIND; None for physical NICs and loopback
    mac: str | None
    mtu: int
    operstate: str  # "UP", "DOWN", "UNKNOWN", "LOWERLAYERDOWN", ...
    flags: tuple[str, ...]  # "UP", "BROADCAST", "LOWER_UP", ... as ip prints them
    carrier: bool
    promiscuity: int
    master: str | None  # ifname of IFLA_MASTER
    link: str | None  # ifname of IFLA_LINK: parent of a VLAN/macvtap, peer of a veth
    link_index: int | None  # IFLA_LINK as a number; the only name when link_netnsid is set
    link_netnsid: int | None  # the peer lives in another namespace
    max_mtu: int | None
    parentbus: str | None  # "pci", "virtio", ...: set for real hardware
    info_data: KindInfo | None = None
    slave_kind: str | None = None  # "bridge" | "bond" when enslaved
    info_slave_data: SlaveInfo | None = None
    addresses: tuple[Address, ...] = ()
    stats: LinkStats | None = None
    link_netns: str | None = None  # name of the peer's namespace (/run/netns), when it has one
    # The peer in that namespace as it sees itself (kernel >= 4.20 and CAP_NET_ADMIN there):
    link_netns_ifname: str | None = None
    link_netns_master: str | None = None  # its bridge or bond there
    alias: str | None = None  # IFLA_IFALIAS, `ip link set DEV alias TEXT`: the administrator's description

    @property
    def is_up(self) -> bool:
        return "UP" in self.flags


@dataclass(frozen=True, slots=True)
class FdbEntry:
    """One forwarding-database entry, as one line of `bridge fdb show`."""

    mac: str
    ifname: str
    ifindex: int
    master: str | None  # the bridge, for entries the bridge holds ("master")
    vlan: int | None
    state: str  # "permanent" | "static" | "" (learned), as bridge -j prints it
    flags: tuple[str, ...]  # "self", "master", "extern_learn", "offload", "sticky", ...
    dst: str | None = None  # vxlan remote
    vni: int | None = None
    updated: int | None = None  # seconds since the entry was last refreshed

    @property
    def learned(self) -> bool:
        return self.state == ""


@dataclass(frozen=True, slots=True)
class BridgeVlan:
    ifname: str
    vlan: int
    pvid: bool
    untagged: bool


@dataclass(frozen=True, slots=True)
class Route:
    family: str  # "inet" | "inet6"
    dst: str  # "default" or "prefix/len"
    gateway: str | None
    dev: str | None
    prefsrc: str | None
    protocol: str
    scope: str
    table: int
    metric: int | None
    type: str = "unicast"
    onlink: bool = False  # the gateway is on the link even outside its subnets
