"""Guests and libvirt networks as the snapshot holds them."""

from __future__ import annotations

from dataclasses import dataclass, field

# A <virtualport><parameters .../>'s attributes in document order: profileid, interfaceid,
# instanceid, managerid, typeid, typeidversion (which ones depend on the type).
VirtualportParams = tuple[tuple[str, str], ...]


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
    mtu: int | None = None  # <mtu size>: what the guest is told; None means the host side's
    virtualport_params: VirtualportParams = ()
    # The element itself, compact, as libvirt printed it: a rollback re-attaches exactly this
    # (PCI slot, link state, mtu, bandwidth, driver...). None in recordings made before.
    xml: str | None = None


@dataclass(frozen=True, slots=True)
class Domain:
    name: str
    uuid: str
    state: str  # "running", "paused", "shut off", ... as virsh prints it
    id: int | None  # None when not running
    persistent: bool
    interfaces: tuple[DomainInterface, ...]
    defined_macs: tuple[str, ...] = ()  # MACs in the persistent definition (may differ while running)
    # A running guest's definition, interface by interface (empty when shut off: `interfaces` is
    # the definition then). Kept for plans that must put a definition back as it was; left out
    # of equality, which stays what the guest runs with plus `defined_macs`.
    defined_interfaces: tuple[DomainInterface, ...] = field(default=(), compare=False)
    # <hostdev mode='subsystem' type='pci'> source addresses ("0000:03:10.1"): whole PCI functions
    # given to the guest, such as an SR-IOV VF (a VF given as <interface type='hostdev'> is in interfaces).
    pci_hostdevs: tuple[str, ...] = ()

    @property
    def active(self) -> bool:
        return self.id is not None

    def defined_interface(self, mac: str) -> DomainInterface | None:
        """This MAC's interface in the persistent definition, when the snapshot holds it."""
        if not self.persistent:
            return None
        return next((nic for nic in (self.defined_interfaces if self.active else self.interfaces)
                     if nic.mac == mac), None)


@dataclass(frozen=True, slots=True)
class Portgroup:
    """A network's `<portgroup>`: the VLAN and virtualport an interface gets by naming it
    (or, naming none, by the network's default portgroup)."""

    name: str
    default: bool = False
    vlan_tags: tuple[int, ...] = ()
    vlan_trunk: bool = False
    virtualport: str | None = None  # as DomainInterface.virtualport
    virtualport_params: VirtualportParams = ()


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
    vlan_tags: tuple[int, ...] = ()  # the network's own <vlan>: for ports no portgroup tags
    vlan_trunk: bool = False
    virtualport_params: VirtualportParams = ()
    portgroups: tuple[Portgroup, ...] = ()
    # The whole document as libvirt printed it: undoing an undefine defines exactly this again.
    # None in recordings made before it was kept.
    xml: str | None = field(default=None, compare=False)

    def portgroup(self, name: str | None) -> Portgroup | None:
        """The portgroup an interface gets, as libvirt picks it: the one named, else
        the default; a name the network lacks gets none (not the default)."""
        for group in self.portgroups:
            if (group.name == name) if name else group.default:
                return group
        return None


@dataclass(frozen=True, slots=True)
class Vlan:
    """The VLAN a guest interface ends up on, and which element it came from."""

    tags: tuple[int, ...]
    trunk: bool
    origin: str  # "interface", "portgroup <name>", "network"


def effective_vlan(nic: DomainInterface, networks: tuple[Network, ...] = ()) -> Vlan | None:
    """The interface's own <vlan>, else its portgroup's, else its network's, the order
    libvirt applies when it plugs a type='network' port. None when there is no VLAN,
    or it depends on a network the snapshot does not hold."""
    if nic.vlan_tags:
        return Vlan(nic.vlan_tags, nic.vlan_trunk, "interface")
    network = next((n for n in networks if nic.network and n.name == nic.network), None)
    if network is None:
        return None
    group = network.portgroup(nic.portgroup)
    if group is not None and group.vlan_tags:
        return Vlan(group.vlan_tags, group.vlan_trunk, f"portgroup {group.name}")
    if network.vlan_tags:
        return Vlan(network.vlan_tags, network.vlan_trunk, "network")
    return None
