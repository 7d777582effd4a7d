"""Snapshot -> forest read from the wire towards the guests (pure).

NIC -> bond -> VLAN -> bridge -> vnet -> guest interface; macvtap -> its lower
device; vxlan and tunnels -> their underlay; veth halves joined; libvirt network -> its bridge.
The device graph is a DAG (a bond has several slaves, a bridge may have several
uplinks), so a node is shown in full under its first parent and as a reference
(`ref` = key of the full node) under the others.
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass

from kvmtui.bridge_vlans import filtering_bridge, port_vlan_summary, vlans_by_port
from kvmtui.facts import STACKED_KINDS, guests_in_view, is_tap, libvirt_helper_tap, ovs_device, underlay
from kvmtui.foreign import BY_LIBVIRT, foreign_owner, not_libvirts
from kvmtui.model import TUNNEL_KINDS, Bond, Domain, DomainInterface, Link, Network, Snapshot
from kvmtui.node_keys import group_key, guest_key, is_guest, link_key, net_key, ref_key
from kvmtui.topology_ovs import ovs_graph

GROUP_GUEST_NICS = group_key("guest-nics")
GROUP_ORPHANS = group_key("orphans")


@dataclass(frozen=True, slots=True)
class TopologyNode:
    key: str  # "link:<ifname>", "net:<name>", "guest:<uuid>:<mac>", "group:..."; refs: "<parent>-><key>"
    kind: str  # link kind, "nic", "loopback", "guest", "network" or "group"
    name: str
    state: str  # "up", "down", "unknown", a bond slave's MII status, a domain's state, ...
    summary: str  # the one fact that matters for this node
    role: str | None = None  # how it hangs off its parent: slave-of, port, upper, peer, guest, bridge
    ref: str | None = None
    children: tuple[TopologyNode, ...] = ()


@dataclass(frozen=True, slots=True)
class _Edge:
    parent: str
    child: str
    role: str
    priority: int  # lower wins when choosing where a node is shown in full
    ref_only: bool = False


def natural(text: str) -> tuple:
    """Sort key that reads numbers as numbers: n1, n2, n10 (not n1, n10, n2)."""
    return tuple(int(part) if i % 2 else part for i, part in enumerate(re.split(r"(\d+)", text)))


def build_forest(snapshot: Snapshot) -> tuple[TopologyNode, ...]:
    graph = _Graph(snapshot)
    return graph.forest()


class _Graph:
    def __init__(self, snapshot: Snapshot):
        self.snapshot = snapshot
        self.links = snapshot.links_by_name
        self.bonds = snapshot.bonds_by_name
        self.labels: dict[str, tuple[str, str, str, str]] = {}  # key -> kind, name, state, summary
        self.edges: list[_Edge] = []
        self.loose_guest_nics: list[str] = []
        self.orphans: list[str] = []  # keys listed under the orphan group
        self.vlans_of = vlans_by_port(snapshot)
        for link in snapshot.links:
            self.labels[link_key(link.ifname)] = self._link_label(link)
            self._link_edges(link)
        for network in snapshot.networks:
            self._network(network)
        ovs = ovs_graph(snapshot, self.labels)  # link keys: a bridge's kernel link merges with its node
        self.labels.update(ovs.labels)
        self.edges += [_Edge(*edge) for edge in ovs.edges]
        self.ovs_guest_ports = ovs.guest_ports
        self._guests(snapshot.domains)

    # -- edges ---------------------------------------------------------------------
    def _link_edges(self, link: Link) -> None:
        key = link_key(link.ifname)
        master = self.links.get(link.master) if link.master else None
        if master is not None and master.kind == "bond":
            self.edges.append(_Edge(key, link_key(master.ifname), "master", 0))
        elif master is not None and master.kind == "bridge":
            if _is_downstream_port(link):
                self.edges.append(_Edge(link_key(master.ifname), key, "port", 0))
            else:
                self.edges.append(_Edge(key, link_key(master.ifname), "master", 1))
        if link.kind in STACKED_KINDS and link.link in self.links:
            self.edges.append(_Edge(link_key(link.link), key, "upper", 0))
        if (lower := underlay(self.snapshot, link)) is not None:
            self.edges.append(_Edge(link_key(lower), key, "underlay-of", 0))
        if link.kind == "veth" and link.link in self.links:
            peer = self.links[link.link]
            if self._veth_parent(link, peer):
                self.edges.append(_Edge(link_key(peer.ifname), key, "peer", 2))

    @staticmethod
    def _veth_parent(link: Link, peer: Link) -> bool:
        """True when `peer` should hold `link`: the free half holds the enslaved one."""
        if (link.master is None) != (peer.master is None):
            return link.master is not None
        if link.master is None:
            return peer.ifname < link.ifname
        return False

    def _network(self, network: Network) -> None:
        key = net_key(network.name)
        state = "active" if network.active else "inactive"
        summary = network.forward + (f" on {network.bridge}" if network.bridge else "")
        self.labels[key] = ("network", network.name, state, summary)
        if network.bridge and network.bridge in self.links:
            self.edges.append(_Edge(key, link_key(network.bridge), "bridge", 5))
        for dev in (network.forward_dev, network.pf, *network.interfaces):
            if dev and dev in self.links:
                self.edges.append(_Edge(key, link_key(dev), "uses", 9, ref_only=True))

    def _guests(self, domains: tuple[Domain, ...]) -> None:
        """Orphans only when this host's libvirt was read for this namespace (the audit's
        guard): otherwise every vnet would look unclaimed, every guest's device missing."""
        in_view = guests_in_view(self.snapshot)
        running_targets = {nic.target for d in domains if d.active for nic in d.interfaces if nic.target}
        for domain in domains:
            for number, nic in enumerate(domain.interfaces):
                key = guest_key(domain, number)
                self.labels[key] = ("guest", domain.name, domain.state, _guest_summary(nic))
                parent = self._guest_parent(domain, nic, in_view)
                if parent is not None:
                    self.edges.append(_Edge(parent, key, "guest", 0))
                elif domain.active and nic.target and in_view:
                    self.orphans.append(key)  # its device is gone
                elif domain.active:
                    self.loose_guest_nics.append(key)
        if not in_view:
            return
        for link in self.snapshot.links:
            if is_tap(link) and link.ifname not in running_targets and not libvirt_helper_tap(link) \
                    and not ovs_device(self.snapshot, link.ifname) \
                    and not_libvirts(self.snapshot, link.ifname) is None:  # another program's: not a guest's leftover
                self.orphans.append(link_key(link.ifname))

    def _guest_parent(self, domain: Domain, nic: DomainInterface, in_view: bool) -> str | None:
        ovs_port = self.ovs_guest_ports.get((domain.uuid, (nic.mac or "").lower()))
        if ovs_port is not None:  # its OVS Interface names it (iface-id, or vm-id and attached-mac)
            return ovs_port
        if domain.active and nic.target and in_view:
            return link_key(nic.target) if nic.target in self.links else None
        # No device (shut off, or being attached): where the NIC lands once it has one.
        if nic.type == "bridge" and nic.bridge in self.links:
            return link_key(nic.bridge)
        if nic.type == "network" and any(n.name == nic.network for n in self.snapshot.networks):
            return net_key(nic.network)
        if nic.type == "direct" and nic.dev in self.links:
            return link_key(nic.dev)
        return None

    # -- labels --------------------------------------------------------------------
    def _link_label(self, link: Link) -> tuple[str, str, str, str]:
        kind = link.kind or ("loopback" if "LOOPBACK" in link.flags else "nic")
        state = _link_state(link)
        summary = link_summary(link, self.bonds.get(link.ifname))
        master = self.links.get(link.master) if link.master else None
        if master is not None and master.kind == "bond":
            slave = self.bonds.get(master.ifname).slave(link.ifname) if master.ifname in self.bonds else None
            if slave is not None:
                state = slave.mii_status  # slave health is the bond's MII view, not operstate
            elif link.info_slave_data is not None:
                state = link.info_slave_data.mii_status.lower().replace("_", " ")
            summary = f"slave of {master.ifname}" + (f", {summary}" if summary else "")
        elif master is not None and filtering_bridge(self.snapshot, link) is not None:
            vlans = port_vlan_summary(self.vlans_of.get(link.ifname, ()))
            summary = ", ".join(part for part in (summary, vlans) if part)
        owner = foreign_owner(self.snapshot, link.ifname)
        if owner is not None and owner.how != BY_LIBVIRT:  # a network's bridge hangs under that network already
            summary = f"{summary}, owned by {owner.owner}" if summary else f"owned by {owner.owner}"
        if neighbour := self.snapshot.neighbour_text(link.ifname):  # what lldpd heard on the cable
            summary = ", ".join(part for part in (summary, f"to {neighbour}") if part)
        return kind, link.ifname, state, summary

    # -- forest --------------------------------------------------------------------
    def forest(self) -> tuple[TopologyNode, ...]:
        primary: dict[str, _Edge] = {}
        for edge in sorted(self.edges, key=lambda e: (e.priority, natural(e.parent))):
            if not edge.ref_only and edge.child not in primary:
                primary[edge.child] = edge
        children: dict[str, list[_Edge]] = defaultdict(list)
        for edge in self.edges:
            children[edge.parent].append(edge)
        roots = sorted((k for k in self.labels if k not in primary), key=self._root_order)
        self._children, self._primary, self._emitted = children, primary, set()
        forest = [self._node(key, None, None) for key in roots if not is_guest(key)]
        # A cycle (two veth halves holding each other) leaves nodes unreached: show them as roots.
        forest += [self._node(k, None, None) for k in sorted(self.labels, key=natural)
                   if k not in self._emitted and not is_guest(k)]
        forest += self._group(GROUP_GUEST_NICS, "guest NICs without a host device", self.loose_guest_nics)
        forest += self._group(GROUP_ORPHANS, "orphans: unclaimed taps, guest NICs whose device is missing", self.orphans)
        return tuple(forest)

    def _root_order(self, key: str) -> tuple:
        kind = self.labels[key][0]
        order = {"nic": 0, "bond": 1, "bridge": 2, "network": 3, "loopback": 9}.get(kind, 5)
        return order, natural(key)

    def _sibling_order(self, edge: _Edge) -> tuple:
        """Guest NICs first (under a tap there is one), devices after; by name, then key."""
        kind, name = self.labels[edge.child][:2]
        return edge.role != "guest", kind == "guest", natural(name), natural(edge.child)

    def _node(self, key: str, role: str | None, parent: str | None) -> TopologyNode:
        kind, name, state, summary = self.labels[key]
        if key in self._emitted or (parent is not None and self._primary.get(key, _NO_EDGE).parent != parent):
            return TopologyNode(ref_key(parent, key), kind, name, state, summary, role, ref=key)
        self._emitted.add(key)
        kids = sorted(self._children.get(key, ()), key=self._sibling_order)
        return TopologyNode(key, kind, name, state, summary, role,
                            children=tuple(self._node(e.child, e.role, key) for e in kids))

    def _group(self, key: str, title: str, members: list[str]) -> list[TopologyNode]:
        if not members:
            return []
        kids = []
        for member in sorted(set(members), key=natural):
            if member in self._emitted:
                kind, name, state, summary = self.labels[member]
                kids.append(TopologyNode(ref_key(key, member), kind, name, state, summary, None, ref=member))
            else:
                kids.append(self._node(member, None, None))
        return [TopologyNode(key, "group", title, "", f"{len(kids)}", children=tuple(kids))]


_NO_EDGE = _Edge("", "", "", 0)


def _link_state(link: Link) -> str:
    """ip's operstate, lowercased, except that admin down ("down": `ip link set X up`
    fixes it) and up without carrier ("no-carrier": nothing behind it) differ."""
    if not link.is_up:
        return "down"
    state = link.operstate.lower()
    carrier = "LOWER_UP" in link.flags
    if state == "unknown" and carrier:
        return "up"  # taps, dummies, lo: drivers that never set operstate, but up with carrier
    if state in ("down", "unknown") and not carrier and "NO-CARRIER" in link.flags:
        return "no-carrier"
    return state


def _is_downstream_port(link: Link) -> bool:
    """Guest-side bridge ports: taps, and veths whose peer lives in another namespace."""
    return link.kind == "tun" or (link.kind == "veth" and link.link_netnsid is not None)


def _guest_summary(nic: DomainInterface) -> str:
    parts = [nic.mac or "no MAC"]
    if nic.type == "direct" and nic.mode:
        parts.append(f"macvtap {nic.mode}")
    elif nic.type not in ("bridge", "network"):
        parts.append(nic.type + (f" {nic.source}" if nic.source else ""))
    if nic.link_state == "down":
        parts.append("link down")
    return ", ".join(parts)


def link_summary(link: Link, bond: Bond | None = None) -> str:
    """The one fact an administrator looks for on this kind of device."""
    info = link.info_data
    kind = link.kind
    if kind == "bond" and info is not None:
        active = (bond.active_slave if bond else None) or info.active_slave
        return info.mode + (f", active {active}" if active else "")
    if kind == "vlan" and info is not None:
        return f"vlan {info.id}" + ("" if info.protocol == "802.1Q" else f" {info.protocol}")
    if kind in ("macvtap", "macvlan") and info is not None:
        return f"mode {info.mode}"
    if kind == "bridge" and info is not None:
        text = "stp " + ("on" if info.stp_state else "off")
        return text + (", vlan filtering" if info.vlan_filtering else "")
    if kind == "vxlan" and info is not None:
        peer = info.remote or info.group
        return ("external" if info.external else f"vni {info.id}") + (f" -> {peer}" if peer else "")
    if kind in TUNNEL_KINDS and info is not None:
        return tunnel_summary(info)
    if kind == "veth":
        if link.link_netnsid is not None:
            where = f"netns {link.link_netns}" if link.link_netns else f"netns id {link.link_netnsid}"
            if link.link_netns_ifname is None:  # the kernel would not say (older than 4.20, or EPERM)
                return f"peer #{link.link_index} in {where}"
            port = f" (port of {link.link_netns_master})" if link.link_netns_master else ""
            return f"peer {link.link_netns_ifname} in {where}{port}"
        return f"peer {link.link}" if link.link else ""
    if kind == "tun" and info is not None:
        return info.type
    return link.mac or ""


def tunnel_summary(info) -> str:
    """"key 42 -> 192.0.2.2", "vni 5000 -> 192.0.2.2": what identifies the tunnel at its far end."""
    if info.external:
        return "external"
    keys = sorted({k for k in (info.ikey, info.okey) if k is not None})
    words = [f"vni {info.id}"] if info.id is not None else []
    words += ["key " + "/".join(map(str, keys))] if keys else []
    words += [f"-> {info.remote}"] if info.remote else [f"from {info.local}"] if info.local else []
    return " ".join(words)


def walk(nodes: tuple[TopologyNode, ...], depth: int = 0):
    """Depth-first (depth, node) pairs: what tests and the text renderer iterate."""
    for node in nodes:
        yield depth, node
        yield from walk(node.children, depth + 1)
