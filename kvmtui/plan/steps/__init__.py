"""Steps of a plan: one host change each, as a small typed class that owns its command
text, its effect on a simulated host, its inverse, its backend and its plain data. The
planners build them with the functions below (`s.link_set(...)`)."""

from __future__ import annotations

from dataclasses import replace

from kvmtui.plan.steps.addresses import AddrAdd, AddrDel, RouteAdd, RouteDel, RouteSpec, addr_add, addr_del, \
    route_add, route_del
from kvmtui.plan.steps.base import STEP_TYPES, Settings, SimulatedHost, Step, q, step_from_data
from kvmtui.plan.steps.bridge import BrportSet, FdbAdd, FdbDel, VlanAdd, VlanDel, brport_set, fdb_add, fdb_append, \
    vlan_add, vlan_del
from kvmtui.plan.steps.guests import Attach, Detach, UpdateDevice, attach, detach, update_device
from kvmtui.plan.steps.links import DEVICE_SETTINGS, LinkAdd, LinkDel, LinkSet, link_add, link_del, link_set
from kvmtui.plan.steps.ovs import OVS_STEPS, OvsBridgeAdd, OvsBridgeDel, OvsPortAdd, OvsPortDel
from kvmtui.plan.steps.networks import NETWORK_STEPS, NetAutostart, NetDefine, NetDestroy, NetStart, NetUndefine, \
    net_autostart, net_define, net_destroy, net_start, net_undefine


def undone_with(step: Step, after: list[Step] | tuple[Step, ...]) -> Step:
    """`step` whose inverse is followed by `after`: steps that exist on the undo side only."""
    if not after or step.inverse is None:
        return step
    return replace(step, inverse=replace(step.inverse, then=step.inverse.then + tuple(after)))


__all__ = ["DEVICE_SETTINGS", "STEP_TYPES", "AddrAdd", "AddrDel", "Attach", "BrportSet", "Detach", "FdbAdd", "FdbDel",
           "LinkAdd", "LinkDel", "LinkSet", "RouteAdd", "RouteDel", "RouteSpec", "Settings", "SimulatedHost", "Step",
           "VlanAdd", "VlanDel", "addr_add", "addr_del", "attach", "brport_set", "detach", "fdb_add", "fdb_append", "link_add",
           "link_del", "link_set", "q", "route_add", "route_del", "step_from_data", "undone_with", "vlan_add",
           "vlan_del", "NETWORK_STEPS", "NetAutostart", "NetDefine", "NetDestroy", "NetStart", "NetUndefine",
           "net_autostart", "net_define", "net_destroy", "net_start", "net_undefine", "UpdateDevice", "update_device"]
__all__ += ["OVS_STEPS", "OvsBridgeAdd", "OvsBridgeDel", "OvsPortAdd", "OvsPortDel"]  # Open vSwitch: ovs.py
