"""What the drift rules ask of a Snapshot's saved configuration (pure): which configured
device applies to each live link at boot, which live devices are not the administrator's
to save, and where in which file a setting is.

The configuration that applies to a link is its owner's (collect/netconfig/owners.py
decides it as `netplan status` does): a device of that backend naming the link, or
matching it by MAC or glob, preferably the one in the owner's file. A backend that is not
installed or not enabled owns nothing, so its files are not what a reboot applies.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass, field
from fnmatch import fnmatchcase

from kvmtui.facts import global_addresses, is_nic, libvirt_read, once_per_snapshot, ports
from kvmtui.foreign import foreign_owner
from kvmtui.model import BondInfo, ConfiguredDevice, Link, LinkOwner, MacvlanInfo, Snapshot, VlanInfo, VxlanInfo

# libvirt creates the bridge of a network in these forward modes and deletes it with the network;
# in mode bridge the bridge is the administrator's.
LIBVIRT_MADE = frozenset({"nat", "route", "open", "isolated"})
# Made by a daemon when it starts (from its own state), not by a network configuration:
# libvirt's default naming when libvirt was not read, Docker, LXC/LXD, Podman, CNI plugins.
TOOL_NAMES = re.compile(r"virbr\d+(-nic)?|docker0|br-[0-9a-f]{12}|lxcbr\d+|lxdbr\d+|podman\d+|cni-podman\d+|"
                        r"cni\d+|flannel\.\d+|cilium_\w+|kube-ipvs0|vxlan\.calico|nodelocaldns|weave|datapath")
# The fallback device a tunnel module creates when it loads (tunl0 for ipip...), by name and kind.
FALLBACK = {"tunl0": "ipip", "gre0": "gre", "gretap0": "gretap", "erspan0": "erspan", "sit0": "sit",
            "ip6tnl0": "ip6tnl", "ip6gre0": "ip6gre", "ip6gretap0": "ip6gretap", "ip_vti0": "vti", "ip6_vti0": "vti6"}
NOT_SAVED_HERE = {
    "tun": "a tap or tun: QEMU/libvirt (or the VPN daemon) makes it",
    "macvtap": "a macvtap: libvirt makes it for a guest",
    "wireguard": "a WireGuard device: wg-quick keeps it in /etc/wireguard, which kvmtui does not read",
    "openvswitch": "an Open vSwitch device: OVS keeps it in its own database",
    "ifb": "an ifb: the ifb module and tc make them",
}
# Config kinds that only configure a device something else makes (the kernel, udev, a driver).
EXISTING = frozenset({"ethernet", "wifi", "infiniband"})
UNJUDGED_KINDS = frozenset({"loopback", "unknown", "nm-device", "modem", "tunnel"})  # kvmtui has no word to compare
UNCONTROLLED = "NM_CONTROLLED=no"  # an ifcfg file left to network-scripts (collect/netconfig/ifcfg.py)
MASTER_KINDS = {"bridge": "port", "bond": "slave", "vrf": "member", "team": "port"}
_PORT_OF = re.compile(r"port of (\S+) \(")


def not_the_admins(snapshot: Snapshot, link: Link, made: set[str] | None = None) -> str | None:
    """Why a live device is not one a saved network configuration should describe, or None.

    Guests' taps and macvtaps (libvirt makes them at guest start), veths whose peer is in
    another namespace (a container's: Docker, LXC, Podman make the pair), lo, the bridges of
    libvirt's NAT/routed/isolated networks and of Docker, LXD, Podman and CNI, the fallback
    devices a tunnel module creates, WireGuard (wg-quick's files are not read: reporting every
    wg0 would be noise), Open vSwitch and ifb. `made`: those bridges, when known already."""
    if "LOOPBACK" in link.flags or link.ifname == "lo":
        return "the loopback"
    if link.kind in NOT_SAVED_HERE:
        return NOT_SAVED_HERE[link.kind]
    if link.ifname in snapshot.running_guest_devices:
        return f"guest {snapshot.running_guest_devices[link.ifname]}'s device: libvirt makes it"
    if link.kind == "veth" and link.link_netnsid is not None:
        return "a veth to another namespace: the container's runtime makes the pair"
    if link.kind is not None and FALLBACK.get(link.ifname) == link.kind:
        return f"the {link.kind} module's fallback device, made when the module loads"
    for network in snapshot.networks:
        if network.bridge == link.ifname and network.forward in LIBVIRT_MADE:
            return f"the bridge of libvirt network {network.name} ({network.forward}): libvirt makes it"
    if (link.master or "") in (made if made is not None else _made_bridges(snapshot)):
        return f"a port of {link.master}, which libvirt or a container runtime makes"
    if TOOL_NAMES.fullmatch(link.ifname) and not (libvirt_read(snapshot) and link.ifname.startswith("virbr")):
        return "a bridge or tunnel a daemon (libvirt, Docker, LXD, Podman, CNI) makes when it starts"
    owner = foreign_owner(snapshot, link.ifname)  # VirtualBox's host-only adapters, a docker bridge by its list...
    if owner is not None:
        return f"owned by {owner.text}"
    return None


def _made_bridges(snapshot: Snapshot) -> set[str]:
    return {n.bridge for n in snapshot.networks if n.bridge and n.forward in LIBVIRT_MADE} | \
        {link.ifname for link in snapshot.links if TOOL_NAMES.fullmatch(link.ifname)
         and not (libvirt_read(snapshot) and link.ifname.startswith("virbr"))}


def takes(dev: ConfiguredDevice, link: Link) -> bool:
    """Whether a configured device applies to the link: by name, else by MAC or glob."""
    if dev.name is not None:
        return dev.name == link.ifname
    if dev.match_mac and link.mac and dev.match_mac == link.mac.lower():
        return True
    positive = [p.lstrip("~=") for p in dev.match_names if not p.startswith("!")]
    negative = [p.lstrip("!=") for p in dev.match_names if p.startswith("!")]
    return bool(positive) and any(fnmatchcase(link.ifname, p) for p in positive) \
        and not any(fnmatchcase(link.ifname, p) for p in negative)


def files_of(dev: ConfiguredDevice) -> list[str]:
    return [dev.file] + [more.rsplit(":", 1)[0] for more in dev.more_files]


def where(dev: ConfiguredDevice, part: str = "device") -> str:
    """"FILE line N" of a device, or of the .network that sets `part` (addresses, master, mtu)
    of a networkd device a .netdev creates."""
    if part != "device" and dev.backend == "systemd-networkd" and dev.more_files:
        file, _, line = dev.more_files[0].rpartition(":")
        return f"{file} line {line}"
    return f"{dev.file} line {dev.line}"


def creates(dev: ConfiguredDevice) -> bool:
    """The configuration makes the device (a bridge, bond, VLAN...), not only configures it."""
    return dev.kind not in EXISTING and dev.kind not in UNJUDGED_KINDS


def transient(dev: ConfiguredDevice) -> bool:
    """A profile or unit under /run: a reboot empties it (netplan's generated files come back
    from its YAML, and are not devices of their own here)."""
    return dev.file.startswith("/run/") and dev.backend != "netplan"


def live_kind(link: Link) -> str:
    if is_nic(link):
        return "NIC"
    return {"vlan": "VLAN", "vxlan": "VXLAN", "vrf": "VRF"}.get(link.kind or "", link.kind or "device")


def same_kind(link: Link, dev: ConfiguredDevice) -> bool | None:
    """Whether the configuration describes the kind that runs; None: kvmtui cannot tell."""
    if dev.kind in UNJUDGED_KINDS:
        return None
    if is_nic(link):
        return dev.kind in EXISTING
    return dev.kind == link.kind


def interface(text: str) -> ipaddress.IPv4Interface | ipaddress.IPv6Interface | None:
    try:
        return ipaddress.ip_interface(text)
    except ValueError:
        return None


@dataclass
class View:
    """Per link: whether it is judged, its owner and the configured device that applies."""

    snapshot: Snapshot
    skipped: dict[str, str] = field(default_factory=dict)  # ifname -> why it is not judged
    owners: dict[str, LinkOwner] = field(default_factory=dict)
    applied: dict[str, ConfiguredDevice] = field(default_factory=dict)

    def judged(self) -> list[Link]:
        """The links a saved configuration should describe; none when it was not read."""
        if self.snapshot.netconfig is None:
            return []
        return [link for link in self.snapshot.links if link.ifname not in self.skipped]

    def port_only_master(self, ifname: str) -> str | None:
        """The master whose configuration names this link as a port without describing it
        (ifupdown's `bridge-ports eno1` without an eno1 stanza)."""
        owner = self.owners.get(ifname)
        found = _PORT_OF.match(owner.why) if owner is not None and owner.backend else None
        return found[1] if found else None

    def saved_master(self, link: Link) -> tuple[str | None, str | None]:
        """(the master the saved configuration gives the link, where it says so)."""
        dev = self.applied.get(link.ifname)
        if dev is not None and dev.master:
            return dev.master, where(dev, "master")
        for name, master in self.applied.items():
            if link.ifname in master.ports and master.kind in MASTER_KINDS:
                return name, where(master)
        named = self.port_only_master(link.ifname)
        owner = self.owners.get(link.ifname)
        if named and owner is not None:
            return named, f"{owner.file} line {owner.line}" if owner.line else owner.file
        return None, None

    def saved(self, link: Link) -> bool:
        """A saved configuration makes this device at boot (a NIC: describes it)."""
        dev = self.applied.get(link.ifname)
        if dev is None:  # a NIC something configures (a port named by its master): saved
            owner = self.owners.get(link.ifname)
            return is_nic(link) and owner is not None and owner.backend is not None
        if transient(dev):
            return False
        return is_nic(link) or creates(dev) or (dev.name == link.ifname and same_kind(link, dev) is False)


def build_view(snapshot: Snapshot) -> View:
    view = View(snapshot)
    config = snapshot.netconfig
    if config is None:
        return view
    view.owners = dict(snapshot.owners_by_name)
    made = _made_bridges(snapshot)
    for link in snapshot.links:
        reason = not_the_admins(snapshot, link, made)
        if reason:
            view.skipped[link.ifname] = reason
            continue
        owner = view.owners.get(link.ifname)
        if owner is None or owner.backend is None:
            continue
        found = [d for d in config.devices if d.backend == owner.backend and not d.why.startswith(UNCONTROLLED)
                 and takes(d, link)]
        chosen = next((d for d in found if owner.file in files_of(d)), None) \
            or next((d for d in found if d.name == link.ifname), None)
        if chosen is not None:
            view.applied[link.ifname] = chosen
    return view


@once_per_snapshot
def view_of(snapshot: Snapshot) -> View:
    """The view, built once per snapshot: every drift rule reads it."""
    return build_view(snapshot)


def resolve_parent(snapshot: Snapshot, parent: str | None) -> str | None:
    """A VLAN's parent as NM may write it, a connection UUID, as the device's name."""
    if parent is None or snapshot.netconfig is None:
        return parent
    by_uuid = {d.uuid: d.name for d in snapshot.netconfig.devices if d.uuid and d.name}
    return by_uuid.get(parent, parent)


def host_backend(snapshot: Snapshot) -> tuple[str | None, str]:
    """The backend a new device should be saved in, as the issue says: the one that owns the
    host's uplink (the default route's device), else the one owning most links, else the
    first in use; and why."""
    owners = snapshot.owners_by_name
    uplink = next((r.dev for r in snapshot.routes if r.dst == "default" and r.family == "inet" and r.dev), None)
    if uplink and owners.get(uplink) and owners[uplink].backend:
        return owners[uplink].backend, f"it owns {uplink}, the uplink"
    counted: dict[str, int] = {}
    for owner in owners.values():
        if owner.backend:
            counted[owner.backend] = counted.get(owner.backend, 0) + 1
    if counted:
        backend = max(counted, key=lambda b: counted[b])
        return backend, f"it owns {counted[backend]} of this host's devices"
    used = [b.backend for b in (snapshot.netconfig.backends if snapshot.netconfig else ()) if b.in_use]
    return (used[0], "it is in use on this host") if used else (None, "no backend is in use on this host")


FIX_FILE = {
    "ifupdown": "an `auto {name}` + `iface {name} inet {method}` stanza in /etc/network/interfaces",
    "ifupdown2": "an `auto {name}` + `iface {name}` stanza in /etc/network/interfaces",
    "netplan": "an entry under `{section}:` in a file of /etc/netplan/ (then `netplan generate`)",
    "NetworkManager": "an NM profile (`nmcli connection add type {kind} ifname {name} ...`)",
    "systemd-networkd": "/etc/systemd/network/{name}.netdev (Kind={kind}) with a .network for it",
}
SECTIONS = {"bridge": "bridges", "bond": "bonds", "vlan": "vlans", "vrf": "vrfs", "dummy": "dummy-devices",
            "veth": "virtual-ethernets", "vxlan": "tunnels"}


def _details(snapshot: Snapshot, link: Link) -> str:
    """What a saved definition of the device must say: ports, mode, id, addresses."""
    said = []
    members = [p.ifname for p in ports(snapshot, link.ifname) if p.ifname not in view_of(snapshot).skipped]
    if link.kind == "bond" and isinstance(link.info_data, BondInfo):
        said.append(f"mode {link.info_data.mode}")
    if isinstance(link.info_data, VlanInfo):
        said.append(f"id {link.info_data.id} on {link.link}")
    if isinstance(link.info_data, MacvlanInfo):
        said.append(f"mode {link.info_data.mode} on {link.link}")
    if isinstance(link.info_data, VxlanInfo):
        said.append(f"VNI {link.info_data.id}" + (f" on {link.info_data.link}" if link.info_data.link else ""))
    if members:
        said.append(f"{MASTER_KINDS.get(link.kind or '', 'port')}s {', '.join(members)}")
    if global_addresses(link):
        said.append(f"address{'es' if len(global_addresses(link)) > 1 else ''} {', '.join(global_addresses(link))}")
    return f" ({'; '.join(said)})" if said else ""


def save_hint(snapshot: Snapshot, link: Link) -> str:
    """How to keep a device made at run time: what to add to which backend's files."""
    backend, why = host_backend(snapshot)
    if backend is None:
        return f"to keep it, save {link.ifname}{_details(snapshot, link)} in whatever sets up this host's network"
    text = FIX_FILE.get(backend, "part of {backend}'s configuration").format(
        backend=backend, name=link.ifname, kind=link.kind or "ethernet",
        section=SECTIONS.get(link.kind or "", "ethernets"), method="static" if global_addresses(link) else "manual")
    return (f"to keep it, save {link.ifname}{_details(snapshot, link)} as {text}; {backend} is this host's "
            f"backend ({why})")
