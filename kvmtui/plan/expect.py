"""What must hold on the host after a plan ran: apply re-reads the host and checks."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from kvmtui.model import Domain, Snapshot

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

    def unmet(self, snapshot: Snapshot, read_config: ConfigReader) -> str | None:
        link = snapshot.link(self.name)
        actual = getattr(link.info_data, self.key, None) if link is not None else None
        return None if actual == self.value else f"{self.name} {self.key} is {actual!r}, not {self.value!r}"


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


Expectation = LinkPresent | LinkSetting | LinkGone | AddressOn | RouteVia | GuestNic


EXPECTATION_TYPES = {cls.__name__: cls for cls in (LinkPresent, LinkSetting, LinkGone, AddressOn, RouteVia, GuestNic)}


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
