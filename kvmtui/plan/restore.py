"""What a reverted plan must leave behind: the host as it was before the plan ran, for the
devices, addresses, routes and guest NICs the plan touches (pure). A guard checks these
after it undid a change nobody kept; the rest of the host may have moved on meanwhile."""

from __future__ import annotations

from kvmtui.libvirt_xml import parse_interface_xml
from kvmtui.model import Snapshot
from kvmtui.plan.expect_ovs import ovs_restored
from kvmtui.plan.expect import AddressOn, Expectation, GuestNic, GuestNicState, LinkGone, LinkPresent, RouteVia, \
    vlan_text
from kvmtui.plan.model import Plan
from kvmtui.plan.steps import Attach, Detach, LinkAdd, LinkSet, UpdateDevice


def involved_devices(plan: Plan) -> tuple[str, ...]:
    """The kernel devices a plan changes or names: targets, new masters, lower devices."""
    names: dict[str, None] = {}
    for step in plan.steps:
        if step.backend != "kernel":
            continue
        names[step.target] = None
        if isinstance(step, LinkSet) and (master := dict(step.values).get("master")):
            names[master] = None
        if isinstance(step, LinkAdd) and step.parent:
            names[step.parent] = None
    return tuple(names)


def involved_domains(plan: Plan) -> tuple[str, ...]:
    return tuple(dict.fromkeys(step.target for step in plan.steps if step.backend == "libvirt"))


def restored_expectations(plan: Plan, before: Snapshot) -> tuple[Expectation, ...]:
    out: list[Expectation] = []
    devices = involved_devices(plan)
    for name in devices:
        link = before.link(name)
        if link is None:
            out.append(LinkGone(name))
            continue
        out.append(LinkPresent(name, link.kind, link.master or "", link.is_up))
        out += [AddressOn(name, f"{a.local}/{a.prefixlen}") for a in link.addresses if a.scope != "link"]
    # IPv6 prefix routes come and go with the carrier and router adverts: IPv4 and default routes only
    out += [RouteVia(r.dst, r.dev) for r in before.routes
            if r.dev in devices and r.table == 254 and r.type == "unicast" and (r.family == "inet" or r.dst == "default")]
    out += ovs_restored(plan.steps, before)
    for step in plan.steps:
        if isinstance(step, Attach):
            mac = parse_interface_xml(step.xml).mac or ""
            out.append(GuestNic(step.target, mac, isinstance(step, Detach), step.live, step.config))
        if isinstance(step, UpdateDevice) and step.inverse is not None:  # the element as it was
            nic = parse_interface_xml(step.inverse.xml)
            out.append(GuestNicState(step.target, nic.mac or "", step.live, step.config, nic.link_state or "up",
                                     nic.bridge, nic.model, vlan_text(nic.vlan_tags)))
    return tuple(dict.fromkeys(out))
