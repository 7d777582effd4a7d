"""What a wizard or a `kvmtui plan|apply` command asks for, before it is checked."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class CreateBridge:
    name: str
    ports: tuple[str, ...] = ()
    stp: bool = False
    forward_delay: int | None = None  # seconds
    mtu: int | None = None
    move_ip_from: str | None = None  # uplink whose addresses, routes and MAC move to the bridge


@dataclass(frozen=True, slots=True)
class CreateBond:
    name: str
    mode: str
    slaves: tuple[str, ...]
    miimon: int | None = None
    arp_interval: int | None = None
    arp_ip_target: tuple[str, ...] = ()
    lacp_rate: str | None = None
    xmit_hash_policy: str | None = None
    primary: str | None = None


@dataclass(frozen=True, slots=True)
class CreateVlan:
    parent: str
    vid: int
    name: str | None = None  # default: parent.vid
    protocol: str = "802.1Q"


@dataclass(frozen=True, slots=True)
class AttachInterface:
    domain: str
    bridge: str | None = None
    macvtap: str | None = None  # lower device
    mode: str | None = None  # vepa, bridge, private, passthrough
    mac: str | None = None
    model: str = "virtio"
    live: bool = False
    config: bool = False  # neither: live when running, config when persistent


@dataclass(frozen=True, slots=True)
class DetachInterface:
    domain: str
    mac: str
    live: bool = False
    config: bool = False


@dataclass(frozen=True, slots=True)
class DeleteLink:
    ifname: str
    move_ip_to: str | None = None  # a former port that takes the addresses and routes back


Intent = CreateBridge | CreateBond | CreateVlan | AttachInterface | DetachInterface | DeleteLink
