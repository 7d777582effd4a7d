"""Plans that create or delete host devices: bridges, bonds, VLANs (pure)."""

from __future__ import annotations

from dataclasses import dataclass

from kvmtui.model import Link, Route, Snapshot
from kvmtui.plan import steps as s
from kvmtui.plan.bridge_undo import bridge_restore, port_restore
from kvmtui.plan.eligible import cidrs
from kvmtui.plan.expect import AddressOn, Expectation, LinkGone, LinkPresent, LinkSetting, RouteVia
from kvmtui.plan.intents import CreateBond, CreateBridge, CreateVlan, DeleteLink
from kvmtui.plan.model import Plan
from kvmtui.plan.validate import (
    PlanError,
    check_bond_options,
    check_free_port,
    check_new_name,
    check_vlan_id,
    check_vlan_parent,
    existing_link,
    named_bond_options,
)
from kvmtui.vocabulary import VLAN_PROTOCOL_NAMES

DELETABLE = ("bridge", "bond", "vlan")


def _state(link: Link) -> str:
    return "up" if link.is_up else "down"


def _enslave(port: Link, master: str) -> s.Step:
    return s.link_set(port.ifname, (("master", master),), (("master", ""),))


def _routes_on(snapshot: Snapshot, dev: str) -> list[Route]:
    """The routes an administrator gave `dev`: not the kernel's prefix routes and not
    router advertisements (both follow the addresses by themselves)."""
    return [r for r in snapshot.routes if r.dev == dev and r.protocol not in ("kernel", "ra") and r.type == "unicast"]


def _route(r: Route) -> s.RouteSpec:
    return s.RouteSpec(r.dst, r.gateway, r.metric, r.protocol, r.prefsrc, r.scope, r.onlink, r.family)


def _label_on(label: str | None, old: str, new: str) -> str | None:
    """An alias label names its device (`eno1:mgmt`): on the new device it is `br0:mgmt`."""
    if not label or label == old or not label.startswith(old):
        return None
    moved = new + label[len(old):]
    return moved if len(moved.encode()) <= 15 else None


@dataclass
class IpMove:
    """Addresses and routes of one device given to another: `off` runs before the devices
    are rewired, `on` after the new one is up."""

    off: list[s.Step]
    on: list[s.Step]
    expectations: list[Expectation]
    warnings: list[str]


def move_ip(snapshot: Snapshot, source: Link, target: str) -> IpMove:
    # In `ip addr` order, except that secondaries come back after their primaries and go
    # before them: deleting a primary takes its secondaries along (promote_secondaries off).
    addresses = sorted((a for a in source.addresses if a.scope != "link"), key=lambda a: a.secondary)
    routes = _routes_on(snapshot, source.ifname)
    off = [s.route_del(source.ifname, _route(r)) for r in routes]
    off += [s.addr_del(source.ifname, f"{a.local}/{a.prefixlen}", a.broadcast, _label_on(a.label, source.ifname, source.ifname))
            for a in reversed(addresses)]
    on = [s.addr_add(target, f"{a.local}/{a.prefixlen}", a.broadcast, _label_on(a.label, source.ifname, target))
          for a in addresses]
    on += [s.route_add(target, _route(r)) for r in routes]
    expectations: list[Expectation] = []
    for a in addresses:
        cidr = f"{a.local}/{a.prefixlen}"
        expectations += [AddressOn(target, cidr), AddressOn(source.ifname, cidr, present=False)]
    expectations += [RouteVia(r.dst, target) for r in routes]
    multipath = [r.dst for r in snapshot.routes if r.dev is None and r.type == "unicast"]
    warnings = [f"multipath routes are not moved ({', '.join(multipath)}): check their next hops via "
                f"{source.ifname} afterwards"] if multipath and target != source.ifname else []
    return IpMove(off, on, expectations, warnings)


def plan_create_bridge(intent: CreateBridge, snapshot: Snapshot) -> Plan:
    check_new_name(snapshot, intent.name)
    seen: set[str] = set()
    ports = [check_free_port(snapshot, port, "ports", seen) for port in intent.ports]
    if intent.forward_delay is not None and not 0 <= intent.forward_delay <= 30:
        raise PlanError("forward_delay", "the forward delay is 0 to 30 seconds (2 to 30 with STP)")
    if intent.stp and intent.forward_delay is not None and intent.forward_delay < 2:
        raise PlanError("forward_delay", "with STP on, the forward delay is at least 2 seconds")
    if intent.mtu is not None:
        for port in ports:
            if intent.mtu > port.mtu:
                raise PlanError("mtu", f"MTU {intent.mtu} is more than {port.ifname}'s {port.mtu}: raise that first")
    uplink = None
    if intent.move_ip_from:
        uplink = existing_link(snapshot, intent.move_ip_from, "move_ip_from")
        if uplink.ifname not in intent.ports:
            raise PlanError("move_ip_from", f"{uplink.ifname} must also be one of the bridge's ports")
    settings = (("stp_state", "1" if intent.stp else "0"),)
    if intent.forward_delay is not None:
        settings += (("forward_delay", str(intent.forward_delay * 100)),)  # the kernel counts centiseconds
    steps = [s.link_add(intent.name, "bridge", settings)]
    if intent.mtu is not None:
        steps.append(s.link_set(intent.name, (("mtu", str(intent.mtu)),), (("mtu", "1500"),)))
    expectations: list[Expectation] = [LinkPresent(intent.name, "bridge", up=True),
                                       LinkSetting(intent.name, "stp_state", 1 if intent.stp else 0)]
    moved = move_ip(snapshot, uplink, intent.name) if uplink is not None else None
    if uplink is not None:
        steps.append(s.link_set(intent.name, (("address", uplink.mac),), ()))  # new device: nothing to restore
        steps += moved.off
    for port in ports:
        steps.append(_enslave(port, intent.name))
        expectations.append(LinkPresent(port.ifname, master=intent.name))
    steps.append(s.link_set(intent.name, (("state", "up"),), (("state", "down"),)))
    for port in ports:
        if not port.is_up:
            steps.append(s.link_set(port.ifname, (("state", "up"),), (("state", "down"),)))
    if moved is not None:
        steps += moved.on
        expectations += moved.expectations
    if intent.stp and uplink is not None:
        delay = intent.forward_delay if intent.forward_delay is not None else 15
        stp = (f"STP is on: {intent.name} forwards nothing for about {2 * delay} s after its ports join (listening, "
               f"then learning, {delay} s each), so this host's own traffic via {intent.name} (the addresses and "
               f"routes moved from {uplink.ifname}) pauses that long",)
    else:
        stp = ()
    warnings = stp + tuple(moved.warnings if moved is not None else ()) + tuple(f"{port.ifname} keeps {', '.join(cidrs(port))}, which stop working on a bridge port: "
                     f"move them onto the bridge (--move-ip-from {port.ifname})"
                     for port in ports if cidrs(port) and port is not uplink)
    return Plan(intent, f"create bridge {intent.name}", tuple(steps), tuple(expectations), warnings)


def plan_create_bond(intent: CreateBond, snapshot: Snapshot) -> Plan:
    intent = named_bond_options(intent)
    check_new_name(snapshot, intent.name)
    if not intent.slaves:
        raise PlanError("slaves", "a bond needs at least one slave")
    seen: set[str] = set()
    slaves = [check_free_port(snapshot, slave, "slaves", seen) for slave in intent.slaves]
    miimon = intent.miimon if intent.miimon is not None or intent.arp_interval else 100
    check_bond_options(intent.mode, miimon, intent.arp_interval, intent.arp_ip_target, intent.lacp_rate,
                       intent.xmit_hash_policy, intent.primary, intent.slaves)
    settings: s.Settings = (("mode", intent.mode),)
    if miimon:
        settings += (("miimon", str(miimon)),)
    if intent.arp_interval:
        settings += (("arp_interval", str(intent.arp_interval)), ("arp_ip_target", ",".join(intent.arp_ip_target)))
    if intent.lacp_rate:
        settings += (("lacp_rate", intent.lacp_rate),)
    if intent.xmit_hash_policy:
        settings += (("xmit_hash_policy", intent.xmit_hash_policy),)
    steps = [s.link_add(intent.name, "bond", settings)]
    expectations: list[Expectation] = [LinkPresent(intent.name, "bond", up=True),
                                       LinkSetting(intent.name, "mode", intent.mode)]
    for slave in slaves:  # the kernel enslaves only devices that are down
        if slave.is_up:
            steps.append(s.link_set(slave.ifname, (("state", "down"),), (("state", "up"),)))
        steps.append(_enslave(slave, intent.name))
        expectations.append(LinkPresent(slave.ifname, master=intent.name))
    if intent.primary:  # a primary must already be a slave
        steps.append(s.link_set(intent.name, (("primary", intent.primary),), (("primary", ""),), kind="bond"))
        expectations.append(LinkSetting(intent.name, "primary", intent.primary))
    steps.append(s.link_set(intent.name, (("state", "up"),), (("state", "down"),)))
    return Plan(intent, f"create bond {intent.name} ({intent.mode})", tuple(steps), tuple(expectations))


def vlan_name(intent: CreateVlan) -> str:
    return intent.name or f"{intent.parent}.{intent.vid}"


def plan_create_vlan(intent: CreateVlan, snapshot: Snapshot) -> Plan:
    parent = check_vlan_parent(snapshot, intent.parent)
    check_vlan_id(intent.vid)
    if intent.protocol not in VLAN_PROTOCOL_NAMES:
        raise PlanError("protocol", f"the VLAN protocol is 802.1Q or 802.1ad, not {intent.protocol!r}")
    for link in snapshot.links:  # first: a second name for the same VLAN would not help (the kernel: EEXIST)
        info = link.info_data
        if link.kind == "vlan" and link.link == parent.ifname and info.id == intent.vid and info.protocol == intent.protocol:
            raise PlanError("vid", f"VLAN {intent.vid} already exists on {parent.ifname} as {link.ifname}")
    name = vlan_name(intent)
    try:
        check_new_name(snapshot, name)
    except PlanError as exc:
        if intent.name:
            raise
        raise PlanError("name", f"{exc} (the default name {name}): give the VLAN a name") from None
    steps = (s.link_add(name, "vlan", (("protocol", intent.protocol), ("id", str(intent.vid))), parent=parent.ifname),
             s.link_set(name, (("state", "up"),), (("state", "down"),)))
    expectations = (LinkPresent(name, "vlan", up=True), LinkSetting(name, "id", intent.vid))
    return Plan(intent, f"create VLAN {name} ({intent.protocol} {intent.vid} on {parent.ifname})", steps, expectations)


def _recreate(link: Link) -> s.Step:
    """The link_add that brings a deleted device back as it was: its MAC (its IPv6
    link-local address follows from it), MTU and its kind's settings. Only the ifindex
    is new; its master and a bond's primary come back by steps of their own (plan_delete)."""
    device: s.Settings = ((("address", link.mac),) if link.mac else ()) + (("mtu", str(link.mtu)),)
    info = link.info_data
    if link.kind == "bridge":
        settings = device + (("stp_state", str(info.stp_state)), ("forward_delay", str(info.forward_delay)),
                             ("hello_time", str(info.hello_time)), ("max_age", str(info.max_age)),
                             ("ageing_time", str(info.ageing_time)), ("priority", str(info.priority)))
        if info.vlan_filtering:
            settings += (("vlan_filtering", "1"),)
        return s.link_add(link.ifname, "bridge", settings)
    if link.kind == "bond":
        settings = device + (("mode", info.mode), ("miimon", str(info.miimon)))
        if info.arp_interval:
            settings += (("arp_interval", str(info.arp_interval)), ("arp_ip_target", ",".join(info.arp_ip_target)))
        if info.mode == "802.3ad" and info.ad_lacp_rate:
            settings += (("lacp_rate", info.ad_lacp_rate),)
        if info.xmit_hash_policy:  # the driver takes it in every mode and keeps it across mode changes
            settings += (("xmit_hash_policy", info.xmit_hash_policy),)
        return s.link_add(link.ifname, "bond", settings + _bond_tuning(info))
    return s.link_add(link.ifname, "vlan", device + (("protocol", info.protocol), ("id", str(info.id))), parent=link.link)


def _bond_tuning(info) -> s.Settings:
    """The bond options that differ from the driver's defaults, so an undone delete does
    not come back with other delays, failover or aggregator selection."""
    defaults = (("updelay", 0), ("downdelay", 0), ("arp_validate", None), ("primary_reselect", "always"),
                ("fail_over_mac", "none"), ("ad_select", "stable"), ("min_links", 0))
    return tuple((key, str(getattr(info, key))) for key, default in defaults
                 if getattr(info, key) not in (default, None))


def _members(snapshot: Snapshot, link: Link) -> list[Link]:
    """Ports or slaves in the order they joined (a bond's slave order, else ifindex order):
    released in reverse, an undo puts them back in that order (the same active slave,
    the same bridge port numbers)."""
    members = [other for other in snapshot.links if other.master == link.ifname]
    bond = snapshot.bonds_by_name.get(link.ifname)
    if bond is not None:
        order = [slave.name for slave in bond.slaves]
        members.sort(key=lambda m: order.index(m.ifname) if m.ifname in order else len(order))
    return members


def plan_delete(intent: DeleteLink, snapshot: Snapshot) -> Plan:
    link = existing_link(snapshot, intent.ifname, "ifname")
    if link.kind not in DELETABLE:
        what = link.kind or ("the loopback device" if "LOOPBACK" in link.flags else "a physical NIC")
        raise PlanError("ifname", f"{link.ifname} is {what}; kvmtui deletes bridges, bonds and VLANs only")
    warnings = []
    members = _members(snapshot, link)
    networks = sorted(n.name for n in snapshot.networks if n.bridge == link.ifname)
    guests = [d.name for d in snapshot.domains if d.active for nic in d.interfaces
              if nic.target in {m.ifname for m in members} or nic.bridge == link.ifname or nic.network in networks]
    if guests:
        warnings.append(f"guests lose their network on {link.ifname}: {', '.join(sorted(set(guests)))}")
    if networks:
        warnings.append(f"libvirt network {', '.join(networks)} is built on {link.ifname}: "
                        f"stop it first (virsh net-destroy), or libvirt is left with a network that has no bridge")
    uppers = [other.ifname for other in snapshot.links
              if (other.link == link.ifname and other.kind in ("vlan", "macvlan", "macvtap"))
              or (other.kind == "vxlan" and other.info_data is not None and other.info_data.link == link.ifname)]
    if uppers:
        raise PlanError("ifname", f"{link.ifname} carries {', '.join(uppers)}: delete those first")
    target = None
    if intent.move_ip_to:
        target = existing_link(snapshot, intent.move_ip_to, "move_ip_to")
        if target.ifname not in {m.ifname for m in members}:
            raise PlanError("move_ip_to", f"{target.ifname} is not a port of {link.ifname}")
    elif link.addresses and cidrs(link):
        warnings.append(f"addresses go with it: {', '.join(cidrs(link))}")
    if target is None and any(r.dst == "default" for r in _routes_on(snapshot, link.ifname)):
        warnings.append(f"the default route goes through {link.ifname}: this host loses its way out")
    moved = move_ip(snapshot, link, target.ifname if target is not None else link.ifname)
    steps = []
    primary = getattr(link.info_data, "primary", None) if link.kind == "bond" else None
    if primary:  # undone last, once the slaves are back: a primary must be a slave
        steps.append(s.link_set(link.ifname, (("primary", ""),), (("primary", primary),), kind="bond"))
    steps += moved.off
    if link.is_up:  # down first: undone, it comes up with its ports back, and so with their MAC
        steps.append(s.link_set(link.ifname, (("state", "down"),), (("state", "up"),)))
    # A bridge forgets what it knew of a port it releases: the undo tells it again.
    steps += [s.undone_with(s.link_set(m.ifname, (("master", ""),), (("master", link.ifname),)),
                            port_restore(snapshot, m)) for m in reversed(members)]
    if link.master:  # undone right after the device is back: a VLAN returns into its bridge
        steps.append(s.undone_with(s.link_set(link.ifname, (("master", ""),), (("master", link.master),)),
                                   port_restore(snapshot, link)))
    own = bridge_restore(snapshot, link) if link.kind == "bridge" else []
    steps.append(s.undone_with(s.link_del(link.ifname, inverse=_recreate(link)), own))
    # The bonding driver closes the slaves it releases; a bridge leaves its ports as they were.
    reopened = [m for m in members if m.is_up] if link.kind == "bond" else []
    steps += [s.link_set(m.ifname, (("state", "up"),), (("state", "down"),)) for m in reopened]
    expectations: list[Expectation] = [LinkGone(link.ifname)]
    expectations += [LinkPresent(m.ifname, master="", up=True if m in reopened else None) for m in members]
    if target is not None:
        steps += moved.on
        expectations += moved.expectations
        warnings += moved.warnings
    return Plan(intent, f"delete {link.kind} {link.ifname}", tuple(steps), tuple(expectations), tuple(warnings))
