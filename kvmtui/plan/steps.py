"""Steps of a plan: one host change each, its inverse, and the command an administrator
would have typed for it. Steps name devices, never ifindexes: a device created by an
earlier step has no index until the plan runs."""

from __future__ import annotations

import shlex
from dataclasses import dataclass, field, replace

q = shlex.quote  # names in the commands shown: copied into a shell, `a;b` stays one word

Settings = tuple[tuple[str, str], ...]  # ip's own words: (("mode", "802.3ad"), ("miimon", "100"))


@dataclass(frozen=True, slots=True)
class Step:
    action: str  # link_add link_set link_del addr_add addr_del route_add route_del attach detach
    # and, in inverses only: brport_set vlan_add vlan_del fdb_add
    target: str  # the device (or domain) it changes
    settings: Settings = ()
    command: str = ""
    inverse: Step | None = field(default=None, compare=False)
    # Run right after this step, in an undo: what the kernel forgot when the forward step
    # ran and this one does not set back (a released bridge port's cost, VLANs, static MACs).
    then: tuple[Step, ...] = field(default=(), compare=False)

    @property
    def touches_libvirt(self) -> bool:
        return self.action in ("attach", "detach")

    def setting(self, key: str) -> str | None:
        return next((value for k, value in self.settings if k == key), None)


def _words(settings: Settings) -> str:
    return " ".join(f"{key} {shlex.quote(value)}" for key, value in settings)


DEVICE_SETTINGS = ("address", "mtu")  # ip link add's own words, before `type`; the rest are the kind's


def link_add(name: str, kind: str, settings: Settings = (), parent: str | None = None) -> Step:
    link = f"link {q(parent)} " if parent else ""
    device = [(k, v) for k, v in settings if k in DEVICE_SETTINGS]
    own = [(k, v) for k, v in settings if k not in DEVICE_SETTINGS]
    device_words = f" {_words(tuple(device))}" if device else ""
    kind_words = f" {_words(tuple(own))}" if own else ""
    full = (("kind", kind),) + ((("link", parent),) if parent else ()) + settings
    return Step("link_add", name, full, f"ip link add {link}name {q(name)}{device_words} type {kind}{kind_words}",
                inverse=link_del(name, inverse=None))


def link_del(name: str, inverse: Step | None) -> Step:
    return Step("link_del", name, (), f"ip link del {q(name)}", inverse=inverse)


def link_set(name: str, after: Settings, before: Settings, kind: str | None = None) -> Step:
    """Set state/master/mtu/address (or a kind's own settings, e.g. a bond's primary);
    `before` holds the values to restore."""
    return Step("link_set", name, after + ((("kind", kind),) if kind else ()), _link_set_command(name, after, kind),
                inverse=Step("link_set", name, before + ((("kind", kind),) if kind else ()),
                             _link_set_command(name, before, kind)))


def _link_set_command(name: str, settings: Settings, kind: str | None) -> str:
    if settings == (("primary", ""),):  # ip cannot clear a bond's primary; sysfs can
        return f"echo > /sys/class/net/{q(name)}/bonding/primary"
    words = []
    for key, value in settings:
        if key == "state":
            words.append(value)
        elif key == "master":
            words.append(f"master {q(value)}" if value else "nomaster")
        else:
            words.append(f"{key} {value}")
    return f"ip link set {q(name)}" + (f" type {kind}" if kind else "") + f" {' '.join(words)}"


def undone_with(step: Step, after: list[Step] | tuple[Step, ...]) -> Step:
    """`step` whose inverse is followed by `after`: steps that exist on the undo side only."""
    if not after or step.inverse is None:
        return step
    return replace(step, inverse=replace(step.inverse, then=step.inverse.then + tuple(after)))


def brport_set(port: str, settings: Settings) -> Step:
    """A bridge port's own settings, in `bridge link set`'s words (cost 50, hairpin on)."""
    return Step("brport_set", port, settings, f"bridge link set dev {q(port)} {_words(settings)}")


def vlan_add(dev: str, vids: str, pvid: bool = False, untagged: bool = False, own: bool = False) -> Step:
    """VLAN entries of a bridge port, or of the bridge itself (`own`: bridge's `self`);
    `vids` is one VLAN or a range, "30-39"."""
    flags = tuple(word for word, on in (("pvid", pvid), ("untagged", untagged), ("self", own)) if on)
    words = "".join(f" {word}" for word in flags)
    return Step("vlan_add", dev, (("vid", vids),) + tuple((word, "on") for word in flags),
                f"bridge vlan add dev {q(dev)} vid {vids}{words}")


def vlan_del(dev: str, vids: str, own: bool = False) -> Step:
    return Step("vlan_del", dev, (("vid", vids),) + ((("self", "on"),) if own else ()),
                f"bridge vlan del dev {q(dev)} vid {vids}" + (" self" if own else ""))


def fdb_add(port: str, mac: str, vlan: int | None = None, sticky: bool = False) -> Step:
    """A static entry of the bridge's FDB (`master static`): not aged out, not a local address."""
    settings: Settings = (("mac", mac),) + ((("vlan", str(vlan)),) if vlan is not None else ()) + (
        (("sticky", "on"),) if sticky else ())
    words = (f" vlan {vlan}" if vlan is not None else "") + (" sticky" if sticky else "")
    return Step("fdb_add", port, settings, f"bridge fdb add {mac} dev {q(port)} master static{words}")


def addr_add(dev: str, cidr: str, broadcast: str | None = None, label: str | None = None) -> Step:
    """The address with what `ip addr` shows beside it: a move keeps the broadcast and
    the alias label (`eno1:mgmt` becomes `br0:mgmt`). An IPv6 address is added `nodad`:
    the host had it already (DAD was done), and a tentative one cannot be a route's `src`;
    the `replace` then clears the flag, so that DAD guards it again on the next link up."""
    nodad = ":" in cidr
    settings: Settings = (("address", cidr),) + ((("broadcast", broadcast),) if broadcast else ()) + (
        (("label", label),) if label else ()) + ((("nodad", "1"),) if nodad else ())
    words = (f" brd {broadcast}" if broadcast else "") + (f" label {shlex.quote(label)}" if label else "")
    clear = f" nodad && ip addr replace {cidr} dev {q(dev)}" if nodad else ""
    return Step("addr_add", dev, settings, f"ip addr add {cidr}{words} dev {q(dev)}{clear}",
                inverse=Step("addr_del", dev, settings, f"ip addr del {cidr} dev {q(dev)}"))


def addr_del(dev: str, cidr: str, broadcast: str | None = None, label: str | None = None) -> Step:
    added = addr_add(dev, cidr, broadcast, label)
    return Step("addr_del", dev, added.settings, added.inverse.command, inverse=added)


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


def route_add(dev: str, route: RouteSpec) -> Step:
    ip = "ip -6 route" if route.family == "inet6" else "ip route"
    return Step("route_add", dev, route.settings(), f"{ip} add {route.dst}{route.words()} dev {q(dev)}",
                inverse=Step("route_del", dev, route.settings(), f"{ip} del {route.dst}{route.words()} dev {q(dev)}"))


def route_del(dev: str, route: RouteSpec) -> Step:
    added = route_add(dev, route)
    return Step("route_del", dev, added.settings, added.inverse.command, inverse=added)


def attach(domain: str, xml: str, live: bool, config: bool) -> Step:
    flags = _virsh_flags(live, config)
    settings: Settings = (("xml", xml), ("live", str(live)), ("config", str(config)))
    return Step("attach", domain, settings, f"virsh attach-device {q(domain)} nic.xml{flags}",
                inverse=Step("detach", domain, settings, f"virsh detach-device {q(domain)} nic.xml{flags}"))


def detach(domain: str, xml: str, live: bool, config: bool) -> Step:
    attached = attach(domain, xml, live, config)
    return Step("detach", domain, attached.settings, attached.inverse.command, inverse=attached)


def _virsh_flags(live: bool, config: bool) -> str:
    return (" --live" if live else "") + (" --config" if config else "")
