"""The checks of a new libvirt network against the host, each a sentence at its field:
its name, its bridge, its subnet (against the host's routes and the other networks), the
DHCP range and static hosts, and the devices of a pool. Pure: they read a Snapshot."""

from __future__ import annotations

import ipaddress
from ipaddress import IPv4Interface, IPv6Interface

from kvmtui.model import Network, Snapshot
from kvmtui.network_xml import DhcpHost
from kvmtui.plan.validate import IFNAMSIZ, MAC, PlanError

Subnet = IPv4Interface | IPv6Interface


def check_libvirt_read(snapshot: Snapshot, field: str = "name") -> None:
    """Without libvirt's networks, a name or subnet could not be checked at all."""
    if snapshot.libvirt_error:
        raise PlanError(field, f"libvirt is not reachable, so its networks are unknown: {snapshot.libvirt_error}")
    if snapshot.host.libvirt_uri is None:
        raise PlanError(field, "libvirt was not read (--no-libvirt), so its networks are unknown")


def network_named(snapshot: Snapshot, name: str) -> Network | None:
    return next((n for n in snapshot.networks if n.name == name), None)


def check_network_name(snapshot: Snapshot, name: str) -> None:
    if not name or name.strip() != name or "/" in name:
        raise PlanError("name", f"{name!r}: a network name is not empty and has no '/' or white space around it")
    if network_named(snapshot, name) is not None:
        raise PlanError("name", f"a libvirt network named {name!r} already exists (virsh net-list --all)")


def bridge_users(snapshot: Snapshot, bridge: str) -> list[str]:
    return sorted(n.name for n in snapshot.networks if n.bridge == bridge)


def check_new_bridge(snapshot: Snapshot, bridge: str) -> None:
    """The bridge libvirt will make for a nat, route, isolated or open network."""
    size = len(bridge.encode())
    if size > IFNAMSIZ:
        raise PlanError("bridge", f"interface names are at most {IFNAMSIZ} bytes; {bridge!r} has {size}")
    if not bridge or any(c in bridge for c in "/:%") or any(c.isspace() for c in bridge):
        raise PlanError("bridge", f"{bridge!r}: interface names may not contain '/', ':', '%' or white space")
    if snapshot.link(bridge) is not None:
        raise PlanError("bridge", f"{bridge} is already in use on this host: libvirt makes this network's bridge "
                                  "itself (to put the network on an existing bridge: --forward bridge)")
    users = bridge_users(snapshot, bridge)
    if users:
        raise PlanError("bridge", f"bridge name {bridge} is already libvirt network {', '.join(users)}'s")


def free_bridge(snapshot: Snapshot) -> str:
    """virbrN, as libvirt would pick it: free on the host and in every network's XML."""
    taken = {n.bridge for n in snapshot.networks}
    return next(f"virbr{n}" for n in range(1000) if snapshot.link(f"virbr{n}") is None and f"virbr{n}" not in taken)


def check_host_bridge(snapshot: Snapshot, bridge: str | None) -> str:
    """The existing host bridge of a bridge network (the seeds' "use the host bridge")."""
    if not bridge:
        raise PlanError("bridge", "a bridge network puts guests on an existing host bridge: name it (--bridge BR)")
    link = snapshot.link(bridge)
    if link is None:
        raise PlanError("bridge", f"there is no bridge {bridge!r} on this host: create it first (kvmtui apply bridge)")
    if link.kind != "bridge":
        raise PlanError("bridge", f"{bridge} is {link.kind or 'a NIC'}, not a Linux bridge")
    return bridge


def parse_subnet(text: str) -> Subnet:
    try:
        subnet = ipaddress.ip_interface(text)
    except ValueError:
        raise PlanError("subnet", f"{text!r} is not a subnet like 192.168.100.0/24") from None
    if "/" not in text:
        raise PlanError("subnet", f"{text}: give the prefix length too, e.g. {text}/24")
    if subnet.network.num_addresses < 4:
        raise PlanError("subnet", f"{subnet.network} is too small for a network: the host and guests need addresses")
    return subnet


def gateway(subnet: Subnet) -> ipaddress.IPv4Address | ipaddress.IPv6Address:
    """The host's address on the network: the one given, or the subnet's first host."""
    return next(subnet.network.hosts()) if subnet.ip == subnet.network.network_address else subnet.ip


def check_subnet_free(snapshot: Snapshot, subnet: Subnet) -> None:
    """No route of the host and no other libvirt network may cover any part of it: guests
    would answer for addresses the host sends elsewhere (the default route aside)."""
    net = subnet.network
    for route in snapshot.routes:
        if route.dst == "default" or route.type != "unicast":
            continue
        try:
            routed = ipaddress.ip_network(route.dst, strict=False)
        except ValueError:
            continue
        if routed.version == net.version and routed.overlaps(net) and not routed.is_link_local:
            raise PlanError("subnet", f"{net} overlaps {routed}, which this host already routes via "
                                      f"{route.dev or route.gateway}: pick another subnet")
    for other in snapshot.networks:
        for address in other.addresses:
            theirs = ipaddress.ip_interface(address).network
            if theirs.version == net.version and theirs.overlaps(net):
                raise PlanError("subnet", f"{net} overlaps {theirs} of libvirt network {other.name}: pick another "
                                          "subnet")


def free_subnet(snapshot: Snapshot) -> str:
    """A 192.168.N.0/24 nothing routes and no network holds, for the wizard's default."""
    for n in range(100, 255):
        try:
            check_subnet_free(snapshot, ipaddress.ip_interface(f"192.168.{n}.0/24"))
        except PlanError:
            continue
        return f"192.168.{n}.0/24"
    return ""


def _address(text: str, field: str, subnet: Subnet, what: str):
    try:
        address = ipaddress.ip_address(text.strip())
    except ValueError:
        raise PlanError(field, f"{text.strip()!r} is not an IP address") from None
    net = subnet.network
    if address not in net or address in (net.network_address, net.broadcast_address):
        raise PlanError(field, f"{what} {address} is outside the subnet {net} (or its network or broadcast address)")
    if address == gateway(subnet):
        raise PlanError(field, f"{what} {address} is the host's own address on the network")
    return address


def check_dhcp_range(text: str, subnet: Subnet | None) -> tuple[str, str]:
    if subnet is None:
        raise PlanError("dhcp_range", "a DHCP range needs the network's subnet (--subnet)")
    start_text, dash, end_text = text.partition("-")
    if not dash:
        raise PlanError("dhcp_range", f"{text!r}: give the range as START-END, e.g. 192.168.100.10-192.168.100.200")
    start = _address(start_text, "dhcp_range", subnet, "the DHCP range's start")
    end = _address(end_text, "dhcp_range", subnet, "the DHCP range's end")
    if start > end:
        raise PlanError("dhcp_range", f"the DHCP range is reversed: {start} comes after {end}")
    return str(start), str(end)


def check_hosts(texts: tuple[str, ...], subnet: Subnet | None) -> tuple[DhcpHost, ...]:
    """MAC,IP[,NAME] each: a static DHCP lease, inside the subnet, each MAC and IP once."""
    hosts: list[DhcpHost] = []
    for text in texts:
        parts = [part.strip() for part in text.split(",")]
        if len(parts) not in (2, 3) or not all(parts):
            raise PlanError("hosts", f"{text!r}: a static host is MAC,IP or MAC,IP,NAME")
        if subnet is None:
            raise PlanError("hosts", "static DHCP hosts need the network's subnet (--subnet)")
        if subnet.version != 4:
            raise PlanError("hosts", "static hosts by MAC are for IPv4 subnets")
        mac = parts[0].lower()
        if not MAC.match(mac) or int(mac[:2], 16) & 1:
            raise PlanError("hosts", f"{parts[0]!r} is not a unicast MAC address like 52:54:00:12:34:56")
        ip = str(_address(parts[1], "hosts", subnet, "static host"))
        if any(h.mac == mac or h.ip == ip for h in hosts):
            raise PlanError("hosts", f"{mac} or {ip} is listed twice")
        hosts.append(DhcpHost(mac, ip, parts[2] if len(parts) == 3 else None))
    return tuple(hosts)


def check_devices(snapshot: Snapshot, devs: tuple[str, ...]) -> tuple[str, ...]:
    seen: set[str] = set()
    for dev in devs:
        link = snapshot.link(dev)
        if link is None:
            raise PlanError("devs", f"there is no device {dev!r} on this host")
        if "LOOPBACK" in link.flags:
            raise PlanError("devs", f"{dev} is the loopback device: nothing it sends leaves this host")
        if dev in seen:
            raise PlanError("devs", f"{dev} is listed twice")
        seen.add(dev)
    return devs
