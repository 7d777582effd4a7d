"""Steps on Open vSwitch's database: a bridge or a port (a bond is a port with several
interfaces) added or deleted, each one `ovs-vsctl` line, run by apply/ovs.py.

Adds carry `--may-exist` and deletes `--if-exists`, so an inverse run twice (a rollback,
then a guard's revert) does no harm. A port is added with the columns it must have (its
VLAN, a bond's mode and LACP; when an undo puts a deleted port back, also its interfaces'
type, options and external_ids): what the snapshot knows of it, no more."""

from __future__ import annotations

import json
import re
from dataclasses import replace

from kvmtui.model import OvsBond, OvsBridge, OvsFakeBridge, OvsInterface, OvsPort, OvsState
from kvmtui.plan.steps.base import SimulatedHost, Step, q, step_type

Columns = tuple[tuple[str, str], ...]  # ovs-vsctl's words: (("tag", "100"), ("options:peer", "patch-b"))
_BARE = re.compile(r"^[A-Za-z0-9_.:/@,-]+$")  # taken as it is (a set column: comma separated)


def column_words(columns: Columns) -> tuple[str, ...]:
    """`column=value` each; a value ovs-vsctl would parse as something else is in double quotes."""
    return tuple(f"{key}={value if _BARE.match(value) else json.dumps(value)}" for key, value in columns)


class OvsStep(Step):
    """What every OVS step shares: its ovs-vsctl arguments are its command."""

    __slots__ = ()
    backend = "ovs"

    @property
    def argv(self) -> tuple[str, ...]:
        raise NotImplementedError

    @property
    def command(self) -> str:
        return "ovs-vsctl " + " ".join(q(word) for word in self.argv)


@step_type
class OvsBridgeAdd(OvsStep):
    """`columns`: the Bridge's own (datapath_type, fail_mode), set in the same transaction.
    With `parent` and `vlan`, a fake bridge: VLAN `vlan` of bridge `parent`."""

    action = "ovs_bridge_add"
    columns: Columns = ()
    parent: str | None = None
    vlan: int | None = None

    @property
    def argv(self) -> tuple[str, ...]:
        if self.parent is not None:
            return ("--may-exist", "add-br", self.target, self.parent, str(self.vlan))
        own = ("--", "set", "Bridge", self.target, *column_words(self.columns)) if self.columns else ()
        return ("--may-exist", "add-br", self.target, *own)

    @property
    def settings(self) -> Columns:
        return self.columns

    def simulate(self, host: SimulatedHost) -> None:
        state = host.ovs or OvsState()
        if state.bridge(self.target) is not None or state.fake_bridge(self.target) is not None:
            return
        if self.parent is not None:
            port = OvsPortAdd(self.target, self.parent, columns=(("tag", str(self.vlan)), ("fake_bridge", "true")),
                              interfaces=((self.target, "type", "internal"),))
            port.simulate(host)
            host.ovs = replace(host.ovs, fake_bridges=tuple(sorted(
                (*host.ovs.fake_bridges, OvsFakeBridge(self.target, self.parent, self.vlan)), key=lambda f: f.name)))
            return
        values = dict(self.columns)
        local = OvsPort(self.target, (OvsInterface(self.target, "internal", None),))  # the bridge's own port
        bridge = OvsBridge(self.target, values.get("datapath_type") or "system", (local,), values.get("fail_mode"))
        host.ovs = replace(state, bridges=tuple(sorted((*state.bridges, bridge), key=lambda b: b.name)))


@step_type
class OvsBridgeDel(OvsStep):
    action = "ovs_bridge_del"

    @property
    def argv(self) -> tuple[str, ...]:
        return ("--if-exists", "del-br", self.target)

    def interrupts(self) -> bool:
        return True

    def simulate(self, host: SimulatedHost) -> None:
        if host.ovs is None:
            return
        fake = host.ovs.fake_bridge(self.target)
        if fake is not None:
            OvsPortDel(self.target, fake.parent).simulate(host)
        host.ovs = replace(host.ovs, bridges=tuple(b for b in host.ovs.bridges if b.name != self.target),
                           fake_bridges=tuple(f for f in host.ovs.fake_bridges
                                              if self.target not in (f.name, f.parent)))


@step_type
class OvsPortAdd(OvsStep):
    """`target` is the port; `members` a bond's interfaces (none: one interface named as the
    port); `columns` the Port's; `interfaces` (interface, column, value) of its interfaces."""

    action = "ovs_port_add"
    bridge: str
    members: tuple[str, ...] = ()
    columns: Columns = ()
    interfaces: tuple[tuple[str, str, str], ...] = ()

    @property
    def argv(self) -> tuple[str, ...]:
        if self.members:
            argv = ("--may-exist", "add-bond", self.bridge, self.target, *self.members)
        else:
            argv = ("--may-exist", "add-port", self.bridge, self.target)
        argv += column_words(self.columns)
        for name in dict.fromkeys(name for name, _, _ in self.interfaces):
            own = tuple((column, value) for iface, column, value in self.interfaces if iface == name)
            argv += ("--", "set", "Interface", name, *column_words(own))
        return argv

    @property
    def settings(self) -> Columns:
        return self.columns

    def interrupts(self) -> bool:
        return True  # a NIC that joins OVS stops carrying the host's own traffic

    def simulate(self, host: SimulatedHost) -> None:
        bridge = host.ovs.bridge(self.bridge) if host.ovs is not None else None
        if bridge is None or bridge.port(self.target) is not None:
            return
        host.ovs = _with_bridge(host.ovs, replace(bridge, ports=tuple(sorted((*bridge.ports, self.port()),
                                                                             key=lambda p: p.name))))

    def port(self) -> OvsPort:
        """The port as the collector would read it back (vswitchd's state aside)."""
        values = dict(self.columns)
        interfaces = tuple(_interface(name, [(c, v) for i, c, v in self.interfaces if i == name])
                           for name in sorted(self.members or (self.target,)))
        bond = OvsBond(values.get("bond_mode") or "active-backup", values.get("lacp") or "off") \
            if len(interfaces) > 1 else None
        return OvsPort(self.target, interfaces, int(values["tag"]) if "tag" in values else None,
                       tuple(sorted(int(v) for v in values.get("trunks", "").split(",") if v)),
                       values.get("vlan_mode"), values.get("fake_bridge") == "true", bond,
                       _map(values.items(), "external_ids"))


@step_type
class OvsPortDel(OvsStep):
    action = "ovs_port_del"
    bridge: str

    @property
    def argv(self) -> tuple[str, ...]:
        return ("--if-exists", "del-port", self.bridge, self.target)

    def interrupts(self) -> bool:
        return True

    def simulate(self, host: SimulatedHost) -> None:
        bridge = host.ovs.bridge(self.bridge) if host.ovs is not None else None
        if bridge is not None:
            host.ovs = _with_bridge(host.ovs, replace(bridge, ports=tuple(p for p in bridge.ports
                                                                          if p.name != self.target)))


OVS_STEPS = (OvsBridgeAdd, OvsBridgeDel, OvsPortAdd, OvsPortDel)


def _with_bridge(state: OvsState, bridge: OvsBridge) -> OvsState:
    return replace(state, bridges=tuple(bridge if b.name == bridge.name else b for b in state.bridges))


def _map(pairs, column: str) -> tuple[tuple[str, str], ...]:
    return tuple(sorted((key.split(":", 1)[1], value) for key, value in pairs if key.startswith(column + ":")))


def _interface(name: str, columns: list[tuple[str, str]]) -> OvsInterface:
    return OvsInterface(name, dict(columns).get("type") or "system", None, options=_map(columns, "options"),
                        external_ids=_map(columns, "external_ids"))


def ovs_bridge_add(name: str, columns: Columns = ()) -> OvsBridgeAdd:
    return OvsBridgeAdd(name, columns, inverse=OvsBridgeDel(name))


def ovs_bridge_del(name: str, columns: Columns = ()) -> OvsBridgeDel:
    """`columns`: what the bridge is put back with (its ports come back by their own steps)."""
    return OvsBridgeDel(name, inverse=OvsBridgeAdd(name, columns))


def ovs_fake_bridge_del(name: str, parent: str, vlan: int) -> OvsBridgeDel:
    return OvsBridgeDel(name, inverse=OvsBridgeAdd(name, parent=parent, vlan=vlan))


def ovs_port_add(bridge: str, port: str, members: tuple[str, ...] = (), columns: Columns = (),
                 interfaces: tuple[tuple[str, str, str], ...] = ()) -> OvsPortAdd:
    return OvsPortAdd(port, bridge, members, columns, interfaces, inverse=OvsPortDel(port, bridge))


def ovs_port_del(bridge: str, port: str, members: tuple[str, ...] = (), columns: Columns = (),
                 interfaces: tuple[tuple[str, str, str], ...] = ()) -> OvsPortDel:
    """The other arguments: the port as an undo puts it back."""
    return OvsPortDel(port, bridge, inverse=OvsPortAdd(port, bridge, members, columns, interfaces))
