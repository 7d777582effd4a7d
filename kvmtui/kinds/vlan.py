"""A new VLAN device on a NIC, a bond or a bridge (or QinQ on an 802.1ad VLAN)."""

from __future__ import annotations

from dataclasses import dataclass

from kvmtui.kinds.spec import KindSpec, Offer, Param, Selection, device_choices, selected_of
from kvmtui.model import Link, Snapshot
from kvmtui.plan import steps as s
from kvmtui.plan.expect import LinkPresent, LinkSetting
from kvmtui.plan.model import Plan
from kvmtui.plan.validate import PlanError, check_new_name, check_not_guests, ethernet_link
from kvmtui.vocabulary import VLAN_PROTOCOL_NAMES


@dataclass(frozen=True, slots=True)
class CreateVlan:
    parent: str
    vid: int
    name: str | None = None  # default: parent.vid
    protocol: str = "802.1Q"


def _parents(snapshot: Snapshot, selection: Selection) -> Offer:
    parents = [l for l in snapshot.links if "LOOPBACK" not in l.flags and l.kind in (None, "bond", "bridge", "dummy", "veth")
               and getattr(snapshot.link(l.master), "kind", None) != "bond"]  # a bond slave's frames are the bond's
    return Offer(selected_of(selection, parents), device_choices(parents))


PARAMS = (
    Param("parent", "a NIC, bond or bridge (not a bond slave)", label="Parent (NIC, bond or bridge)",
          widget="choice", offer=_parents),
    Param("vid", "VLAN id, 1 to 4094", type=int, label="VLAN id (1-4094)", widget="number", empty=0),
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


def check_vlan_id(vid: int) -> None:
    if not 1 <= vid <= 4094:
        raise PlanError("vid", f"VLAN ids are 1 to 4094; {vid} is not one")


def vlan_name(intent: CreateVlan) -> str:
    return intent.name or f"{intent.parent}.{intent.vid}"


def plan_create_vlan(intent: CreateVlan, snapshot: Snapshot) -> Plan:
    parent = check_vlan_parent(snapshot, intent.parent)
    check_vlan_id(intent.vid)
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
