"""What the host's saved network configuration describes, whichever backend wrote it.

One model for NetworkManager profiles (keyfile and ifcfg-rh), netplan YAML,
systemd-networkd units and /etc/network/interfaces (ifupdown, ifupdown2), as
os-net-config has one: the readers in collect/netconfig/ produce it, the owner of
each live interface is resolved on it, and the writers and the drift audit compare
it with the kernel. Names and units follow the kernel's (`ip -d link`) where the
backends disagree: bond options by their sysfs names (`miimon`, `lacp_rate`),
bond times in milliseconds, bridge times in seconds.
"""

from __future__ import annotations

from dataclasses import dataclass

# Who owns an interface's configuration: where a change to it must be written.
BACKENDS = ("NetworkManager", "netplan", "systemd-networkd", "ifupdown", "ifupdown2")


@dataclass(frozen=True, slots=True)
class ConfiguredRoute:
    dst: str  # "default" or a prefix, "10.1.0.0/16"
    via: str | None = None  # the gateway; None: a route on the link
    metric: int | None = None
    table: int | None = None


@dataclass(frozen=True, slots=True)
class ConfiguredVlan:
    """VLANs of a VLAN-aware bridge or of one of its ports (`bridge vlan` terms)."""

    first: int
    last: int  # == first for a single VLAN
    pvid: bool = False
    untagged: bool = False


@dataclass(frozen=True, slots=True)
class ConfiguredDevice:
    """One interface as a backend's files describe it.

    `name` is None when the configuration selects its device otherwise (a MAC, a
    glob): `match_names` and `match_mac` then say which. `kind` is the kernel's word
    for virtual devices (bridge, bond, vlan, vxlan, vrf, dummy, macvlan, ...),
    "ethernet" for an existing device configured by name (a NIC, usually),
    "loopback", "wifi", or the backend's own word when kvmtui has none.
    """

    name: str | None
    kind: str
    backend: str  # one of BACKENDS: who owns it (netplan for the files netplan generates)
    file: str  # the file that defines it (as found under the root read)
    line: int  # 1-based, where the definition starts
    why: str  # how this backend applies it: "netplan renderer networkd", "NM keyfile profile 'br0'"
    profile: str | None = None  # NM's connection id, netplan's device id, networkd's file name
    uuid: str | None = None  # NM's connection UUID
    more_files: tuple[str, ...] = ()  # "FILE:LINE" of other files that add to it (a .network beside its .netdev)
    match_names: tuple[str, ...] = ()  # glob patterns, "!" negates (networkd [Match] Name=, NM [match])
    match_mac: str | None = None  # the device it applies to, by its MAC (lower case)
    master: str | None = None  # the bridge, bond or VRF it is a port of
    ports: tuple[str, ...] = ()  # a bridge's ports, a bond's slaves, a VRF's members
    vlan_id: int | None = None
    parent: str | None = None  # a VLAN's parent, a VXLAN's underlay, a macvlan's lower device
    vlan_protocol: str | None = None  # "802.1Q" | "802.1ad" when said
    vni: int | None = None  # a VXLAN's id
    bond_mode: str | None = None  # the bonding driver's word: "802.3ad", "active-backup", ...
    bond_options: tuple[tuple[str, str], ...] = ()  # (sysfs name, value) as configured: ("miimon", "100")
    bridge_stp: bool | None = None  # None: not said (each backend has its own default)
    bridge_options: tuple[tuple[str, str], ...] = ()  # ("forward_delay", "15"), ("vlan_filtering", "1"), ...
    port_options: tuple[tuple[str, str], ...] = ()  # as a bridge port or bond slave: priority, cost, hairpin, queue_id
    vlans: tuple[ConfiguredVlan, ...] = ()  # bridge VLANs of this bridge or port
    options: tuple[tuple[str, str], ...] = ()  # kind settings not above: a VXLAN's local/remote/port, a VRF's table
    fdb: tuple[tuple[str, str], ...] = ()  # a VXLAN's static FDB entries: (MAC, remote VTEP)
    addresses: tuple[str, ...] = ()  # "192.0.2.10/24", "2001:db8::1/64"
    dhcp: tuple[str, ...] = ()  # "ipv4", "ipv6"
    routes: tuple[ConfiguredRoute, ...] = ()  # a gateway is the route to "default"
    mtu: int | None = None
    mac: str | None = None  # the MAC it sets (cloned), lower case
    autostart: bool = True  # brought up at boot (ifupdown `auto`, ONBOOT, NM autoconnect)


@dataclass(frozen=True, slots=True)
class ConfigProblem:
    """A line kvmtui could not read, or that its backend ignores."""

    backend: str
    file: str
    line: int | None  # None: the whole file
    message: str

    @property
    def text(self) -> str:
        where = self.file if self.line is None else f"{self.file} line {self.line}"
        return f"cannot read {where}: {self.message}"


@dataclass(frozen=True, slots=True)
class Claim:
    """A backend's configuration naming an interface."""

    backend: str
    file: str
    line: int | None
    why: str  # "netplan-generated NM profile", "networkd [Match] Name=br*", "ifupdown iface stanza"


@dataclass(frozen=True, slots=True)
class LinkOwner:
    """Who manages one live interface. `backend` None: none does, `why` says what was
    found (an unmanaged NM device, a claim of a backend that does not run); `also`
    lists other backends claiming the same interface, which is a conflict."""

    ifname: str
    backend: str | None
    file: str | None
    line: int | None
    why: str
    also: tuple[Claim, ...] = ()


@dataclass(frozen=True, slots=True)
class BackendUse:
    """Whether a backend runs on this host, as its files show it."""

    backend: str
    in_use: bool
    why: str  # "systemd-networkd.service enabled", "ifupdown2 installed", "not installed"


@dataclass(frozen=True, slots=True)
class SavedConfig:
    """The host's saved configuration as read from the files under `root`. Only links
    something is said of are in `owners`: a link absent from it is in no configuration."""

    root: str
    devices: tuple[ConfiguredDevice, ...] = ()
    owners: tuple[LinkOwner, ...] = ()
    problems: tuple[ConfigProblem, ...] = ()
    backends: tuple[BackendUse, ...] = ()
    dbus: bool = False  # NetworkManager answered over D-Bus; False: its files and /run state only
