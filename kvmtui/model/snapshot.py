"""One immutable picture of a KVM host's network: the thing every view renders."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property

from kvmtui.model.bonding import Bond
from kvmtui.model.libvirt import Domain, Network
from kvmtui.model.links import BridgeVlan, FdbEntry, Link, Route

SCHEMA_VERSION = 1


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
    monotonic: float = field(default=0.0, compare=False)

    @cached_property
    def links_by_name(self) -> dict[str, Link]:
        return {link.ifname: link for link in self.links}

    @cached_property
    def bonds_by_name(self) -> dict[str, Bond]:
        return {bond.name: bond for bond in self.bonds}

    def link(self, ifname: str | None) -> Link | None:
        return self.links_by_name.get(ifname) if ifname else None
