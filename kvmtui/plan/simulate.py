"""What the host would look like after a plan (pure): the Snapshot with every step applied
to the model, so the confirmation can show the topology before and after."""

from __future__ import annotations

import ipaddress
from dataclasses import replace

from kvmtui.model import Address, BondInfo, BridgeInfo, DomainInterface, Link, Route, Snapshot, VlanInfo
from kvmtui.plan.steps import Step


def simulate(snapshot: Snapshot, steps: tuple[Step, ...]) -> Snapshot:
    links = {link.ifname: link for link in snapshot.links}
    routes = list(snapshot.routes)
    domains = {d.name: d for d in snapshot.domains}
    next_index = max((link.ifindex for link in snapshot.links), default=0) + 1
    for step in steps:
        settings = dict(step.settings)
        if step.action == "link_add":
            links[step.target] = _new_link(next_index, step.target, settings)
            next_index += 1
        elif step.action == "link_del":
            links.pop(step.target, None)
            links = {n: replace(l, master=None) if l.master == step.target else l for n, l in links.items()}
        elif step.action == "link_set" and step.target in links:
            links[step.target] = _set(links[step.target], settings)
        elif step.action in ("addr_add", "addr_del") and step.target in links:
            link = links[step.target]
            iface = ipaddress.ip_interface(settings["address"])
            address = Address("inet" if iface.version == 4 else "inet6", str(iface.ip), iface.network.prefixlen, "global",
                              settings.get("label"), settings.get("broadcast"))
            kept = tuple(a for a in link.addresses if (a.local, a.prefixlen) != (address.local, address.prefixlen))
            links[step.target] = replace(link, addresses=kept + ((address,) if step.action == "addr_add" else ()))
        elif step.action == "route_add":
            routes.append(Route(settings.get("family", "inet"), settings["dst"], settings.get("via"), step.target,
                                settings.get("src"), settings.get("proto", "boot"), settings.get("scope", "global"), 254,
                                int(settings["metric"]) if "metric" in settings else None, onlink="onlink" in settings))
        elif step.action == "route_del":
            routes = [r for r in routes if not (r.dst == settings["dst"] and r.dev == step.target)]
        elif step.action in ("attach", "detach") and step.target in domains:
            domains[step.target] = _guest(domains[step.target], step)
    return replace(snapshot, links=tuple(links.values()), routes=tuple(routes), domains=tuple(domains.values()))


def _new_link(index: int, name: str, settings: dict[str, str]) -> Link:
    kind = settings["kind"]
    info = None
    if kind == "bridge":
        info = BridgeInfo(int(settings.get("stp_state", "0")), int(settings.get("forward_delay", "1500")),
                          200, 2000, 30000, 32768, False, "802.1Q", None, None)
    elif kind == "bond":
        info = BondInfo(settings["mode"], int(settings.get("miimon", "0")), 0, 0, int(settings.get("arp_interval", "0")),
                        tuple(filter(None, settings.get("arp_ip_target", "").split(","))), None, None, None, None,
                        None, settings.get("xmit_hash_policy"), settings.get("lacp_rate"), None, 0)
    elif kind == "vlan":
        info = VlanInfo(settings["protocol"], int(settings["id"]))
    return Link(index, name, kind, None, 1500, "DOWN", (), False, 0, None, settings.get("link"), None, None, None, None,
                info_data=info)


def _set(link: Link, settings: dict[str, str]) -> Link:
    changes: dict[str, object] = {}
    if "state" in settings:
        up = settings["state"] == "up"
        flags = tuple(f for f in link.flags if f != "UP") + (("UP",) if up else ())
        changes.update(flags=flags, operstate="UP" if up else "DOWN")
    if "master" in settings:
        changes["master"] = settings["master"] or None
    if "mtu" in settings:
        changes["mtu"] = int(settings["mtu"])
    if "address" in settings:
        changes["mac"] = settings["address"]
    if "primary" in settings and isinstance(link.info_data, BondInfo):
        changes["info_data"] = replace(link.info_data, primary=settings["primary"] or None)
    return replace(link, **changes)


def _guest(domain, step: Step):
    from kvmtui.libvirt_xml import parse_interface_xml

    nic: DomainInterface = parse_interface_xml(step.setting("xml"))
    kept = tuple(n for n in domain.interfaces if n.mac != nic.mac)
    return replace(domain, interfaces=kept + ((nic,) if step.action == "attach" else ()))
