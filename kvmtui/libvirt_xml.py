"""Pure parsers for libvirt domain and network XML (no libvirt import, no I/O).

Kept apart from the connection code (collect/libvirt.py) so every branch can be
tested against real XML samples without a daemon, and so that the plans' simulation
and the checks of a recorded snapshot can read guest XML without reaching into collect/.

Decisions worth knowing:

* Interfaces are the `devices/interface` children only, in document order. A
  `<hostdev mode='capabilities' type='net'>` (an LXC guest given a whole host
  netdev) is a guest NIC too, so it becomes a DomainInterface of type "hostdev"
  whose `source` and `dev` are the host device name. Nested `<interface>`
  elements anywhere else are never interfaces.
* `source` is the one human-facing source: the network name when the interface
  names one (also for live XML of a network interface that libvirt shows with
  its actual type, e.g. type='bridge' with `<source network=... bridge=...>`),
  else the bridge, the direct (macvtap) lower device, the vhostuser socket
  path, the vdpa device, the hostdev PCI address, "address:port" for the
  socket types (server/client/mcast/udp), or None (user, ethernet, ...).
* type='direct' without `mode` is "vepa", libvirt's default.
* `<forward>` without `mode` is "nat" (libvirt's default); no `<forward>` at
  all is "isolated".
* A `<hostdev mode='subsystem' type='pci'>` is no NIC to libvirt (no MAC, no model):
  its source PCI address lands in `Domain.pci_hostdevs`, which names the guest
  holding an SR-IOV VF given that way.
* A hostdev network pool given as PCI addresses lands in `Network.interfaces`
  as "0000:03:00.1" strings, next to the netdev pools.
* A network's own `<vlan>` and its `<portgroup>`s are kept as written; which one
  a guest interface ends up on is `model.libvirt.effective_vlan`'s business, since
  it needs the domain and the network together.
* `<virtualport><parameters>` attributes are kept verbatim as (name, value) pairs:
  they are the IDs an OVS or 802.1Qbg/Qbh switch knows the port by.
* Each interface also keeps its element whole (`DomainInterface.xml`, indentation
  dropped): a detach's rollback re-attaches that, not a rebuilt minimal one.
"""

from __future__ import annotations

import copy
import ipaddress
import xml.etree.ElementTree as ET

from kvmtui.errors import KvmtuiError
from kvmtui.model.libvirt import Domain, DomainInterface, Network, Portgroup

__all__ = ["LibvirtXmlError", "parse_domain_xml", "parse_network_xml", "pci_address"]

# Types whose <source address port> is a socket endpoint.
_SOCKET_TYPES = frozenset({"server", "client", "mcast", "udp"})


class LibvirtXmlError(KvmtuiError):
    """libvirt handed us XML we cannot read; names the object when it can."""


# libvirt's own documents are a handful of levels deep; copying or printing an element
# recurses once per level, so a deeper one is refused before it can exhaust the stack.
MAX_XML_DEPTH = 64


def check_element_xml(xml: str, tags: tuple[str, ...]) -> ET.Element:
    """The parsed element, refusing (with a sentence, expat's complaint included) what is
    not well-formed, nests past MAX_XML_DEPTH, or is not one of `tags`."""
    parser = ET.XMLPullParser(("start", "end"))
    root, depth = None, 0
    try:
        parser.feed(xml)
        parser.close()  # also refuses no element at all, or one cut short
    except (ET.ParseError, UnicodeEncodeError) as exc:  # a lone surrogate is no text either
        raise LibvirtXmlError(f"the {tags[0]} XML is not well-formed: {exc}") from None
    for event, element in parser.read_events():
        root = element if root is None else root
        depth += 1 if event == "start" else -1
        if depth > MAX_XML_DEPTH:
            raise LibvirtXmlError(f"the {tags[0]} XML nests elements more than {MAX_XML_DEPTH} deep")
    if root.tag not in tags:
        raise LibvirtXmlError(f"expected a <{tags[0]}> document, got <{root.tag}>")
    return root


def _root(xml: str, kind: str) -> ET.Element:
    return check_element_xml(xml, (kind,))


def _text(root: ET.Element, path: str) -> str | None:
    node = root.find(path)
    if node is None or node.text is None:
        return None
    text = node.text.strip()
    return text or None


def _c_int(value: str) -> int:
    """Read a number the way libvirt does (strtol base 0: 0x.. hex, 0.. octal)."""
    value = value.strip()
    lower = value.lower()
    if lower.startswith("0x"):
        return int(lower[2:], 16)
    if len(value) > 1 and value.startswith("0"):
        return int(value[1:], 8)
    return int(value, 10)


def pci_address(node: ET.Element | None) -> str | None:
    """`<address type='pci' domain= bus= slot= function=/>` -> "0000:03:00.1"."""
    if node is None or node.get("type", "pci") != "pci":
        return None
    try:
        domain = _c_int(node.get("domain", "0"))
        bus = _c_int(node.get("bus", "0"))
        slot = _c_int(node.get("slot", "0"))
        function = _c_int(node.get("function", "0"))
    except ValueError:
        return None
    return f"{domain:04x}:{bus:02x}:{slot:02x}.{function:x}"


def _mac(value: str | None) -> str | None:
    return value.lower() if value else None


def _vlan(node: ET.Element) -> tuple[tuple[int, ...], bool]:
    vlan = node.find("vlan")
    if vlan is None:
        return (), False
    tags = []
    for tag in vlan.findall("tag"):
        try:
            tags.append(int(tag.get("id", "")))
        except ValueError:
            continue
    return tuple(tags), vlan.get("trunk") == "yes"


def _virtualport(node: ET.Element) -> str | None:
    """The virtualport type; "" for a typeless one (libvirt fills it in later)."""
    port = node.find("virtualport")
    if port is None:
        return None
    return port.get("type", "")


def _virtualport_params(node: ET.Element) -> tuple[tuple[str, str], ...]:
    params = node.find("virtualport/parameters")
    return tuple(params.attrib.items()) if params is not None else ()


def _mtu(node: ET.Element) -> int | None:
    """`<mtu size>`, decimal as libvirt reads it; None when absent or unreadable."""
    mtu = node.find("mtu")
    try:
        return int(mtu.get("size", "")) if mtu is not None else None
    except ValueError:
        return None


def element_xml(node: ET.Element) -> str:
    """One element as a compact string: libvirt's indentation dropped, nothing else."""
    node = copy.deepcopy(node)
    for child in node.iter():
        if child.text is not None and not child.text.strip():
            child.text = None
        if child.tail is not None and not child.tail.strip():
            child.tail = None
    node.tail = None
    return ET.tostring(node, encoding="unicode")


def _endpoint(source: ET.Element | None) -> str | None:
    if source is None or source.get("port") is None:
        return None
    address = source.get("address") or "*"
    if ":" in address:
        address = f"[{address}]"
    return f"{address}:{source.get('port')}"


def _interface(node: ET.Element) -> DomainInterface:
    """One `devices/interface` element."""
    kind = node.get("type", "")
    source = node.find("source")
    attr = source.attrib if source is not None else {}
    mac = node.find("mac")
    model = node.find("model")
    target = node.find("target")
    link = node.find("link")
    alias = node.find("alias")
    backend = node.find("backend")

    network = attr.get("network") or None
    bridge = attr.get("bridge") or None
    dev = attr.get("dev") or None
    mode = None
    address = None
    if kind == "direct":
        mode = attr.get("mode") or "vepa"
    if kind == "hostdev" and source is not None:
        address = pci_address(source.find("address"))

    if network:
        shown = network
    elif kind in ("bridge", "network"):
        shown = bridge
    elif kind in ("direct", "vdpa"):
        shown = dev
    elif kind == "vhostuser":
        shown = attr.get("path") or None
    elif kind == "hostdev":
        shown = address
    elif kind in _SOCKET_TYPES:
        shown = _endpoint(source)
    else:
        shown = None

    tags, trunk = _vlan(node)
    return DomainInterface(
        type=kind,
        mac=_mac(mac.get("address") if mac is not None else None),
        model=model.get("type") if model is not None else None,
        target=(target.get("dev") or None) if target is not None else None,
        source=shown,
        bridge=bridge,
        network=network,
        portgroup=attr.get("portgroup") or None,
        dev=dev if kind == "direct" else None,
        mode=mode,
        link_state=link.get("state") if link is not None else None,
        vlan_tags=tags,
        vlan_trunk=trunk,
        virtualport=_virtualport(node),
        alias=alias.get("name") if alias is not None else None,
        address=address,
        backend=backend.get("type") if backend is not None else None,
        mtu=_mtu(node),
        virtualport_params=_virtualport_params(node),
        xml=element_xml(node),
    )


def _capabilities_nic(node: ET.Element) -> DomainInterface | None:
    """`<hostdev mode='capabilities' type='net'><source><interface>wlan0`: a whole host NIC."""
    name = _text(node, "source/interface")
    if name is None:
        return None
    alias = node.find("alias")
    return DomainInterface(
        type="hostdev", mac=None, model=None, target=None, source=name, bridge=None,
        network=None, portgroup=None, dev=name, mode=None, link_state=None,
        alias=alias.get("name") if alias is not None else None, xml=element_xml(node),
    )


def parse_domain_xml(xml: str, *, state: str, id: int | None, persistent: bool) -> Domain:
    """A Domain from `virDomainGetXMLDesc` output; state/id/persistent come from the API."""
    root = _root(xml, "domain")
    name = _text(root, "name")
    if name is None:
        raise LibvirtXmlError("the domain XML has no <name>")
    interfaces: list[DomainInterface] = []
    pci_hostdevs: list[str] = []
    devices = root.find("devices")
    for child in devices if devices is not None else ():
        if child.tag == "interface":
            interfaces.append(_interface(child))
        elif (child.tag == "hostdev" and child.get("mode") == "capabilities"
              and child.get("type") == "net"):
            nic = _capabilities_nic(child)
            if nic is not None:
                interfaces.append(nic)
        elif child.tag == "hostdev" and child.get("mode", "subsystem") == "subsystem" and child.get("type") == "pci":
            address = pci_address(child.find("source/address"))
            if address is not None:
                pci_hostdevs.append(address)
    return Domain(
        name=root.findtext("name"),  # untrimmed: libvirt names are taken verbatim
        uuid=_text(root, "uuid") or "",
        state=state,
        id=id,
        persistent=persistent,
        interfaces=tuple(interfaces),
        pci_hostdevs=tuple(pci_hostdevs),
    )


def _prefix(ip: ET.Element, address: str) -> int:
    """The prefix length libvirt would use: prefix, else netmask, else the default."""
    version = ipaddress.ip_address(address).version
    if ip.get("prefix"):
        return int(ip.get("prefix"))
    if ip.get("netmask"):
        return ipaddress.ip_network(f"0.0.0.0/{ip.get('netmask')}").prefixlen
    if version == 6:
        return 64
    first = int(address.split(".")[0])  # classful, as libvirt falls back to
    return 8 if first < 128 else 16 if first < 192 else 24


def _addresses(root: ET.Element, name: str) -> tuple[str, ...]:
    out = []
    for ip in root.findall("ip"):
        address = ip.get("address")
        if not address:
            continue
        try:
            out.append(str(ipaddress.ip_interface(f"{address}/{_prefix(ip, address)}")))
        except ValueError as exc:
            raise LibvirtXmlError(f"network {name!r} has an invalid <ip>: {exc}") from None
    return tuple(out)


def _portgroup(node: ET.Element) -> Portgroup:
    tags, trunk = _vlan(node)
    return Portgroup(
        name=node.get("name", ""),
        default=node.get("default") == "yes",
        vlan_tags=tags,
        vlan_trunk=trunk,
        virtualport=_virtualport(node),
        virtualport_params=_virtualport_params(node),
    )


def parse_network_xml(xml: str, *, active: bool, persistent: bool, autostart: bool) -> Network:
    """A Network from `virNetworkGetXMLDesc` output; the flags come from the API."""
    root = _root(xml, "network")
    name = _text(root, "name")
    if name is None:
        raise LibvirtXmlError("the network XML has no <name>")
    forward = root.find("forward")
    if forward is None:
        mode, forward_dev, pool, pf = "isolated", None, (), None
    else:
        mode = forward.get("mode") or "nat"
        forward_dev = forward.get("dev") or None
        pool = tuple(
            dev for dev in (i.get("dev") for i in forward.findall("interface")) if dev
        ) + tuple(
            pci for pci in (pci_address(a) for a in forward.findall("address")) if pci
        )
        pf_node = forward.find("pf")
        pf = (pf_node.get("dev") or None) if pf_node is not None else None
    bridge = root.find("bridge")
    mac = root.find("mac")
    tags, trunk = _vlan(root)
    return Network(
        name=root.findtext("name"),
        uuid=_text(root, "uuid"),
        active=active,
        persistent=persistent,
        autostart=autostart,
        forward=mode,
        bridge=(bridge.get("name") or None) if bridge is not None else None,
        forward_dev=forward_dev,
        interfaces=pool,
        pf=pf,
        virtualport=_virtualport(root),
        addresses=_addresses(root, name),
        mac=_mac(mac.get("address") if mac is not None else None),
        vlan_tags=tags,
        vlan_trunk=trunk,
        virtualport_params=_virtualport_params(root),
        portgroups=tuple(_portgroup(group) for group in root.findall("portgroup")),
        xml=xml,
    )


def parse_interface_xml(xml: str) -> DomainInterface:
    """One <interface> element on its own, as attach/detach steps carry it."""
    return _interface(_root(xml, "interface"))
