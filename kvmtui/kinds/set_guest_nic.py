"""Changing a guest's NIC in place: its link state (`virsh domif-setlink`), the bridge it
is on (`virsh update-device`, live: the tap moves, the guest keeps its NIC), its model and,
on an Open vSwitch bridge, its VLAN tag (libvirt retags the OVS port of a running guest).

Each change goes where the NIC is: the running guest and the guest's definition, one step
each with the element libvirt printed for that place, the definition first (a live
update is the one that may be refused). QEMU cannot change a running NIC's model, so a
model goes into the definition only and the guest gets it at its next start; a USB NIC
(usb-net) and a PCI one cannot swap models at all (the address changes bus). A macvtap or
libvirt-network NIC is not moved to a bridge: that changes its type, which libvirt does
not do in place (detach it and attach a new one). Nor does libvirt (9.0 here) move a running
NIC onto, off or between OVS bridges ("unable to change config on 'bridge' network type": a
<virtualport> makes it a reconnect): such a move changes a shut-off guest's definition only."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import dataclass, replace

from kvmtui.kinds.attach import macvtap_vlan_refusal
from kvmtui.kinds.attach_bridge import linux_vlan_refusal
from kvmtui.kinds.ovs_checks import ovs_state
from kvmtui.kinds.spec import KindSpec, Offer, Param, Selection
from kvmtui.libvirt_xml import element_xml
from kvmtui.model import Domain, DomainInterface, Snapshot
from kvmtui.plan import steps as s
from kvmtui.plan.expect import Expectation, GuestNicState, LinkPresent, vlan_text
from kvmtui.plan.expect_ovs import OvsBridgeState, OvsPortState
from kvmtui.plan.guest_nic import own_xml
from kvmtui.plan.model import Plan
from kvmtui.plan.validate import QEMU_NIC_MODELS, VID_MAX, VID_MIN, PlanError, check_vid, existing_domain

LINK_STATES = ("up", "down")
USB_MODELS = ("usb-net",)
OVS = "openvswitch"  # the <virtualport> type of a NIC on an Open vSwitch bridge


@dataclass(frozen=True, slots=True)
class SetGuestNic:
    domain: str
    mac: str
    link_state: str | None = None  # "up" | "down"
    bridge: str | None = None
    model: str | None = None
    vlan: str | None = None  # a VLAN id or "none": the tag of the NIC's Open vSwitch port


def _nic(snapshot: Snapshot, selection: Selection) -> DomainInterface | None:
    """The selected guest NIC: as the guest runs with it, else as its definition says."""
    domain = next((d for d in snapshot.domains if d.name == selection.domain), None)
    if domain is None or selection.mac is None:
        return None
    return next((n for n in domain.interfaces if n.mac == selection.mac), None) \
        or domain.defined_interface(selection.mac)


def _link_offer(snapshot: Snapshot, selection: Selection) -> Offer:
    nic = _nic(snapshot, selection)
    return Offer(nic is None or nic.link_state != "down")


def _bridge_offer(snapshot: Snapshot, selection: Selection) -> Offer | None:
    nic = _nic(snapshot, selection)
    if nic is None or nic.type != "bridge":  # only a bridge NIC moves (see the module's docstring)
        return None
    bridges = [link.ifname for link in snapshot.links if link.kind == "bridge"] + (
        [b.name for b in snapshot.ovs.bridges] if snapshot.ovs is not None else [])
    return Offer(nic.bridge or "", tuple((name, name) for name in bridges))


def _vlan_offer(snapshot: Snapshot, selection: Selection) -> Offer | None:
    """Asked for a NIC on an OVS bridge only (a fake bridge's ports have its VLAN)."""
    nic = _nic(snapshot, selection)
    if nic is None or nic.type != "bridge" or nic.virtualport != OVS \
            or (snapshot.ovs is not None and snapshot.ovs.fake_bridge(nic.bridge or "") is not None):
        return None
    return Offer(",".join(map(str, nic.vlan_tags)))


def _model_offer(snapshot: Snapshot, selection: Selection) -> Offer:
    domain = next((d for d in snapshot.domains if d.name == selection.domain), None)
    nic = (domain.defined_interface(selection.mac or "") if domain is not None else None) \
        or _nic(snapshot, selection)
    return Offer(nic.model if nic is not None and nic.model else "", tuple((m, m) for m in QEMU_NIC_MODELS))


PARAMS = (
    Param("domain", "the guest's name", offer=lambda _, selection: Offer(selection.domain)),
    Param("mac", "the interface's MAC address", offer=lambda _, selection: Offer(selection.mac)),
    Param("link_state", "the link the guest sees: up, or down (a cable pulled out)", "--link", choices=LINK_STATES,
          label="Link up (down: the guest sees its cable pulled out)", widget="flag", offer=_link_offer,
          from_form=lambda value: "up" if value else "down"),
    Param("bridge", "move it to this bridge (a bridge interface only): live on Linux bridges; onto, off or between "
                    "Open vSwitch bridges in a shut-off guest's definition", "--bridge", "BR",
          label="Bridge", widget="choice", offer=_bridge_offer),
    Param("model", f"the NIC model in the guest's definition, used from its next start: {', '.join(QEMU_NIC_MODELS)}",
          "--model", "MODEL", label="Model (from the guest's next start)", widget="choice", offer=_model_offer),
    Param("vlan", f"the VLAN tag of its Open vSwitch port, {VID_MIN} to {VID_MAX}, or none (live and in the "
                  "definition)", "--vlan", "VID|none", label=f"VLAN tag ({VID_MIN}-{VID_MAX}; empty: none)",
          offer=_vlan_offer, from_form=lambda value: str(value or "").strip() or "none"),
)


def _places(domain: Domain, mac: str) -> tuple[DomainInterface | None, DomainInterface | None]:
    """(the running guest's NIC, the definition's), each None where it is not."""
    live = next((n for n in domain.interfaces if n.mac == mac), None) if domain.active else None
    config = domain.defined_interface(mac)
    if live is None and config is None:
        raise PlanError("mac", f"guest {domain.name} has no interface {mac}")
    if (config is None and domain.persistent and mac in domain.defined_macs) \
            or any(nic is not None and nic.xml is None for nic in (live, config)):
        raise PlanError("mac", f"this snapshot does not hold the element libvirt printed for {mac} of guest "
                               f"{domain.name} (an older recording): read the host again")
    return live, config


def _ovs_kind(snapshot: Snapshot, name: str | None) -> str | None:
    """"bridge" or "fake bridge" when OVS has `name`, else None."""
    if snapshot.ovs is None or name is None:
        return None
    return "bridge" if snapshot.ovs.bridge(name) is not None else \
        "fake bridge" if snapshot.ovs.fake_bridge(name) is not None else None


def _check_bridge(snapshot: Snapshot, domain: Domain, nic: DomainInterface, name: str, live: bool,
                  vlan: str | None) -> None:
    if nic.type == "direct":
        raise PlanError("bridge", f"{nic.mac} is a macvtap interface on {nic.dev}: on a bridge it would be another "
                                  "type of interface (bridge, not direct), which libvirt does not change in place; "
                                  f"detach it and attach one on {name} instead")
    if nic.type == "network":
        raise PlanError("bridge", f"{nic.mac} is on libvirt network {nic.network}: on a bridge of its own it would be "
                                  "another type of interface, which libvirt does not change in place; detach it and "
                                  f"attach one on {name} instead")
    if nic.type != "bridge":
        raise PlanError("bridge", f"{nic.mac} is a {nic.type} interface: only a bridge interface moves to another "
                                  "bridge")
    if nic.virtualport not in (None, OVS):
        raise PlanError("bridge", f"{nic.mac} is a {nic.virtualport or 'typeless'} port (<virtualport>): kvmtui moves "
                                  "Linux and Open vSwitch bridge interfaces only")
    to_ovs = _ovs_kind(snapshot, name)
    bridge = snapshot.link(name)
    if to_ovs is None and bridge is None:
        raise PlanError("bridge", f"there is no bridge {name!r}")
    if to_ovs is None and bridge.kind != "bridge":
        raise PlanError("bridge", f"{name} is a {bridge.kind or 'device'}, not a Linux or Open vSwitch bridge")
    if live and (to_ovs or nic.virtualport == OVS):
        raise PlanError("bridge", f"libvirt does not move a running NIC onto, off or between Open vSwitch bridges (it "
                                  "refuses: \"unable to change config on 'bridge' network type\"): shut guest "
                                  f"{domain.name} down and move {nic.mac} then, or detach it and attach one on {name}")
    if to_ovs is None and nic.vlan_tags and vlan is None:
        raise PlanError("vlan", f"{nic.mac} has VLAN tag {vlan_text(nic.vlan_tags)}, which a Linux bridge port does "
                                f"not keep (libvirt would not start the guest with it): move it with --vlan none")


def _check_vlan(snapshot: Snapshot, nic: DomainInterface, bridge_name: str | None, vid: int) -> None:
    """A tag for the NIC where it is after the change (`bridge_name`): an OVS bridge's port only."""
    if nic.type == "direct":
        raise macvtap_vlan_refusal(nic.dev, vid)
    if nic.type == "network":
        raise PlanError("vlan", f"{nic.mac} is on libvirt network {nic.network}: its VLAN is the network's (or a "
                                "portgroup's) <vlan>, set in the network's definition")
    if nic.type != "bridge":
        raise PlanError("vlan", f"{nic.mac} is a {nic.type} interface: only a NIC on an Open vSwitch bridge has a tag")
    if nic.virtualport == OVS and bridge_name == nic.bridge:
        ovs_state(snapshot, "vlan")  # its port's tag is read back from OVS
    on_ovs = _ovs_kind(snapshot, bridge_name)
    if on_ovs == "fake bridge":
        fake = snapshot.ovs.fake_bridge(bridge_name)
        raise PlanError("vlan", f"{fake.name} is VLAN {fake.vlan} of OVS bridge {fake.parent}: its ports are on that "
                                f"VLAN and take no tag of their own. For VLAN {vid} the NIC goes on {fake.parent} "
                                f"with --vlan {vid}")
    if on_ovs is None:
        bridge = snapshot.link(bridge_name)
        if bridge is None or bridge.kind != "bridge":
            raise PlanError("vlan", f"{nic.mac} is on {bridge_name}, which is not a bridge this host has")
        raise linux_vlan_refusal(snapshot, bridge, vid)


def _vlan(text: str | None) -> str | None:
    """The asked tag as vlan_text writes it ("42", "none"); None: not asked."""
    if text is None:
        return None
    word = str(text).strip().lower()
    if word in ("", "none"):
        return "none"
    if not word.isdigit():
        raise PlanError("vlan", f"the VLAN tag is a VLAN id, {VID_MIN} to {VID_MAX}, or none; not {text!r}")
    return str(check_vid(int(word), "vlan"))


def _check_model(nic: DomainInterface, model: str) -> None:
    if (model in USB_MODELS) != ((nic.model or "") in USB_MODELS):
        usb, pci = (model, nic.model) if model in USB_MODELS else (nic.model, model)
        raise PlanError("model", f"{usb} is a USB NIC and {pci} a PCI one: the NIC would need an address on another "
                                 f"bus; detach it and attach one with --model {model} instead")


def changed_element(xml: str, link_state: str | None, bridge: str | None, model: str | None,
                    vlan: str | None = None, ovs: bool | None = None) -> str:
    """The element with the asked values in it; everything else (address, alias, target) as it was.
    `ovs`: a moved NIC's bridge is an Open vSwitch one (a <virtualport>) or not (none)."""
    root = ET.fromstring(xml)
    if vlan is not None:
        for old in root.findall("vlan"):
            root.remove(old)
        if vlan != "none":
            ET.SubElement(ET.SubElement(root, "vlan"), "tag").set("id", vlan)
    port = root.find("virtualport")
    if ovs and port is None:
        ET.SubElement(root, "virtualport").set("type", OVS)
    elif ovs is False and port is not None:
        root.remove(port)
    if link_state is not None:
        link = root.find("link")
        (link if link is not None else ET.SubElement(root, "link")).set("state", link_state)
    if bridge is not None:
        root.find("source").set("bridge", bridge)  # a bridge interface always has one
    if model is not None:
        found = root.find("model")
        (found if found is not None else ET.SubElement(root, "model")).set("type", model)
    return element_xml(root)


def _asked(nic: DomainInterface, intent: SetGuestNic, live: bool) -> dict[str, str | None]:
    """What changes in this place: only what differs from it (a running NIC's model never)."""
    return {"link_state": intent.link_state if intent.link_state not in (None, nic.link_state or "up") else None,
            "bridge": intent.bridge if intent.bridge not in (None, nic.bridge) else None,
            "model": intent.model if not live and intent.model not in (None, nic.model) else None,
            "vlan": intent.vlan if intent.vlan not in (None, vlan_text(nic.vlan_tags)) else None}


def plan_set_guest_nic(intent: SetGuestNic, snapshot: Snapshot) -> Plan:
    domain = existing_domain(snapshot, intent.domain)
    mac = intent.mac.strip().lower()
    if intent.link_state not in (None, *LINK_STATES):
        raise PlanError("link_state", f"the link is up or down, not {intent.link_state!r}")
    intent = replace(intent, vlan=_vlan(intent.vlan))
    live_nic, config_nic = _places(domain, mac)
    for place, live in ((live_nic, True), (config_nic, False)):
        if place is not None and intent.bridge not in (None, place.bridge):
            _check_bridge(snapshot, domain, place, intent.bridge, live, intent.vlan)
    for place in (live_nic, config_nic):  # the tag it has after the change, where it is then
        after = intent.vlan or vlan_text(place.vlan_tags) if place is not None else "none"
        if after != "none" and (after != vlan_text(place.vlan_tags) or intent.bridge not in (None, place.bridge)):
            _check_vlan(snapshot, place, intent.bridge or place.bridge, int(after.split(",")[0]))
    if config_nic is None and intent.model not in (None, live_nic.model):
        raise PlanError("model", f"guest {domain.name} has no definition with {mac} in it, and QEMU cannot change a "
                                 f"running NIC's model: detach it and attach one with --model {intent.model} instead")
    if config_nic is not None and intent.model not in (None, config_nic.model):
        _check_model(config_nic, intent.model)
    steps: list[s.Step] = []
    expectations: list[Expectation] = []
    for place, live in ((config_nic, False), (live_nic, True)):  # the definition first: see the docstring
        if place is None:
            continue
        asked = _asked(place, intent, live)
        if not any(asked.values()):
            continue
        before = own_xml(place)
        ovs = _ovs_kind(snapshot, asked["bridge"]) is not None if asked["bridge"] else None
        steps.append(s.update_device(domain.name, before, changed_element(before, **asked, ovs=ovs), live, not live))
        expectations.append(GuestNicState(domain.name, mac, live, not live, **asked))
        if not live and asked["bridge"]:  # a definition's bridge is not looked for until the guest starts
            kind = _ovs_kind(snapshot, asked["bridge"])
            expectations += [OvsBridgeState(asked["bridge"])] if kind == "bridge" else [] if kind else [
                LinkPresent(asked["bridge"], kind="bridge")]
        if live and asked["vlan"] and place.target:  # libvirt retagged the port it made (ovs-vsctl set Port)
            expectations.append(OvsPortState(place.bridge, place.target, tag=None if asked["vlan"] == "none"
                                             else int(asked["vlan"]), opened=False))
        if live and asked["bridge"] and place.target:
            expectations.append(LinkPresent(place.target, master=asked["bridge"]))
    if not steps:
        raise PlanError("link_state", f"nothing to change: {mac} of {domain.name} already has these values")
    what = ", ".join(f"{name} {value}" for name, value in (("link", intent.link_state), ("bridge", intent.bridge),
                                                           ("model", intent.model), ("vlan", intent.vlan))
                     if value is not None)
    return Plan(intent, f"change {mac} of {domain.name}: {what}", tuple(steps), tuple(expectations),
                tuple(_warnings(domain, intent, live_nic, config_nic, steps)),
                tuple(step.xml for step in steps))


def _warnings(domain: Domain, intent: SetGuestNic, live_nic: DomainInterface | None,
              config_nic: DomainInterface | None, steps: list[s.Step]) -> list[str]:
    live_step = next((step for step in steps if step.live), None)
    config_step = next((step for step in steps if step.config), None)
    said = []
    mac = (live_nic or config_nic).mac
    if live_step is not None and intent.link_state == "down":
        said.append(f"guest {domain.name} sees the cable of {mac} pulled out: its traffic through it stops")
    if live_step is not None and intent.bridge not in (None, live_nic.bridge):
        said.append(f"{mac} of {domain.name} moves from {live_nic.bridge} to {intent.bridge} at once: the guest keeps "
                    "its addresses, which may not fit the network behind the new bridge")
    if config_step is not None and domain.active and intent.model not in (None, config_nic.model):
        running = live_nic.model if live_nic is not None else config_nic.model
        said.append(f"QEMU cannot change a running NIC's model: the definition says {intent.model} now, the guest "
                    f"gets it at its next start (a shutdown and start; a reboot inside it keeps {running})")
    if live_step is not None and intent.vlan not in (None, vlan_text(live_nic.vlan_tags)):
        where = "untagged" if intent.vlan == "none" else f"on VLAN {intent.vlan}"
        said.append(f"{mac} of {domain.name} is {where} at once: the guest keeps its addresses, which may not fit "
                    "the network there")
    if live_nic is not None and config_nic is None and domain.persistent:
        said.append(f"{mac} was plugged in live only: its change goes when the guest stops")
    if live_nic is None and config_nic is not None and domain.active:
        said.append(f"{mac} is in guest {domain.name}'s definition only: the running guest has no such NIC")
    return said


def _title(snapshot: Snapshot, selection: Selection) -> str:
    return f"Change {selection.mac} of guest {selection.domain}"


def _usage(values: dict) -> str | None:
    if all(values.get(name) is None for name in ("link_state", "bridge", "model", "vlan")):
        return "guest-set: give what changes: --link, --bridge, --model or --vlan"
    return None


SPEC = KindSpec("guest-set", SetGuestNic, PARAMS, plan_set_guest_nic,
                help="change a guest NIC: link, bridge, model, OVS VLAN tag", title=_title, usage=_usage)
