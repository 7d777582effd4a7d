"""Deleting an Open vSwitch port, bond or bridge (a bridge with its ports); an undo puts
each back with what the snapshot knows of it: the port's VLAN, a bond's members, mode and
LACP, the interfaces' type, options and external_ids, the bridge's datapath and fail mode.
Columns kvmtui does not read (other_config, QoS, mirrors) are not put back."""

from __future__ import annotations

from dataclasses import dataclass

from kvmtui.kinds.ovs_checks import ovs_state
from kvmtui.kinds.spec import KindSpec, Offer, Param
from kvmtui.model import OvsBridge, OvsPort, Snapshot
from kvmtui.plan.expect_ovs import OvsBridgeState, OvsPortState
from kvmtui.plan.model import Plan
from kvmtui.plan.steps.ovs import OvsPortDel, ovs_bridge_del, ovs_fake_bridge_del, ovs_port_del
from kvmtui.plan.validate import PlanError

GUEST_IDS = ("vm-id", "iface-id", "attached-mac")  # what libvirt (or a CMS) sets on a guest's interface


@dataclass(frozen=True, slots=True)
class DeleteOvs:
    name: str  # an OVS bridge, or a port or bond of one


def is_ovs_deletable(snapshot: Snapshot, name: str | None) -> bool:
    """Whether `d` on this device plans an OVS delete: it is an OVS bridge or port."""
    state = snapshot.ovs
    return state is not None and name is not None and (
        state.bridge(name) is not None or any(b.port(name) is not None for b in state.bridges))


def _guests(port: OvsPort) -> list[str]:
    return [i.name for i in port.interfaces if any(key in dict(i.external_ids) for key in GUEST_IDS)]


def port_delete(bridge: OvsBridge, port: OvsPort) -> OvsPortDel:
    """The delete whose undo adds the port back as the snapshot shows it."""
    columns = ((("tag", str(port.tag)),) if port.tag is not None else ()) + (
        (("trunks", ",".join(map(str, port.trunks))),) if port.trunks else ()) + (
        (("vlan_mode", port.vlan_mode),) if port.vlan_mode else ()) + (
        (("fake_bridge", "true"),) if port.fake_bridge else ()) + (
        (("bond_mode", port.bond.mode), ("lacp", port.bond.lacp)) if port.bond is not None else ()) + tuple(
        (f"external_ids:{key}", value) for key, value in port.external_ids)
    interfaces = tuple(
        item for i in port.interfaces for item in (((i.name, "type", i.type),) if i.type != "system" else ()) + tuple(
            (i.name, f"options:{key}", value) for key, value in i.options) + tuple(
            (i.name, f"external_ids:{key}", value) for key, value in i.external_ids))
    members = tuple(i.name for i in port.interfaces) if port.bond is not None else ()
    return ovs_port_del(bridge.name, port.name, members, columns, interfaces)


def plan_delete_ovs(intent: DeleteOvs, snapshot: Snapshot) -> Plan:
    state = ovs_state(snapshot, "name")
    fake = state.fake_bridge(intent.name)
    if fake is not None:
        raise PlanError("name", f"{intent.name} is a fake bridge (VLAN {fake.vlan} of {fake.parent}); kvmtui deletes "
                                f"OVS bridges, ports and bonds (by hand: ovs-vsctl del-br {intent.name})")
    bridge = state.bridge(intent.name)
    if bridge is not None:
        ports = [p for p in bridge.ports if p.name != bridge.name]  # its own internal port goes with it
        columns = ((("datapath_type", bridge.datapath_type),) if bridge.datapath_type != "system" else ()) + (
            (("fail_mode", bridge.fail_mode),) if bridge.fail_mode else ())
        fakes = [p for p in ports if p.fake_bridge and p.tag is not None]  # deleted as ovs-vsctl makes them
        steps = [port_delete(bridge, port) for port in reversed(ports) if port not in fakes]
        steps += [ovs_fake_bridge_del(port.name, bridge.name, port.tag) for port in fakes]
        steps.append(ovs_bridge_del(bridge.name, columns))
        guests = [name for port in ports for name in _guests(port)]
        warnings = (f"guest interfaces lose their network: {', '.join(guests)}",) if guests else ()
        return Plan(intent, f"delete OVS bridge {bridge.name}", tuple(steps), (OvsBridgeState(bridge.name, False),),
                    warnings)
    for bridge in state.bridges:
        port = bridge.port(intent.name)
        if port is not None:
            if _guests(port):
                raise PlanError("name", f"{port.name} is a guest's port (libvirt made it and adds it back when the "
                                        "guest restarts): detach the guest's NIC instead")
            what = "bond" if port.bond is not None else "port"
            return Plan(intent, f"delete OVS {what} {port.name} from {bridge.name}", (port_delete(bridge, port),),
                        (OvsPortState(bridge.name, port.name, present=False),))
        bond = next((p for p in bridge.ports if p.bond is not None and any(i.name == intent.name
                                                                            for i in p.interfaces)), None)
        if bond is not None:
            raise PlanError("name", f"{intent.name} is a member of OVS bond {bond.name}: delete the bond "
                                    f"(ovs-del {bond.name}), or take the member out with ovs-vsctl")
    raise PlanError("name", f"there is no OVS bridge, port or bond {intent.name!r}")


PARAMS = (Param("name", "the OVS bridge (with its ports), port or bond to delete",
                offer=lambda _, selection: Offer(selection.ifname)),)

SPEC = KindSpec("ovs-del", DeleteOvs, PARAMS, plan_delete_ovs, help="delete an Open vSwitch bridge, port or bond",
                title="Delete from Open vSwitch", wizard=False)
