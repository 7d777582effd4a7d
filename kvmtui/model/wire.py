"""What a NIC hears and what it is: the answer to "which cable is this?" (issue 14).

`WireReport` is what listening on a port for a few seconds found (VLANs, neighbours,
spanning tree, source MACs); `NicFacts` is what the driver says about the NIC itself.
A value the driver or the wire did not give is None (shown as "n/a"), never an error.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Neighbour:
    """A switch (or host) that announced itself on the wire, by LLDP or CDP."""

    protocol: str  # "lldp" | "cdp"
    chassis_id: str | None  # LLDP chassis id; CDP device id
    port_id: str | None
    port_description: str | None = None
    system_name: str | None = None  # LLDP system name; CDP device id again
    platform: str | None = None  # CDP platform; LLDP system description
    native_vlan: int | None = None  # LLDP IEEE 802.1 port VLAN id; CDP native VLAN
    management_addresses: tuple[str, ...] = ()
    ttl: int | None = None  # seconds the announcement is valid
    vlans: tuple[int, ...] = ()  # VLAN ids the switch says the port carries (LLDP 802.1 VLAN name TLVs)

    @property
    def brief(self) -> str:
        """"sw-lab-1 port Eth1/7": the other end of the cable, as it named itself."""
        return f"{self.system_name or self.chassis_id or 'unnamed ' + self.protocol.upper()} port {self.port_id or '?'}"


@dataclass(frozen=True, slots=True)
class PortNeighbour:
    """A neighbour known on a port without listening: what lldpd (or NetworkManager, networkd)
    heard there. In the Snapshot, so the wizards and the audit can name the switch and port."""

    ifname: str
    source: str  # "lldpd" | "NetworkManager" | "networkd"
    neighbour: Neighbour


@dataclass(frozen=True, slots=True)
class Bpdu:
    """A spanning tree BPDU: who the root is and which bridge and port sent it."""

    protocol: str  # "stp" | "rstp" | "mstp" | "tcn"
    root_id: str | None  # "8000.52:54:00:aa:bb:cc": priority (hex, as brctl prints it) . MAC
    root_path_cost: int | None
    bridge_id: str | None
    port_id: str | None  # "8001": priority and number, hex


@dataclass(frozen=True, slots=True)
class VlanSeen:
    vlan: int  # 1-4094 (VID 0, a priority tag, counts as untagged)
    frames: int


@dataclass(frozen=True, slots=True)
class MacSeen:
    mac: str
    vlan: int | None  # None: untagged
    frames: int


@dataclass(frozen=True, slots=True)
class FrameInfo:
    """One received frame, parsed: its VLAN (from the NIC's auxdata or the frame), and
    what it announced, if anything."""

    source_mac: str
    destination_mac: str
    vlan: int | None  # None: untagged
    vlan_from_auxdata: bool  # the NIC stripped the tag (rx VLAN offload) and the kernel kept it aside
    ethertype: int  # after the VLAN tags; for 802.3 LLC/SNAP frames, the length (< 0x600)
    neighbour: Neighbour | None = None
    bpdu: Bpdu | None = None


@dataclass(frozen=True, slots=True)
class WireReport:
    """What `seconds` of listening on `interface` heard (frames it sent itself not counted)."""

    interface: str
    seconds: float
    frames: int
    untagged: int
    vlans: tuple[VlanSeen, ...]
    neighbours: tuple[Neighbour, ...]
    bpdus: tuple[Bpdu, ...]
    macs: tuple[MacSeen, ...]
    tags_in_auxdata: int  # frames whose tag came from PACKET_AUXDATA (the NIC stripped it)
    stopped_early: bool = False  # Ctrl-C ended the listening before `seconds` was up
    dropped: int = 0  # frames the kernel dropped because kvmtui read too slowly: the counts are a sample
    kind: str | None = None  # the link's kind ("bridge", "bond"...): listening there is not listening on a port


@dataclass(frozen=True, slots=True)
class NicFacts:
    """What the driver says about a NIC (ethtool ioctls, sysfs); None where it says nothing."""

    interface: str
    driver: str | None
    driver_version: str | None
    firmware_version: str | None
    bus_address: str | None  # "0000:03:00.0" for a PCI NIC
    speed_mbps: int | None
    duplex: str | None  # "full" | "half"
    autoneg: bool | None
    link_modes: tuple[str, ...]  # supported, "1000baseT/Full"...
    permanent_mac: str | None
    offloads: tuple[tuple[str, bool], ...]  # ("rx-vlan-offload", True), ... ; missing: not reported by the driver
    rx_ring: int | None
    tx_ring: int | None
    sriov_numvfs: int | None
    sriov_totalvfs: int | None
    sriov_vfs: tuple[SriovVf, ...] = ()  # the enabled VFs, from the PF's virtfnN links in sysfs


@dataclass(frozen=True, slots=True)
class SriovVf:
    """One virtual function of an SR-IOV NIC: its PCI address is what a guest's hostdev names."""

    index: int  # N of virtfnN
    bus_address: str  # "0000:03:10.1"
    ifname: str | None = None  # its netdev while the host's VF driver holds it; None when passed to a guest
