"""Snapshot -> nmstate's desired state (pure), so that nmstate or kubernetes-nmstate can take
over what kvmtui shows. Field names are nmstate's documented ones (nmstate.io, the
"Interfaces" and "Routes" pages of its API, 2.x): `interfaces[].name/type/state/mtu/
mac-address/ipv4/ipv6`, `bridge.options/port`, `link-aggregation.mode/port/options`,
`vlan.base-iface/id/protocol`, `vxlan.id/remote/local/destination-port/base-iface`,
`veth.peer`, `mac-vlan`/`mac-vtap` `base-iface/mode`, and `routes.config[]`.

Left out, on purpose: the loopback; guests' taps and the veths of other namespaces (libvirt
and the containers make them at each start: a policy that names them would fight them);
kinds nmstate does not manage (said in `unexported`); addresses the kernel gives by itself
(IPv6 link-local) and routes it makes from an address (proto kernel). A dynamic address
(a DHCP lease, SLAAC) becomes `dhcp: true` / `autoconf: true`, not a static address.
"""

from __future__ import annotations

from dataclasses import dataclass

from kvmtui.facts import is_tap
from kvmtui.model import BondInfo, BridgeInfo, Link, MacvlanInfo, Snapshot, VlanInfo, VxlanInfo

TYPES = {None: "ethernet", "bridge": "linux-bridge", "bond": "bond", "vlan": "vlan", "vxlan": "vxlan",
         "dummy": "dummy", "veth": "veth", "macvlan": "mac-vlan", "macvtap": "mac-vtap"}
NNCP_API = "nmstate.io/v1"
# bond options nmstate passes to the kernel under these names (as sysfs spells them)
BOND_OPTIONS = ("miimon", "updelay", "downdelay", "arp_interval", "xmit_hash_policy", "ad_select", "primary",
                "primary_reselect", "fail_over_mac", "min_links", "arp_validate")


@dataclass(frozen=True, slots=True)
class NmstateExport:
    state: dict  # the desired state: {"interfaces": [...], "routes": {"config": [...]}}
    unexported: tuple[str, ...]  # "name (kind)" of the links nmstate would not manage


def nmstate_state(snapshot: Snapshot) -> NmstateExport:
    interfaces, unexported = [], []
    names = {link.ifname for link in snapshot.links if _exported(link)}
    for link in snapshot.links:
        if link.ifname not in names:
            continue
        if link.kind not in TYPES:
            unexported.append(f"{link.ifname} ({link.kind})")
            continue
        interfaces.append(_interface(link, snapshot, names))
    routes = [_route(r) for r in snapshot.routes
              if r.table == 254 and r.type == "unicast" and r.protocol not in ("kernel", "dhcp", "ra")
              and r.dev in {i["name"] for i in interfaces}]
    state: dict = {"interfaces": interfaces}
    if routes:
        state["routes"] = {"config": routes}
    return NmstateExport(state, tuple(unexported))


def export_document(snapshot: Snapshot, node: str | None) -> tuple[dict, tuple[str, ...]]:
    """The document `kvmtui export` prints: the state, or its policy for `node`."""
    found = nmstate_state(snapshot)
    return (found.state if node is None else nncp(found.state, node)), found.unexported


def nncp(state: dict, node: str, name: str | None = None) -> dict:
    """The state as a kubernetes-nmstate NodeNetworkConfigurationPolicy for one node."""
    return {"apiVersion": NNCP_API, "kind": "NodeNetworkConfigurationPolicy",
            "metadata": {"name": name or f"kvmtui-{node}"},
            "spec": {"nodeSelector": {"kubernetes.io/hostname": node}, "desiredState": state}}


def _exported(link: Link) -> bool:
    """Not the loopback, not a guest's tap, not a veth whose peer lives in another namespace."""
    return "LOOPBACK" not in link.flags and not is_tap(link) and not (link.kind == "veth" and link.link_netnsid is not None)


def _interface(link: Link, snapshot: Snapshot, names: set[str]) -> dict:
    out: dict = {"name": link.ifname, "type": TYPES[link.kind], "state": "up" if link.is_up else "down",
                 "mtu": link.mtu}
    if link.mac and link.kind not in ("vlan", "macvlan", "macvtap"):
        out["mac-address"] = link.mac.upper()
    out["ipv4"], out["ipv6"] = _ip(link, "inet"), _ip(link, "inet6")
    ports = sorted(p.ifname for p in snapshot.links if p.master == link.ifname and p.ifname in names)
    info = link.info_data
    if isinstance(info, BridgeInfo):
        out["bridge"] = {"options": {"stp": {"enabled": info.stp_state != 0, "forward-delay": info.forward_delay // 100,
                                             "hello-time": info.hello_time // 100, "max-age": info.max_age // 100,
                                             "priority": info.priority},
                                     "mac-ageing-time": info.ageing_time // 100},
                         "port": [{"name": name} for name in ports]}
    elif isinstance(info, BondInfo):
        options = {key: value for key in BOND_OPTIONS
                   if (value := getattr(info, key, None)) not in (None, "", ())}
        if info.mode == "802.3ad" and info.ad_lacp_rate:
            options["lacp_rate"] = info.ad_lacp_rate
        if info.arp_ip_target:
            options["arp_ip_target"] = ",".join(info.arp_ip_target)
        out["link-aggregation"] = {"mode": info.mode, "port": ports, "options": options}
    elif isinstance(info, VlanInfo):
        out["vlan"] = {"base-iface": link.link, "id": info.id, "protocol": info.protocol.lower()}
    elif isinstance(info, VxlanInfo):
        vxlan = {"id": info.id, "destination-port": info.port, "learning": info.learning}
        for key, value in (("remote", info.remote or info.group), ("local", info.local), ("base-iface", info.link)):
            if value:
                vxlan[key] = value
        out["vxlan"] = vxlan
    elif isinstance(info, MacvlanInfo):
        out[TYPES[link.kind]] = {"base-iface": link.link, "mode": info.mode, "promiscuous": True}
    elif link.kind == "veth" and link.link:
        out["veth"] = {"peer": link.link}
    return out


def _ip(link: Link, family: str) -> dict:
    own = [a for a in link.addresses if a.family == family and a.scope not in ("link", "host")]
    static = [{"ip": a.local, "prefix-length": a.prefixlen} for a in own if not a.dynamic]
    dynamic = any(a.dynamic for a in own)
    if family == "inet":
        out: dict = {"enabled": bool(own), "dhcp": dynamic}
    else:
        has_link_local = any(a.family == family and a.scope == "link" for a in link.addresses)
        out = {"enabled": bool(own) or has_link_local, "dhcp": False, "autoconf": dynamic}
    if static:
        out["address"] = static
    return out


def _route(route) -> dict:
    out = {"destination": ("0.0.0.0/0" if route.family == "inet" else "::/0") if route.dst == "default"
           else (route.dst if "/" in route.dst else f"{route.dst}/{32 if route.family == 'inet' else 128}"),
           "next-hop-interface": route.dev}
    if route.gateway:
        out["next-hop-address"] = route.gateway
    if route.metric is not None:
        out["metric"] = route.metric
    out["table-id"] = route.table
    return out
