"""The device kinds kvmtui can plan, one module each, and their registry.

A kind module defines its intent (a frozen dataclass: what is asked for), its PARAMS (one
`Param` per intent field: the CLI option or argument with its help line, the wizard's label,
widget and its default or choices from the host and the selection), its checks and its
planner (intent + Snapshot -> Plan, raising PlanError at a field), and `SPEC`, a `KindSpec`
tying them together. Listed in KINDS below, a kind gets its `kvmtui plan|apply` subcommand,
its wizard (with `new_key`: a key in the `n` menu and the help's list) and make_plan's
dispatch. Checks and planning helpers that kinds share stay in kvmtui/plan/ (validate.py,
eligible.py, ip_move.py, bridge_undo.py, guest_nic.py). Kinds that share a `command`
(attach_bridge, attach_macvtap) share one subcommand and one wizard, and one intent class.
"""

from __future__ import annotations

from dataclasses import dataclass

from kvmtui.kinds import (attach_bridge, attach_macvtap, bond, bridge, delete, detach, libvirt_network,
                          libvirt_network_undefine, macvlan_shim, ovs_bond, ovs_bridge, ovs_delete, ovs_port, port_vlans,
                          set_guest_nic, set_link, vlan, vxlan)
from kvmtui.kinds.attach import AttachInterface
from kvmtui.kinds.bond import CreateBond
from kvmtui.kinds.bridge import CreateBridge
from kvmtui.kinds.delete import DeleteLink
from kvmtui.kinds.detach import DetachInterface
from kvmtui.kinds.libvirt_network import DefineNetwork
from kvmtui.kinds.libvirt_network_undefine import UndefineNetwork
from kvmtui.kinds.macvlan_shim import CreateShim
from kvmtui.kinds.ovs_bond import CreateOvsBond
from kvmtui.kinds.ovs_bridge import CreateOvsBridge
from kvmtui.kinds.ovs_delete import DeleteOvs
from kvmtui.kinds.ovs_port import AddOvsPort
from kvmtui.kinds.port_vlans import SetPortVlans
from kvmtui.kinds.set_guest_nic import SetGuestNic
from kvmtui.kinds.set_link import SetLink
from kvmtui.kinds.spec import KindSpec, Param, Selection
from kvmtui.kinds.vlan import CreateVlan
from kvmtui.kinds.vxlan import CreateVxlan
from kvmtui.model import Snapshot
from kvmtui.plan import Plan, PlanError
from kvmtui.plan.eligible import kernel_checks_off
from kvmtui.plan.validate import check_values

KINDS: dict[str, KindSpec] = {module.SPEC.name: module.SPEC for module in (
    bridge, bond, vlan, vxlan, attach_bridge, attach_macvtap, macvlan_shim, detach, delete, libvirt_network, libvirt_network_undefine,
    set_link, port_vlans, set_guest_nic, ovs_bridge, ovs_bond, ovs_port, ovs_delete)}

Intent = CreateBridge | CreateBond | CreateVlan | CreateVxlan | CreateShim | AttachInterface | DetachInterface | DeleteLink \
    | SetLink | DefineNetwork | UndefineNetwork | SetPortVlans | SetGuestNic | CreateOvsBridge | CreateOvsBond | AddOvsPort \
    | DeleteOvs
INTENTS = {spec.intent.__name__: spec.intent for spec in KINDS.values()}


def kind_of(intent: object) -> KindSpec:
    return next(spec for spec in KINDS.values() if isinstance(intent, spec.intent) and spec.claims(intent))


def make_plan(intent: Intent, snapshot: Snapshot, kernel_checks: bool = True) -> Plan:
    """Check the intent against the host and plan it: ordered steps with inverses, or a
    PlanError naming the field at fault. kernel_checks=False is for tests only: it plans what
    the kernel would refuse (EBUSY), so that a test can apply it and see the kernel refuse it."""
    check_values(intent)
    planner = kind_of(intent).plan
    if kernel_checks:
        return planner(intent, snapshot)
    with kernel_checks_off():
        return planner(intent, snapshot)


def _merged(sequences: list[tuple[Param, ...]]) -> tuple[Param, ...]:
    """The params of kinds that share a command, each kind's own ones where that kind has them."""
    merged = list(sequences[0])
    for params in sequences[1:]:
        pending: list[Param] = []
        for param in params:
            if param not in merged:
                pending.append(param)
            elif pending:
                at = merged.index(param)
                merged[at:at] = pending
                pending = []
        merged += pending
    return tuple(merged)


@dataclass(frozen=True, slots=True)
class Command:
    """One `plan|apply` subcommand and one wizard: a kind, or the kinds that share it."""

    name: str
    kinds: tuple[KindSpec, ...]
    params: tuple[Param, ...]  # in the CLI's order

    @property
    def spec(self) -> KindSpec:  # help, title, intent, new_key: the same for all its kinds
        return self.kinds[0]

    @property
    def form_params(self) -> tuple[Param, ...]:
        order = self.spec.form_order or tuple(p.name for p in self.params)
        by_name = {p.name: p for p in self.params}
        return tuple(by_name[name] for name in order if by_name[name].label is not None)

    def usage(self, values: dict) -> str | None:
        return next((said for kind in self.kinds if (said := kind.usage(values))), None)

    def from_form(self, values: dict[str, object]) -> object:
        """The intent from a wizard's values (and the fixed ones: a delete's device)."""
        values = {name: self._param(name).from_form(value) for name, value in values.items()}
        for fixup in dict.fromkeys(kind.form_fixup for kind in self.kinds):
            values = fixup(values)
        return self.spec.build(values)

    def from_cli(self, args: object) -> object:
        return self.spec.build({p.name: p.from_cli(getattr(args, p.dest)) for p in self.params})

    def _param(self, name: str) -> Param:
        return next(p for p in self.params if p.name == name)


def _commands() -> dict[str, Command]:
    grouped: dict[str, list[KindSpec]] = {}
    for spec in KINDS.values():
        grouped.setdefault(spec.subcommand, []).append(spec)
    return {name: Command(name, tuple(kinds), _merged([k.params for k in kinds])) for name, kinds in grouped.items()}


COMMANDS = _commands()
NEW = tuple(command for command in COMMANDS.values() if command.spec.new_key)  # under `n`


def new_nouns() -> str:
    """What `n` makes: "bridge, bond or VLAN"."""
    nouns = [command.spec.noun for command in NEW]
    return ", ".join(nouns[:-1]) + " or " + nouns[-1] if len(nouns) > 1 else "".join(nouns)


__all__ = ["COMMANDS", "INTENTS", "KINDS", "NEW", "Command", "Intent", "KindSpec", "Param", "Plan", "PlanError", "Selection",
           "kind_of", "make_plan", "new_nouns", "AttachInterface", "CreateBond", "CreateBridge", "CreateShim", "CreateVlan", "CreateVxlan", "DeleteLink", "DetachInterface",
           "DefineNetwork", "UndefineNetwork", "SetLink", "SetPortVlans", "SetGuestNic",
           "CreateOvsBridge", "CreateOvsBond", "AddOvsPort", "DeleteOvs"]
