"""The tree built from hand-made snapshots: where NICs without a device hang, sibling order, states."""

from __future__ import annotations

from dataclasses import replace

import pytest

from kvmtui.model import Domain, DomainInterface, HostInfo, Network, Snapshot
from kvmtui.model.links import TunInfo, VxlanInfo
from kvmtui.render import node_label
from kvmtui.topology import GROUP_GUEST_NICS, GROUP_ORPHANS, build_forest, walk
from tests.helpers import link

HOST = HostInfo("h", "k", "t", None, "qemu:///system", "10.0.0", "0")  # libvirt of this host was read
NO_LIBVIRT = HostInfo("h", "k", "t", None, None, None, "0")


def nic(type_: str, mac: str, target: str | None = None, bridge: str | None = None,
        network: str | None = None, dev: str | None = None) -> DomainInterface:
    return DomainInterface(type_, mac, "virtio", target, bridge or network or dev, bridge, network, None, dev,
                           "vepa" if type_ == "direct" else None, None)


def running(name: str, *nics: DomainInterface) -> Domain:
    return Domain(name, f"uuid-{name}", "running", 1, True, nics)


def parents(forest) -> dict[str, str]:
    """Full node name (guest: its MAC) -> the key of the node it is drawn under."""
    out: dict[str, str] = {}

    def visit(nodes, parent):
        for node in nodes:
            if node.ref is None:
                out[node.summary.split(",")[0] if node.kind == "guest" else node.name] = parent
                visit(node.children, node.key)

    visit(forest, "")
    return out


def test_nics_without_a_device_hang_where_they_will_land():
    links = (link("br0", 2, "bridge"), link("eth0", 3, None), link("vnet0", 4, "tun", "br0", info=TunInfo("tap", False, True, False, False)))
    guest = running("web1",
                    nic("bridge", "52:54:00:00:00:01", bridge="br0"),             # being attached
                    nic("network", "52:54:00:00:00:02", network="default"),
                    nic("direct", "52:54:00:00:00:03", dev="eth0"),
                    nic("bridge", "52:54:00:00:00:04", target="vnet0", bridge="br0"),
                    nic("bridge", "52:54:00:00:00:05", target="vnet9", bridge="br0"),  # its device is gone
                    nic("hostdev", "52:54:00:00:00:06"),
                    nic("bridge", "52:54:00:00:00:07", bridge="br-missing"))
    off = Domain("db1", "uuid-db1", "shut off", None, True, (nic("direct", "52:54:00:00:00:08", dev="eth0"),))
    network = Network("default", None, True, True, True, "nat", None, None)
    forest = build_forest(Snapshot(host=HOST, links=links, domains=(guest, off), networks=(network,)))
    where = parents(forest)
    assert where["52:54:00:00:00:01"] == "link:br0"
    assert where["52:54:00:00:00:02"] == "net:default"
    assert where["52:54:00:00:00:03"] == where["52:54:00:00:00:08"] == "link:eth0"
    assert where["52:54:00:00:00:04"] == "link:vnet0"
    assert where["52:54:00:00:00:05"] == GROUP_ORPHANS
    assert where["52:54:00:00:00:06"] == where["52:54:00:00:00:07"] == GROUP_GUEST_NICS


def test_siblings_sort_numbers_as_numbers():
    tap = TunInfo("tap", False, True, False, False)
    names = ("n10", "n2", "n1")
    links = (link("br0", 2, "bridge"),) + tuple(link(f"tap{n}", 10 + i, "tun", "br0", info=tap) for i, n in enumerate(names))
    links += tuple(link(n, 20 + i, None) for i, n in enumerate(names))
    guests = tuple(Domain(f"vm{n}", f"u{n}", "shut off", None, True, (nic("bridge", f"52:54:00:00:01:{n}", bridge="br0"),))
                   for n in (10, 9, 1))
    forest = build_forest(Snapshot(host=HOST, links=links, domains=guests))
    assert [node.name for node in forest if node.kind == "nic"] == ["n1", "n2", "n10"]
    br0 = next(node for node in forest if node.name == "br0")
    assert [node.name for node in br0.children] == ["vm1", "vm9", "vm10", "tapn1", "tapn2", "tapn10"]
    orphans = next(node for node in forest if node.key == GROUP_ORPHANS)
    assert [node.name for node in orphans.children] == ["tapn1", "tapn2", "tapn10"]


def test_admin_down_and_no_carrier_read_apart_without_colour():
    links = (link("br-off", 2, "bridge", operstate="DOWN", flags=("BROADCAST", "MULTICAST")),
             link("br-empty", 3, "bridge", operstate="DOWN", flags=("NO-CARRIER", "BROADCAST", "MULTICAST", "UP")),
             link("br-settling", 4, "bridge", operstate="UNKNOWN", flags=("NO-CARRIER", "BROADCAST", "MULTICAST", "UP")),
             link("mvt0", 5, "macvtap", operstate="LOWERLAYERDOWN", flags=("NO-CARRIER", "BROADCAST", "MULTICAST", "UP")),
             link("lo", 1, None, operstate="UNKNOWN", flags=("LOOPBACK", "UP", "LOWER_UP")))
    nodes = {node.name: node for _, node in walk(build_forest(Snapshot(host=HOST, links=links)))}
    assert {name: node.state for name, node in nodes.items()} == {
        "br-off": "down", "br-empty": "no-carrier", "br-settling": "no-carrier", "mvt0": "lowerlayerdown", "lo": "up"}
    plain = {name: node_label(node).plain for name, node in nodes.items()}
    assert "[down]" in plain["br-off"] and "[no-carrier]" in plain["br-empty"]
    assert plain["br-off"].replace("br-off", "X") != plain["br-empty"].replace("br-empty", "X")


def test_external_vxlan_shows_no_vni():
    info = VxlanInfo(0, 4789, None, None, None, None, False, external=True)
    forest = build_forest(Snapshot(host=HOST, links=(link("vx0", 2, "vxlan", info=info),)))
    assert forest[0].summary == "external"


TAP = TunInfo("tap", False, True, False, False)


def orphan_names(snapshot: Snapshot) -> set[str]:
    forest = build_forest(snapshot)
    group = next((node for node in forest if node.key == GROUP_ORPHANS), None)
    return {node.name for node in group.children} if group else set()


def host_with_taps() -> Snapshot:
    """vnet0 is web1's, vnet1 nobody's, virbr0-nic is libvirt's own helper on virbr0."""
    links = (link("br0", 2, "bridge"), link("virbr0", 3, "bridge"),
             link("vnet0", 4, "tun", "br0", info=TAP), link("vnet1", 5, "tun", "br0", info=TAP),
             link("virbr0-nic", 6, "tun", "virbr0", operstate="DOWN", flags=("BROADCAST", "MULTICAST"), info=TAP))
    guest = running("web1", nic("bridge", "52:54:00:00:00:01", target="vnet0", bridge="br0"))
    network = Network("default", None, True, True, True, "nat", "virbr0", None)
    return Snapshot(host=HOST, links=links, domains=(guest,), networks=(network,))


def test_unclaimed_tap_is_an_orphan_but_libvirts_helper_tap_is_not():
    assert orphan_names(host_with_taps()) == {"vnet1"}


@pytest.mark.parametrize("why", ["--no-libvirt", "libvirt unreachable", "--netns", "remote libvirt", "test driver"])
def test_without_this_hosts_guests_no_tap_is_an_orphan(why):
    """The domain list says nothing about these taps: calling them orphans would be a guess."""
    snap = host_with_taps()
    snap = {
        "--no-libvirt": replace(snap, host=NO_LIBVIRT, domains=(), networks=()),
        "libvirt unreachable": replace(snap, domains=(), networks=(), libvirt_error="cannot connect to libvirt"),
        "--netns": replace(snap, host=replace(HOST, netns="ns1")),
        "remote libvirt": replace(snap, host=replace(HOST, libvirt_uri="qemu+ssh://other/system")),
        "test driver": replace(snap, host=replace(HOST, libvirt_uri="test:///default")),
    }[why]
    forest = build_forest(snap)
    assert orphan_names(snap) == set()
    assert all(node.key != GROUP_ORPHANS for node in forest)
    taps = {node.name for _, node in walk(forest) if node.ref is None and node.kind == "tun"}
    assert taps == {"vnet0", "vnet1", "virbr0-nic"}  # still drawn, under their bridges


def test_running_guest_out_of_view_hangs_where_its_xml_lands():
    """With --netns the guests' vnets are in the host namespace: not 'device missing'."""
    snap = replace(host_with_taps(), host=replace(HOST, netns="ns1"),
                   links=(link("br0", 2, "bridge"),))
    assert parents(build_forest(snap))["52:54:00:00:00:01"] == "link:br0"
