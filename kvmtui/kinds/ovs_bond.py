"""A new Open vSwitch bond: one port of an OVS bridge with two or more member interfaces,
its balancing mode and LACP."""

from __future__ import annotations

from dataclasses import dataclass

from kvmtui.kinds.ovs_checks import address_warnings, check_free_interface, check_new_ovs_name, existing_ovs_bridge, \
    free_interfaces, ovs_bridges, ovs_owner, ovs_running
from kvmtui.kinds.spec import KindSpec, Offer, Param, tuple_of
from kvmtui.model import Snapshot
from kvmtui.plan.expect_ovs import OvsPortState
from kvmtui.plan.model import Plan
from kvmtui.plan.steps.ovs import ovs_port_add
from kvmtui.plan.validate import PlanError

OVS_BOND_MODES = ("active-backup", "balance-slb", "balance-tcp")
LACP_MODES = ("off", "active", "passive")


@dataclass(frozen=True, slots=True)
class CreateOvsBond:
    bridge: str
    name: str
    members: tuple[str, ...]
    mode: str = "active-backup"
    lacp: str = "off"


def _free_name(snapshot: Snapshot) -> str:
    return next(f"bond{n}" for n in range(100) if snapshot.link(f"bond{n}") is None
                and (snapshot.ovs is None or ovs_owner(snapshot.ovs, f"bond{n}") is None))


def _choices(words: tuple[str, ...]) -> tuple[tuple[str, str], ...]:
    return tuple((word, word) for word in words)


PARAMS = (
    Param("bridge", "the OVS bridge the bond is a port of", label="OVS bridge", widget="choice", offer=ovs_bridges),
    Param("name", "the bond's (port's) name", label="Name", offer=lambda snapshot, _: Offer(_free_name(snapshot))),
    Param("members", "a member interface (repeat: at least two); not in OVS, a Linux bridge or a bond", "--member",
          "IF", repeat=True, cli_default=[], required=True, from_cli=tuple_of, label="Members (Space selects; two "
          "or more)", widget="many", offer=lambda snapshot, selection: free_interfaces(snapshot, selection, many=True),
          from_form=tuple_of),
    Param("mode", "active-backup (default), balance-slb (by source MAC and VLAN, no switch setup) or balance-tcp "
                  "(by L3/L4 headers: needs LACP)", "--mode", choices=OVS_BOND_MODES, cli_default="active-backup",
          label="Mode", widget="choice", form_default="active-backup", form_options=_choices(OVS_BOND_MODES)),
    Param("lacp", "LACP: off (default), active or passive; the switch ports must run LACP too", "--lacp",
          choices=LACP_MODES, cli_default="off", label="LACP", widget="choice", form_default="off",
          form_options=_choices(LACP_MODES)),
)


def plan_create_ovs_bond(intent: CreateOvsBond, snapshot: Snapshot) -> Plan:
    bridge = existing_ovs_bridge(snapshot, intent.bridge)
    check_new_ovs_name(snapshot, intent.name)
    if intent.mode not in OVS_BOND_MODES:
        raise PlanError("mode", f"unknown OVS bond mode {intent.mode!r}; one of {', '.join(OVS_BOND_MODES)}")
    if intent.lacp not in LACP_MODES:
        raise PlanError("lacp", f"LACP is one of {', '.join(LACP_MODES)}, not {intent.lacp!r}")
    if intent.mode == "balance-tcp" and intent.lacp == "off":
        raise PlanError("lacp", "balance-tcp needs LACP (active or passive): without it Open vSwitch does not "
                                "balance by L4 headers; choose balance-slb for a bond without switch setup")
    if len(intent.members) < 2:
        raise PlanError("members", f"a bond needs at least two members ({len(intent.members)} given); "
                                   "one interface is a plain port (ovs-port)")
    seen: set[str] = set()
    members = [check_free_interface(snapshot, name, "members", seen) for name in intent.members]
    columns = (("bond_mode", intent.mode), ("lacp", intent.lacp))
    steps = (ovs_port_add(bridge.name, intent.name, tuple(m.ifname for m in members), columns),)
    warnings = address_warnings(members)
    if intent.lacp != "off":
        warnings += (f"with LACP {intent.lacp}, the members carry traffic only once the switch answers LACP on "
                     "them (other_config:lacp-fallback-ab=true falls back to active-backup without it)",)
    expectations = (OvsPortState(bridge.name, intent.name, members=tuple(m.ifname for m in members),
                                 bond_mode=intent.mode, lacp=intent.lacp),)
    return Plan(intent, f"create OVS bond {intent.name} on {bridge.name}", steps, expectations, warnings)


SPEC = KindSpec("ovs-bond", CreateOvsBond, PARAMS, plan_create_ovs_bond, help="create an Open vSwitch bond",
                title="New OVS bond", noun="OVS bond", new_key="d", available=ovs_running)
