"""Guest rules: NICs whose host side is missing or wrong, taps nobody owns, macvtap
traps, and MACs that clash. Rules about host devices run only when the guests' devices
live in the snapshot's namespace and libvirt answered (see facts.guests_in_view)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass

from kvmtui.audit.findings import Finding
from kvmtui.facts import (
    MACV_KINDS,
    STACKED_KINDS,
    claimed_targets,
    global_addresses,
    guest_nics,
    guest_subject,
    guests_in_view,
    is_tap,
    lands_on_bridge,
    libvirt_helper_tap,
    libvirt_read,
    ovs_device,
)
from kvmtui.foreign import not_libvirts
from kvmtui.model import MacvlanInfo, Network, Snapshot
from kvmtui.node_keys import guest_key, link_key

RULES = {
    "guest-target-missing": "a running guest's interface whose host device does not exist",
    "guest-orphan-tap": "a tap that no running guest claims",
    "guest-network-inactive": "a guest on a libvirt network that is inactive or does not exist",
    "guest-macvtap-vepa": "a macvtap in VEPA mode: guest-to-guest traffic needs hairpin on the switch",
    "guest-macvtap-host": "a macvtap guest: traffic between it and the host does not pass",
    "guest-passthrough-shared": "the lower device of a passthrough macvtap is used by something else too",
    "guest-duplicate-mac": "two guest NICs with the same MAC on the same network",
}

NO_HOST_DEVICE = frozenset({"hostdev", "vhostuser", "user", "vdpa", "server", "client", "mcast", "udp", "null"})


def target_missing(snapshot: Snapshot) -> Iterator[Finding]:
    if not guests_in_view(snapshot):
        return
    for domain, number, nic in guest_nics(snapshot):
        if not domain.active or not nic.target or nic.type in NO_HOST_DEVICE or snapshot.link(nic.target):
            continue
        yield Finding(
            "guest-target-missing", "error", guest_key(domain, number), guest_subject(domain, nic),
            f"guest {domain.name}'s {nic.type} interface uses {nic.target}, which does not exist",
            "the guest's NIC is connected to nothing: it has no network although it looks up "
            "inside the guest",
            "re-plug the interface: detach it and attach it again (virsh detach-device/"
            "attach-device --live with its XML), or restart the guest",
            (f"virsh domiflist {domain.name}",),
        )


def orphan_tap(snapshot: Snapshot) -> Iterator[Finding]:
    if not guests_in_view(snapshot):
        return
    claimed = claimed_targets(snapshot)
    for link in snapshot.links:
        if not is_tap(link) or link.ifname in claimed or libvirt_helper_tap(link) or ovs_device(snapshot, link.ifname):
            continue
        if not_libvirts(snapshot, link.ifname) is not None:  # a tap on lxcbr0, vboxnet0...: not a guest's leftover
            continue
        where = f" (port of {link.master})" if link.master else ""
        if link.carrier:
            yield Finding(
                "guest-orphan-tap", "info", link_key(link.ifname), link.ifname,
                f"tap {link.ifname}{where} is held open by a program, but no running libvirt guest claims it",
                "a guest started outside libvirt (or another program) uses it: kvmtui cannot tell "
                "who is behind it",
                "nothing to do if you know the program; otherwise find it",
                (f"ip -d link show dev {link.ifname}",),
            )
        else:
            yield Finding(
                "guest-orphan-tap", "warning", link_key(link.ifname), link.ifname,
                f"tap {link.ifname}{where} has no program attached and no running guest claims it",
                "it is the leftover of a guest that died or a script that did not clean up: "
                "it clutters the bridge and may keep a stale name that a new guest wants",
                "delete it",
                (f"ip link del dev {link.ifname}",),
            )


def network_inactive(snapshot: Snapshot) -> Iterator[Finding]:
    if not libvirt_read(snapshot):
        return
    networks = {n.name: n for n in snapshot.networks}
    for domain, number, nic in guest_nics(snapshot):
        if not nic.network:
            continue
        network = networks.get(nic.network)
        if network is not None and network.active:
            continue
        missing = network is None
        state = "does not exist" if missing else "is inactive"
        yield Finding(
            "guest-network-inactive", "error" if domain.active else "warning",
            guest_key(domain, number), guest_subject(domain, nic),
            f"guest {domain.name} ({domain.state}) uses libvirt network {nic.network}, which {state}",
            "the running guest is cut off: its NIC is attached to no bridge" if domain.active
            else "the guest will not start",
            (f"define the network {nic.network}, or change the guest's interface" if missing
             else "start the network and mark it autostart")
            + ("; a running guest's interface must then be re-plugged (detach/attach) or the guest restarted"
               if domain.active else ""),
            () if missing else (f"virsh net-start {nic.network}", f"virsh net-autostart {nic.network}"),
        )


@dataclass(frozen=True, slots=True)
class _Macvtap:
    """A macvtap a guest uses (or will use), from libvirt or the kernel."""

    key: str
    subject: str
    name: str  # the device, or the domain's name when it is not running
    label: str  # "guest web1's NIC (macvtap3)" or the device's name
    lower: str | None  # None: one of a network's pool, not known until the guest runs
    mode: str  # the kernel's words: vepa, bridge, private, passthru, source
    domain: str | None
    network: str | None = None
    pool: str | None = None  # "eth1, eth2 or eth3" when lower is not known

    @property
    def on(self) -> str:
        return self.lower or self.pool or "its lower device"


MACVTAP_FORWARDS = frozenset({"vepa", "private", "passthrough", "bridge"})


def _macvtap_network(snapshot: Snapshot, name: str | None) -> Network | None:
    """A libvirt network that hands out macvtaps: forward mode vepa, private, passthrough,
    or bridge without a host bridge (a pool of `<interface dev>`s or a `pf`)."""
    network = next((n for n in snapshot.networks if name and n.name == name), None)
    if network is None or network.forward not in MACVTAP_FORWARDS:
        return None
    if network.forward == "bridge" and (network.bridge or network.virtualport == "openvswitch"
                                        or not (network.interfaces or network.forward_dev)):
        return None
    return network


def _from_network(network: Network) -> tuple[str | None, str, str | None]:
    """(lower, mode, pool) of a guest on a macvtap network, before libvirt picks a device."""
    devices = network.interfaces or ((network.forward_dev,) if network.forward_dev else ())
    mode = "passthru" if network.forward == "passthrough" else network.forward
    if len(devices) == 1:
        return devices[0], mode, None
    if devices:
        return None, mode, ", ".join(devices[:-1]) + f" or {devices[-1]}"
    return None, mode, f"a VF of {network.pf}" if network.pf else None


def _macvtaps(snapshot: Snapshot) -> list[_Macvtap]:
    result = []
    claimed = set()
    here = guests_in_view(snapshot)
    for domain, number, nic in guest_nics(snapshot):
        network = _macvtap_network(snapshot, nic.network) if nic.type == "network" else None
        if nic.type != "direct" and network is None:
            continue
        link = snapshot.link(nic.target) if domain.active and here else None
        pool = None
        if link is not None and isinstance(link.info_data, MacvlanInfo):
            claimed.add(link.ifname)
            lower, mode = link.link, link.info_data.mode
        elif network is not None:
            lower, mode, pool = _from_network(network)
        else:
            lower, mode = nic.dev, "passthru" if nic.mode == "passthrough" else (nic.mode or "vepa")
        label = f"guest {domain.name}'s NIC" + (f" ({nic.target})" if nic.target else "")
        result.append(_Macvtap(guest_key(domain, number), guest_subject(domain, nic),
                               nic.target or domain.name, label, lower, mode, domain.name, nic.network, pool))
    for link in snapshot.links:
        if link.kind == "macvtap" and link.ifname not in claimed and isinstance(link.info_data, MacvlanInfo):
            result.append(_Macvtap(link_key(link.ifname), link.ifname, link.ifname, link.ifname, link.link,
                                   link.info_data.mode, None))
    return result


def _neighbours(snapshot: Snapshot, tap: _Macvtap, taps: list[_Macvtap]) -> list[str]:
    """Who else sits on the same lower device: guests' macvtaps, other macvtaps, macvlans
    (nobody known while the device is one of a pool, picked when the guest starts)."""
    if tap.lower is None:
        return []
    names = [t.label if t.domain else f"macvtap {t.name}" for t in taps if t.lower == tap.lower and t.key != tap.key]
    names += [f"macvlan {l.ifname}" for l in snapshot.links if l.kind == "macvlan" and l.link == tap.lower]
    return sorted(set(names))


def macvtap_vepa(snapshot: Snapshot) -> Iterator[Finding]:
    taps = _macvtaps(snapshot)
    for tap in taps:
        if tap.mode != "vepa":
            continue
        others = _neighbours(snapshot, tap, taps)
        if tap.network:
            fix, fix_cmd = (f"use forward mode 'bridge' in network {tap.network} (<forward mode='bridge'>; "
                            "guests pick it up when their interface is re-plugged)"), (f"virsh net-edit {tap.network}",)
        else:
            fix = ("use mode 'bridge' (<source dev=... mode='bridge'/> in the guest's XML; libvirt's "
                   "default is vepa)")
            fix_cmd = (f"virsh edit {tap.domain}",) if tap.domain else \
                (f"ip link set dev {tap.name} type macvtap mode bridge",)
        yield Finding(
            "guest-macvtap-vepa", "warning" if others else "info", tap.key, tap.subject,
            f"{tap.label} is a macvtap in VEPA mode on {tap.on}"
            + (f" (libvirt network {tap.network})" if tap.network else "")
            + (f", with {', '.join(others)} on the same device" if others else ""),
            f"in VEPA mode, frames between guests on {tap.on} leave through that device and "
            "come back only if the switch port reflects them (hairpin / reflective relay): "
            "without it guests on this host cannot reach each other",
            fix + ", or turn on reflective relay on the switch port",
            fix_cmd,
        )


def _host_macvlan_bridge(snapshot: Snapshot, lower: str | None) -> bool:
    """The usual cure: the host's address on a macvlan in bridge mode on the same lower."""
    return any(l.kind == "macvlan" and l.link == lower and isinstance(l.info_data, MacvlanInfo)
               and l.info_data.mode == "bridge" and global_addresses(l) for l in snapshot.links)


def macvtap_host(snapshot: Snapshot) -> Iterator[Finding]:
    for tap in _macvtaps(snapshot):
        if tap.mode == "passthru" or (tap.mode == "bridge" and _host_macvlan_bridge(snapshot, tap.lower)):
            continue
        yield Finding(
            "guest-macvtap-host", "info", tap.key, tap.subject,
            f"{tap.label} is a macvtap ({tap.mode}) on {tap.on}: the host cannot talk to "
            "the guest through it",
            f"macvtap hands frames to the wire past the host's own stack on {tap.on}, so "
            "host-to-guest traffic does not pass (guest-to-wire does)",
            "if the host must reach the guest, give the host a macvlan in bridge mode on "
            f"{tap.lower or 'the device the guest uses'} and move the host's address there (and use "
            "bridge mode for the macvtap), or put the guest on a bridge",
            (f"ip link add link {tap.lower or 'NIC'} name macvlan-host type macvlan mode bridge",),
        )


def passthrough_shared(snapshot: Snapshot) -> Iterator[Finding]:
    taps = _macvtaps(snapshot)
    stacked = defaultdict(list)
    for link in snapshot.links:
        if link.kind in STACKED_KINDS - MACV_KINDS and link.link:
            stacked[link.link].append(link.ifname)
    for tap in taps:
        if tap.mode != "passthru" or not tap.lower:
            continue
        users = _neighbours(snapshot, tap, taps)
        users += [f"VLAN {n}" for n in stacked.get(tap.lower, ())]
        lower = snapshot.link(tap.lower)
        if lower is not None:
            users += [f"the host's address {a}" for a in global_addresses(lower)]
            if lower.master:
                users.append(f"its master {lower.master}")
        users += [f"libvirt network {n.name}" for n in snapshot.networks
                  if n.name != tap.network and tap.lower in (n.forward_dev, n.pf, *n.interfaces)]
        if not users:
            continue
        yield Finding(
            "guest-passthrough-shared", "error", tap.key, tap.subject,
            f"{tap.label} takes {tap.lower} over in passthrough mode, but {tap.lower} is also "
            f"used by {', '.join(users)}",
            "passthrough gives the whole device (and its MAC) to one guest: everything else "
            "on it loses its traffic, and a second guest cannot start",
            f"give {tap.lower} to the guest alone, or use mode 'bridge' (or a VF) instead",
            () if not tap.domain else (f"virsh edit {tap.domain}",),
        )


def _segment(snapshot: Snapshot, domain, nic) -> tuple[str, str] | None:
    """The layer-2 network a guest NIC joins, or None when it cannot be told."""
    if nic.type == "direct":
        link = snapshot.link(nic.target) if domain.active and nic.target and guests_in_view(snapshot) else None
        lower = link.link if link is not None and link.link else nic.dev
        return ("device", lower) if lower else None
    bridge = lands_on_bridge(snapshot, nic, domain.active)
    if bridge:
        return ("bridge", bridge)
    return ("network", nic.network) if nic.network else None


def duplicate_mac(snapshot: Snapshot) -> Iterator[Finding]:
    groups = defaultdict(list)
    for domain, number, nic in guest_nics(snapshot):
        if not nic.mac or nic.type in NO_HOST_DEVICE:
            continue
        segment = _segment(snapshot, domain, nic)
        if segment is not None:
            groups[(nic.mac.lower(), segment)].append((not domain.active, domain.name, number, domain, nic))
    for (mac, (_kind, where)), members in sorted(groups.items()):
        if len(members) < 2:
            continue
        members.sort(key=lambda m: m[:3])
        _, _, number, domain, nic = members[0]
        names = ", ".join(f"{d.name} ({d.state})" for _s, _n, _i, d, _c in members)
        both = sum(1 for m in members if not m[0]) >= 2
        yield Finding(
            "guest-duplicate-mac", "error" if both else "warning", guest_key(domain, number), f"MAC {mac}",
            f"{len(members)} guest NICs on {where} have MAC {mac}: {names}",
            "two NICs with one MAC on one network steal each other's traffic"
            + ("" if both else " as soon as both run (a cloned guest keeps its original's MAC)"),
            "give each NIC its own MAC (remove the <mac> line in virsh edit and libvirt "
            "generates one)",
            tuple(dict.fromkeys(f"virsh edit {d.name}" for _s, _n, _i, d, _c in members)),
        )


CHECKS = (target_missing, orphan_tap, network_inactive, macvtap_vepa, macvtap_host, passthrough_shared, duplicate_mac)
