"""Changing a device that exists: MTU, up/down, MAC, alias, for a bridge its ports,
STP, forward delay, ageing and VLAN filtering (kinds/set_bridge.py), for a bond its
slaves, monitoring, primary, LACP rate, hash policy and mode (kinds/set_bond.py).
`e` on the tree opens it with the device's current values: only what differs from them
is planned, and each step's inverse puts back the value the Snapshot shows."""

from __future__ import annotations

from dataclasses import dataclass

from kvmtui.kinds.set_bond import BOND_PARAMS, bond_change
from kvmtui.kinds.set_bridge import FORWARD_DELAY_MAX, bridge_change, ports_after
from kvmtui.kinds.spec import KindSpec, Offer, Param, Selection, device_choices, tuple_of
from kvmtui.model import BridgeInfo, Link, Snapshot
from kvmtui.plan import steps as s
from kvmtui.plan.diff import session_path
from kvmtui.plan.eligible import BRIDGE_PORT, left_out, sort_members
from kvmtui.plan.expect import Expectation, LinkAttribute, LinkPresent
from kvmtui.plan.ip_move import move_ip
from kvmtui.plan.model import Plan
from kvmtui.plan.validate import MTU_MAX, MTU_MIN, PlanError, check_mac, check_not_guests, existing_link

STACKED = ("vlan", "macvlan", "macvtap")  # no larger than their lower device; lowered with it
ALIAS_MAX = 255  # bytes: IFALIASZ - 1
IPV6_MIN_MTU = 1280


@dataclass(frozen=True, slots=True)
class SetLink:
    ifname: str
    mtu: int | None = None
    up: bool = False
    down: bool = False
    mac: str | None = None
    alias: str | None = None  # "" clears it
    add_ports: tuple[str, ...] = ()
    remove_ports: tuple[str, ...] = ()
    stp: bool | None = None
    forward_delay: int | None = None  # seconds
    ageing: int | None = None  # seconds
    vlan_filtering: bool | None = None
    add_slaves: tuple[str, ...] = ()
    remove_slaves: tuple[str, ...] = ()
    mode: str | None = None  # a new one rebuilds the bond
    miimon: int | None = None  # milliseconds, as are the next three
    updelay: int | None = None
    downdelay: int | None = None
    arp_interval: int | None = None
    arp_ip_target: tuple[str, ...] = ()  # (): unchanged; else the whole new list
    primary: str | None = None  # "" clears it
    lacp_rate: str | None = None
    xmit_hash_policy: str | None = None


def _now(read, bridge_only: bool = False):
    """An offer of the selected device's current value; None (not asked) for a bridge-only
    field on another device."""
    def offer(snapshot: Snapshot, selection: Selection) -> Offer | None:
        link = snapshot.link(selection.ifname)
        if bridge_only and (link is None or not isinstance(link.info_data, BridgeInfo)):
            return None
        return Offer(read(link) if link is not None else "")
    return offer


def _mtu_offer(snapshot: Snapshot, selection: Selection) -> Offer:
    link = snapshot.link(selection.ifname)
    if link is None:
        return Offer("")
    return Offer(link.mtu, label=f"MTU ({MTU_MIN} to {link.max_mtu or MTU_MAX})")


def _addable(snapshot: Snapshot, selection: Selection) -> Offer | None:
    link = snapshot.link(selection.ifname)
    if link is None or link.kind != "bridge":
        return None
    ports, unfit = sort_members(snapshot, BRIDGE_PORT)
    return Offer((), device_choices(ports), left_out([(l, why) for l, why in unfit if l.master != link.ifname]))


def _removable(snapshot: Snapshot, selection: Selection) -> Offer | None:
    link = snapshot.link(selection.ifname)
    if link is None or link.kind != "bridge":
        return None
    return Offer((), device_choices([l for l in snapshot.links if l.master == link.ifname]))


def _on_off(value: object) -> bool | None:
    return None if value is None else value == "on"


def _state_from_form(values: dict) -> dict:
    """The form's one tick box: ticked brings it up, unticked takes it down (either may be
    what it is already: nothing to do)."""
    if "up" not in values:
        return values
    return {**values, "up": bool(values["up"]), "down": not values["up"]}


PARAMS = (
    Param("ifname", "the device to change", offer=lambda _, selection: Offer(selection.ifname)),
    Param("mtu", f"{MTU_MIN} to the device's maximum, at most its lower device's (VLAN, macvlan); a bridge's at "
                 "most its smallest port's; lowering a device lowers the VLANs on it", "--mtu", "N", type=int,
          label="MTU", widget="number", offer=_mtu_offer),
    Param("up", "bring it up", "--up", flag=True, exclusive="state", label="Up (administratively)", widget="flag",
          offer=_now(lambda link: link.is_up), from_form=bool),
    Param("down", "take it down (the routes through it and its IPv6 addresses go; an undo puts them back)",
          "--down", flag=True, exclusive="state", offer=lambda *_: Offer(False)),
    Param("mac", "a unicast MAC address, e.g. 52:54:00:12:34:56", "--mac", "MAC", label="MAC address",
          offer=_now(lambda link: link.mac or "")),
    Param("alias", f"a description (`ip link set DEV alias TEXT`), at most {ALIAS_MAX} bytes", "--alias", "TEXT",
          label="Alias (a description; empty: none)", offer=_now(lambda link: link.alias or ""),
          from_form=lambda value: value or ""),
    Param("add_ports", "bridge: make IF a port (repeat for more)", "--add-port", "IF", repeat=True, cli_default=[],
          from_cli=tuple_of, label="Add ports (Space selects)", widget="many", offer=_addable, from_form=tuple_of),
    Param("remove_ports", "bridge: take port IF out (repeat for more)", "--remove-port", "IF", repeat=True,
          cli_default=[], from_cli=tuple_of, label="Remove ports (Space selects)", widget="many", offer=_removable,
          from_form=tuple_of),
    Param("stp", "bridge: spanning tree on or off", "--stp", choices=("on", "off"), from_cli=_on_off,
          label="Spanning tree (STP)", widget="flag", offer=_now(lambda link: link.info_data.stp_state != 0, True),
          from_form=bool),
    Param("forward_delay", f"bridge: seconds, 2 to 30 with STP on (0 to {FORWARD_DELAY_MAX} without)",
          "--forward-delay", "S", type=int, label="Forward delay, seconds", widget="number",
          offer=_now(lambda link: round(link.info_data.forward_delay / 100), True)),
    Param("ageing", "bridge: seconds a MAC nobody sent from stays in the FDB, 10 to 1000000", "--ageing", "S",
          type=int, label="Ageing, seconds", widget="number",
          offer=_now(lambda link: round(link.info_data.ageing_time / 100), True)),
    Param("vlan_filtering", "bridge: VLAN filtering on or off", "--vlan-filtering", choices=("on", "off"),
          from_cli=_on_off, label="VLAN filtering", widget="flag",
          offer=_now(lambda link: bool(link.info_data.vlan_filtering), True), from_form=bool),
) + BOND_PARAMS


def _mtu(snapshot: Snapshot, link: Link, intent: SetLink, steps: list, expectations: list, warnings: list) -> None:
    mtu = intent.mtu
    if mtu is None or mtu == link.mtu:
        return
    top = link.max_mtu or MTU_MAX
    if not MTU_MIN <= mtu <= top:
        raise PlanError("mtu", f"{link.ifname}'s MTU is {MTU_MIN} to {top} (its driver's maximum); "
                               f"{mtu} is outside that range")
    lower = snapshot.link(link.link) if link.kind in STACKED and link.link_netnsid is None else None
    if lower is not None and mtu > lower.mtu:
        raise PlanError("mtu", f"{link.ifname} is a {link.kind} on {lower.ifname}, whose MTU is {lower.mtu}: it "
                               f"cannot be larger; raise {lower.ifname} first")
    if link.kind == "bridge" and (ports := ports_after(snapshot, link, intent)):
        smaller = sorted((port for port in ports if port.mtu < mtu), key=lambda port: (port.mtu, port.ifname))
        if smaller:
            first, rest = smaller[0], [port.ifname for port in smaller[1:]]
            also = f" ({', '.join(rest)} below {mtu} too)" if rest else ""
            raise PlanError("mtu", f"{link.ifname}'s port {first.ifname} has MTU {first.mtu}{also}: a bridge takes "
                                   f"its smallest port's MTU; raise its ports first")
    uppers = [o for o in snapshot.links if o.link == link.ifname and o.kind in STACKED
              and o.link_netnsid is None and o.mtu > mtu]
    for upper in uppers:  # the kernel lowers them with it, and an undo of this MTU alone would not raise them
        steps.append(s.link_set(upper.ifname, (("mtu", str(mtu)),), (("mtu", str(upper.mtu)),)))
        expectations.append(LinkAttribute(upper.ifname, "mtu", mtu))
    if uppers:
        warnings.append(f"lowering {link.ifname} to {mtu} lowers what sits on it too: "
                        + ", ".join(f"{o.ifname} ({o.mtu} -> {mtu})" for o in uppers))
    steps.append(s.link_set(link.ifname, (("mtu", str(mtu)),), (("mtu", str(link.mtu)),)))
    expectations.append(LinkAttribute(link.ifname, "mtu", mtu))
    master = snapshot.link(link.master)
    if master is not None and master.kind == "bridge":  # it follows its smallest port, unless set by hand
        smallest = min([mtu] + [o.mtu for o in snapshot.links if o.master == master.ifname and o is not link])
        if smallest != master.mtu:
            warnings.append(f"{master.ifname} takes its smallest port's MTU (unless its own was set by hand): it "
                            f"{'drops' if smallest < master.mtu else 'rises'} from {master.mtu} to {smallest}")
    if mtu < IPV6_MIN_MTU <= link.mtu and any(a.family == "inet6" for a in link.addresses):
        warnings.append(f"below {IPV6_MIN_MTU} the kernel turns IPv6 off on {link.ifname}: its IPv6 addresses go")


def _mac(snapshot: Snapshot, link: Link, intent: SetLink, steps: list, expectations: list) -> None:
    if intent.mac is None:
        return
    mac = intent.mac.strip().lower()
    if mac == (link.mac or "").lower():
        return
    check_mac(snapshot, mac)
    if mac == "00:00:00:00:00:00":
        raise PlanError("mac", "00:00:00:00:00:00 is no address; a NIC needs a unicast one like 52:54:00:12:34:56")
    steps.append(s.link_set(link.ifname, (("address", mac),), (("address", link.mac or ""),)))
    expectations.append(LinkAttribute(link.ifname, "mac", mac))


def _alias(link: Link, intent: SetLink, steps: list, expectations: list) -> None:
    if intent.alias is None or intent.alias == (link.alias or ""):
        return
    if len(intent.alias.encode()) > ALIAS_MAX:
        raise PlanError("alias", f"an alias is at most {ALIAS_MAX} bytes; this one has {len(intent.alias.encode())}")
    if any(not c.isprintable() for c in intent.alias):
        raise PlanError("alias", "an alias is one line of printable text")
    steps.append(s.link_set(link.ifname, (("alias", intent.alias),), (("alias", link.alias or ""),)))
    expectations.append(LinkAttribute(link.ifname, "alias", intent.alias or None))


def _state(snapshot: Snapshot, link: Link, intent: SetLink, steps: list, expectations: list, warnings: list) -> None:
    if intent.up and intent.down:
        raise PlanError("up", "up or down: not both")
    if intent.up and not link.is_up:
        steps.append(s.link_set(link.ifname, (("state", "up"),), (("state", "down"),)))
        expectations.append(LinkPresent(link.ifname, up=True))
    if intent.down and link.is_up:
        # The kernel drops the routes through a device that goes down, and its IPv6
        # addresses: deleted by steps of their own, an undo puts them back after the up.
        moved = move_ip(snapshot, link, link.ifname)
        gone = [step for step in moved.off if isinstance(step, s.RouteDel) or ":" in step.cidr]
        steps += gone
        steps.append(s.link_set(link.ifname, (("state", "down"),), (("state", "up"),)))
        expectations.append(LinkPresent(link.ifname, up=False))
        if gone:
            lost = [f"the route to {step.route.dst}" if isinstance(step, s.RouteDel) else step.cidr for step in gone]
            warnings.append(f"down, {link.ifname} loses {', '.join(lost)} (an undo puts them back)")


def _way_out(snapshot: Snapshot, steps: list) -> list[str]:
    """A change below the default route's device (its ports, its lower device) may cut the
    host's way out, SSH or not (the SSH session's own warning comes with the confirmation)."""
    carrying = {r.dev for r in snapshot.routes if r.dst == "default" and r.dev}
    path = session_path(snapshot, carrying)
    touched = sorted({step.target for step in steps if step.interrupts() and step.target in path})
    return [f"{dev} carries the default route{'' if path[dev] == dev else ' (below ' + path[dev] + ')'}: this host "
            "may lose its way out while it changes" for dev in touched]


def plan_set(intent: SetLink, snapshot: Snapshot) -> Plan:
    link = existing_link(snapshot, intent.ifname, "ifname")
    if "LOOPBACK" in link.flags:
        raise PlanError("ifname", f"{link.ifname} is the loopback device: kvmtui does not change it")
    check_not_guests(snapshot, link, "ifname", "changed here (libvirt set it up for the guest)")
    bond = snapshot.link(link.master)
    if bond is not None and bond.kind == "bond":  # the bonding driver sets its slaves' MTU and MAC
        for field, asked in (("mtu", intent.mtu), ("mac", intent.mac)):
            if asked is not None and str(asked).lower() != str(link.mtu if field == "mtu" else link.mac).lower():
                raise PlanError(field, f"{link.ifname} is a slave of {bond.ifname}, which sets its slaves' "
                                       f"{field.upper()}: change {bond.ifname}'s instead")
    steps: list[s.Step] = []
    expectations: list[Expectation] = []
    warnings: list[str] = []
    bridge = bridge_change(snapshot, link, intent)
    bonding = bond_change(snapshot, link, intent)
    steps += bridge.leave + bonding.leave
    _mtu(snapshot, link, intent, steps, expectations, warnings)
    _mac(snapshot, link, intent, steps, expectations)
    _alias(link, intent, steps, expectations)
    steps += bridge.join + bonding.join
    _state(snapshot, link, intent, steps, expectations, warnings)
    if not steps:
        raise PlanError("ifname", f"nothing to change: {link.ifname} already has these values")
    expectations += bridge.expectations + bonding.expectations
    warnings = bridge.warnings + bonding.warnings + warnings + _way_out(snapshot, steps)
    what = link.kind or ("NIC" if link.parentbus else "device")
    return Plan(intent, f"change {what} {link.ifname}", tuple(steps), tuple(expectations), tuple(warnings))


def _title(snapshot: Snapshot, selection: Selection) -> str:
    link = snapshot.link(selection.ifname)
    what = (link.kind or "device") if link is not None else "device"
    return f"Change {what} {selection.ifname}"


SPEC = KindSpec("set", SetLink, PARAMS, plan_set, help="change MTU, state, MAC, alias, bridge or bond settings",
                title=_title, form_fixup=_state_from_form)

