"""The kernel's words for its numbers, in both directions (no I/O, no kvmtui imports).

The decoders read numbers into these words, the plans check words against them, the
executor turns them back into numbers: one table each, so the three cannot drift.
Words are iproute2's (`ip -d link`, `ip route`, `bridge fdb`); numbers follow the uapi
headers named at each table. A tuple's index is the kernel's number.
"""

from __future__ import annotations

# linux/if_bonding.h BOND_MODE_*; the bonding driver's (and sysfs') names.
BOND_MODES = ("balance-rr", "active-backup", "balance-xor", "broadcast", "802.3ad", "balance-tlb", "balance-alb")
XMIT_HASH = ("layer2", "layer3+4", "layer2+3", "encap2+3", "encap3+4", "vlan+srcmac")  # BOND_XMIT_POLICY_*
LACP_RATE = ("slow", "fast")
AD_SELECT = ("stable", "bandwidth", "count")
ARP_VALIDATE = ("none", "active", "backup", "all", "filter", "filter_active", "filter_backup")
PRIMARY_RESELECT = ("always", "better", "failure")
FAIL_OVER_MAC = ("none", "active", "follow")

# linux/if_link.h MACVLAN_MODE_* (the kernel's and ip's words: "passthru")
MACVLAN_MODES = {1: "private", 2: "vepa", 4: "bridge", 8: "passthru", 16: "source"}
# libvirt's <source mode=...> words for a macvtap NIC ("passthrough", not ip's "passthru")
MACVTAP_MODES = ("vepa", "bridge", "private", "passthrough")
MACVTAP_DEFAULT_MODE = "vepa"  # libvirt's own default: the CLI and the wizard offer the same

# linux/if_ether.h ETH_P_8021Q, ETH_P_8021AD
VLAN_PROTOCOLS = {0x8100: "802.1Q", 0x88A8: "802.1ad"}
VLAN_PROTOCOL_NAMES = tuple(VLAN_PROTOCOLS.values())

# linux/rtnetlink.h RT_SCOPE_*, RTPROT_*, RTN_*; iproute2's rt_scopes, rt_protos
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

# The same tables read backwards, for the executor.
SCOPE_NUMBERS = {name: number for number, name in SCOPES.items()}
PROTOCOL_NUMBERS = {name: number for number, name in ROUTE_PROTOCOLS.items()}
VLAN_NUMBERS = {name: number for number, name in VLAN_PROTOCOLS.items()}

# linux/if_addr.h IFA_F_*; linux/rtnetlink.h RTNH_F_*
IFA_F_SECONDARY, IFA_F_NODAD = 0x01, 0x02  # NODAD: no duplicate address detection for this address
IFA_F_PERMANENT = 0x80  # no lifetime: set by hand or by a static configuration (else `ip` says dynamic)
RTNH_F_ONLINK = 0x04
# linux/if_bridge.h: a VLAN entry of the bridge itself; a port VLAN's flags
BRIDGE_FLAGS_SELF = 0x2
BRIDGE_VLAN_INFO_PVID, BRIDGE_VLAN_INFO_UNTAGGED = 0x2, 0x4
# linux/neighbour.h NUD_* (entry states), NTF_* (entry flags)
NUD_STALE, NUD_NOARP, NUD_PERMANENT = 0x04, 0x40, 0x80
NTF_SELF, NTF_MASTER, NTF_EXT_LEARNED, NTF_OFFLOADED, NTF_STICKY, NTF_ROUTER = 0x02, 0x04, 0x10, 0x20, 0x40, 0x80
# ndm_flags in the order `bridge fdb` prints them.
NTF_NAMES = ((NTF_SELF, "self"), (NTF_ROUTER, "router"), (NTF_EXT_LEARNED, "extern_learn"),
             (NTF_OFFLOADED, "offload"), (NTF_MASTER, "master"), (NTF_STICKY, "sticky"))


def word(names: tuple[str, ...], number: int) -> str | None:
    """The kernel's word for `number` in an indexed table; None when it has none."""
    return names[number] if 0 <= number < len(names) else None
