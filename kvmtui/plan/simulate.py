"""What the host would look like after a plan (pure): the Snapshot with every step applied
to the model, so the confirmation can show the topology before and after."""

from __future__ import annotations

import ipaddress
from dataclasses import replace

from kvmtui.facts import guests_in_view
from kvmtui.model import Address, BondInfo, BridgeInfo, Domain, DomainInterface, Link, Route, Snapshot, VlanInfo
from kvmtui.plan.steps import Step


def simulate(snapshot: Snapshot, steps: tuple[Step, ...]) -> Snapshot:
    links = {link.ifname: link for link in snapshot.links}
    routes = list(snapshot.routes)
    domains = {d.name: d for d in snapshot.domains}
    next_index = max((link.ifindex for link in snapshot.links), default=0) + 1
    in_view = guests_in_view(snapshot)  # a running guest's devices are these links
    for step in steps:
        settings = dict(step.settings)
        if step.action == "link_add":
            links[step.target] = _new_link(next_index, step.target, settings)
            next_index += 1
        elif step.action == "link_del":
            links.pop(step.target, None)
            links = {n: replace(l, master=None) if l.master == step.target else l for n, l in links.items()}
        elif step.action == "link_set" and step.target in links:
            links[step.target] = _set(links[step.target], settings, links)
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
            domains[step.target], device = _guest(domains[step.target], step)
            if device is not None and in_view:  # libvirt deletes the NIC's tap or macvtap with it
                links.pop(device, None)
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


def _set(link: Link, settings: dict[str, str], links: dict[str, Link]) -> Link:
    changes: dict[str, object] = {}
    up = settings["state"] == "up" if "state" in settings else None
    if "master" in settings and (settings["master"] or None) != link.master:
        master = links.get(settings["master"]) if settings["master"] else None
        was = links.get(link.master) if link.master else None
        changes.update(master=master.ifname if master else None, slave_kind=master.kind if master else None,
                       info_slave_data=None)
        # The bonding driver opens a device it enslaves (whether the bond is up or not) and
        # closes one it releases; a bridge leaves its ports as they were.
        if master is not None and master.kind == "bond":
            up = True if up is None else up
        elif master is None and was is not None and was.kind == "bond":
            up = False if up is None else up
    if up is not None:
        flags = tuple(f for f in link.flags if f != "UP") + (("UP",) if up else ())
        changes.update(flags=flags, operstate="UP" if up else "DOWN")
    if "mtu" in settings:
        changes["mtu"] = int(settings["mtu"])
    if "address" in settings:
        changes["mac"] = settings["address"]
    if "primary" in settings and isinstance(link.info_data, BondInfo):
        changes["info_data"] = replace(link.info_data, primary=settings["primary"] or None)
    return replace(link, **changes)


def _guest(domain: Domain, step: Step) -> tuple[Domain, str | None]:
    """The guest after an attach or detach, and the host device a live detach takes away.
    A definition-only change of a running guest changes its definition, not what it runs
    with; a live attach has no device yet and is drawn where it lands."""
    from kvmtui.libvirt_xml import parse_interface_xml

    nic: DomainInterface = parse_interface_xml(step.setting("xml"))
    adding = step.action == "attach"

    def changed(nics: tuple[DomainInterface, ...]) -> tuple[DomainInterface, ...]:
        return tuple(n for n in nics if n.mac != nic.mac) + ((nic,) if adding else ())

    if domain.active and step.setting("live") != "True":
        macs = tuple(m for m in domain.defined_macs if m != nic.mac) + ((nic.mac,) if adding and nic.mac else ())
        return replace(domain, defined_interfaces=changed(domain.defined_interfaces), defined_macs=macs), None
    device = None if adding or not domain.active else next(
        (n.target for n in domain.interfaces if n.mac == nic.mac and n.target), None)
    return replace(domain, interfaces=changed(domain.interfaces)), device
