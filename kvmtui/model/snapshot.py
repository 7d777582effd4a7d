"""One immutable picture of a KVM host's network: the thing every view renders."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from functools import cached_property

from kvmtui.model.bonding import Bond
from kvmtui.model.containers import DockerNetwork
from kvmtui.model.libvirt import Domain, Network
from kvmtui.model.links import BridgeVlan, FdbEntry, Link, Route
from kvmtui.model.netconfig import LinkOwner, SavedConfig
from kvmtui.model.ovs import OvsState
from kvmtui.model.wire import NicFacts, PortNeighbour, WireReport

SCHEMA_VERSION = 3  # 3: the rest of the host (Open vSwitch, tunnels, owners); 2: ad_lacp_rate (1: lacp_rate)


@dataclass(frozen=True, slots=True)
class HostInfo:
    hostname: str
    kernel: str
    taken_at: str  # ISO 8601, UTC
    netns: str | None
    libvirt_uri: str | None
    libvirt_version: str | None
    kvmtui_version: str


@dataclass(frozen=True)
class Snapshot:
    """Everything collected at one moment. `problems` says what could not be read.

    `libvirt_error` is set when libvirt was unreachable: the rest still holds.
    `monotonic` is the collector's clock, for rates between two snapshots.
    """

    host: HostInfo
    links: tuple[Link, ...] = ()
    fdb: tuple[FdbEntry, ...] = ()
    bridge_vlans: tuple[BridgeVlan, ...] = ()
    routes: tuple[Route, ...] = ()
    bonds: tuple[Bond, ...] = ()
    domains: tuple[Domain, ...] = ()
    networks: tuple[Network, ...] = ()
    libvirt_error: str | None = None
    problems: tuple[str, ...] = ()
    # (name, value) of the few sysctls the audit judges, e.g. ("net.bridge.bridge-nf-call-iptables", "1");
    # a name is absent when the kernel does not have it (br_netfilter not loaded).
    sysctls: tuple[tuple[str, str], ...] = ()
    # The saved network configuration and who owns each link (collect/netconfig); None when
    # not read: a recording made before it existed, or a named namespace (the files are the host's).
    netconfig: SavedConfig | None = None
    # Open vSwitch's bridges, ports, bonds and FDB (collect/ovs); None: OVS absent or not running.
    ovs: OvsState | None = None
    # docker's networks from its socket (collect/docker.py); empty when docker was not asked or
    # not there: its bridges are then known by name only (kvmtui/foreign.py).
    docker_networks: tuple[DockerNetwork, ...] = ()
    # What the driver says about each NIC and veth (collect/ethtool.py: ioctls and sysfs).
    nic_facts: tuple[NicFacts, ...] = ()
    # LLDP/CDP neighbours known without listening (lldpd, NetworkManager), by port: the wizards and
    # the audit name the switch from them.
    neighbours: tuple[PortNeighbour, ...] = ()
    # What the dashboard's identify heard by listening this session, newest last: the UI adds it
    # to the snapshot a wizard is given (the VLAN wizard offers the VLANs seen); collect never listens.
    listened: tuple[WireReport, ...] = ()
    monotonic: float = field(default=0.0, compare=False)

    @cached_property
    def links_by_name(self) -> dict[str, Link]:
        return {link.ifname: link for link in self.links}

    @cached_property
    def bonds_by_name(self) -> dict[str, Bond]:
        return {bond.name: bond for bond in self.bonds}

    @cached_property
    def nic_facts_by_name(self) -> dict[str, NicFacts]:
        return {facts.interface: facts for facts in self.nic_facts}

    @cached_property
    def neighbours_on(self) -> dict[str, tuple[PortNeighbour, ...]]:
        """Port -> the neighbours known on it, in the order read."""
        found: dict[str, list[PortNeighbour]] = {}
        for heard in self.neighbours:
            found.setdefault(heard.ifname, []).append(heard)
        return {ifname: tuple(heard) for ifname, heard in found.items()}

    def neighbour_text(self, ifname: str) -> str:
        """The switch and port at the other end of `ifname`'s cable ("sw-lab-1 port Eth1/7"), as
        lldpd heard it; "" when no neighbour is known there."""
        return ", ".join(dict.fromkeys(heard.neighbour.brief for heard in self.neighbours_on.get(ifname, ())))

    @cached_property
    def owners_by_name(self) -> dict[str, LinkOwner]:
        """ifname -> what manages it, for the links the saved configuration says something of."""
        return {owner.ifname: owner for owner in self.netconfig.owners} if self.netconfig else {}

    @cached_property
    def links_on(self) -> dict[str, tuple[Link, ...]]:
        """Lower device -> the devices whose `link` it is (VLANs, macvlans, macvtaps...)."""
        found: dict[str, list[Link]] = {}
        for link in self.links:
            if link.link:
                found.setdefault(link.link, []).append(link)
        return {lower: tuple(on) for lower, on in found.items()}

    @cached_property
    def running_guest_devices(self) -> dict[str, str]:
        """A running guest's tap or macvtap (its NIC's target) -> the guest's name."""
        found: dict[str, str] = {}
        for domain in self.domains:
            if domain.active:
                for nic in domain.interfaces:
                    if nic.target:
                        found.setdefault(nic.target, domain.name)
        return found

    def link(self, ifname: str | None) -> Link | None:
        return self.links_by_name.get(ifname) if ifname else None

    def route_dev(self, address: str) -> str | None:
        """The device the main table sends `address` through (longest prefix, then
        lowest metric), as `ip route get` would answer without policy rules."""
        try:
            ip = ipaddress.ip_address(address)
        except ValueError:
            return None
        family = "inet" if ip.version == 4 else "inet6"
        best: tuple[int, int, str] | None = None
        for route in self.routes:
            if route.family != family or route.dev is None or route.type not in ("unicast", "local"):
                continue
            try:
                net = ipaddress.ip_network("::/0" if family == "inet6" else "0.0.0.0/0") if route.dst == "default" \
                    else ipaddress.ip_network(route.dst, strict=False)
            except ValueError:
                continue
            if ip in net:
                rank = (net.prefixlen, -(route.metric or 0), route.dev)
                if best is None or rank[:2] > best[:2]:
                    best = rank
        return best[2] if best else None
