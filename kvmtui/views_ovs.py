"""Open vSwitch's share of the panes (pure): FDB entries, bond members and detail lines
of OVS nodes. views.py builds its rows from these plain values, so this module needs
nothing of it (no import circle) and views.py stays one screen per pane.
"""

from __future__ import annotations

from kvmtui.model import Snapshot
from kvmtui.model.ovs import TUNNEL_TYPES, OvsBridge, OvsFdbEntry, OvsInterface, OvsPort
from kvmtui.topology_ovs import bond_summary, interface_summary, port_vlan_text


def ovs_bridge_name(snapshot: Snapshot, name: str | None) -> str | None:
    """The OVS bridge `name` is, or is a port or interface of; a fake bridge is its own (its VLAN's FDB)."""
    if snapshot.ovs is None:
        return None
    if snapshot.ovs.fake_bridge(name) is not None:
        return name
    bridge = snapshot.ovs.bridge_of(name)
    return bridge.name if bridge is not None else None


def ovs_fdb(snapshot: Snapshot, bridge: str | None) -> tuple[OvsFdbEntry, ...] | None:
    """The FDB of an OVS bridge (of a fake bridge: its parent's entries in its VLAN); None
    when `bridge` is no OVS bridge (the kernel's then)."""
    if snapshot.ovs is None:
        return None
    fake = snapshot.ovs.fake_bridge(bridge)
    if fake is not None:
        parent = snapshot.ovs.bridge(fake.parent)
        return tuple(e for e in parent.fdb if e.vlan == fake.vlan) if parent is not None else ()
    found = snapshot.ovs.bridge(bridge)
    return found.fdb if found is not None else None


def ovs_fdb_cells(entry: OvsFdbEntry) -> tuple[str, str, str, str, str]:
    """mac, port, vlan, state, age as the FDB pane shows kernel entries."""
    state = "learned" if entry.age is not None else "static"
    return entry.mac, entry.port, str(entry.vlan), state, "" if entry.age is None else f"{entry.age}s"


def ovs_mac_owners(snapshot: Snapshot) -> dict[str, str]:
    """MACs OVS itself says whose they are: a guest port's attached-mac, the host's internal ports."""
    owners: dict[str, str] = {}
    if snapshot.ovs is None:
        return owners
    names = {domain.uuid.replace("-", "").lower(): domain.name for domain in snapshot.domains}
    libvirt_read = snapshot.host.libvirt_uri is not None and snapshot.libvirt_error is None
    for _bridge, _port, interface in snapshot.ovs.interfaces():
        if interface.type == "internal" and interface.mac_in_use:
            owners[interface.mac_in_use] = "host"
        if interface.attached_mac and interface.vm_id:
            guest = names.get(interface.vm_id.replace("-", "").lower())
            owners[interface.attached_mac] = f"guest {guest}" if guest else f"vm-id {interface.vm_id[:8]}" + (
                " (gone)" if libvirt_read else "")
    return owners


def ovs_bond_rows(snapshot: Snapshot) -> list[dict]:
    """One BondSlaveRow's fields per OVS bond member (views.bond_rows makes the rows)."""
    rows = []
    if snapshot.ovs is None:
        return rows
    for bridge in snapshot.ovs.bridges:
        for port in bridge.ports:
            if port.bond is None:
                continue
            bond = port.bond
            for interface in port.interfaces:
                member = bond.member(interface.name)
                enabled = member.enabled if member else interface.link_state == "up"
                may_enable = member.may_enable if member else enabled
                partner = member.partner_system if member else None
                rows.append(dict(
                    bond=port.name, mode=f"ovs {bond.mode}", slave=interface.name,
                    active=bond.active_member == interface.name,
                    mii_status=interface.link_state or "unknown", speed="?", duplex="?", failures=0,
                    failures_grew=0, aggregator="", partner_mac=partner or "", partner_key="",
                    alarm=_member_alarm(bond.lacp, enabled, may_enable, interface, partner)))
    return rows


def _member_alarm(lacp: str, enabled: bool, may_enable: bool, interface: OvsInterface, partner: str | None) -> str:
    if interface.link_state not in (None, "up"):
        return f"link {interface.link_state}"
    if not may_enable:
        return "may_enable false"
    if lacp != "off" and (partner is None or partner == "00:00:00:00:00:00"):
        return "no LACP partner"
    return "" if enabled else "disabled"


def ovs_details(snapshot: Snapshot, name: str) -> list[tuple[str, str]]:
    """Detail lines of an OVS bridge, fake bridge, port or interface called `name` ([] if none)."""
    state = snapshot.ovs
    if state is None:
        return []
    fake = state.fake_bridge(name)
    if fake is not None:
        return [("ovs fake bridge", f"vlan {fake.vlan} of {fake.parent}")]
    bridge = state.bridge(name)
    if bridge is not None:
        return _bridge_lines(bridge)
    for bridge in state.bridges:
        for port in bridge.ports:
            if port.name == name and port.bond is not None:
                return _bond_lines(bridge, port)
            for interface in port.interfaces:
                if interface.name == name:
                    return _interface_lines(snapshot, bridge, port, interface)
    return []


def _bridge_lines(bridge: OvsBridge) -> list[tuple[str, str]]:
    ports = [p.name for p in bridge.ports if p.name != bridge.name]
    return [("ovs bridge", f"datapath {bridge.datapath_type}" + (f", fail mode {bridge.fail_mode}"
                                                                  if bridge.fail_mode else "")),
            ("ovs ports", ", ".join(ports) or "-"), ("ovs fdb", f"{len(bridge.fdb)} entries")]


def _bond_lines(bridge: OvsBridge, port: OvsPort) -> list[tuple[str, str]]:
    lines = [("ovs bond", f"{bond_summary(port)}, on {bridge.name}")]
    if port_vlan_text(port):
        lines.append(("ovs vlan", port_vlan_text(port)))
    for interface in port.interfaces:
        member = port.bond.member(interface.name)
        words = [] if member is None else [
            "enabled" if member.enabled else "disabled", f"may_enable {str(member.may_enable).lower()}"]
        if member is not None and member.lacp:
            words.append(f"lacp {member.lacp}")
        lines.append((f"member {interface.name}", ", ".join(words + [f"link {interface.link_state or '?'}"])))
    return lines


def _interface_lines(snapshot: Snapshot, bridge: OvsBridge, port: OvsPort,
                     interface: OvsInterface) -> list[tuple[str, str]]:
    lines = [("ovs port", interface_summary(bridge, port, interface)),
             ("ovs type", interface.type), ("ofport", "-" if interface.ofport is None else str(interface.ofport)),
             ("ovs state", f"admin {interface.admin_state or '?'}, link {interface.link_state or '?'}")]
    if interface.mac_in_use:
        lines.append(("ovs mac", interface.mac_in_use))
    if interface.type in TUNNEL_TYPES and interface.remote_ip:
        underlay = snapshot.route_dev(interface.remote_ip)
        lines.append(("ovs remote", interface.remote_ip + (f" via {underlay}" if underlay else "")))
    lines += [(f"ovs option {k}", v) for k, v in interface.options]
    lines += [(f"ovs external_ids {k}", v) for k, v in interface.external_ids]
    if interface.error:
        lines.append(("ovs error", interface.error))
    return lines
