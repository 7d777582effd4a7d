"""Bridges that other programs make and remove, and their ports (pure): docker, podman,
CNI, LXC, LXD, VirtualBox, minikube, libvirt's own networks.

Marked with their owner so that nobody "cleans them up": the tree and the details name the
owner, the delete plan refuses and names the owner's own tool, the audit does not call
their ports orphans or unsaved. Known from the owner's data where the snapshot has it
(docker's network list, libvirt's networks), else by the names these programs give them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from kvmtui.facts import libvirt_read, once_per_snapshot
from kvmtui.model import DockerNetwork, Link, Snapshot

BY_NAME = "by name"
BY_DOCKER = "by docker's network list"
BY_LIBVIRT = "by libvirt's network list"
# libvirt makes (and deletes) the bridge of a network in these forward modes; in mode
# bridge the bridge is the administrator's (as audit/drift_config.py's LIBVIRT_MADE).
LIBVIRT_MADE = frozenset({"nat", "route", "open", "isolated"})
MINIKUBE_LABEL = "created_by.minikube.sigs.k8s.io"
MINIKUBE_PROFILE = "name.minikube.sigs.k8s.io"


@dataclass(frozen=True, slots=True)
class ForeignOwner:
    """Which program made a device and how kvmtui knows; `device` is what it made (the
    bridge itself, or a port's bridge), `remove` the owner's own way to remove it."""

    owner: str  # "docker", "podman", "CNI", "lxc", "LXD", "VirtualBox", "minikube", "libvirt network NAME"
    what: str  # "network bridge", "host-only adapter", "port of docker0"...
    how: str  # BY_NAME, BY_DOCKER, BY_LIBVIRT
    remove: str
    device: str

    @property
    def text(self) -> str:
        return f"{self.owner} ({self.what}, {self.how})"

    @property
    def libvirt(self) -> bool:
        """libvirt's own: its guests' taps are judged as guests' (orphans included)."""
        return self.owner.startswith("libvirt")


_DOCKER_DEFAULT = ("docker's settings (\"bridge\" in /etc/docker/daemon.json): `docker network rm` keeps "
                   "its default network")
_PODMAN_DEFAULT = ("podman's settings (containers.conf): `podman network rm` keeps its default network")
# (name pattern, owner, what, remove); \1 in `remove` is the pattern's first group, {name} the device.
_NAMES: tuple[tuple[re.Pattern[str], str, str, str], ...] = tuple((re.compile(p), *rest) for p, *rest in (
    (r"docker0", "docker", "network bridge", _DOCKER_DEFAULT),
    (r"br-([0-9a-f]{12})", "docker", "a user-defined network", r"`docker network rm \1`"),
    (r"podman0|cni-podman0", "podman", "network podman", _PODMAN_DEFAULT),
    (r"podman\d+|cni-podman\d+", "podman", "a podman network",
     "`podman network rm NAME` (`podman network ls` names it)"),
    (r"cni\d+", "CNI", "the CNI bridge plugin's bridge",
     "the CNI configuration that names it (/etc/cni/net.d), or the Kubernetes network add-on that wrote it"),
    (r"lxcbr\d+", "lxc", "lxc-net's bridge", "`systemctl stop lxc-net` (USE_LXC_BRIDGE in /etc/default/lxc-net)"),
    (r"lxdbr\d+", "LXD", "an LXD network", "`lxc network delete {name}`"),
    (r"vboxnet\d+", "VirtualBox", "host-only adapter", "`VBoxManage hostonlyif remove {name}`"),
))
_VIRBR = re.compile(r"virbr\d+")


def _docker_owner(network: DockerNetwork, bridge: str) -> ForeignOwner:
    labels = dict(network.labels)
    if MINIKUBE_LABEL in labels or MINIKUBE_PROFILE in labels:
        profile = labels.get(MINIKUBE_PROFILE, network.name)
        return ForeignOwner("minikube", f"docker network {network.name}", BY_DOCKER,
                            f"`minikube delete -p {profile}`", bridge)
    remove = _DOCKER_DEFAULT if network.name == "bridge" else f"`docker network rm {network.name}`"
    return ForeignOwner("docker", f"network {network.name}", BY_DOCKER, remove, bridge)


def device_owner(snapshot: Snapshot, link: Link) -> ForeignOwner | None:
    """Who made this device itself (not as a port): libvirt's and docker's lists first, then the name."""
    name = link.ifname
    for network in snapshot.networks:
        if network.bridge == name and network.active and network.forward in LIBVIRT_MADE:
            what = "minikube's kvm2 network" if network.name.startswith("mk-") else f"{network.forward} network"
            return ForeignOwner(f"libvirt network {network.name}", what, BY_LIBVIRT,
                                f"`virsh net-destroy {network.name}`", name)
    for docker in snapshot.docker_networks:
        if docker.bridge == name:
            return _docker_owner(docker, name)
    for pattern, owner, what, remove in _NAMES:
        found = pattern.fullmatch(name)
        if found:
            return ForeignOwner(owner, what, BY_NAME, found.expand(remove).replace("{name}", name), name)
    if _VIRBR.fullmatch(name) and link.kind in ("bridge", None) and not libvirt_read(snapshot):
        return ForeignOwner("libvirt", "a libvirt network's bridge", BY_NAME,
                            "`virsh net-destroy NETWORK` (`virsh net-list` names it)", name)
    return None


def _owners(snapshot: Snapshot) -> dict[str, ForeignOwner]:
    made = {link.ifname: owner for link in snapshot.links if (owner := device_owner(snapshot, link)) is not None}
    found = dict(made)
    ports: dict[str, ForeignOwner] = {}
    for link in snapshot.links:
        bridge = made.get(link.master or "")
        if link.ifname not in made and bridge is not None and not bridge.libvirt:  # libvirt's ports are its guests'
            ports[link.ifname] = ForeignOwner(bridge.owner, f"port of {link.master}", bridge.how, bridge.remove,
                                              bridge.device)
    found.update(ports)
    for link in snapshot.links:  # the other half of a port's veth, when it is in this namespace too
        port = ports.get(link.link or "")
        if link.kind == "veth" and link.ifname not in found and port is not None and link.link_netnsid is None:
            found[link.ifname] = ForeignOwner(port.owner, f"veth peer of {link.link}, a port of {port.device}",
                                              port.how, port.remove, port.device)
    return found


@once_per_snapshot
def foreign_owners(snapshot: Snapshot) -> dict[str, ForeignOwner]:
    """ifname -> its owner, for every device another program made (the tree, the details
    and the audit all ask)."""
    return _owners(snapshot)


def foreign_owner(snapshot: Snapshot, ifname: str | None) -> ForeignOwner | None:
    return foreign_owners(snapshot).get(ifname) if ifname else None


def not_libvirts(snapshot: Snapshot, ifname: str | None) -> ForeignOwner | None:
    """The owner when it is a program other than libvirt (whose taps are its guests')."""
    owner = foreign_owner(snapshot, ifname)
    return owner if owner is not None and not owner.libvirt else None


def owner_lines(snapshot: Snapshot, ifname: str) -> list[tuple[str, str]]:
    """The details pane's line: `owner: docker (network bridge, by docker's network list)`."""
    owner = foreign_owner(snapshot, ifname)
    return [("owner", owner.text)] if owner is not None else []


def refusal(owner: ForeignOwner, ifname: str) -> str:
    """Why kvmtui does not delete it, and the owner's tool that does."""
    program = "libvirt" if owner.libvirt else owner.owner
    return (f"{ifname} belongs to {owner.text}: deleting it behind {program}'s back breaks it "
            f"(and it may come back); use {owner.remove}")
