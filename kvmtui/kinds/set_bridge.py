"""The bridge part of `set` (kinds/set_link.py): ports in and out, STP, forward delay,
ageing and VLAN filtering, each step undone to the value the Snapshot shows. One setting
per step, in an order the kernel takes: it checks a forward delay against the STP state
of that moment, and turning STP on raises a forward delay below 2 s to 2 s."""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from kvmtui.model import BridgeInfo, Link, Snapshot
from kvmtui.plan import steps as s
from kvmtui.plan.bridge_undo import port_restore, vlans_kept
from kvmtui.plan.eligible import cidrs
from kvmtui.plan.expect import Expectation, LinkPresent, LinkSetting
from kvmtui.plan.ip_move import enslave
from kvmtui.plan.steps.links import SETTABLE_KINDS, SettableKind
from kvmtui.plan.validate import PlanError, check_free_port, existing_link

BRIDGE_FIELDS = {"add_ports": "adding ports", "remove_ports": "removing ports", "stp": "STP",
                 "forward_delay": "the forward delay", "ageing": "the ageing time",
                 "vlan_filtering": "VLAN filtering"}
FORWARD_DELAY_STP = (2, 30)  # seconds: BR_MIN_FORWARD_DELAY, BR_MAX_FORWARD_DELAY (checked with STP on)
FORWARD_DELAY_MAX = 30
AGEING = (10, 1_000_000)  # seconds
KERNEL_SETTINGS = ("stp_state", "forward_delay", "ageing_time", "vlan_filtering")  # IFLA_BR_*; times in 1/100 s


def _netlink_args(settings: dict[str, str]) -> dict[str, object]:
    return {f"br_{key}": int(value) for key, value in settings.items() if key in KERNEL_SETTINGS}


def _simulated(info: object, settings: dict[str, str]) -> object:
    if not isinstance(info, BridgeInfo):
        return info
    changes: dict[str, object] = {key: int(settings[key]) for key in ("stp_state", "forward_delay", "ageing_time")
                                  if key in settings}
    if "vlan_filtering" in settings:
        changes["vlan_filtering"] = settings["vlan_filtering"] == "1"
    return replace(info, **changes)


SETTABLE_KINDS["bridge"] = SettableKind(_netlink_args, _simulated)


@dataclass
class BridgeChange:
    """Ports leave first (`leave`), the settings and new ports come after the device's own
    changes (`join`)."""

    leave: list[s.Step] = field(default_factory=list)
    join: list[s.Step] = field(default_factory=list)
    expectations: list[Expectation] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def asks_bridge(intent) -> str | None:
    """The first bridge-only field the intent sets, if any."""
    return next((name for name in BRIDGE_FIELDS if getattr(intent, name) not in (None, ())), None)


def ports_after(snapshot: Snapshot, bridge: Link, intent) -> list[Link]:
    """The bridge's ports once the intent's are in and out (for its MTU check)."""
    kept = [l for l in snapshot.links if l.master == bridge.ifname and l.ifname not in intent.remove_ports]
    return kept + [link for name in intent.add_ports if (link := snapshot.link(name)) is not None]


def _set(bridge: str, key: str, after: int, before: int) -> s.Step:
    return s.link_set(bridge, ((key, str(after)),), ((key, str(before)),), kind="bridge")


def _check_times(intent, info: BridgeInfo, stp_after: bool) -> None:
    if intent.forward_delay is not None:
        low, high = FORWARD_DELAY_STP if stp_after else (0, FORWARD_DELAY_MAX)
        if not low <= intent.forward_delay <= high:
            with_stp = " with STP on (the kernel's limits)" if stp_after else " (2 to 30 with STP on)"
            raise PlanError("forward_delay", f"the forward delay is {low} to {high} seconds{with_stp}; "
                                             f"{intent.forward_delay} is outside that range")
    changed = intent.ageing is not None and intent.ageing * 100 != info.ageing_time  # a form sends it unchanged
    if changed and not AGEING[0] <= intent.ageing <= AGEING[1]:
        raise PlanError("ageing", f"the ageing time is {AGEING[0]} to {AGEING[1]} seconds; "
                                  f"{intent.ageing} is outside that range")


def _ports(snapshot: Snapshot, bridge: Link, intent, change: BridgeChange) -> None:
    if set(intent.add_ports) & set(intent.remove_ports):
        both = sorted(set(intent.add_ports) & set(intent.remove_ports))
        raise PlanError("remove_ports", f"{', '.join(both)} is both added and removed")
    seen: set[str] = set()
    for name in intent.remove_ports:
        port = existing_link(snapshot, name, "remove_ports")
        if name in seen:
            raise PlanError("remove_ports", f"{name} is listed twice")
        seen.add(name)
        if port.master != bridge.ifname:
            where = f" (it is in {port.master})" if port.master else ""
            raise PlanError("remove_ports", f"{name} is not a port of {bridge.ifname}{where}")
        # A bridge forgets what it knew of a port it releases: the undo tells it again.
        change.leave.append(s.undone_with(s.link_set(name, (("master", ""),), (("master", bridge.ifname),)),
                                          port_restore(snapshot, port)))
        change.expectations.append(LinkPresent(name, master=""))
    seen = set()
    for name in intent.add_ports:
        port = check_free_port(snapshot, name, "add_ports", seen)
        change.join.append(enslave(port, bridge.ifname))
        if not port.is_up:  # a port that is down forwards nothing
            change.join.append(s.link_set(name, (("state", "up"),), (("state", "down"),)))
        change.expectations.append(LinkPresent(name, master=bridge.ifname, up=True))
        if cidrs(port):
            change.warnings.append(f"{name} keeps {', '.join(cidrs(port))}, which stop working on a bridge port")
        if port.mtu < bridge.mtu:
            change.warnings.append(f"{name}'s MTU {port.mtu} is below {bridge.ifname}'s {bridge.mtu}: a bridge takes "
                                   f"its smallest port's MTU (unless its own was set by hand), so {bridge.ifname} "
                                   f"drops to {port.mtu}")


def bridge_change(snapshot: Snapshot, bridge: Link, intent) -> BridgeChange:
    """Steps, expectations and warnings for the bridge-only fields of a SetLink."""
    change = BridgeChange()
    asked = asks_bridge(intent)
    if asked is None:
        return change
    if bridge.kind != "bridge" or not isinstance(bridge.info_data, BridgeInfo):
        raise PlanError(asked, f"{bridge.ifname} is {'a ' + bridge.kind if bridge.kind else 'not a bridge'}: "
                               f"{BRIDGE_FIELDS[asked]} is for bridges only")
    info = bridge.info_data
    stp_now = info.stp_state != 0
    stp_after = stp_now if intent.stp is None else intent.stp
    _check_times(intent, info, stp_after)
    _ports(snapshot, bridge, intent, change)
    name, settings = bridge.ifname, []
    if stp_now and intent.stp is False:  # off first: then any forward delay is taken
        settings.append(_set(name, "stp_state", 0, info.stp_state))
    delay = None if intent.forward_delay is None else intent.forward_delay * 100  # the kernel counts 1/100 s
    if delay is not None and delay != info.forward_delay:
        settings.append(_set(name, "forward_delay", delay, info.forward_delay))
    if intent.ageing is not None and intent.ageing * 100 != info.ageing_time:
        settings.append(_set(name, "ageing_time", intent.ageing * 100, info.ageing_time))
    stp_on = not stp_now and intent.stp is True
    if stp_on:  # on last: the new forward delay is in place
        step = _set(name, "stp_state", 1, info.stp_state)
        low, high = (seconds * 100 for seconds in FORWARD_DELAY_STP)
        if delay is None and not low <= info.forward_delay <= high:  # the kernel moves it into range
            step = s.undone_with(step, [_set(name, "forward_delay", info.forward_delay, info.forward_delay)])
            change.warnings.append(f"STP on moves {name}'s forward delay of {info.forward_delay / 100:g} s into "
                                   f"2 to 30 s (an undo puts it back)")
        settings.append(step)
    if intent.vlan_filtering is not None and intent.vlan_filtering != info.vlan_filtering:
        settings.append(_set(name, "vlan_filtering", int(intent.vlan_filtering), int(info.vlan_filtering)))
        if intent.vlan_filtering and not vlans_kept(snapshot, bridge):
            change.warnings.append(f"this kernel lists no VLAN entries on {name} or its ports: it looks built "
                                   "without bridge VLAN filtering (CONFIG_BRIDGE_VLAN_FILTERING), and then refuses "
                                   "it; the apply then fails and is undone")
    if intent.vlan_filtering is not None:
        change.expectations.append(LinkSetting(name, "vlan_filtering", intent.vlan_filtering))
    change.join[:0] = settings  # the settings, then the new ports
    if intent.stp is not None:
        change.expectations.append(LinkSetting(name, "stp_state", 1 if stp_after else 0))
    if delay is not None:
        change.expectations.append(LinkSetting(name, "forward_delay", delay))
    if intent.ageing is not None:
        change.expectations.append(LinkSetting(name, "ageing_time", intent.ageing * 100))
    if stp_on:
        seconds = (delay if delay is not None else max(info.forward_delay, 200)) / 100
        change.warnings.append(f"STP on: {name} forwards nothing through a port for about {2 * seconds:g} s after "
                               "it (re)starts (listening, then learning)")
    return change
