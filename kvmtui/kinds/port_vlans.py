"""A port's VLANs on a VLAN-aware bridge (`vlan_filtering 1`): a trunk (tagged VLANs, and
a native VLAN as its PVID or none) or an access port (one VLAN, PVID untagged). The port's
table becomes exactly what is asked; each step's inverse puts back the entries the
Snapshot shows, PVID included (the kernel moves the PVID flag to a newly added PVID)."""

from __future__ import annotations

from dataclasses import dataclass

from kvmtui.bridge_vlans import filtering_bridge, vid_ranges, vlan_table_text, vlans_by_port
from kvmtui.kinds.spec import KindSpec, Offer, Param, Selection, device_choices, selected_of
from kvmtui.model import BridgeVlan, Link, Snapshot
from kvmtui.plan import steps as s
from kvmtui.plan.eligible import guest_owner
from kvmtui.plan.expect import Expectation, VlansOn
from kvmtui.plan.model import Plan
from kvmtui.plan.validate import VID_MAX, VID_MIN, PlanError, check_vid, existing_link

Flags = tuple[bool, bool]  # (pvid, untagged)


@dataclass(frozen=True, slots=True)
class SetPortVlans:
    port: str
    trunk: str | None = None  # "10,20-30": carried tagged
    access: int | None = None  # the one VLAN, PVID untagged
    pvid: str | None = None  # a trunk's native VLAN ("none": untagged frames dropped); None: as it is
    on_bridge: bool = False  # the bridge itself joins the VLANs too (`self`): the host can talk on them


def _ports(snapshot: Snapshot, selection: Selection) -> Offer:
    ports = [link for link in snapshot.links if link.master and link.kind != "bridge"
             and filtering_bridge(snapshot, link) is not None]
    return Offer(selected_of(selection, ports), device_choices(ports))


def _empty_is_none(value: object) -> object:
    return None if value in ("", None) else value


PARAMS = (
    Param("port", "a port of a VLAN-filtering bridge", label="Port", widget="choice", offer=_ports),
    Param("trunk", f"carry these VLANs tagged, e.g. 10,20-30 ({VID_MIN} to {VID_MAX}); the port's VLANs become "
                   "exactly these and its native VLAN (--pvid)", "--trunk", "VIDS", exclusive="mode", required=True,
          label="Trunk: tagged VLANs, e.g. 10,20-30 (empty: an access port)", from_form=_empty_is_none),
    Param("access", "one VLAN, untagged: the port's only VLAN and its PVID (VLAN 1 and the others go)", "--access",
          "VID", type=int, exclusive="mode", required=True, label="Access: the one untagged VLAN (empty: a trunk)",
          widget="number"),
    Param("pvid", "with --trunk: the native VLAN, whose frames pass untagged (default: the port's PVID as it is; "
                  "none: untagged frames are dropped)", "--pvid", "VID|none",
          label="Trunk's native VLAN, untagged (empty: as it is; none: drop untagged)", from_form=_empty_is_none),
    Param("on_bridge", "add the VLANs to the bridge itself too (bridge vlan add ... self), so this host can talk on "
                       "them through a VLAN device on the bridge (BR.VID)", "--on-bridge", flag=True,
          label="The bridge itself too (this host talks on these VLANs)", widget="flag", from_form=bool),
)


def parse_vids(text: str, field: str) -> list[int]:
    """"10,20-30" -> 10, 20, 21, ... 30; a sentence at the field for anything else."""
    vids: set[int] = set()
    for part in (p.strip() for p in text.split(",")):
        first, dash, last = part.partition("-")
        try:
            low, high = int(first), int(last) if dash else int(first)
        except ValueError:
            raise PlanError(field, f"{part or 'an empty item'!r} is not a VLAN or a range: write them like "
                                   "10,20-30") from None
        if low > high:
            raise PlanError(field, f"the range {part} runs backwards: write {high}-{low}")
        check_vid(low, field, part), check_vid(high, field, part)
        vids.update(range(low, high + 1))
    return sorted(vids)


def filtering_port(snapshot: Snapshot, name: str) -> tuple[Link, Link]:
    """The port and its VLAN-filtering bridge, or a PlanError that says what it is instead."""
    port = existing_link(snapshot, name, "port")
    if port.kind == "bridge":
        raise PlanError("port", f"{port.ifname} is the bridge itself: give one of its ports (--on-bridge gives the "
                                "bridge the port's VLANs)")
    master = snapshot.link(port.master)
    if master is None or master.kind != "bridge":
        if master is not None and master.kind == "openvswitch":
            raise PlanError("port", f"{port.ifname} is an Open vSwitch port: its VLAN is the port's tag "
                                    f"(ovs-vsctl set port {port.ifname} tag=N), not a Linux bridge's VLAN table")
        where = f"a slave of {master.kind or 'device'} {master.ifname}" if master is not None else "on no bridge"
        raise PlanError("port", f"{port.ifname} is {where}: VLANs are set here on a Linux bridge's ports "
                                f"(make it one with `kvmtui set BRIDGE --add-port {port.ifname}`)")
    if filtering_bridge(snapshot, master) is None:
        raise PlanError("port", f"{master.ifname} does not filter VLANs (vlan_filtering 0), so its ports' VLANs "
                                f"mean nothing: turn it on first with `kvmtui set {master.ifname} --vlan-filtering on`")
    return port, master


def _native(intent: SetPortVlans, before: dict[int, Flags], tagged: list[int]) -> int | None:
    """The trunk's PVID: asked, or the port's own while the trunk does not tag it."""
    if intent.pvid is not None and intent.pvid.strip().lower() == "none":
        return None
    if intent.pvid is not None:
        text = intent.pvid.strip()
        if not text.isdigit():
            raise PlanError("pvid", f"the native VLAN is one VLAN id, {VID_MIN} to {VID_MAX}, or none; not {text!r}")
        check_vid(int(text), "pvid")
        if int(text) in tagged:
            raise PlanError("pvid", f"VLAN {text} is the native one (untagged): take it out of --trunk")
        return int(text)
    now = next((vid for vid, (pvid, _) in before.items() if pvid), None)
    if now in tagged:
        raise PlanError("pvid", f"VLAN {now} is the port's PVID now (its untagged frames go there): give --pvid none "
                                f"to carry it tagged only, or --pvid with another VLAN")
    return now


def _wanted(intent: SetPortVlans, before: dict[int, Flags]) -> dict[int, Flags]:
    if intent.trunk is not None and intent.access is not None:
        raise PlanError("access", "a trunk or an access port: not both")
    if intent.access is not None:
        if intent.pvid is not None:
            raise PlanError("pvid", "an access port's PVID is its one VLAN: --pvid goes with --trunk")
        check_vid(intent.access, "access")
        return {intent.access: (True, True)}
    if intent.trunk is None:
        raise PlanError("trunk", "give the VLANs: --trunk 10,20-30 (tagged) or --access 10 (one, untagged)")
    tagged = parse_vids(intent.trunk, "trunk")
    wanted: dict[int, Flags] = {vid: (False, False) for vid in tagged}
    native = _native(intent, before, tagged)
    if native is not None:
        untagged = before[native][1] if intent.pvid is None else True  # kept as it is, or native: untagged
        wanted[native] = (True, untagged)
    return wanted


def _runs(vids: list[int], key) -> list[tuple[str, object]]:
    """Consecutive VIDs with the same key as one range ("20-30"), as `bridge vlan` takes them."""
    runs: list[list] = []
    for vid in vids:
        if runs and runs[-1][1] == vid - 1 and runs[-1][2] == key(vid):
            runs[-1][1] = vid
        else:
            runs.append([vid, vid, key(vid)])
    return [(str(a) if a == b else f"{a}-{b}", k) for a, b, k in runs]


def vlan_changes(dev: str, before: dict[int, Flags], wanted: dict[int, Flags]) -> list[s.Step]:
    """Adds (tagged, then the PVID) before deletes, each undone to the Snapshot's entries; a
    new PVID's undo gives the flag back to the old one, which the kernel took it from."""
    old_pvid = next((vid for vid, (pvid, _) in before.items() if pvid), None)
    changed = sorted(vid for vid in wanted if before.get(vid) != wanted[vid])
    steps: list[s.Step] = []
    for vids, (flags, had, *_) in _runs(sorted(changed, key=lambda vid: wanted[vid][0]), lambda vid: _step_key(
            vid, wanted[vid], before.get(vid))):
        back = s.vlan_del(dev, vids) if had is None else s.vlan_add(dev, vids, *had)
        first = int(vids.partition("-")[0])
        then = (s.vlan_add(dev, str(old_pvid), *before[old_pvid]),) if flags[0] and old_pvid not in (None, first) else ()
        steps.append(s.undone_with(s.VlanAdd(dev, vids, *flags, inverse=back), then))
    for vids, (_, had, *_) in _runs(sorted(vid for vid in before if vid not in wanted),
                                lambda vid: _step_key(vid, None, before[vid])):
        steps.append(s.VlanDel(dev, vids, inverse=s.vlan_add(dev, vids, *had)))
    return steps


def _step_key(vid: int, flags: Flags | None, had: Flags | None) -> tuple:
    """What a range's VIDs share: the flags asked and had; a PVID stands alone."""
    alone = (flags or (False,))[0] or (had or (False,))[0]
    return (flags, had) + ((vid,) if alone else ())


def _tap_warning(snapshot: Snapshot, port: Link) -> list[str]:
    owner = guest_owner(snapshot, port)
    if owner is None:
        return []
    return [f"{port.ifname} is guest {owner}'s tap: libvirt makes a new tap when the guest restarts (or the NIC is "
            "re-attached) and does not give it these VLANs back, so they last until then only. Durable: an Open "
            "vSwitch bridge with <vlan><tag id='N'/></vlan> in the guest's interface, a bridge per VLAN, or a libvirt "
            "network with a portgroup"]


def plan_port_vlans(intent: SetPortVlans, snapshot: Snapshot) -> Plan:
    port, bridge = filtering_port(snapshot, intent.port)
    tables = vlans_by_port(snapshot)
    before = {v.vlan: (v.pvid, v.untagged) for v in tables.get(port.ifname, ())}
    wanted = _wanted(intent, before)
    steps = vlan_changes(port.ifname, before, wanted)
    expectations: list[Expectation] = [VlansOn(port.ifname, tuple((vid, *flags) for vid, flags in sorted(wanted.items())))]
    on_bridge = {v.vlan for v in tables.get(bridge.ifname, ())}
    missing = [vid for vid in sorted(wanted) if vid not in on_bridge]
    warnings = _tap_warning(snapshot, port)
    if intent.on_bridge and missing:
        for vids, _ in _runs(missing, lambda vid: None):
            steps.append(s.VlanAdd(bridge.ifname, vids, own=True, inverse=s.vlan_del(bridge.ifname, vids, own=True)))
        expectations.append(VlansOn(bridge.ifname, tuple((vid, False, False) for vid in missing), exact=False))
    elif missing:
        them = "it" if len(missing) == 1 else "them"
        warnings.append(f"{bridge.ifname} itself is not in VLAN {vid_ranges(missing)}: this host cannot talk on {them} "
                        f"through {bridge.ifname} (the ports can); --on-bridge adds {them} "
                        f"(bridge vlan add vid N dev {bridge.ifname} self)")
    if not steps:
        raise PlanError("port", f"nothing to change: {port.ifname} already has these VLANs "
                                f"({vlan_table_text(tables.get(port.ifname, ()))})")
    after = vlan_table_text(BridgeVlan(port.ifname, vid, *flags) for vid, flags in wanted.items())
    return Plan(intent, f"set {port.ifname}'s VLANs on {bridge.ifname}: {after}", tuple(steps), tuple(expectations),
                tuple(warnings))


def _usage(values: dict) -> str | None:
    if values.get("pvid") is not None and values.get("access") is not None:
        return "--pvid goes with --trunk (an access port's PVID is its one VLAN)"
    return None


def _title(snapshot: Snapshot, selection: Selection) -> str:
    return f"VLANs of port {selection.ifname}" if selection.ifname else "VLANs of a bridge port"


SPEC = KindSpec("vlans", SetPortVlans, PARAMS, plan_port_vlans, help="set a VLAN-aware bridge port's VLANs: trunk "
                "or access", title=_title, usage=_usage)
