"""A new VLAN device on a NIC, a bond or a bridge (or QinQ on an 802.1ad VLAN)."""

from __future__ import annotations

from dataclasses import dataclass

from kvmtui.kinds.spec import KindSpec, Offer, Param, Selection, device_choices, selected_of
from kvmtui.model import Link, Snapshot, VlanInfo
from kvmtui.plan import steps as s
from kvmtui.plan.expect import LinkPresent, LinkSetting
from kvmtui.plan.model import Plan
from kvmtui.plan.steps.links import NewDevice, new_device_kind
from kvmtui.plan.validate import VID_MAX, VID_MIN, PlanError, check_new_name, check_not_guests, check_vid, ethernet_link
from kvmtui.vocabulary import VLAN_NUMBERS, VLAN_PROTOCOL_NAMES


@dataclass(frozen=True, slots=True)
class CreateVlan:
    parent: str
    vid: int
    name: str | None = None  # default: parent.vid
    protocol: str = "802.1Q"


def _parent_links(snapshot: Snapshot) -> list[Link]:
    return [l for l in snapshot.links if "LOOPBACK" not in l.flags and l.kind in (None, "bond", "bridge", "dummy", "veth")
            and getattr(snapshot.link(l.master), "kind", None) != "bond"]  # a bond slave's frames are the bond's


def _parents(snapshot: Snapshot, selection: Selection) -> Offer:
    parents = _parent_links(snapshot)
    return Offer(selected_of(selection, parents), device_choices(parents))


def vlans_seen(snapshot: Snapshot, ifname: str) -> dict[int, str]:
    """VLAN id -> where it was seen on `ifname`'s wire: the switch's LLDP VLAN TLVs (lldpd, on it
    or the ports under it) and the dashboard's last listening there. The native VLAN arrives
    untagged: no VLAN device for it."""
    seen: dict[int, list[str]] = {}
    below = [l.ifname for l in snapshot.links if l.master == ifname]  # a bond's slaves, a bridge's ports
    below += [l.ifname for l in snapshot.links if l.master in below]  # a bridge's bond's slaves
    for heard in (h for port in (ifname, *below) for h in snapshot.neighbours_on.get(port, ())):
        for vid in heard.neighbour.vlans:
            if vid != heard.neighbour.native_vlan:
                seen.setdefault(vid, []).append(f"LLDP from {heard.neighbour.brief}")
    report = next((r for r in reversed(snapshot.listened) if r.interface == ifname), None)
    for vlan in report.vlans if report else ():
        seen.setdefault(vlan.vlan, []).append(f"{vlan.frames} frame{'s' if vlan.frames != 1 else ''} heard")
    return {vid: ", ".join(where) for vid, where in sorted(seen.items())}


def _vids(snapshot: Snapshot, selection: Selection) -> Offer:
    """The VLAN ids the parent's wire carries, as a hint (any id may be typed): those of the
    selected parent, else of every parent offered; the ones already made are marked."""
    made = {(l.link, l.info_data.id) for l in snapshot.links if l.kind == "vlan" and l.info_data is not None}
    parents = [l.ifname for l in _parent_links(snapshot)]
    names = [selection.ifname] if selection.ifname in parents else parents
    parts = []
    for name in names:
        seen = vlans_seen(snapshot, name)
        if seen:
            ids = (f"{vid} (exists)" if (name, vid) in made else f"{vid} ({where})" for vid, where in seen.items())
            parts.append(f"{name}: {', '.join(ids)}")
    return Offer("", help=("seen on the wire: " + "; ".join(parts)) if parts else None)


PARAMS = (
    Param("parent", "a NIC, bond or bridge (not a bond slave)", label="Parent (NIC, bond or bridge)",
          widget="choice", offer=_parents),
    Param("vid", f"VLAN id, {VID_MIN} to {VID_MAX}", type=int, label=f"VLAN id ({VID_MIN}-{VID_MAX})", widget="number",
          empty=0, offer=_vids),
    Param("name", "the VLAN device's name (default: PARENT.VID)", "--name", label="Name (empty: parent.id)"),
    Param("protocol", "default: 802.1Q (802.1ad: QinQ)", "--protocol", choices=VLAN_PROTOCOL_NAMES, cli_default="802.1Q",
          label="Protocol", widget="choice", form_default="802.1Q",
          form_options=(("802.1Q", "802.1Q"), ("802.1ad (QinQ)", "802.1ad"))),
)


def check_vlan_parent(snapshot: Snapshot, name: str) -> Link:
    """A VLAN goes on a NIC, bond or bridge (a veth in a namespace): a device whose frames
    it sees. A bond slave's frames belong to the bond; a guest's device to the guest."""
    link = ethernet_link(snapshot, name, "parent")
    check_not_guests(snapshot, link, "parent", "a VLAN's parent")
    master = snapshot.link(link.master) if link.master else None
    if master is not None and master.kind == "bond":
        raise PlanError("parent", f"{link.ifname} is a slave of bond {master.ifname}, which receives its frames: "
                                  f"put the VLAN on {master.ifname}")
    qinq = link.kind == "vlan" and getattr(link.info_data, "protocol", None) == "802.1ad"
    if link.kind not in (None, "dummy", "veth", "bond", "bridge") and not qinq:
        raise PlanError("parent", f"{link.ifname} is a {link.kind}; a VLAN goes on a NIC, a bond or a bridge "
                                  "(or, for QinQ, on an 802.1ad VLAN)")
    return link


def vlan_name(intent: CreateVlan) -> str:
    return intent.name or f"{intent.parent}.{intent.vid}"


def plan_create_vlan(intent: CreateVlan, snapshot: Snapshot) -> Plan:
    parent = check_vlan_parent(snapshot, intent.parent)
    check_vid(intent.vid, "vid")
    if intent.protocol not in VLAN_PROTOCOL_NAMES:
        raise PlanError("protocol", f"the VLAN protocol is 802.1Q or 802.1ad, not {intent.protocol!r}")
    for link in snapshot.links:  # first: a second name for the same VLAN would not help (the kernel: EEXIST)
        info = link.info_data
        if link.kind == "vlan" and link.link == parent.ifname and info.id == intent.vid and info.protocol == intent.protocol:
            raise PlanError("vid", f"VLAN {intent.vid} already exists on {parent.ifname} as {link.ifname}")
    name = vlan_name(intent)
    try:
        check_new_name(snapshot, name)
    except PlanError as exc:
        if intent.name:
            raise
        raise PlanError("name", f"{exc} (the default name {name}): give the VLAN a name") from None
    steps = (s.link_add(name, "vlan", (("protocol", intent.protocol), ("id", str(intent.vid))), parent=parent.ifname),
             s.link_set(name, (("state", "up"),), (("state", "down"),)))
    expectations = (LinkPresent(name, "vlan", up=True), LinkSetting(name, "id", intent.vid))
    return Plan(intent, f"create VLAN {name} ({intent.protocol} {intent.vid} on {parent.ifname})", steps, expectations)


SPEC = KindSpec("vlan", CreateVlan, PARAMS, plan_create_vlan, help="create a VLAN device", title="New VLAN",
                noun="VLAN", new_key="v", form_order=("parent", "vid", "protocol", "name"))


def vlan_netlink_args(settings: dict[str, str]) -> dict[str, object]:
    return {"vlan_id": int(settings["id"]), "vlan_protocol": VLAN_NUMBERS[settings["protocol"]]}


def new_vlan_info(settings: dict[str, str]) -> VlanInfo:
    return VlanInfo(settings["protocol"], int(settings["id"]))


new_device_kind("vlan", NewDevice(vlan_netlink_args, new_vlan_info))
