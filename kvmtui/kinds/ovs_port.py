"""An interface added to an Open vSwitch bridge as a port: an access port of one VLAN
(its tag), a trunk of the VLANs listed, or (neither) a trunk of every VLAN."""

from __future__ import annotations

from dataclasses import dataclass

from kvmtui.kinds.ovs_checks import address_warnings, check_free_interface, existing_ovs_bridge, \
    free_interfaces, ovs_bridges, ovs_running, vid_list
from kvmtui.kinds.spec import KindSpec, Param
from kvmtui.model import Snapshot
from kvmtui.plan.expect_ovs import OvsPortState
from kvmtui.plan.model import Plan
from kvmtui.plan.steps.ovs import ovs_port_add
from kvmtui.plan.validate import VID_MAX, VID_MIN, PlanError, check_vid


@dataclass(frozen=True, slots=True)
class AddOvsPort:
    bridge: str
    ifname: str
    tag: int | None = None
    trunks: tuple[int, ...] = ()


def _trunks(value: object) -> tuple[int, ...]:
    return vid_list(value, "trunks")


PARAMS = (
    Param("bridge", "the OVS bridge", label="OVS bridge", widget="choice", offer=ovs_bridges),
    Param("ifname", "the interface that becomes a port: not in OVS, a Linux bridge or a bond", label="Interface",
          widget="choice", offer=lambda snapshot, selection: free_interfaces(snapshot, selection, many=False)),
    Param("tag", f"access port of this VLAN ({VID_MIN}-{VID_MAX}): its frames leave untagged", "--tag", "VID", type=int,
          exclusive="vlan", label="Access VLAN (tag; empty: none)", widget="number"),
    Param("trunks", "trunk of these VLANs only, tagged: 10,20,30-39 (neither option: a trunk of every VLAN)",
          "--trunks", "VIDS", exclusive="vlan", from_cli=_trunks, label="Trunk VLANs (10,20,30-39; empty: all)",
          from_form=_trunks),
)


def plan_add_ovs_port(intent: AddOvsPort, snapshot: Snapshot) -> Plan:
    bridge = existing_ovs_bridge(snapshot, intent.bridge)
    link = check_free_interface(snapshot, intent.ifname, "ifname", set())
    if intent.tag is not None and intent.trunks:
        raise PlanError("trunks", "a port is an access port (a tag) or a trunk (VLANs listed), not both")
    trunks = vid_list(intent.trunks)
    columns = ((("tag", str(check_vid(intent.tag, "tag"))),) if intent.tag is not None else ()) + (
        (("trunks", ",".join(map(str, trunks))),) if trunks else ())
    vlan = f" VLAN {intent.tag}" if intent.tag is not None else (f" trunk {','.join(map(str, trunks))}" if trunks else "")
    return Plan(intent, f"add {link.ifname} to OVS bridge {bridge.name}{vlan}",
                (ovs_port_add(bridge.name, link.ifname, columns=columns),),
                (OvsPortState(bridge.name, link.ifname, tag=intent.tag, trunks=trunks),), address_warnings([link]))


SPEC = KindSpec("ovs-port", AddOvsPort, PARAMS, plan_add_ovs_port, help="add an interface to an Open vSwitch bridge",
                title="New OVS port", noun="OVS port", new_key="p", available=ovs_running,
                form_order=("bridge", "ifname", "tag", "trunks"))
