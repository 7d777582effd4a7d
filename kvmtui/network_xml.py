"""A libvirt network's definition -> its XML (pure: no libvirt, no I/O).

The other direction of libvirt_xml.py, for networks only: kvmtui/kinds/ builds a
`NetworkDefinition` from what the user asked, and the plan carries this text, which the
confirmation shows and `virsh net-define` (here: virNetworkDefineXML) takes as it is.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import dataclass

# What `kvmtui net-define --forward` says -> libvirt's <forward mode>, "" for no <forward>.
FORWARD_MODES = {"nat": "nat", "route": "route", "isolated": "", "open": "open", "bridge": "bridge",
                 "hostdev": "hostdev"}
MACVTAP_MODES = ("bridge", "vepa", "private", "passthrough")  # <forward mode> of a macvtap pool


@dataclass(frozen=True, slots=True)
class DhcpHost:
    mac: str
    ip: str
    name: str | None = None


@dataclass(frozen=True, slots=True)
class NetworkDefinition:
    """`forward` is libvirt's <forward mode> ("" for an isolated network); `pool` the
    devices of a macvtap pool, `pf` the SR-IOV device of a hostdev pool."""

    name: str
    forward: str
    bridge: str | None = None  # the bridge libvirt makes, or the host bridge of mode='bridge'
    forward_dev: str | None = None  # nat/route: only out through this device
    pool: tuple[str, ...] = ()
    pf: str | None = None
    address: str | None = None  # the host's address on the network
    prefix: int | None = None
    ipv6: bool = False
    dhcp_range: tuple[str, str] | None = None
    hosts: tuple[DhcpHost, ...] = ()
    dns: bool = True  # False: <dns enable='no'/>, dnsmasq answers DHCP only

    @property
    def makes_bridge(self) -> bool:
        """libvirt creates (and deletes) the bridge itself: nat, route, isolated, open."""
        return self.forward in ("nat", "route", "", "open")


def network_xml(definition: NetworkDefinition) -> str:
    root = ET.Element("network")
    ET.SubElement(root, "name").text = definition.name
    if definition.forward:
        forward = ET.SubElement(root, "forward", {"mode": definition.forward})
        if definition.forward_dev:
            forward.set("dev", definition.forward_dev)
        if definition.forward == "hostdev":
            forward.set("managed", "yes")
        if definition.pf:
            ET.SubElement(forward, "pf", {"dev": definition.pf})
        for dev in definition.pool:
            ET.SubElement(forward, "interface", {"dev": dev})
    if definition.bridge:
        attributes = {"name": definition.bridge}
        if definition.makes_bridge:  # libvirt's own defaults, written out so the XML says what runs
            attributes |= {"stp": "on", "delay": "0"}
        ET.SubElement(root, "bridge", attributes)
    if definition.makes_bridge and not definition.dns:
        ET.SubElement(root, "dns", {"enable": "no"})
    if definition.address is not None:
        ip = ET.SubElement(root, "ip", {"address": definition.address, "prefix": str(definition.prefix)})
        if definition.ipv6:
            ip.set("family", "ipv6")
        if definition.dhcp_range is not None or definition.hosts:
            dhcp = ET.SubElement(ip, "dhcp")
            if definition.dhcp_range is not None:
                ET.SubElement(dhcp, "range", {"start": definition.dhcp_range[0], "end": definition.dhcp_range[1]})
            for host in definition.hosts:
                named = {"name": host.name} if host.name else {}
                ET.SubElement(dhcp, "host", {"mac": host.mac, "ip": host.ip} | named)
    ET.indent(root, "  ")
    return ET.tostring(root, encoding="unicode")
