"""What must hold in Open vSwitch after a plan, read back by the collector (collect/ovs.py)."""

from __future__ import annotations

from dataclasses import dataclass

from kvmtui.model import Snapshot

UNREAD = "Open vSwitch could not be read back"


@dataclass(frozen=True, slots=True)
class OvsBridgeState:
    name: str
    present: bool = True
    datapath_type: str | None = None

    def unmet(self, snapshot: Snapshot, read_config) -> str | None:
        if snapshot.ovs is None:
            return UNREAD
        bridge = snapshot.ovs.bridge(self.name)
        if (bridge is None) == self.present:
            return f"OVS bridge {self.name} {'is missing' if self.present else 'still exists'}"
        if bridge is not None and self.datapath_type is not None and bridge.datapath_type != self.datapath_type:
            return f"OVS bridge {self.name}'s datapath is {bridge.datapath_type}, not {self.datapath_type}"
        return None


@dataclass(frozen=True, slots=True)
class OvsPortState:
    """A port on its bridge with exactly this VLAN (tag None: untagged; trunks () : all) and,
    for a bond, these members, mode and LACP; or gone from it (present=False). An interface
    vswitchd could not open (its error column) is unmet too."""

    bridge: str
    port: str
    present: bool = True
    tag: int | None = None
    trunks: tuple[int, ...] = ()
    members: tuple[str, ...] = ()
    bond_mode: str | None = None
    lacp: str | None = None
    opened: bool = True  # vswitchd opened its interfaces (False: as before a revert, whatever that was)

    def unmet(self, snapshot: Snapshot, read_config) -> str | None:
        if snapshot.ovs is None:
            return UNREAD
        bridge = snapshot.ovs.bridge(self.bridge)
        port = bridge.port(self.port) if bridge is not None else None
        if not self.present:
            return None if port is None else f"OVS port {self.port} is still on {self.bridge}"
        if port is None:
            return f"OVS port {self.port} is missing from {self.bridge}"
        if port.tag != self.tag:
            return f"OVS port {self.port}'s tag is {port.tag or 'none'}, not {self.tag or 'none'}"
        if tuple(port.trunks) != tuple(self.trunks):
            return f"OVS port {self.port}'s trunks are {list(port.trunks)}, not {list(self.trunks)}"
        if self.members:
            names = tuple(sorted(i.name for i in port.interfaces))
            if names != tuple(sorted(self.members)):
                return f"OVS bond {self.port}'s members are {', '.join(names)}, not {', '.join(sorted(self.members))}"
            bond = port.bond
            for what, wanted, actual in (("mode", self.bond_mode, bond.mode if bond else None),
                                         ("LACP", self.lacp, bond.lacp if bond else None)):
                if wanted is not None and wanted != actual:
                    return f"OVS bond {self.port}'s {what} is {actual}, not {wanted}"
        broken = next((i for i in port.interfaces if i.error), None)
        if broken is not None and self.opened:
            return f"Open vSwitch could not open {broken.name}: {broken.error}"
        return None


OVS_EXPECTATIONS = (OvsBridgeState, OvsPortState)


def ovs_restored(steps, before: Snapshot) -> list[OvsBridgeState | OvsPortState]:
    """What a reverted plan leaves in OVS: each bridge and port its steps touched as it was
    before (a fake bridge is its parent's port, checked with the parent's ports)."""
    from kvmtui.plan.steps.ovs import OvsBridgeAdd, OvsBridgeDel, OvsPortAdd, OvsPortDel

    state = before.ovs
    out: list[OvsBridgeState | OvsPortState] = []
    for step in steps:
        if isinstance(step, (OvsBridgeAdd, OvsBridgeDel)) and getattr(step, "parent", None) is None and not (
                state is not None and state.fake_bridge(step.target)):
            bridge = state.bridge(step.target) if state is not None else None
            out.append(OvsBridgeState(step.target, bridge is not None))
            out += [_as_was(bridge.name, port) for port in bridge.ports] if bridge is not None else []
        elif isinstance(step, (OvsPortAdd, OvsPortDel)):
            bridge = state.bridge(step.bridge) if state is not None else None
            port = bridge.port(step.target) if bridge is not None else None
            out.append(_as_was(step.bridge, port) if port is not None else OvsPortState(step.bridge, step.target, False))
    return out


def _as_was(bridge: str, port) -> OvsPortState:
    bond = port.bond
    return OvsPortState(bridge, port.name, True, port.tag, tuple(port.trunks),
                        tuple(i.name for i in port.interfaces) if bond is not None else (),
                        bond.mode if bond is not None else None, bond.lacp if bond is not None else None, opened=False)
