"""Steps that create, change and delete links."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace

from kvmtui.model import BondInfo, BridgeVlan, Link
from kvmtui.plan.steps.base import Settings, SimulatedHost, Step, q, step_type, words

DEVICE_SETTINGS = ("address", "mtu")  # ip link add's own words, before `type`; the rest are the kind's


@dataclass(frozen=True, slots=True)
class NewDevice:
    """What one kind of kernel device brings to `ip link add`: its own settings (ip's words)
    as netlink arguments (pyroute2's IFLA_* names), and the info_data a new one shows in a
    simulated host. Each device kind registers its own (kvmtui/kinds/), so adding a kind
    touches neither the executor nor the simulation."""

    netlink_args: Callable[[dict[str, str]], dict[str, object]]
    simulated_info: Callable[[dict[str, str]], object]
    # Settings whose value names another device (a vxlan's `dev`): netlink_args gets its ifindex.
    device_settings: tuple[str, ...] = ()


NEW_DEVICES: dict[str, NewDevice] = {}  # "bridge" -> how a bridge is made


def new_device_kind(kind: str, device: NewDevice) -> None:
    NEW_DEVICES[kind] = device


@dataclass(frozen=True, slots=True)
class SettableKind:
    """A kind's own settings changed on an existing device (`ip link set DEV type bridge
    stp_state 1`): as netlink arguments, and the info_data the simulated device then shows.
    Registered by the kind module that plans such changes (kvmtui/kinds/)."""

    netlink_args: Callable[[dict[str, str]], dict[str, object]]
    simulated_info: Callable[[object, dict[str, str]], object]  # (info_data before, settings) -> after


SETTABLE_KINDS: dict[str, SettableKind] = {}  # "bridge" -> how its settings change
# Changes that cannot interrupt traffic: a description, how long unused FDB entries live.
HARMLESS_SETTINGS = ("alias", "ageing_time")


@step_type
class LinkAdd(Step):
    action = "link_add"
    kind: str
    options: Settings = ()  # the device's (address, mtu) and the kind's own, in ip's words
    parent: str | None = None  # the lower device of a VLAN

    @property
    def command(self) -> str:
        link = f"link {q(self.parent)} " if self.parent else ""
        device = tuple((k, v) for k, v in self.options if k in DEVICE_SETTINGS)
        own = tuple((k, v) for k, v in self.options if k not in DEVICE_SETTINGS)
        device_words = f" {words(device)}" if device else ""
        kind_words = f" {words(own)}" if own else ""
        return f"ip link add {link}name {q(self.target)}{device_words} type {self.kind}{kind_words}"

    @property
    def settings(self) -> Settings:
        return (("kind", self.kind),) + ((("link", self.parent),) if self.parent else ()) + self.options

    def simulate(self, host: SimulatedHost) -> None:
        host.links[self.target] = _new_link(host.next_index, self.target, self.kind, dict(self.options), self.parent)
        host.next_index += 1


@step_type
class LinkDel(Step):
    action = "link_del"

    @property
    def command(self) -> str:
        return f"ip link del {q(self.target)}"

    def interrupts(self) -> bool:
        return True

    def simulate(self, host: SimulatedHost) -> None:
        host.links.pop(self.target, None)
        host.links = {n: replace(l, master=None) if l.master == self.target else l for n, l in host.links.items()}


@step_type
class LinkSet(Step):
    """State, master ("" for none), mtu, address, or a kind's own settings (a bond's
    primary, "" for none), in ip's words and in the order given."""

    action = "link_set"
    values: Settings = ()
    kind: str | None = None  # the kind whose own settings these are: `ip link set ... type bond`

    @property
    def command(self) -> str:
        if self.values == (("primary", ""),):  # ip cannot clear a bond's primary; sysfs can
            return f"echo > /sys/class/net/{q(self.target)}/bonding/primary"
        out = []
        for key, value in self.values:
            if key == "state":
                out.append(value)
            elif key == "master":
                out.append(f"master {q(value)}" if value else "nomaster")
            elif key == "alias":
                out.append(f"alias {q(value)}")
            else:
                out.append(f"{key} {q(value)}")  # an empty ARP target list: arp_ip_target ''
        return f"ip link set {q(self.target)}" + (f" type {self.kind}" if self.kind else "") + f" {' '.join(out)}"

    @property
    def settings(self) -> Settings:
        return self.values + ((("kind", self.kind),) if self.kind else ())

    @property
    def does_nothing(self) -> bool:
        return not self.values and self.kind is None

    def interrupts(self) -> bool:
        if self.values and all(key in HARMLESS_SETTINGS for key, _ in self.values):
            return False
        return any((key, value) != ("state", "up") for key, value in self.settings)

    def simulate(self, host: SimulatedHost) -> None:
        if self.target in host.links:
            was = host.links[self.target].master
            host.links[self.target] = _set(host.links[self.target], dict(self.values), host.links, self.kind)
            if host.links[self.target].master != was:  # a port's VLANs go with it; a VLAN-aware bridge gives VLAN 1
                _port_vlans(host, self.target)


def _port_vlans(host: SimulatedHost, port: str) -> None:
    host.bridge_vlans = [v for v in host.bridge_vlans if v.ifname != port]
    master = host.links.get(host.links[port].master or "")
    if master is not None and getattr(master.info_data, "vlan_filtering", False):
        host.bridge_vlans.append(BridgeVlan(port, 1, True, True))


def link_add(name: str, kind: str, settings: Settings = (), parent: str | None = None) -> LinkAdd:
    return LinkAdd(name, kind, settings, parent, inverse=link_del(name, inverse=None))


def link_del(name: str, inverse: Step | None) -> LinkDel:
    return LinkDel(name, inverse=inverse)


def link_set(name: str, after: Settings, before: Settings, kind: str | None = None) -> LinkSet:
    """Set state/master/mtu/address (or a kind's own settings, e.g. a bond's primary);
    `before` holds the values to restore."""
    return LinkSet(name, after, kind, inverse=LinkSet(name, before, kind))


def _new_link(index: int, name: str, kind: str, settings: dict[str, str], parent: str | None) -> Link:
    info = NEW_DEVICES[kind].simulated_info(settings) if kind in NEW_DEVICES else None
    return Link(index, name, kind, settings.get("address"), int(settings.get("mtu", 1500)), "DOWN", (), False, 0, None,
                parent, None, None, None, None, info_data=info)


def _set(link: Link, settings: dict[str, str], links: dict[str, Link], kind: str | None = None) -> Link:
    changes: dict[str, object] = {}
    up = settings["state"] == "up" if "state" in settings else None
    if "master" in settings and (settings["master"] or None) != link.master:
        master = links.get(settings["master"]) if settings["master"] else None
        was = links.get(link.master) if link.master else None
        changes.update(master=master.ifname if master else None, slave_kind=master.kind if master else None,
                       info_slave_data=None)
        # The bonding driver opens a device it enslaves (whether the bond is up or not) and
        # closes one it releases; a bridge leaves its ports as they were.
        if master is not None and master.kind == "bond":
            up = True if up is None else up
        elif master is None and was is not None and was.kind == "bond":
            up = False if up is None else up
    if up is not None:
        flags = tuple(f for f in link.flags if f != "UP") + (("UP",) if up else ())
        changes.update(flags=flags, operstate="UP" if up else "DOWN")
    if "mtu" in settings:
        changes["mtu"] = int(settings["mtu"])
    if "address" in settings:
        changes["mac"] = settings["address"]
    if "alias" in settings:
        changes["alias"] = settings["alias"] or None
    if kind in SETTABLE_KINDS and link.kind == kind:
        changes["info_data"] = SETTABLE_KINDS[kind].simulated_info(link.info_data, settings)
    if "primary" in settings and isinstance(link.info_data, BondInfo):
        changes["info_data"] = replace(link.info_data, primary=settings["primary"] or None)
    return replace(link, **changes)
