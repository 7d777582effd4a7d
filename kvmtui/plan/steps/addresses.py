"""Steps that add and delete addresses and routes."""

from __future__ import annotations

import ipaddress
import shlex
from dataclasses import dataclass, replace

from kvmtui.model import Address, Route
from kvmtui.plan.steps.base import Settings, SimulatedHost, Step, q, step_type


@step_type
class AddrAdd(Step):
    """The address with what `ip addr` shows beside it: a move keeps the broadcast and
    the alias label (`eno1:mgmt` becomes `br0:mgmt`). An IPv6 address is added `nodad`:
    the host had it already (DAD was done), and a tentative one cannot be a route's `src`;
    the `replace` then clears the flag, so that DAD guards it again on the next link up."""

    action = "addr_add"
    cidr: str
    broadcast: str | None = None
    label: str | None = None

    @property
    def nodad(self) -> bool:
        return ":" in self.cidr

    @property
    def command(self) -> str:
        extra = (f" brd {self.broadcast}" if self.broadcast else "") + (
            f" label {shlex.quote(self.label)}" if self.label else "")
        clear = f" nodad && ip addr replace {self.cidr} dev {q(self.target)}" if self.nodad else ""
        return f"ip addr add {self.cidr}{extra} dev {q(self.target)}{clear}"

    @property
    def settings(self) -> Settings:
        return (("address", self.cidr),) + ((("broadcast", self.broadcast),) if self.broadcast else ()) + (
            (("label", self.label),) if self.label else ()) + ((("nodad", "1"),) if self.nodad else ())

    def simulate(self, host: SimulatedHost) -> None:
        _address_on(host, self, present=True)


@step_type
class AddrDel(AddrAdd):
    action = "addr_del"

    @property
    def command(self) -> str:
        return f"ip addr del {self.cidr} dev {q(self.target)}"

    def interrupts(self) -> bool:
        return True

    def simulate(self, host: SimulatedHost) -> None:
        _address_on(host, self, present=False)


def _address_on(host: SimulatedHost, step: AddrAdd, present: bool) -> None:
    link = host.links.get(step.target)
    if link is None:
        return
    iface = ipaddress.ip_interface(step.cidr)
    address = Address("inet" if iface.version == 4 else "inet6", str(iface.ip), iface.network.prefixlen, "global",
                      step.label, step.broadcast)
    kept = tuple(a for a in link.addresses if (a.local, a.prefixlen) != (address.local, address.prefixlen))
    host.links[step.target] = replace(link, addresses=kept + ((address,) if present else ()))


@dataclass(frozen=True, slots=True)
class RouteSpec:
    """What makes a route the same route when it is put back, in ip's words."""

    dst: str
    gateway: str | None = None
    metric: int | None = None
    protocol: str = "boot"  # ip's default
    prefsrc: str | None = None
    scope: str = "global"
    onlink: bool = False
    family: str = "inet"

    def settings(self) -> Settings:
        return ((("dst", self.dst),) + ((("via", self.gateway),) if self.gateway else ())
                + ((("onlink", "1"),) if self.onlink else ()) + ((("src", self.prefsrc),) if self.prefsrc else ())
                + ((("metric", str(self.metric)),) if self.metric is not None else ())
                + ((("proto", self.protocol),) if self.protocol != "boot" else ())
                + ((("scope", self.scope),) if self.scope != "global" else ())
                + ((("family", self.family),) if self.family != "inet" else ()))

    def words(self) -> str:
        out = []
        for key, value in self.settings()[1:]:
            if key == "onlink":
                out.append("onlink")
            elif key != "family":
                out.append(f"{key} {value}")
        return "".join(f" {w}" for w in out)


@step_type
class RouteAdd(Step):
    action = "route_add"
    decoders = {"route": lambda data: RouteSpec(**data)}
    route: RouteSpec
    verb = "add"

    @property
    def command(self) -> str:
        ip = "ip -6 route" if self.route.family == "inet6" else "ip route"
        return f"{ip} {self.verb} {self.route.dst}{self.route.words()} dev {q(self.target)}"

    @property
    def settings(self) -> Settings:
        return self.route.settings()

    def default_route(self) -> bool | None:
        return True if self.route.dst == "default" else None

    def simulate(self, host: SimulatedHost) -> None:
        r = self.route
        host.routes.append(Route(r.family, r.dst, r.gateway, self.target, r.prefsrc, r.protocol, r.scope, 254,
                                 r.metric, onlink=r.onlink))


@step_type
class RouteDel(RouteAdd):
    action = "route_del"
    verb = "del"

    def interrupts(self) -> bool:
        return True

    def default_route(self) -> bool | None:
        return False if self.route.dst == "default" else None

    def simulate(self, host: SimulatedHost) -> None:
        host.routes = [r for r in host.routes if not (r.dst == self.route.dst and r.dev == self.target)]


def addr_add(dev: str, cidr: str, broadcast: str | None = None, label: str | None = None) -> AddrAdd:
    return AddrAdd(dev, cidr, broadcast, label, inverse=AddrDel(dev, cidr, broadcast, label))


def addr_del(dev: str, cidr: str, broadcast: str | None = None, label: str | None = None) -> AddrDel:
    return AddrDel(dev, cidr, broadcast, label, inverse=addr_add(dev, cidr, broadcast, label))


def route_add(dev: str, route: RouteSpec) -> RouteAdd:
    return RouteAdd(dev, route, inverse=RouteDel(dev, route))


def route_del(dev: str, route: RouteSpec) -> RouteDel:
    return RouteDel(dev, route, inverse=route_add(dev, route))
