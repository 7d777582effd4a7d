"""What the Open vSwitch kinds share: OVS must be running, names free in the kernel and in
OVS, an interface that may become an OVS port, VLAN IDs, and the wizards' offers.

An OVS port on the kernel datapath is a kernel device (a NIC, or the bridge's own internal
device), so the kernel's limits hold: names of at most 15 bytes, one frame taker per device
(not also a Linux bridge port or bond slave)."""

from __future__ import annotations

from kvmtui.kinds.spec import Offer, Selection, device_choices, selected_of
from kvmtui.model import Link, OvsBridge, OvsState, Snapshot
from kvmtui.plan.eligible import BRIDGE_PORT, Unfit, cidrs, left_out, member_unfit
from kvmtui.plan.validate import IFNAMSIZ, PlanError, check_new_name, check_vid, existing_link


def ovs_running(snapshot: Snapshot) -> bool:
    """The OVS kinds are offered under `n` only then."""
    return snapshot.ovs is not None


def ovs_state(snapshot: Snapshot, field: str) -> OvsState:
    if snapshot.ovs is None:
        raise PlanError(field, "Open vSwitch is not running here (no database at $OVS_RUNDIR or /var/run/openvswitch, "
                               "or it did not answer): start ovsdb-server and ovs-vswitchd first")
    return snapshot.ovs


def existing_ovs_bridge(snapshot: Snapshot, name: str, field: str = "bridge") -> OvsBridge:
    state = ovs_state(snapshot, field)
    bridge = state.bridge(name)
    if bridge is not None:
        return bridge
    fake = state.fake_bridge(name)
    if fake is not None:
        raise PlanError(field, f"{name} is a fake bridge (VLAN {fake.vlan} of {fake.parent}): add the port to "
                               f"{fake.parent} with tag {fake.vlan}")
    known = ", ".join(b.name for b in state.bridges) or "none yet"
    raise PlanError(field, f"there is no OVS bridge {name!r} (OVS bridges here: {known})")


def ovs_owner(state: OvsState, name: str) -> str | None:
    """What already has this name in OVS, in words: "OVS bridge br0", "a port of OVS bridge br0"."""
    if state.bridge(name) is not None:
        return f"OVS bridge {name}"
    fake = state.fake_bridge(name)
    if fake is not None:
        return f"fake bridge {name} (VLAN {fake.vlan} of {fake.parent})"
    for bridge, port, interface in state.interfaces():
        if port.name == name:
            return f"a port of OVS bridge {bridge.name}"
        if interface.name == name:
            return f"a member of OVS bond {port.name} on {bridge.name}" if port.bond is not None else \
                f"a port of OVS bridge {bridge.name}"
    return None


def check_new_ovs_name(snapshot: Snapshot, name: str, field: str = "name") -> None:
    """A new bridge's or bond's name: free in the kernel and in OVS."""
    check_new_name(snapshot, name, field)
    owner = ovs_owner(ovs_state(snapshot, field), name)
    if owner is not None:
        raise PlanError(field, f"{name!r} is already {owner}")


def ovs_port_unfit(snapshot: Snapshot, link: Link) -> Unfit | None:
    """Why `link` cannot join an OVS bridge (the wizards leave it out, the planner refuses)."""
    owner = ovs_owner(snapshot.ovs, link.ifname) if snapshot.ovs is not None else None
    if owner is not None:
        return Unfit("in OVS", f"{link.ifname} is already {owner}")
    if link.kind == "openvswitch":
        return Unfit("OVS's own", f"{link.ifname} is Open vSwitch's own device (a bridge or its datapath)")
    return member_unfit(snapshot, link, BRIDGE_PORT)


def check_free_interface(snapshot: Snapshot, name: str, field: str, seen: set[str]) -> Link:
    """A device that may become an OVS port or bond member."""
    size = len(name.encode())
    if size > IFNAMSIZ:
        raise PlanError(field, f"interface names are at most {IFNAMSIZ} bytes; {name!r} has {size}")
    if name in seen:
        raise PlanError(field, f"{name} is listed twice")
    seen.add(name)
    owner = ovs_owner(ovs_state(snapshot, field), name)  # first: a userspace port has no kernel device
    if owner is not None:
        raise PlanError(field, f"{name} is already {owner}")
    link = existing_link(snapshot, name, field)
    unfit = ovs_port_unfit(snapshot, link)
    if unfit is not None:
        raise PlanError(field, unfit.reason)
    return link


def vid_list(text: object, field: str = "trunks") -> tuple[int, ...]:
    """"10,20,30-32" (or a list of such) -> (10, 20, 30, 31, 32), each checked."""
    parts = [part.strip() for item in (text if isinstance(text, (list, tuple)) else [text or ""])
             for part in str(item).split(",") if part.strip()]
    vids: list[int] = []
    for part in parts:
        first, dash, last = part.partition("-")
        if not (first.strip().isdigit() and (not dash or last.strip().isdigit())):
            raise PlanError(field, f"{part!r} is not a VLAN ID or a range of them (10,20,30-39)")
        low, high = int(first), int(last) if dash else int(first)
        if high < low:
            raise PlanError(field, f"{part!r}: a range goes from the lower VLAN ID to the higher")
        check_vid(low, field, part), check_vid(high, field, part)
        vids += range(low, high + 1)
    return tuple(sorted(set(vids)))


def address_warnings(links: list[Link]) -> tuple[str, ...]:
    return tuple(f"{link.ifname} keeps {', '.join(cidrs(link))}, which stop working once it is an OVS port: "
                 "move them to an internal port of the bridge" for link in links if cidrs(link))


def free_interfaces(snapshot: Snapshot, selection: Selection, many: bool) -> Offer:
    """The devices that may become OVS ports, the selected one chosen; the others listed with why not."""
    fit, unfit = [], []
    for link in snapshot.links:
        why = ovs_port_unfit(snapshot, link)
        if why is None:
            fit.append(link)
        elif "LOOPBACK" not in link.flags:
            unfit.append((link, why))
    chosen = selected_of(selection, fit)
    default = ((chosen,) if chosen else ()) if many else chosen
    return Offer(default, device_choices(fit), left_out(unfit))


def ovs_bridges(snapshot: Snapshot, selection: Selection) -> Offer:
    """OVS's bridges; the selected one (or the one the selection is on) first."""
    names = tuple(b.name for b in snapshot.ovs.bridges) if snapshot.ovs is not None else ()
    on = snapshot.ovs.bridge_of(selection.ifname) if snapshot.ovs is not None else None
    return Offer(on.name if on is not None else (names[0] if names else None), tuple((name, name) for name in names))
