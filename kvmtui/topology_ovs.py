"""Open vSwitch's part of the topology (pure): NIC -> OVS bond -> OVS bridge -> fake
bridge (VLAN) -> port -> guest, patch ports joining bridges, tunnels with their remote.

OVS nodes are keyed as links ("link:<name>"): an OVS bridge or interface that also has a
kernel device (the kernel datapath's `openvswitch` link, a guest's tap) is then one node,
not two, and the FDB pane and details find it by name like any link. topology.py turns
these plain tuples into its edges; nothing here knows its graph.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from kvmtui.model import Domain, Snapshot
from kvmtui.model.ovs import TUNNEL_TYPES, OvsBridge, OvsInterface, OvsPort, OvsState, pair_value
from kvmtui.node_keys import link_key

Label = tuple[str, str, str, str]  # kind, name, state, summary
Edge = tuple[str, str, str, int, bool]  # parent, child, role, priority, ref_only


@dataclass
class OvsGraph:
    labels: dict[str, Label] = field(default_factory=dict)
    kernel_labels: dict[str, Label] = field(default_factory=dict)
    edges: list[Edge] = field(default_factory=list)
    # (domain uuid, lowercase MAC) -> the key of the OVS interface that guest NIC is plugged into
    guest_ports: dict[tuple[str, str], str] = field(default_factory=dict)


def ovs_graph(snapshot: Snapshot, kernel_labels: dict[str, Label] | None = None) -> OvsGraph:
    """`kernel_labels`: the labels of the kernel's links, which an OVS interface with a kernel
    device (a NIC, a tap) keeps, with OVS's words added to its summary."""
    graph = OvsGraph(kernel_labels=kernel_labels or {})
    state = snapshot.ovs
    if state is None:
        return graph
    datapath = graph.kernel_labels.get(link_key("ovs-system"))  # the kernel datapath's own device
    if datapath is not None:
        graph.labels[link_key("ovs-system")] = (*datapath[:3], "Open vSwitch kernel datapath")
    for bridge in state.bridges:
        _bridge(graph, snapshot, state, bridge)
    graph.guest_ports = _guest_ports(state, snapshot.domains)
    return graph


def interface_summary(bridge: OvsBridge, port: OvsPort, interface: OvsInterface) -> str:
    """What one looks for on an OVS port: its bridge, VLAN, and where a patch or tunnel leads."""
    words = [f"ovs {bridge.name}", port_vlan_text(port)]
    if interface.type == "patch":
        words.append(f"patch to {interface.peer or '?'}")
    elif interface.type in TUNNEL_TYPES:
        key = interface.tunnel_key
        words.append(f"{interface.type}" + (f" key {key}" if key else "") + f" -> {interface.remote_ip or '?'}")
    elif interface.type != "system":
        words.append(interface.type)
    if interface.error:
        words.append(f"error: {interface.error}")
    return ", ".join(w for w in words if w)


def port_vlan_text(port: OvsPort) -> str:
    """"tag 100", "trunks 10,20", "tag 100, trunks 10,20 native-untagged": the Port's VLAN words."""
    words = []
    if port.tag is not None:
        words.append(f"tag {port.tag}")
    if port.trunks:
        words.append(f"trunks {','.join(map(str, port.trunks))}")
    if port.vlan_mode:
        words.append(port.vlan_mode)
    return " ".join(words)


def bond_summary(port: OvsPort) -> str:
    bond = port.bond
    words = [f"ovs bond {bond.mode}", f"lacp {bond.lacp_status or bond.lacp}"]
    if bond.active_member:
        words.append(f"active {bond.active_member}")
    return ", ".join(words)


def _interface_state(interface: OvsInterface) -> str:
    if interface.admin_state == "down":
        return "down"
    return interface.link_state or "unknown"


def _bridge(graph: OvsGraph, snapshot: Snapshot, state: OvsState, bridge: OvsBridge) -> None:
    key = link_key(bridge.name)
    kernel = snapshot.link(bridge.name)
    summary = f"ovs, {bridge.datapath_type} datapath" + (f", fail mode {bridge.fail_mode}" if bridge.fail_mode else "")
    graph.labels[key] = ("ovs-bridge", bridge.name, "up" if kernel is None or kernel.is_up else "down", summary)
    fakes = {fake.vlan: link_key(fake.name) for fake in state.fake_bridges if fake.parent == bridge.name}
    for port in bridge.ports:
        if port.name == bridge.name:
            continue  # the bridge's own (LOCAL) port is the bridge node itself
        if port.fake_bridge:
            graph.labels[link_key(port.name)] = ("ovs-fake-bridge", port.name, "up", f"vlan {port.tag} of {bridge.name}")
            graph.edges.append((key, link_key(port.name), "vlan", 0, False))
            continue
        if port.bond is not None:
            _bond(graph, snapshot, bridge, port)
            continue
        for interface in port.interfaces:
            _interface(graph, snapshot, state, bridge, port, interface, fakes.get(port.tag, key))


def _bond(graph: OvsGraph, snapshot: Snapshot, bridge: OvsBridge, port: OvsPort) -> None:
    """The bond holds the bridge (the wire is above it), its members hold the bond."""
    key = link_key(port.name)
    bond = port.bond
    up = any(m.enabled for m in bond.members) if bond.members else any(
        _interface_state(i) == "up" for i in port.interfaces)
    graph.labels[key] = ("ovs-bond", port.name, "up" if up else "down", bond_summary(port))
    graph.edges.append((key, link_key(bridge.name), "master", 1, False))
    for interface in port.interfaces:
        member = bond.member(interface.name)
        child = link_key(interface.name)
        if member is None:
            member_state = _interface_state(interface)
        else:
            member_state = "up" if member.enabled else "down" if not member.may_enable else "disabled"
        words = [f"member of {port.name}"] + (["active"] if bond.active_member == interface.name else [])
        if member is not None and member.lacp:
            words.append(f"lacp {member.lacp}")
        graph.labels[child] = _label(graph, child, f"ovs-{interface.type}", interface.name, member_state,
                                     ", ".join(words), keep_state=False)
        graph.edges.append((child, key, "master", 0, False))


def _interface(graph: OvsGraph, snapshot: Snapshot, state: OvsState, bridge: OvsBridge, port: OvsPort,
               interface: OvsInterface, parent: str) -> None:
    key = link_key(interface.name)
    graph.labels[key] = _label(graph, key, f"ovs-{interface.type}", interface.name, _interface_state(interface),
                               interface_summary(bridge, port, interface))
    if _is_uplink(snapshot, port, interface):
        graph.edges.append((key, link_key(bridge.name), "master", 1, False))
        return
    graph.edges.append((parent, key, "port", 0, False))
    peer = interface.peer
    if peer is not None:
        other = state.bridge_of(peer)
        if other is not None:  # the bridge on the other side, as a reference
            graph.edges.append((key, link_key(other.name), "patch", 9, True))
    if interface.type in TUNNEL_TYPES and interface.remote_ip:
        underlay = snapshot.route_dev(interface.remote_ip)
        if underlay is not None:
            graph.edges.append((link_key(underlay), key, "underlay-of", 9, True))


def _label(graph: OvsGraph, key: str, kind: str, name: str, state: str, summary: str,
           keep_state: bool = True) -> Label:
    """OVS's label, or the kernel device's with OVS's words after its own (a bond member's
    state is OVS's view of it, as a kernel bond slave's is its MII status)."""
    kernel = graph.kernel_labels.get(key)
    if kernel is None:
        return kind, name, state, summary
    kernel_kind, _name, kernel_state, kernel_summary = kernel
    return (kernel_kind, name, kernel_state if keep_state else state,
            f"{kernel_summary}, {summary}" if kernel_summary else summary)


def _is_uplink(snapshot: Snapshot, port: OvsPort, interface: OvsInterface) -> bool:
    """A system interface with no guest behind it and no access tag: a NIC towards the wire."""
    if interface.type != "system" or port.tag is not None or interface.attached_mac or interface.vm_id:
        return False
    kernel = snapshot.link(interface.name)
    return kernel is None or kernel.kind not in ("tun", "veth")


def _guest_ports(state: OvsState, domains: tuple[Domain, ...]) -> dict[tuple[str, str], str]:
    """Guest NIC -> its OVS interface: the interfaceid libvirt gave the virtualport is the
    Interface's iface-id; else the Interface names the guest (vm-id) and NIC (attached-mac)."""
    by_iface_id, by_vm_mac = {}, {}
    for _bridge, _port, interface in state.interfaces():
        if interface.iface_id:
            by_iface_id[interface.iface_id.lower()] = link_key(interface.name)
        if interface.vm_id and interface.attached_mac:
            by_vm_mac[(_plain_uuid(interface.vm_id), interface.attached_mac)] = link_key(interface.name)
    found = {}
    for domain in domains:
        for nic in domain.interfaces:
            mac = (nic.mac or "").lower()
            iface_id = pair_value(nic.virtualport_params, "interfaceid") if nic.virtualport == "openvswitch" else None
            key = by_iface_id.get(iface_id.lower()) if iface_id else None
            key = key or by_vm_mac.get((_plain_uuid(domain.uuid), mac))
            if key is not None and mac:
                found[(domain.uuid, mac)] = key
    return found


def _plain_uuid(text: str) -> str:
    return text.replace("-", "").lower()
