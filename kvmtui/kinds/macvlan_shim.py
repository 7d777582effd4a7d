"""The macvtap host-reach shim: a guest on macvtap cannot talk to its own host through that
NIC (the lower device hands the guests' frames to the wire, never to the host's own stack).
The standard fix is a `macvlan` device in bridge mode on the same lower device, carrying a
host address (new, or moved off the lower device), with routes to the guests through it:
bridge-mode macvlans and macvtaps on one lower device reach each other directly."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

from kvmtui.kinds.spec import KindSpec, Offer, Param, Selection, comma_separated, device_choices, selected_of, tuple_of
from kvmtui.model import Link, MacvlanInfo, Snapshot
from kvmtui.plan import steps as s
from kvmtui.plan.eligible import cidrs, macvtap_lower_unfit
from kvmtui.plan.expect import AddressOn, Expectation, LinkPresent, LinkSetting, RouteVia
from kvmtui.plan.ip_move import move_ip
from kvmtui.plan.model import Plan
from kvmtui.plan.steps.links import NewDevice, new_device_kind
from kvmtui.plan.validate import IFNAMSIZ, PlanError, check_new_name, existing_link

SHIM_HINT = "the host cannot reach this guest through {dev}: `kvmtui apply shim {dev}` (a macvlan beside it)"


@dataclass(frozen=True, slots=True)
class CreateShim:
    lower: str
    name: str | None = None  # default: shim-LOWER
    address: str | None = None  # CIDR; a bare address is a /32 (/128)
    move_ip: bool = False  # take the lower device's addresses and routes instead
    routes: tuple[str, ...] = ()  # the guests' addresses or subnet, reached through the shim


def _lowers(snapshot: Snapshot, selection: Selection) -> Offer:
    """Devices under a guest's macvtap first: those are what the shim is for."""
    carrying = {l.link for l in snapshot.links if l.kind == "macvtap"} | {
        nic.dev for d in snapshot.domains for nic in d.interfaces if nic.type == "direct"}
    fit = [l for l in snapshot.links if l.kind in (None, "bond", "vlan", "veth", "dummy")
           and macvtap_lower_unfit(snapshot, l) is None]
    fit.sort(key=lambda l: l.ifname not in carrying)
    return Offer(selected_of(selection, fit) or next((l.ifname for l in fit if l.ifname in carrying), None),
                 device_choices(fit))


PARAMS = (
    Param("lower", "the guests' macvtap lower device (a NIC, bond or VLAN)", label="Lower device of the guests' macvtaps",
          widget="choice", offer=_lowers),
    Param("name", "the macvlan's name (default: shim-LOWER)", "--name", label="Name (empty: shim-LOWER)"),
    Param("address", "a host address for the shim (CIDR; a bare address is a /32)", "--address", "CIDR",
          exclusive="address", label="Host address on the shim (CIDR)"),
    Param("move_ip", "move LOWER's addresses and routes onto the shim instead", "--move-ip", flag=True,
          exclusive="address", label="…or move the lower device's addresses and routes onto it", widget="flag",
          form_default=False, from_form=bool),
    Param("routes", "route this CIDR (the guests' addresses or subnet) through the shim (repeat for more)", "--route",
          "CIDR", repeat=True, cli_default=[], from_cli=tuple_of, label="Routes to the guests (CIDRs, comma separated)",
          from_form=comma_separated, form_help="needed with a new address: the host sends to the guests by these"),
)


def shim_name(intent: CreateShim, snapshot: Snapshot) -> str:
    if intent.name:
        return intent.name
    name = f"shim-{intent.lower}"
    if len(name.encode()) <= IFNAMSIZ:
        return name
    return next(f"shim{n}" for n in range(100) if snapshot.link(f"shim{n}") is None)


def _lower(snapshot: Snapshot, name: str) -> Link:
    lower = existing_link(snapshot, name, "lower")
    unfit = macvtap_lower_unfit(snapshot, lower)
    if unfit is not None:
        raise PlanError("lower", unfit.reason.replace("a macvtap", "a macvlan"))
    return lower


def _address(snapshot: Snapshot, text: str) -> ipaddress.IPv4Interface | ipaddress.IPv6Interface:
    try:
        address = ipaddress.ip_interface(text)
    except ValueError:
        raise PlanError("address", f"{text!r} is not an address like 192.0.2.5/32") from None
    if "/" not in text:
        address = ipaddress.ip_interface(f"{address.ip}/{address.max_prefixlen}")
    if address.ip.is_multicast or address.ip.is_unspecified or address.ip.is_loopback:
        raise PlanError("address", f"{address.ip} cannot be a host's address")
    holder = next((l for l in snapshot.links for a in l.addresses if a.local == str(address.ip)), None)
    if holder is not None:
        raise PlanError("address", f"{address.ip} is already on {holder.ifname}: give the shim an address of its own, "
                                   f"or move {holder.ifname}'s (--move-ip)")
    return address


def _routes(intent: CreateShim, version: int | None) -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
    routes = []
    for text in intent.routes:
        try:
            network = ipaddress.ip_network(text, strict=False)
        except ValueError:
            raise PlanError("routes", f"{text!r} is not a CIDR like 192.0.2.0/24 or 192.0.2.7/32") from None
        if version is not None and network.version != version:
            raise PlanError("routes", f"{network} is IPv{network.version}, the shim's address IPv{version}")
        if network in routes:
            raise PlanError("routes", f"{network} is listed twice")
        routes.append(network)
    return routes


def _not_bridge_mode(snapshot: Snapshot, lower: Link) -> list[str]:
    """Guests that the shim cannot reach all the same: only bridge mode passes frames between
    a lower device's macvlans and macvtaps (vepa needs a hairpinning switch; private never)."""
    guests = [f"guest {d.name}'s macvtap is in {nic.mode} mode" for d in snapshot.domains for nic in d.interfaces
              if nic.type == "direct" and nic.dev == lower.ifname and nic.mode not in ("bridge", None)]
    if not snapshot.domains:
        guests += [f"{l.ifname} is in {l.info_data.mode} mode" for l in snapshot.links
                   if l.kind == "macvtap" and l.link == lower.ifname and isinstance(l.info_data, MacvlanInfo)
                   and l.info_data.mode != "bridge"]
    return [f"{why}: the shim reaches it only in bridge mode (vepa: only if the switch sends frames back)"
            for why in guests]


def plan_create_shim(intent: CreateShim, snapshot: Snapshot) -> Plan:
    lower = _lower(snapshot, intent.lower)
    name = shim_name(intent, snapshot)
    check_new_name(snapshot, name)
    if intent.address and intent.move_ip:
        raise PlanError("address", f"give the shim a new address or move {lower.ifname}'s (--move-ip), not both")
    if not intent.address and not intent.move_ip:
        raise PlanError("address", f"the shim needs a host address: a new one (--address CIDR) or {lower.ifname}'s "
                                   "(--move-ip)")
    if intent.move_ip and not cidrs(lower):
        raise PlanError("move_ip", f"{lower.ifname} has no address to move: give the shim one (--address CIDR)")
    address = _address(snapshot, intent.address) if intent.address else None
    routes = _routes(intent, address.version if address else None)
    on_lower = [ipaddress.ip_interface(c).network for c in cidrs(lower)]
    if address is not None and not routes and (address.network.prefixlen == address.max_prefixlen
                                                or address.network in on_lower):
        raise PlanError("routes", f"with a new address the host still sends to the guests by {lower.ifname}: give "
                                  "their addresses or subnet (--route CIDR) to go through the shim")
    warnings = _not_bridge_mode(snapshot, lower)
    steps: list[s.Step] = [s.link_add(name, "macvlan", (("mode", "bridge"),), parent=lower.ifname)]
    expectations: list[Expectation] = [LinkPresent(name, "macvlan", up=True), LinkSetting(name, "mode", "bridge")]
    moved = move_ip(snapshot, lower, name) if intent.move_ip else None
    if moved is not None:
        steps += moved.off
    steps.append(s.link_set(name, (("state", "up"),), (("state", "down"),)))
    if moved is not None:
        steps += moved.on
        expectations += moved.expectations
        warnings += moved.warnings + [f"the shim has a MAC of its own: neighbours that cached {lower.ifname}'s for "
                                      f"{', '.join(cidrs(lower))} reach this host again once their ARP/ND entries "
                                      "expire (a minute or so)"]
    if address is not None:
        steps.append(s.addr_add(name, str(address)))
        expectations.append(AddressOn(name, str(address)))
    family = "inet6" if (address.version if address else ipaddress.ip_interface(cidrs(lower)[0]).version) == 6 else "inet"
    source = str(address.ip) if address is not None else None
    for network in routes:  # a host route as the kernel lists it: the bare address
        dst = str(network.network_address) if network.prefixlen == network.max_prefixlen else str(network)
        steps.append(s.route_add(name, s.RouteSpec(dst, None, None, "static", source, "link", False, family)))
        expectations.append(RouteVia(dst, name))
    via = f"{', '.join(map(str, routes))} via " if routes else ""
    return Plan(intent, f"host reach to the macvtap guests on {lower.ifname}: {via}macvlan {name} (bridge mode)",
                tuple(steps), tuple(expectations), tuple(warnings))


def _usage(values: dict) -> str | None:
    if values.get("routes") and not (values.get("address") or values.get("move_ip")):
        return "--route goes through the shim's address: give --address CIDR or --move-ip"
    return None


SPEC = KindSpec("shim", CreateShim, PARAMS, plan_create_shim, usage=_usage,
                help="let the host reach its macvtap guests (a macvlan shim)",
                title="Host reach to macvtap guests (macvlan shim)", noun="macvtap host-reach shim")

new_device_kind("macvlan", NewDevice(lambda settings: {"macvlan_mode": settings["mode"]},
                                     lambda settings: MacvlanInfo(settings["mode"])))
