"""Unplugging a guest NIC, from the running guest and its definition; an undo re-attaches
the very element libvirt printed."""

from __future__ import annotations

from dataclasses import dataclass

from kvmtui.kinds.attach import where_params
from kvmtui.kinds.spec import KindSpec, Param
from kvmtui.model import Snapshot
from kvmtui.plan import steps as s
from kvmtui.plan.expect import GuestNic
from kvmtui.plan.guest_nic import interface_xml, own_xml, where
from kvmtui.plan.model import Plan
from kvmtui.plan.validate import PlanError, existing_domain

# what libvirt unplugs with the element it printed: a tap on a bridge (or a libvirt network's), a macvtap
DETACHABLE = ("bridge", "direct", "network")


@dataclass(frozen=True, slots=True)
class DetachInterface:
    domain: str
    mac: str
    live: bool = False
    config: bool = False


PARAMS = (
    Param("domain", "the guest's name"),
    Param("mac", "the interface's MAC address"),
    *where_params("unplug"),
)


def plan_detach(intent: DetachInterface, snapshot: Snapshot) -> Plan:
    """One step per place, the definition first: each undoes with its own element, and a live
    detach that fails (or waits for the guest) comes last, after the reliable one."""
    domain = existing_domain(snapshot, intent.domain)
    mac = intent.mac.lower()
    live_nic = next((nic for nic in domain.interfaces if nic.mac == mac), None) if domain.active else None
    config_nic = domain.defined_interface(mac)
    defined = config_nic is not None or mac in domain.defined_macs
    nic = live_nic or config_nic
    if nic is None:
        raise PlanError("mac", f"guest {domain.name} has no interface {mac}")
    if not intent.live and not intent.config:  # from wherever it is: the running guest, the definition
        live, config = live_nic is not None, defined
    else:
        live, config = where(domain, intent.live, intent.config)
        if config and not defined:
            raise PlanError("config", f"{mac} is not in guest {domain.name}'s definition (it was plugged in live only)")
        if live and live_nic is None:
            raise PlanError("live", f"{mac} is not in the running guest {domain.name} (only in its definition)")
    for one in (live_nic if live else None, config_nic if config else None):
        if one is not None and one.type not in DETACHABLE:
            raise PlanError("mac", f"{mac} is a {one.type} interface; kvmtui detaches bridge, macvtap and libvirt "
                                   "network interfaces")
    # Without the definition's element (an old recording of a running guest) the few fields:
    # the live element's alias would match nothing in the definition.
    config_xml = own_xml(config_nic) if config_nic else interface_xml(nic)
    steps = (s.detach(domain.name, config_xml, False, True),) if config else ()
    steps += (s.detach(domain.name, own_xml(live_nic), True, False),) if live else ()
    warnings = (f"guest {domain.name} loses its interface {mac} ({nic.source})",)
    return Plan(intent, f"detach {mac} from {domain.name}", steps, (GuestNic(domain.name, mac, False, live, config),),
                warnings, tuple(dict.fromkeys(step.setting("xml") for step in steps)))


SPEC = KindSpec("detach", DetachInterface, PARAMS, plan_detach, help="remove a guest interface", title="Detach",
                wizard=False)
