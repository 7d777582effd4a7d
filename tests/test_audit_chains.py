"""Audit rules that follow a device to what is above or below it, on real topologies in
namespaces (kernel only): what explains a promiscuous NIC, which device a vxlan without
`dev` sends through, and which bridge ports are uplinks that can loop."""

from __future__ import annotations

from dataclasses import replace

from kvmtui.audit import audit
from kvmtui.collect.snapshot import collect_snapshot
from kvmtui.model import Snapshot
from tests.helpers import sh
from tests.topologies import ip


def as_nics(snapshot: Snapshot, *names: str) -> Snapshot:
    """The snapshot with these veths standing in for hardware NICs (no kind), the way
    a host without a NIC to spare must test NIC rules; everything else is as collected."""
    return replace(snapshot, links=tuple(replace(l, kind=None, info_data=None) if l.ifname in names else l
                                         for l in snapshot.links))


def found(snapshot: Snapshot) -> set[tuple[str, str]]:
    return {(f.rule, f.key) for f in audit(snapshot)}


def veth(ns: str, name: str, *, up: bool = True) -> None:
    ip(ns, "link", "add", name, "type", "veth", "peer", "name", f"{name}p")
    if up:
        for dev in (name, f"{name}p"):
            ip(ns, "link", "set", dev, "up")


def test_promiscuous_nic_is_explained_only_by_what_is_above_it(netns):
    """kt-n0 promiscuous alone (a capture left running); kt-n1 a bridge port (promiscuous
    by design); kt-n2 promiscuous under a macvlan. Only kt-n0 is reported."""
    for name in ("kt-n0", "kt-n1", "kt-n2"):
        veth(netns, name)
    ip(netns, "link", "add", "kt-br", "type", "bridge")
    ip(netns, "link", "set", "kt-n1", "master", "kt-br")
    ip(netns, "link", "set", "kt-br", "up")
    ip(netns, "link", "add", "kt-mv", "link", "kt-n2", "type", "macvlan", "mode", "bridge")
    for name in ("kt-n0", "kt-n2"):
        ip(netns, "link", "set", name, "promisc", "on")
    snap = as_nics(collect_snapshot(netns, with_libvirt=False), "kt-n0", "kt-n1", "kt-n2")
    assert all(snap.link(n).promiscuity > 0 for n in ("kt-n0", "kt-n1", "kt-n2"))
    (finding,) = audit(snap)
    assert (finding.rule, finding.key) == ("host-promisc-nic", "link:kt-n0")
    assert finding.commands == ("ss -f link -p", "ip link set dev kt-n0 promisc off")
    ip(netns, "link", "set", "kt-n0", "promisc", "off")
    assert found(as_nics(collect_snapshot(netns, with_libvirt=False), "kt-n0", "kt-n1", "kt-n2")) == set()


def vxlan_by_local(ns: str) -> None:
    """kt-u0 (veth, 10.0.0.1/24, MTU 1500) <- vxl: vxlan with `local 10.0.0.1` only (no dev,
    no remote: its peers come from the FDB), MTU 1500 as the kernel gives it."""
    veth(ns, "kt-u0")
    ip(ns, "addr", "add", "10.0.0.1/24", "dev", "kt-u0")
    ip(ns, "link", "add", "vxl", "type", "vxlan", "id", "7", "dstport", "4789", "local", "10.0.0.1", "nolearning")
    ip(ns, "link", "set", "vxl", "up")


def test_vxlan_underlay_found_from_its_local_address(netns):
    vxlan_by_local(netns)
    (finding,) = audit(collect_snapshot(netns, with_libvirt=False))
    assert (finding.rule, finding.key) == ("mtu-vxlan-underlay", "link:vxl")
    assert "underlay kt-u0 only 1500 (needs 1550" in finding.what
    ip(netns, "link", "set", "kt-u0", "mtu", "1550")
    assert found(collect_snapshot(netns, with_libvirt=False)) == set()


def test_vxlan_underlay_found_from_its_fdb_destinations(netns):
    """Peers in the FDB (as EVPN or a script puts them): each `dst` is routed, and the
    tightest device counts, here kt-u1 (1500) rather than the roomy kt-u0 (1550)."""
    vxlan_by_local(netns)
    ip(netns, "link", "set", "kt-u0", "mtu", "1550")
    sh("bridge", "-n", netns, "fdb", "append", "00:00:00:00:00:00", "dev", "vxl", "dst", "10.0.0.2")
    snap = collect_snapshot(netns, with_libvirt=False)
    assert any(e.ifname == "vxl" and e.dst == "10.0.0.2" for e in snap.fdb)
    assert found(snap) == set()
    veth(netns, "kt-u1")
    ip(netns, "addr", "add", "10.1.0.1/24", "dev", "kt-u1")
    sh("bridge", "-n", netns, "fdb", "append", "00:00:00:00:00:00", "dev", "vxl", "dst", "10.1.0.2")
    (finding,) = audit(collect_snapshot(netns, with_libvirt=False))
    assert (finding.rule, finding.key) == ("mtu-vxlan-underlay", "link:vxl")
    assert "underlay kt-u1 only 1500 (needs 1550" in finding.what
    assert finding.commands == ("ip link set dev vxl mtu 1450",)
    ip(netns, "link", "set", "vxl", "mtu", "1450")
    assert found(collect_snapshot(netns, with_libvirt=False)) == set()


def test_vxlan_ports_count_as_uplinks_of_a_bridge_without_stp(netns):
    """kt-brv (STP off) with vxlan ports to two remotes over kt-w: two tunnels, or a
    tunnel and a wire, can reach the same network and loop like two cables."""
    veth(netns, "kt-w")
    ip(netns, "addr", "add", "10.9.0.1/24", "dev", "kt-w")
    ip(netns, "link", "add", "kt-brv", "type", "bridge", "stp_state", "0")
    for name, vni, remote in (("vxa", "1", "10.9.0.2"), ("vxb", "2", "10.9.0.3")):
        ip(netns, "link", "add", name, "type", "vxlan", "id", vni, "dstport", "4789",
           "remote", remote, "local", "10.9.0.1", "dev", "kt-w")
    for dev in ("kt-brv", "vxa", "vxb"):
        ip(netns, "link", "set", dev, "up")
    ip(netns, "link", "set", "vxa", "master", "kt-brv")
    assert found(collect_snapshot(netns, with_libvirt=False)) == set()  # one uplink: no loop
    ip(netns, "link", "set", "vxb", "master", "kt-brv")
    (finding,) = audit(collect_snapshot(netns, with_libvirt=False))
    assert (finding.rule, finding.key) == ("bridge-stp-off-uplinks", "link:kt-brv")
    assert "2 uplinks (vxa, vxb)" in finding.what
    ip(netns, "link", "set", "vxb", "nomaster")
    veth(netns, "kt-up")
    ip(netns, "link", "set", "kt-up", "master", "kt-brv")
    (finding,) = audit(collect_snapshot(netns, with_libvirt=False))
    assert (finding.rule, finding.key) == ("bridge-stp-off-uplinks", "link:kt-brv")
    assert "2 uplinks (" in finding.what and "vxa" in finding.what and "kt-up" in finding.what
    ip(netns, "link", "set", "kt-brv", "type", "bridge", "stp_state", "1")
    assert found(collect_snapshot(netns, with_libvirt=False)) == set()
