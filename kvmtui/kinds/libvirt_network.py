"""A new libvirt network: defined, started and autostarted as asked (net-define).

NAT, routed, isolated and open networks get a bridge libvirt makes (and dnsmasq for their
subnet); a bridge network puts guests on an existing host bridge (the seeds' "use the host
bridge"); a macvtap pool hands out macvtaps on its devices, a hostdev pool an SR-IOV
device's VFs. A failed start undoes the definition: nothing is left defined."""

from __future__ import annotations

from dataclasses import dataclass

from kvmtui.kinds.network_checks import Subnet, bridge_users, check_devices, check_dhcp_range, check_host_bridge, \
    check_hosts, check_libvirt_read, check_network_name, check_new_bridge, check_subnet_free, free_bridge, \
    free_subnet, gateway, parse_subnet
from kvmtui.kinds.spec import KindSpec, Offer, Param, Selection, device_choices, tuple_of
from kvmtui.model import Snapshot
from kvmtui.network_xml import FORWARD_MODES, MACVTAP_MODES, NetworkDefinition, network_xml
from kvmtui.plan import steps as s
from kvmtui.plan.expect import NetworkState
from kvmtui.plan.model import Plan
from kvmtui.plan.validate import PlanError

FORWARDS = ("nat", "route", "isolated", "open", "bridge", "macvtap", "hostdev")
ROUTED = ("nat", "route", "isolated", "open")  # libvirt makes their bridge, and runs dnsmasq on their subnet
FORWARD_WORDS = {
    "nat": "NAT: guests reach out behind this host's address",
    "route": "routed: guests' addresses seen outside (add a route to them upstream)",
    "isolated": "isolated: guests and host only",
    "open": "open: routed, and libvirt adds no firewall rules",
    "bridge": "bridge: guests on an existing host bridge",
    "macvtap": "macvtap pool: guests on host NICs directly",
    "hostdev": "hostdev pool: an SR-IOV NIC's VFs passed to guests",
}


@dataclass(frozen=True, slots=True)
class DefineNetwork:
    name: str
    forward: str = "nat"
    bridge: str | None = None
    subnet: str | None = None  # "192.168.100.0/24" (the host gets .1) or "192.168.100.254/24"
    dhcp_range: str | None = None  # "START-END"
    hosts: tuple[str, ...] = ()  # "MAC,IP[,NAME]": static DHCP leases
    dns: bool = True
    devs: tuple[str, ...] = ()  # a pool's devices; nat/route: the one device to go out through
    macvtap_mode: str | None = None  # bridge (default), vepa, private, passthrough
    autostart: bool = False
    start: bool = True


def _name(snapshot: Snapshot, _: Selection) -> Offer:
    taken = {n.name for n in snapshot.networks}
    return Offer(next(f"net{n}" for n in range(1000) if f"net{n}" not in taken))


def _host_bridge(snapshot: Snapshot, selection: Selection) -> str | None:
    """The selected bridge, when it is the host's own (not a libvirt network's): the seeds'
    "use the host bridge" starts there."""
    link = snapshot.link(selection.ifname)
    return link.ifname if link is not None and link.kind == "bridge" and not bridge_users(snapshot, link.ifname) \
        else None


def _forward(snapshot: Snapshot, selection: Selection) -> Offer:
    return Offer("bridge" if _host_bridge(snapshot, selection) else "nat",
                 tuple((FORWARD_WORDS[word], word) for word in FORWARDS))


def _bridge(snapshot: Snapshot, selection: Selection) -> Offer:
    bridges = sorted(l.ifname for l in snapshot.links if l.kind == "bridge" and not bridge_users(snapshot, l.ifname))
    return Offer(_host_bridge(snapshot, selection) or free_bridge(snapshot),
                 help=f"bridge network: an existing host bridge ({', '.join(bridges) or 'none yet'}); "
                      "otherwise the new bridge libvirt makes")


def _dhcp(snapshot: Snapshot, _: Selection) -> Offer:
    """libvirt's own choice for the default network: every address but the host's."""
    subnet = free_subnet(snapshot)
    stem = subnet.rsplit(".", 1)[0]
    return Offer(f"{stem}.2-{stem}.254" if subnet else "")


def _devs(snapshot: Snapshot, _: Selection) -> Offer:
    links = [l for l in snapshot.links if l.kind not in ("bridge", "tun", "macvtap") and "LOOPBACK" not in l.flags]
    return Offer((), device_choices(links))


PARAMS = (
    Param("name", "the network's name (virsh net-list)", label="Name", offer=_name),
    Param("forward", "what the network is: " + ", ".join(FORWARDS), "--forward", choices=FORWARDS, required=True,
          label="Kind", widget="choice", offer=_forward),
    Param("bridge", "nat/route/isolated/open: the bridge libvirt makes (default: a free virbrN); bridge: the "
                    "existing host bridge", "--bridge", "BR", label="Bridge", offer=_bridge),
    Param("subnet", "nat/route/isolated/open: the host's subnet on it, e.g. 192.168.100.0/24 (the host gets .1)",
          "--subnet", "CIDR", label="Subnet (the host gets the first address)",
          offer=lambda snapshot, _: Offer(free_subnet(snapshot))),
    Param("dhcp_range", "hand out addresses from START to END (inside the subnet)", "--dhcp-range", "START-END",
          label="DHCP range START-END (empty: no DHCP)", offer=_dhcp),
    Param("hosts", "a static DHCP lease (repeat for more)", "--host", "MAC,IP[,NAME]", repeat=True, cli_default=[],
          from_cli=tuple_of, label="Static hosts MAC,IP[,NAME] (space between hosts)",
          from_form=lambda text: tuple(str(text or "").split())),
    Param("dns", "no DNS server on the network (dnsmasq answers DHCP only)", "--no-dns", flag=True,
          from_cli=lambda given: not given, label="DNS: dnsmasq answers the guests' names", widget="flag",
          form_default=True, from_form=bool),
    Param("devs", "macvtap/hostdev: a device of the pool (repeat for more); nat/route: go out through this one only",
          "--dev", "IF", repeat=True, cli_default=[], from_cli=tuple_of, label="Devices (Space selects)",
          widget="many", offer=_devs, from_form=tuple_of),
    Param("macvtap_mode", "a macvtap pool's mode (default: bridge)", "--macvtap-mode", choices=MACVTAP_MODES,
          label="Macvtap mode", widget="choice", form_default="bridge",
          form_options=tuple((mode, mode) for mode in MACVTAP_MODES)),
    Param("autostart", "start it whenever libvirtd starts (virsh net-autostart)", "--autostart", flag=True,
          label="Autostart with libvirtd", widget="flag", form_default=False, from_form=bool),
    Param("start", "define it only; do not start it", "--no-start", flag=True, from_cli=lambda given: not given,
          label="Start it now", widget="flag", form_default=True, from_form=bool),
)


def _form_fixup(values: dict) -> dict:
    """The form always holds every field; a kind without addresses or a pool drops them."""
    forward = values.get("forward")
    if forward != "macvtap":
        values = {**values, "macvtap_mode": None}
    if forward not in ROUTED:
        values = {**values, "subnet": None, "dhcp_range": None, "hosts": (), "dns": True}
    if forward not in ("macvtap", "hostdev", "nat", "route"):
        values = {**values, "devs": ()}
    if forward in ("macvtap", "hostdev"):
        values = {**values, "bridge": None}
    return values


def _refuse_unfitting(intent: DefineNetwork) -> None:
    """Options that mean nothing for this kind of network: said, not ignored."""
    kind = intent.forward
    if kind not in FORWARDS:
        raise PlanError("forward", f"{kind!r} is none of {', '.join(FORWARDS)}")
    if kind not in ROUTED:
        for field, given in (("subnet", intent.subnet), ("dhcp_range", intent.dhcp_range), ("hosts", intent.hosts),
                             ("dns", not intent.dns)):
            if given:
                raise PlanError(field, f"a {kind} network has no subnet of its own: DHCP and DNS are the wire's")
    if intent.bridge and kind in ("macvtap", "hostdev"):
        raise PlanError("bridge", f"a {kind} pool has no bridge: guests go out through its devices (--dev)")
    if intent.macvtap_mode and kind != "macvtap":
        raise PlanError("macvtap_mode", "a macvtap mode is for --forward macvtap")
    if kind in ("isolated", "open", "bridge") and intent.devs:
        raise PlanError("devs", f"a {kind} network has no devices of its own (--dev is for nat, route, macvtap and "
                                "hostdev)")
    if kind in ("nat", "route") and len(intent.devs) > 1:
        raise PlanError("devs", f"a {kind} network goes out through one device at most")
    if kind in ("macvtap", "hostdev") and not intent.devs:
        raise PlanError("devs", f"a {kind} pool needs its devices: --dev IF (repeat for more)")
    if kind == "hostdev" and len(intent.devs) > 1:
        raise PlanError("devs", "a hostdev pool is one SR-IOV device (its VFs): give one --dev")
    if kind in ("nat", "route") and not intent.subnet:
        raise PlanError("subnet", f"a {kind} network needs its subnet (--subnet CIDR)")


def definition(intent: DefineNetwork, snapshot: Snapshot) -> NetworkDefinition:
    """The checked network, ready for its XML."""
    _refuse_unfitting(intent)
    check_libvirt_read(snapshot)
    check_network_name(snapshot, intent.name)
    devs = check_devices(snapshot, intent.devs)
    if intent.forward == "bridge":
        return NetworkDefinition(intent.name, "bridge", check_host_bridge(snapshot, intent.bridge))
    if intent.forward == "macvtap":
        return NetworkDefinition(intent.name, intent.macvtap_mode or "bridge", pool=devs)
    if intent.forward == "hostdev":
        return NetworkDefinition(intent.name, "hostdev", pf=devs[0])
    bridge = intent.bridge or free_bridge(snapshot)
    check_new_bridge(snapshot, bridge)
    subnet: Subnet | None = None
    if intent.subnet:
        subnet = parse_subnet(intent.subnet)
        check_subnet_free(snapshot, subnet)
    dhcp = check_dhcp_range(intent.dhcp_range, subnet) if intent.dhcp_range else None
    hosts = check_hosts(intent.hosts, subnet)
    return NetworkDefinition(
        intent.name, FORWARD_MODES[intent.forward], bridge, devs[0] if devs else None,
        address=str(gateway(subnet)) if subnet else None, prefix=subnet.network.prefixlen if subnet else None,
        ipv6=subnet is not None and subnet.version == 6, dhcp_range=dhcp, hosts=hosts, dns=intent.dns)


def plan_define_network(intent: DefineNetwork, snapshot: Snapshot) -> Plan:
    network = definition(intent, snapshot)
    xml = network_xml(network)
    steps: list[s.Step] = [s.net_define(intent.name, xml)]
    if intent.start:
        steps.append(s.net_start(intent.name))
    if intent.autostart:
        steps.append(s.net_autostart(intent.name, True))
    warnings = []
    if intent.forward == "macvtap" and (intent.macvtap_mode or "bridge") != "passthrough":
        warnings.append("guests on a macvtap pool cannot reach this host through it (macvtap's rule), only "
                        "each other and the wire")
    if intent.forward == "bridge" and (users := bridge_users(snapshot, network.bridge or "")):
        warnings.append(f"{network.bridge} is also libvirt network {', '.join(users)}'s")
    if intent.forward in ROUTED and network.address and not network.dhcp_range and not network.hosts:
        warnings.append("no DHCP range: guests need static addresses (--dhcp-range START-END hands them out)")
    mode = network.forward or "isolated"
    expected = NetworkState(intent.name, True, intent.start, intent.autostart, mode,
                            network.bridge if network.forward in ("bridge", "nat", "route", "", "open") else None)
    return Plan(intent, f"define libvirt network {intent.name}", tuple(steps), (expected,), tuple(warnings), (xml,))


SPEC = KindSpec("net-define", DefineNetwork, PARAMS, plan_define_network,
                help="define and start a libvirt network",
                title="New libvirt network", noun="libvirt network", new_key="n",
                form_order=("name", "forward", "bridge", "subnet", "dhcp_range", "hosts", "dns", "devs", "macvtap_mode",
                            "autostart", "start"),
                form_fixup=_form_fixup)
