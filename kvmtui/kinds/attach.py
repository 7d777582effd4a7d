"""What the two attach kinds share: one intent (a bridge or a macvtap lower device), one
`attach` subcommand and one wizard, the guest's fields, and the planner around the source."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from kvmtui.kinds.spec import Offer, Param, Selection
from kvmtui.model import DomainInterface, Snapshot
from kvmtui.plan import steps as s
from kvmtui.plan.expect import GuestNic
from kvmtui.plan.guest_nic import interface_xml, new_mac, where
from kvmtui.plan.model import Plan
from kvmtui.plan.validate import QEMU_NIC_MODELS, PlanError, check_mac, check_vid, existing_domain

COMMAND, HELP, TITLE = "attach", "give a guest an interface on a bridge or by macvtap", "Attach a guest interface"
FORM_ORDER = ("domain", "bridge", "vlan", "macvtap", "mode", "model", "mac", "live", "config")


@dataclass(frozen=True, slots=True)
class AttachInterface:
    domain: str
    bridge: str | None = None
    macvtap: str | None = None  # lower device
    mode: str | None = None  # vepa, bridge, private, passthrough
    mac: str | None = None
    model: str = "virtio"
    live: bool = False
    config: bool = False  # neither: live when running, config when persistent
    vlan: int | None = None  # the port's VLAN: an OVS port's tag (<vlan><tag/></vlan>)


@dataclass(frozen=True, slots=True)
class NicSource:
    """Where the new NIC's frames go, as libvirt's <interface type=...> says it."""

    type: str  # bridge | direct
    source: str
    mode: str | None = None
    warnings: tuple[str, ...] = ()
    virtualport: str | None = None  # "openvswitch": libvirt plugs the tap in with ovs-vsctl
    vlan: int | None = None


def _domains(snapshot: Snapshot, selection: Selection) -> Offer:
    return Offer(selection.domain, tuple((f"{d.name} ({d.state})", d.name) for d in snapshot.domains))


def where_params(verb: str) -> tuple[Param, Param]:
    """--live and --config, for plugging in or unplugging."""
    return (Param("live", f"{verb} the running guest only (default: without --live and --config, the running guest "
                          "and the definition where each exists)", "--live", flag=True,
                  label="Live: plug into the running guest", widget="flag", form_default=False, from_form=bool),
            Param("config", f"{verb} the guest's definition only (both: both)", "--config", flag=True,
                  label="Persistent: add to the guest's definition", widget="flag", form_default=False,
                  form_help="neither ticked: the running guest if it runs, and its definition", from_form=bool))


GUEST = Param("domain", "the guest's name", label="Guest", widget="choice", offer=_domains)
NIC = (
    Param("mac", "the NIC's MAC (default: a free 52:54:00 address)", "--mac",
          label="MAC (empty: a free 52:54:00 address)"),
    Param("model", f"NIC model (default: virtio): {', '.join(QEMU_NIC_MODELS)}", "--model", cli_default="virtio",
          label="Model", form_default="virtio"),
    *where_params("plug"),
)


def drop_mode_without_macvtap(values: dict) -> dict:
    """The form always has a macvtap mode; a bridge interface has none."""
    return values if values.get("macvtap") else {**values, "mode": None}


def macvtap_vlan_refusal(lower: str, vid: int) -> PlanError:
    """Why a macvtap NIC takes no VLAN tag (attach and guest-set say the same)."""
    return PlanError("vlan", f"a macvtap NIC has no VLAN of its own: it sends as {lower} does; put it on a VLAN "
                             f"device instead (--macvtap {lower}.{vid}, made with `kvmtui apply vlan {lower} {vid}`)")


def plan_attach(intent: AttachInterface, snapshot: Snapshot,
                source: Callable[[AttachInterface, Snapshot], NicSource]) -> Plan:
    if intent.vlan is not None:
        check_vid(intent.vlan, "vlan")
    domain = existing_domain(snapshot, intent.domain)
    live, config = where(domain, intent.live, intent.config)
    if intent.bridge is not None and intent.macvtap is not None:
        raise PlanError("macvtap", f"choose a bridge ({intent.bridge}) or a macvtap lower device ({intent.macvtap}), "
                                   "not both")
    if intent.bridge is None and intent.macvtap is None:
        raise PlanError("bridge", "attach either to a bridge or by macvtap to a lower device")
    if intent.vlan is not None and intent.macvtap is not None:
        raise macvtap_vlan_refusal(intent.macvtap, intent.vlan)
    nic_source = source(intent, snapshot)
    nic_type, mode = nic_source.type, nic_source.mode
    mac = intent.mac.lower() if intent.mac else new_mac(snapshot, domain.name, nic_source.source)
    check_mac(snapshot, mac)
    nic = DomainInterface(type=nic_type, mac=mac, model=intent.model, target=None, source=nic_source.source,
                          bridge=nic_source.source if nic_type == "bridge" else None, network=None, portgroup=None,
                          dev=nic_source.source if nic_type == "direct" else None, mode=mode, link_state=None,
                          vlan_tags=(nic_source.vlan,) if nic_source.vlan is not None else (),
                          virtualport=nic_source.virtualport)
    xml = interface_xml(nic)
    title = f"attach {mac} of {domain.name} to {nic_source.source}" + (f" (macvtap {mode})" if mode else "") + (
        f" on VLAN {nic_source.vlan}" if nic_source.vlan is not None else "")
    return Plan(intent, title,
                (s.attach(domain.name, xml, live, config),),
                (GuestNic(domain.name, mac, True, live, config),), nic_source.warnings, (xml,))
