"""Plans that plug guest interfaces in or out, through libvirt (pure)."""

from __future__ import annotations

import hashlib
from xml.sax.saxutils import quoteattr

from kvmtui.facts import uppers
from kvmtui.model import Domain, DomainInterface, Link, Snapshot
from kvmtui.plan import steps as s
from kvmtui.plan.expect import GuestNic
from kvmtui.plan.intents import AttachInterface, DetachInterface
from kvmtui.plan.model import Plan
from kvmtui.plan.eligible import cidrs, macvtap_lower_unfit
from kvmtui.plan.validate import PlanError, check_mac, existing_domain, existing_link
from kvmtui.vocabulary import MACVTAP_DEFAULT_MODE, MACVTAP_MODES

# One line on what each macvtap mode means, for the wizard and the confirmation.
MACVTAP_MEANING = {
    "vepa": "all traffic goes out to the switch, which must hairpin guest-to-guest frames back (802.1Qbg)",
    "bridge": "guests on the same lower device talk to each other directly, without the switch",
    "private": "guests on the same lower device can never talk to each other, not even via the switch",
    "passthrough": "the guest owns the lower device alone; no other guest or host use of it",
}
HOST_CUT_OFF = "the host cannot reach this guest through {dev}: macvtap passes no traffic between a guest and its own host"


def interface_xml(nic: DomainInterface) -> str:
    """A libvirt <interface> for a bridge or direct (macvtap) NIC."""
    if nic.type == "bridge":
        source = f"<source bridge={quoteattr(nic.bridge or '')}/>"
    else:
        source = f"<source dev={quoteattr(nic.dev or '')} mode={quoteattr(nic.mode or 'vepa')}/>"
    return (f"<interface type={quoteattr(nic.type)}><mac address={quoteattr(nic.mac or '')}/>{source}"
            f"<model type={quoteattr(nic.model or 'virtio')}/></interface>")


def _where(domain: Domain, live: bool, config: bool) -> tuple[bool, bool]:
    """virsh's rule: without --live/--config, change what exists (running guest, definition)."""
    if not live and not config:
        return domain.active, domain.persistent
    if live and not domain.active:
        raise PlanError("live", f"guest {domain.name} is not running: there is nothing to hotplug into")
    if config and not domain.persistent:
        raise PlanError("config", f"guest {domain.name} is transient: it has no definition to change")
    return live, config


def new_mac(snapshot: Snapshot, domain: str, source: str) -> str:
    """A stable locally administered address in libvirt's 52:54:00 range, unused so far."""
    used = {nic.mac for d in snapshot.domains for nic in d.interfaces}
    for attempt in range(1000):
        digest = hashlib.sha256(f"{domain}/{source}/{attempt}".encode()).digest()
        mac = "52:54:00:" + ":".join(f"{b:02x}" for b in digest[:3])
        if mac not in used:
            return mac
    raise PlanError("mac", "could not find a free MAC address; give one")


def _uses_of(snapshot: Snapshot, lower: Link) -> list[str]:
    """What the host already does with a device: all of it stops when a guest takes it whole."""
    uses = [f"addresses {', '.join(cidrs(lower))}"] if cidrs(lower) else []
    routes = [r.dst for r in snapshot.routes
              if r.dev == lower.ifname and r.type == "unicast" and r.protocol not in ("kernel", "ra")]
    uses += [f"routes {', '.join(routes)}"] if routes else []
    if lower.kind == "bridge":
        ports = [link.ifname for link in snapshot.links if link.master == lower.ifname]
        uses.append("a bridge" + (f" with ports {', '.join(ports)}" if ports else ""))
    if lower.master:
        uses.append(f"{'slave' if (snapshot.link(lower.master) or lower).kind == 'bond' else 'port'} of {lower.master}")
    stacked = [link.ifname for link in uppers(snapshot).get(lower.ifname, ())]
    stacked += [link.ifname for link in snapshot.links
                if link.kind == "vxlan" and getattr(link.info_data, "link", None) == lower.ifname]
    uses += [f"devices on it: {', '.join(stacked)}"] if stacked else []
    guests = sorted({d.name for d in snapshot.domains for nic in d.interfaces
                     if nic.type == "direct" and nic.dev == lower.ifname})
    uses += [f"macvtap of guest {', '.join(guests)}"] if guests else []
    return uses


def _check_alone(snapshot: Snapshot, lower: Link) -> None:
    uses = _uses_of(snapshot, lower)
    if uses:
        raise PlanError("mode", f"passthrough needs {lower.ifname} to itself (the guest takes it whole), but it is "
                                f"in use: {'; '.join(uses)}. Choose a free NIC, or another mode")


def _passthrough_user(snapshot: Snapshot, lower: Link) -> str | None:
    """Who holds `lower` by passthrough: a guest (running or defined) or a device on it."""
    for d in snapshot.domains:
        if any(nic.type == "direct" and nic.dev == lower.ifname and nic.mode == "passthrough" for nic in d.interfaces):
            return f"guest {d.name}"
    return next((link.ifname for link in snapshot.links if link.link == lower.ifname
                 and link.kind in ("macvtap", "macvlan") and getattr(link.info_data, "mode", None) == "passthru"), None)


def plan_attach(intent: AttachInterface, snapshot: Snapshot) -> Plan:
    domain = existing_domain(snapshot, intent.domain)
    live, config = _where(domain, intent.live, intent.config)
    if intent.bridge is not None and intent.macvtap is not None:
        raise PlanError("macvtap", f"choose a bridge ({intent.bridge}) or a macvtap lower device ({intent.macvtap}), "
                                   "not both")
    if intent.bridge is None and intent.macvtap is None:
        raise PlanError("bridge", "attach either to a bridge or by macvtap to a lower device")
    warnings = []
    if intent.bridge is not None:
        bridge = existing_link(snapshot, intent.bridge, "bridge")
        if bridge.kind != "bridge":
            raise PlanError("bridge", f"{bridge.ifname} is not a bridge")
        nic_type, source, mode = "bridge", bridge.ifname, None
    else:
        lower = existing_link(snapshot, intent.macvtap, "macvtap")
        mode = intent.mode or MACVTAP_DEFAULT_MODE
        if mode not in MACVTAP_MODES:
            raise PlanError("mode", f"the macvtap mode is one of {', '.join(MACVTAP_MODES)}")
        if mode == "passthrough" and "LOOPBACK" not in lower.flags:  # first: it names every use of the device
            _check_alone(snapshot, lower)
        unfit = macvtap_lower_unfit(snapshot, lower)
        if unfit is not None:
            raise PlanError("macvtap", unfit.reason)
        if mode != "passthrough":
            owner = _passthrough_user(snapshot, lower)
            if owner is not None:
                raise PlanError("macvtap", f"{lower.ifname} is given whole to {owner} (macvtap passthrough): "
                                           "no other macvtap can share it")
        nic_type, source = "direct", lower.ifname
        warnings += [f"macvtap {mode}: {MACVTAP_MEANING[mode]}", HOST_CUT_OFF.format(dev=lower.ifname)]
    mac = intent.mac.lower() if intent.mac else new_mac(snapshot, domain.name, source)
    check_mac(snapshot, mac)
    nic = DomainInterface(type=nic_type, mac=mac, model=intent.model, target=None, source=source,
                          bridge=source if nic_type == "bridge" else None, network=None, portgroup=None,
                          dev=source if nic_type == "direct" else None, mode=mode, link_state=None)
    xml = interface_xml(nic)
    return Plan(intent, f"attach {mac} of {domain.name} to {source}" + (f" (macvtap {mode})" if mode else ""),
                (s.attach(domain.name, xml, live, config),),
                (GuestNic(domain.name, mac, True, live, config),), tuple(warnings), (xml,))


def _own_xml(nic: DomainInterface) -> str:
    """The element as libvirt printed it, so an undo re-attaches the same device (PCI slot,
    link state, mtu, bandwidth, driver...). A live <target dev='vnetN'/> may stay in it:
    libvirt drops generated names on attach and picks a fresh one. Recordings made before
    kvmtui kept the element fall back to the few fields the snapshot has."""
    return nic.xml or interface_xml(nic)


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
        live, config = _where(domain, intent.live, intent.config)
        if config and not defined:
            raise PlanError("config", f"{mac} is not in guest {domain.name}'s definition (it was plugged in live only)")
        if live and live_nic is None:
            raise PlanError("live", f"{mac} is not in the running guest {domain.name} (only in its definition)")
    for one in (live_nic if live else None, config_nic if config else None):
        if one is not None and one.type not in ("bridge", "direct"):
            raise PlanError("mac", f"{mac} is a {one.type} interface; kvmtui detaches bridge and macvtap interfaces")
    # Without the definition's element (an old recording of a running guest) the few fields:
    # the live element's alias would match nothing in the definition.
    config_xml = _own_xml(config_nic) if config_nic else interface_xml(nic)
    steps = (s.detach(domain.name, config_xml, False, True),) if config else ()
    steps += (s.detach(domain.name, _own_xml(live_nic), True, False),) if live else ()
    warnings = (f"guest {domain.name} loses its interface {mac} ({nic.source})",)
    return Plan(intent, f"detach {mac} from {domain.name}", steps, (GuestNic(domain.name, mac, False, live, config),),
                warnings, tuple(dict.fromkeys(step.setting("xml") for step in steps)))
