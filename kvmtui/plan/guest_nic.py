"""What attaching and detaching guest NICs share: the libvirt element, where a change
goes (the running guest, the definition) and a free MAC (pure)."""

from __future__ import annotations

import hashlib
from xml.sax.saxutils import quoteattr

from kvmtui.model import Domain, DomainInterface, Snapshot
from kvmtui.plan.validate import PlanError


def interface_xml(nic: DomainInterface) -> str:
    """A libvirt <interface> for a bridge or direct (macvtap) NIC; on an Open vSwitch bridge
    with its <virtualport> (libvirt then plugs the tap in with ovs-vsctl, which a Linux bridge
    does not need) and its VLAN tags, which libvirt sets on the OVS port at every start."""
    if nic.type == "bridge":
        source = f"<source bridge={quoteattr(nic.bridge or '')}/>"
    else:
        source = f"<source dev={quoteattr(nic.dev or '')} mode={quoteattr(nic.mode or 'vepa')}/>"
    # another virtualport type needs its parameters, which a plan does not know
    port = f"<virtualport type={quoteattr('openvswitch')}/>" if nic.virtualport == "openvswitch" else ""
    tags = "".join(f"<tag id={quoteattr(str(tag))}/>" for tag in nic.vlan_tags)
    vlan = (f"<vlan{' trunk=' + quoteattr('yes') if nic.vlan_trunk else ''}>{tags}</vlan>") if tags else ""
    return (f"<interface type={quoteattr(nic.type)}><mac address={quoteattr(nic.mac or '')}/>{source}{port}{vlan}"
            f"<model type={quoteattr(nic.model or 'virtio')}/></interface>")


def where(domain: Domain, live: bool, config: bool) -> tuple[bool, bool]:
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


def own_xml(nic: DomainInterface) -> str:
    """The element as libvirt printed it, so an undo re-attaches the same device (PCI slot,
    link state, mtu, bandwidth, driver...). A live <target dev='vnetN'/> may stay in it:
    libvirt drops generated names on attach and picks a fresh one. Recordings made before
    kvmtui kept the element fall back to the few fields the snapshot has."""
    return nic.xml or interface_xml(nic)
