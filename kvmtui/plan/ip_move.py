"""The host's own addresses and routes handed from one device to another (a bridge takes
its uplink's; a deleted bridge or bond gives them back to a port), and enslaving (pure)."""

from __future__ import annotations

from dataclasses import dataclass

from kvmtui.model import Link, Route, Snapshot
from kvmtui.plan import steps as s
from kvmtui.plan.expect import AddressOn, Expectation, RouteVia


def enslave(port: Link, master: str) -> s.Step:
    return s.link_set(port.ifname, (("master", master),), (("master", ""),))


def routes_on(snapshot: Snapshot, dev: str) -> list[Route]:
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
    routes = routes_on(snapshot, source.ifname)
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
    warnings += [f"{a.local}/{a.prefixlen} on {source.ifname} is dynamic (a DHCP lease or SLAAC): {target} gets it "
                 f"as a static address, which no DHCP client renews there; a saved configuration asks for DHCP "
                 f"on {target}" for a in addresses if a.dynamic and target != source.ifname]
    return IpMove(off, on, expectations, warnings)
