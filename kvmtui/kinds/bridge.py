"""A new Linux bridge, with its ports and, optionally, the uplink's addresses moved onto it."""

from __future__ import annotations

from dataclasses import dataclass

from kvmtui.kinds.port_vlans import parse_vids, vlan_changes
from kvmtui.kinds.spec import KindSpec, Offer, Param, Selection, device_choices, free_name, selected_of, tuple_of
from kvmtui.model import BridgeInfo, Link, Snapshot
from kvmtui.plan import steps as s
from kvmtui.plan.eligible import BRIDGE_PORT, cidrs, left_out, sort_members
from kvmtui.plan.bridge_undo import DEFAULT_VLAN
from kvmtui.plan.expect import Expectation, LinkPresent, LinkSetting, VlansOn
from kvmtui.plan.ip_move import enslave, move_ip
from kvmtui.plan.model import Plan
from kvmtui.plan.steps.links import NewDevice, new_device_kind
from kvmtui.plan.validate import MTU_MAX, MTU_MIN, PlanError, check_free_port, check_new_name, existing_link


@dataclass(frozen=True, slots=True)
class CreateBridge:
    name: str
    ports: tuple[str, ...] = ()
    stp: bool = False
    forward_delay: int | None = None  # seconds
    mtu: int | None = None
    move_ip_from: str | None = None  # uplink whose addresses, routes and MAC move to the bridge
    vlan_filtering: bool = False  # VLAN-aware: each port's VLANs set with `kvmtui plan vlans PORT`
    trunk: str | None = None  # "10,20-30": VLANs every port carries tagged (the uplink's trunk)


def _ports(snapshot: Snapshot, selection: Selection) -> Offer:
    ports, unfit = sort_members(snapshot, BRIDGE_PORT)
    chosen = selected_of(selection, ports)
    return Offer((chosen,) if chosen else (), device_choices(ports, snapshot), left_out(unfit))


def _uplinks(snapshot: Snapshot, selection: Selection) -> Offer:
    ports, _ = sort_members(snapshot, BRIDGE_PORT)
    return Offer(None, device_choices([l for l in ports if any(a.scope == "global" for a in l.addresses)]))


PARAMS = (
    Param("name", "the new bridge's name", label="Name", offer=lambda snapshot, _: Offer(free_name(snapshot, "br"))),
    Param("ports", "make IF a port (repeat for more); not a bond slave, bridge port, or a device carrying "
                   "macvtaps/macvlans", "--port", "IF", repeat=True, cli_default=[], from_cli=tuple_of,
          label="Ports (Space selects)", widget="many", offer=_ports, from_form=tuple_of),
    Param("stp", "spanning tree (default: off)", "--stp", choices=("on", "off"), cli_default="off",
          from_cli=lambda value: value == "on", label="Spanning tree (STP)", widget="flag", form_default=False,
          from_form=bool),
    Param("forward_delay", "seconds, 0 to 30 (2 to 30 with STP; default: the kernel's 15)", "--forward-delay", "S",
          type=int, label="Forward delay, seconds (empty: kernel default 15)", widget="number"),
    Param("mtu", f"{MTU_MIN} to {MTU_MAX}, at most the ports' (default: from the ports)", "--mtu", type=int,
          label="MTU (empty: from the ports)", widget="number"),
    Param("move_ip_from", "move this uplink's addresses, routes and MAC to the bridge (it must be a --port too)",
          "--move-ip-from", "IF", label="Move addresses, routes and MAC from this uplink", widget="choice",
          offer=_uplinks, form_help="the uplink must also be a port; a session over it is warned about on the next "
                                    "screen"),
    Param("vlan_filtering", "VLAN-aware: one bridge for many VLANs, each port's set with `kvmtui plan vlans PORT` "
                            "(every port starts in VLAN 1, untagged)", "--vlan-filtering", flag=True,
          label="VLAN filtering (one bridge, VLANs per port)", widget="flag", form_default=False, from_form=bool),
    Param("trunk", "with --vlan-filtering: the ports carry these VLANs tagged, e.g. 10,20-30 (a trunk uplink; VLAN 1 "
                   "stays their untagged PVID)", "--trunk", "VIDS", label="Ports' tagged VLANs, e.g. 10,20-30 (with "
          "VLAN filtering)", from_form=lambda value: value or None),
)


def _stp_pause(intent: CreateBridge, uplink: Link | None) -> tuple[str, ...]:
    if not intent.stp or uplink is None:
        return ()
    delay = intent.forward_delay if intent.forward_delay is not None else 15
    return (f"STP is on: {intent.name} forwards nothing for about {2 * delay} s after its ports join (listening, "
            f"then learning, {delay} s each), so this host's own traffic via {intent.name} (the addresses and "
            f"routes moved from {uplink.ifname}) pauses that long",)


def _trunk(intent: CreateBridge) -> list[int]:
    if intent.trunk is None:
        return []
    if not intent.vlan_filtering:
        raise PlanError("trunk", "the ports' VLANs mean something on a VLAN-aware bridge only: add --vlan-filtering")
    if not intent.ports:
        raise PlanError("trunk", "the VLANs are the ports': give the uplink with --port")
    tagged = parse_vids(intent.trunk, "trunk")
    if DEFAULT_VLAN in tagged:
        raise PlanError("trunk", f"VLAN {DEFAULT_VLAN} is the ports' untagged PVID already; change it afterwards "
                                 "with `kvmtui plan vlans PORT --trunk ... --pvid ...`")
    return tagged


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
    settings = (("stp_state", "1" if intent.stp else "0"),) + ((("vlan_filtering", "1"),) if intent.vlan_filtering else ())
    if intent.forward_delay is not None:
        settings += (("forward_delay", str(intent.forward_delay * 100)),)  # the kernel counts centiseconds
    steps = [s.link_add(intent.name, "bridge", settings)]
    if intent.mtu is not None:
        steps.append(s.link_set(intent.name, (("mtu", str(intent.mtu)),), (("mtu", "1500"),)))
    expectations: list[Expectation] = [LinkPresent(intent.name, "bridge", up=True),
                                       LinkSetting(intent.name, "stp_state", 1 if intent.stp else 0),
                                       LinkSetting(intent.name, "vlan_filtering", intent.vlan_filtering)]
    moved = move_ip(snapshot, uplink, intent.name) if uplink is not None else None
    if uplink is not None:
        steps.append(s.link_set(intent.name, (("address", uplink.mac),), ()))  # new device: nothing to restore
        steps += moved.off
    tagged = _trunk(intent)
    for port in ports:
        steps.append(enslave(port, intent.name))
        expectations.append(LinkPresent(port.ifname, master=intent.name))
        if tagged:  # the kernel gave the new port VLAN 1, PVID untagged (the bridge's default_pvid)
            default = {DEFAULT_VLAN: (True, True)}
            steps += vlan_changes(port.ifname, default, default | {vid: (False, False) for vid in tagged})
            expectations.append(VlansOn(port.ifname, ((DEFAULT_VLAN, True, True),) + tuple(
                (vid, False, False) for vid in tagged)))
    steps.append(s.link_set(intent.name, (("state", "up"),), (("state", "down"),)))
    for port in ports:
        if not port.is_up:
            steps.append(s.link_set(port.ifname, (("state", "up"),), (("state", "down"),)))
    if moved is not None:
        steps += moved.on
        expectations += moved.expectations
    warnings = _stp_pause(intent, uplink) + tuple(moved.warnings if moved is not None else ()) + tuple(
        f"{port.ifname} keeps {', '.join(cidrs(port))}, which stop working on a bridge port: "
        f"move them onto the bridge (--move-ip-from {port.ifname})"
        for port in ports if cidrs(port) and port is not uplink)
    return Plan(intent, f"create bridge {intent.name}", tuple(steps), tuple(expectations), warnings)


SPEC = KindSpec("bridge", CreateBridge, PARAMS, plan_create_bridge, help="create a Linux bridge",
                title="New bridge", noun="bridge", new_key="b")


BRIDGE_TIMERS = ("forward_delay", "hello_time", "max_age", "ageing_time", "priority", "vlan_filtering")


def bridge_netlink_args(settings: dict[str, str]) -> dict[str, object]:
    return {"br_stp_state": int(settings.get("stp_state", "0"))} | {
        f"br_{key}": int(settings[key]) for key in BRIDGE_TIMERS if key in settings}


def new_bridge_info(settings: dict[str, str]) -> BridgeInfo:
    """The kernel's defaults where the plan gives none (centiseconds, like IFLA_BR_*)."""
    return BridgeInfo(int(settings.get("stp_state", "0")), int(settings.get("forward_delay", "1500")),
                      200, 2000, 30000, 32768, settings.get("vlan_filtering") == "1", "802.1Q", None, None)


new_device_kind("bridge", NewDevice(bridge_netlink_args, new_bridge_info))
