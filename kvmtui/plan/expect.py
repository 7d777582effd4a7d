"""What must hold on the host after a plan ran: apply re-reads the host and checks."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from kvmtui.bridge_vlans import vid_ranges, vlan_table_text
from kvmtui.model import BridgeVlan, Domain, Link, Snapshot
from kvmtui.plan.expect_ovs import OVS_EXPECTATIONS

ConfigReader = Callable[[str], Domain | None]  # domain name -> its persistent (inactive) definition


@dataclass(frozen=True, slots=True)
class LinkPresent:
    name: str
    kind: str | None = None
    master: str | None = None  # "" means: must have no master
    up: bool | None = None

    def unmet(self, snapshot: Snapshot, read_config: ConfigReader) -> str | None:
        link = snapshot.link(self.name)
        if link is None:
            return f"{self.name} does not exist"
        if self.kind is not None and link.kind != self.kind:
            return f"{self.name} is a {link.kind}, not a {self.kind}"
        if self.master is not None and (link.master or "") != self.master:
            return f"{self.name}'s master is {link.master or 'none'}, not {self.master or 'none'}"
        if self.up is not None and link.is_up != self.up:
            return f"{self.name} is {'up' if link.is_up else 'down'}"
        return None


@dataclass(frozen=True, slots=True)
class LinkSetting:
    """A kind's setting as the snapshot shows it, e.g. ("mode", "802.3ad") of a bond."""

    name: str
    key: str
    value: object

    def actual(self, link: Link) -> object:
        return getattr(link.info_data, self.key, None)

    def unmet(self, snapshot: Snapshot, read_config: ConfigReader) -> str | None:
        link = snapshot.link(self.name)
        actual = self.actual(link) if link is not None else None
        return None if actual == self.value else f"{self.name} {self.key} is {actual!r}, not {self.value!r}"


@dataclass(frozen=True, slots=True)
class LinkAttribute(LinkSetting):
    """A device's own value as the snapshot shows it: ("mtu", 9000), ("mac", ...), ("alias", None)."""

    def actual(self, link: Link) -> object:
        return getattr(link, self.key, None)


@dataclass(frozen=True, slots=True)
class LinkGone:
    name: str

    def unmet(self, snapshot: Snapshot, read_config: ConfigReader) -> str | None:
        return f"{self.name} still exists" if snapshot.link(self.name) is not None else None


@dataclass(frozen=True, slots=True)
class AddressOn:
    dev: str
    cidr: str
    present: bool = True

    def unmet(self, snapshot: Snapshot, read_config: ConfigReader) -> str | None:
        link = snapshot.link(self.dev)
        has = link is not None and any(f"{a.local}/{a.prefixlen}" == self.cidr for a in link.addresses)
        if has == self.present:
            return None
        return f"{self.cidr} is {'missing from' if self.present else 'still on'} {self.dev}"


@dataclass(frozen=True, slots=True)
class RouteVia:
    dst: str
    dev: str

    def unmet(self, snapshot: Snapshot, read_config: ConfigReader) -> str | None:
        if any(r.dst == self.dst and r.dev == self.dev for r in snapshot.routes):
            return None
        return f"no route to {self.dst} via {self.dev}"


@dataclass(frozen=True, slots=True)
class GuestNic:
    """A guest interface with this MAC is (or is not) in the running guest and/or its definition."""

    domain: str
    mac: str
    present: bool
    live: bool
    config: bool

    def unmet(self, snapshot: Snapshot, read_config: ConfigReader) -> str | None:
        places = []
        if self.live:
            running = next((d for d in snapshot.domains if d.name == self.domain), None)
            places.append(("the running guest", running))
        if self.config:
            places.append(("the guest's definition", read_config(self.domain)))
        for where, domain in places:
            has = domain is not None and any(nic.mac == self.mac for nic in domain.interfaces)
            if has != self.present:
                return f"{self.mac} is {'missing from' if self.present else 'still in'} {where}"
        return None


@dataclass(frozen=True, slots=True)
class NetworkState:
    """A libvirt network is defined (or gone), running or not, autostarted or not, as asked."""

    name: str
    present: bool = True
    active: bool | None = None
    autostart: bool | None = None
    forward: str | None = None
    bridge: str | None = None

    def unmet(self, snapshot: Snapshot, read_config: ConfigReader) -> str | None:
        network = next((n for n in snapshot.networks if n.name == self.name), None)
        if network is None or not self.present:
            return None if (network is None) != self.present else \
                f"libvirt network {self.name} {'is missing' if self.present else 'still exists'}"
        for what, wanted, actual in (("active", self.active, network.active),
                                     ("autostart", self.autostart, network.autostart),
                                     ("forward mode", self.forward, network.forward),
                                     ("bridge", self.bridge, network.bridge)):
            if wanted is not None and wanted != actual:
                return f"libvirt network {self.name}: {what} is {actual}, not {wanted}"
        return None


@dataclass(frozen=True, slots=True)
class VlansOn:
    """A bridge port's VLAN entries as `bridge vlan show` lists them, (vid, pvid, untagged)
    each: exactly these, or (exact=False: the bridge's own, which other ports may need) at
    least these VIDs."""

    name: str
    vlans: tuple[tuple[int, bool, bool], ...]
    exact: bool = True

    def unmet(self, snapshot: Snapshot, read_config: ConfigReader) -> str | None:
        has = sorted((v.vlan, v.pvid, v.untagged) for v in snapshot.bridge_vlans if v.ifname == self.name)
        wanted = sorted(tuple(entry) for entry in self.vlans)
        if self.exact and has != wanted:
            return f"{self.name}'s VLANs are {_table(self.name, has)}, not {_table(self.name, wanted)}"
        missing = {vid for vid, *_ in wanted} - {vid for vid, *_ in has}
        return f"{self.name} lacks VLAN {vid_ranges(missing)}" if missing else None


def _table(name: str, entries: list) -> str:
    return vlan_table_text(BridgeVlan(name, *entry) for entry in entries)


def vlan_text(tags: tuple[int, ...]) -> str:
    """A guest NIC's <vlan> tags as GuestNicState compares them: "42", "10,20" or "none"."""
    return ",".join(map(str, tags)) or "none"


@dataclass(frozen=True, slots=True)
class GuestNicState:
    """A guest interface's link state, bridge, model and VLAN tags as libvirt reads them back,
    in the running guest and/or its definition (None: not checked)."""

    domain: str
    mac: str
    live: bool
    config: bool
    link_state: str | None = None  # "up" also matches an element without <link>: libvirt's default
    bridge: str | None = None
    model: str | None = None
    vlan: str | None = None  # as vlan_text writes it

    def unmet(self, snapshot: Snapshot, read_config: ConfigReader) -> str | None:
        places = []
        if self.live:
            places.append(("the running guest", next((d for d in snapshot.domains if d.name == self.domain), None)))
        if self.config:
            places.append(("the guest's definition", read_config(self.domain)))
        for where, domain in places:
            nic = next((n for n in domain.interfaces if n.mac == self.mac), None) if domain is not None else None
            if nic is None:
                return f"{self.mac} is missing from {where}"
            for what, wanted, actual in (("link", self.link_state, nic.link_state or "up"),
                                         ("bridge", self.bridge, nic.bridge), ("model", self.model, nic.model),
                                         ("VLAN tag", self.vlan, vlan_text(nic.vlan_tags))):
                if wanted is not None and wanted != actual:
                    return f"{self.mac} in {where}: its {what} is {actual}, not {wanted}"
        return None


Expectation = LinkPresent | LinkSetting | LinkAttribute | LinkGone | AddressOn | RouteVia | GuestNic | NetworkState | VlansOn \
    | GuestNicState


EXPECTATION_TYPES = {cls.__name__: cls for cls in (LinkPresent, LinkSetting, LinkAttribute, LinkGone, AddressOn, RouteVia,
                                                    GuestNic, NetworkState, VlansOn, GuestNicState)}
EXPECTATION_TYPES.update({cls.__name__: cls for cls in OVS_EXPECTATIONS})  # Open vSwitch's: plan/expect_ovs.py


def expectation_to_data(expectation: Expectation) -> dict[str, object]:
    """Plain data for a journal (a guard verifies a revert in another process)."""
    return {"type": type(expectation).__name__,
            **{name: getattr(expectation, name) for name in type(expectation).__dataclass_fields__}}


def expectation_from_data(data: dict[str, object]) -> Expectation:
    values = dict(data)
    cls = EXPECTATION_TYPES.get(str(values.pop("type", "")))
    if cls is None:
        raise ValueError(f"unknown expectation type {data.get('type')!r}")
    return cls(**values)
