"""Guests and libvirt networks as the snapshot holds them."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class DomainInterface:
    """One `devices/interface` of a domain (or a hostdev NIC).

    `bridge` is where the interface lands on the host when that is a bridge: the
    source bridge of type='bridge', or the bridge libvirt reports for type='network'
    in live XML. `dev` is the lower device of type='direct' (macvtap).
    """

    type: str  # bridge, network, direct, ethernet, hostdev, vhostuser, user, vdpa, ...
    mac: str | None
    model: str | None
    target: str | None  # host device: vnetN, macvtapN, or a user-chosen name
    source: str | None  # the one source that matters, for display
    bridge: str | None
    network: str | None
    portgroup: str | None
    dev: str | None
    mode: str | None  # macvtap mode, libvirt's words: vepa, bridge, private, passthrough
    link_state: str | None  # "up" | "down"; None when not set (means up)
    vlan_tags: tuple[int, ...] = ()
    vlan_trunk: bool = False
    virtualport: str | None = None  # openvswitch, 802.1Qbg, 802.1Qbh, or "" when typeless
    alias: str | None = None
    address: str | None = None  # hostdev PCI address "0000:03:00.1"
    backend: str | None = None  # type='user': "passt", or None for the default (slirp)


@dataclass(frozen=True, slots=True)
class Domain:
    name: str
    uuid: str
    state: str  # "running", "paused", "shut off", ... as virsh prints it
    id: int | None  # None when not running
    persistent: bool
    interfaces: tuple[DomainInterface, ...]
    defined_macs: tuple[str, ...] = ()  # MACs in the persistent definition (may differ while running)

    @property
    def active(self) -> bool:
        return self.id is not None


@dataclass(frozen=True, slots=True)
class Network:
    name: str
    uuid: str | None
    active: bool
    persistent: bool
    autostart: bool
    forward: str  # nat, route, open, bridge, private, vepa, passthrough, hostdev, isolated
    bridge: str | None
    forward_dev: str | None
    interfaces: tuple[str, ...] = ()  # macvtap/passthrough pool devices
    pf: str | None = None
    virtualport: str | None = None
    addresses: tuple[str, ...] = ()  # "192.168.122.1/24"
    mac: str | None = None  # the bridge's MAC from <mac address>, lower case
