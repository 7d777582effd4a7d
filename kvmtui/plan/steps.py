"""Steps of a plan: one host change each, its inverse, and the command an administrator
would have typed for it. Steps name devices, never ifindexes: a device created by an
earlier step has no index until the plan runs."""

from __future__ import annotations

import shlex
from dataclasses import dataclass, field

Settings = tuple[tuple[str, str], ...]  # ip's own words: (("mode", "802.3ad"), ("miimon", "100"))


@dataclass(frozen=True, slots=True)
class Step:
    action: str  # link_add link_set link_del addr_add addr_del route_add route_del attach detach
    target: str  # the device (or domain) it changes
    settings: Settings = ()
    command: str = ""
    inverse: Step | None = field(default=None, compare=False)

    @property
    def touches_libvirt(self) -> bool:
        return self.action in ("attach", "detach")

    def setting(self, key: str) -> str | None:
        return next((value for k, value in self.settings if k == key), None)


def _words(settings: Settings) -> str:
    return " ".join(f"{key} {shlex.quote(value)}" for key, value in settings)


def link_add(name: str, kind: str, settings: Settings = (), parent: str | None = None) -> Step:
    link = f"link {parent} " if parent else ""
    kind_words = f" {_words(settings)}" if settings else ""
    full = (("kind", kind),) + ((("link", parent),) if parent else ()) + settings
    return Step("link_add", name, full, f"ip link add {link}name {name} type {kind}{kind_words}",
                inverse=link_del(name, inverse=None))


def link_del(name: str, inverse: Step | None) -> Step:
    return Step("link_del", name, (), f"ip link del {name}", inverse=inverse)


def link_set(name: str, after: Settings, before: Settings, kind: str | None = None) -> Step:
    """Set state/master/mtu/address (or a kind's own settings, e.g. a bond's primary);
    `before` holds the values to restore."""
    return Step("link_set", name, after + ((("kind", kind),) if kind else ()), _link_set_command(name, after, kind),
                inverse=Step("link_set", name, before + ((("kind", kind),) if kind else ()),
                             _link_set_command(name, before, kind)))


def _link_set_command(name: str, settings: Settings, kind: str | None) -> str:
    words = []
    for key, value in settings:
        if key == "state":
            words.append(value)
        elif key == "master":
            words.append(f"master {value}" if value else "nomaster")
        else:
            words.append(f"{key} {value}")
    return f"ip link set {name}" + (f" type {kind}" if kind else "") + f" {' '.join(words)}"


def addr_add(dev: str, cidr: str) -> Step:
    return Step("addr_add", dev, (("address", cidr),), f"ip addr add {cidr} dev {dev}",
                inverse=Step("addr_del", dev, (("address", cidr),), f"ip addr del {cidr} dev {dev}"))


def addr_del(dev: str, cidr: str) -> Step:
    added = addr_add(dev, cidr)
    return Step("addr_del", dev, added.settings, added.inverse.command, inverse=added)


def route_add(dev: str, dst: str, gateway: str | None, metric: int | None, protocol: str = "boot") -> Step:
    """`protocol` is kept so that a route put back is the same route (ip's default is boot)."""
    settings: Settings = (("dst", dst),) + ((("via", gateway),) if gateway else ()) + (
        (("metric", str(metric)),) if metric is not None else ()) + ((("proto", protocol),) if protocol != "boot" else ())
    words = " ".join(f"{k} {v}" for k, v in settings[1:])
    tail = f" {words}" if words else ""
    return Step("route_add", dev, settings, f"ip route add {dst}{tail} dev {dev}",
                inverse=Step("route_del", dev, settings, f"ip route del {dst}{tail} dev {dev}"))


def route_del(dev: str, dst: str, gateway: str | None, metric: int | None, protocol: str = "boot") -> Step:
    added = route_add(dev, dst, gateway, metric, protocol)
    return Step("route_del", dev, added.settings, added.inverse.command, inverse=added)


def attach(domain: str, xml: str, live: bool, config: bool) -> Step:
    flags = _virsh_flags(live, config)
    settings: Settings = (("xml", xml), ("live", str(live)), ("config", str(config)))
    return Step("attach", domain, settings, f"virsh attach-device {domain} nic.xml{flags}",
                inverse=Step("detach", domain, settings, f"virsh detach-device {domain} nic.xml{flags}"))


def detach(domain: str, xml: str, live: bool, config: bool) -> Step:
    attached = attach(domain, xml, live, config)
    return Step("detach", domain, attached.settings, attached.inverse.command, inverse=attached)


def _virsh_flags(live: bool, config: bool) -> str:
    return (" --live" if live else "") + (" --config" if config else "")
