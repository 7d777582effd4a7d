"""Facts about a Snapshot that the topology, the audit's rules and the plans share (pure).

Only what the snapshot really holds counts: a snapshot without its kernel part, or
without libvirt, must not yield orphans or findings about what it did not read.
"""

from __future__ import annotations

import functools
import weakref
from collections import defaultdict
from collections.abc import Callable, Iterator
from typing import TypeVar
from urllib.parse import urlsplit

from kvmtui.model import TUNNEL_KINDS, Domain, DomainInterface, Link, Snapshot, TunnelInfo, VxlanInfo
from kvmtui.node_keys import guest_key, guest_uuid_of, target

T = TypeVar("T")

STACKED_KINDS = frozenset({"vlan", "macvlan", "macvtap", "ipvlan", "ipvtap"})
MACV_KINDS = frozenset({"macvlan", "macvtap"})
ZERO_MAC = "00:00:00:00:00:00"
BRIDGE_NF_CALL_IPTABLES = "net.bridge.bridge-nf-call-iptables"


def guest_nic_of(snapshot: Snapshot, key: str) -> tuple[Domain, DomainInterface] | None:
    """The guest and NIC a `guest:` key (or a reference to one) names, if it is still there."""
    uuid, key = guest_uuid_of(key), target(key)
    if uuid is None:
        return None
    for domain in snapshot.domains:
        if domain.uuid == uuid:
            return next(((domain, nic) for number, nic in enumerate(domain.interfaces)
                         if guest_key(domain, number) == key), None)
    return None


def kernel_read(snapshot: Snapshot) -> bool:
    """A collected snapshot always has links (lo at least); none means no kernel part."""
    return bool(snapshot.links)


def libvirt_read(snapshot: Snapshot) -> bool:
    """libvirt was asked and answered: the lists of domains and networks are complete."""
    return snapshot.host.libvirt_uri is not None and snapshot.libvirt_error is None


def guests_in_view(snapshot: Snapshot) -> bool:
    """The guests' host devices are in this snapshot: libvirt is this host's (not remote, not
    the test driver) and the snapshot is of the host's own namespace, where libvirt puts them."""
    if not (libvirt_read(snapshot) and kernel_read(snapshot)) or snapshot.host.netns is not None:
        return False
    uri = urlsplit(snapshot.host.libvirt_uri or "")
    return uri.netloc == "" and uri.scheme.split("+")[0] != "test"


def sysctl(snapshot: Snapshot, name: str) -> str | None:
    return next((value for key, value in snapshot.sysctls if key == name), None)


def guest_nics(snapshot: Snapshot) -> Iterator[tuple[Domain, int, DomainInterface]]:
    for domain in snapshot.domains:
        for number, nic in enumerate(domain.interfaces):
            yield domain, number, nic


def guest_subject(domain: Domain, nic: DomainInterface) -> str:
    return f"guest {domain.name}" + (f" ({nic.mac})" if nic.mac else "")


def claimed_targets(snapshot: Snapshot) -> dict[str, tuple[Domain, int, DomainInterface]]:
    """Host device name -> the running guest NIC that uses it (empty when guests are not in view)."""
    if not guests_in_view(snapshot):
        return {}
    return {nic.target: (d, n, nic) for d, n, nic in guest_nics(snapshot) if d.active and nic.target}


def libvirt_helper_tap(link: Link) -> bool:
    """libvirt before 6 kept a down tap `<bridge>-nic` on each network's bridge to pin its MAC."""
    return link.master is not None and link.ifname == f"{link.master}-nic"


def is_tap(link: Link) -> bool:
    return link.kind == "tun" and link.info_data is not None and getattr(link.info_data, "type", None) == "tap"


def is_downstream_port(link: Link) -> bool:
    """Guest-side bridge ports (as the topology reads them): taps, veths to another namespace."""
    return link.kind == "tun" or (link.kind == "veth" and link.link_netnsid is not None)


def is_nic(link: Link) -> bool:
    """Real hardware: no kind (or a parent bus), and not the loopback."""
    return (link.kind is None or link.parentbus is not None) and "LOOPBACK" not in link.flags


def ports(snapshot: Snapshot, master: str) -> list[Link]:
    return [link for link in snapshot.links if link.master == master]


def uppers(snapshot: Snapshot) -> dict[str, list[Link]]:
    """Lower device -> the VLANs, macvlans, macvtaps and ipvlans stacked on it."""
    result: dict[str, list[Link]] = defaultdict(list)
    for link in snapshot.links:
        if link.kind in STACKED_KINDS and link.link:
            result[link.link].append(link)
    return result


def global_addresses(link: Link) -> list[str]:
    """Addresses that make the device an IP endpoint (not link-local or host scope)."""
    return [f"{a.local}/{a.prefixlen}" for a in link.addresses if a.scope not in ("link", "host")]


def lands_on_bridge(snapshot: Snapshot, nic: DomainInterface, running: bool) -> str | None:
    """The bridge a guest NIC is on: its tap's master when it runs here, else what the XML says."""
    if running and nic.target and guests_in_view(snapshot):
        tap = snapshot.link(nic.target)
        if tap is not None and tap.master:
            master = snapshot.link(tap.master)
            if master is not None and master.kind == "bridge":
                return master.ifname
    if nic.bridge:
        return nic.bridge
    if nic.network:
        network = next((n for n in snapshot.networks if n.name == nic.network), None)
        return network.bridge if network is not None else None
    return None


def guest_bridges(snapshot: Snapshot) -> list[str]:
    """Bridges guests use: with a tap port, or where a running guest's NIC lands."""
    found = {link.master for link in snapshot.links if is_tap(link) and link.master and not libvirt_helper_tap(link)}
    for domain, _n, nic in guest_nics(snapshot):
        if domain.active and guests_in_view(snapshot):
            bridge = lands_on_bridge(snapshot, nic, True)
            if bridge:
                found.add(bridge)
    return sorted(b for b in found if (link := snapshot.link(b)) is not None and link.kind == "bridge")


def underlay(snapshot: Snapshot, link: Link) -> str | None:
    """The device a vxlan's or tunnel's packets leave through: its `dev` when bound to one,
    else the route to its remote (or group), else the device holding its local address.
    None for other kinds, a tunnel with neither, or one routed through itself."""
    info = link.info_data
    if not (link.kind == "vxlan" and isinstance(info, VxlanInfo)) and not (
            link.kind in TUNNEL_KINDS and isinstance(info, TunnelInfo)):
        return None
    found = info.link
    peer = info.remote or getattr(info, "group", None)
    if found is None and peer:
        found = snapshot.route_dev(peer)
    if found is None and info.local:
        found = next((device.ifname for device in snapshot.links
                      for address in device.addresses if address.local == info.local), None)
    return found if found != link.ifname and snapshot.link(found) is not None else None


def host_reach_shim(snapshot: Snapshot, lower: str | None) -> Link | None:
    """The macvlan in bridge mode on `lower` that carries a host address: through it the host
    reaches the guests' bridge-mode macvtaps there (`kvmtui apply shim`), else it cannot."""
    return next((l for l in snapshot.links if l.kind == "macvlan" and l.link == lower and lower
                 and getattr(l.info_data, "mode", None) == "bridge" and any(a.scope == "global" for a in l.addresses)),
                None)


def once_per_snapshot(build: Callable[[Snapshot], T]) -> Callable[[Snapshot], T]:
    """`build(snapshot)` remembered for the last snapshot it was asked of, which is held
    weakly: the tree, the details and the audit ask the same of one snapshot, and an old
    dashboard snapshot (with its FDB) must not outlive its use here."""
    last: list = [None, None]  # weak reference to the snapshot, its result

    @functools.wraps(build)
    def cached(snapshot: Snapshot) -> T:
        if last[0] is not None and last[0]() is snapshot:
            return last[1]
        result = build(snapshot)
        last[0], last[1] = weakref.ref(snapshot), result
        return result
    return cached


def ovs_device(snapshot: Snapshot, ifname: str) -> bool:
    """An OVS bridge's own device or an OVS port (the netdev datapath's taps): Open vSwitch's,
    not a guest's leftover (a port whose guest is gone is OVS's orphan rule)."""
    return ifname in _ovs_names(snapshot)


@once_per_snapshot
def _ovs_names(snapshot: Snapshot) -> frozenset[str]:
    if snapshot.ovs is None:
        return frozenset()
    return frozenset({b.name for b in snapshot.ovs.bridges} | {i.name for _b, _p, i in snapshot.ovs.interfaces()})
