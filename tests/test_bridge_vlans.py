"""VLAN-aware bridges and tunnels without a kernel: VID ranges, row summaries, the FDB's
VLAN column, the two VLAN rules, and which device a tunnel's underlay is (pure).
The same on real devices: tests/test_tunnels_kernelvm.py."""

from __future__ import annotations

from dataclasses import replace

import pytest

from kvmtui.audit import RULES, audit
from kvmtui.bridge_vlans import port_vlan_summary, vid_ranges, vlan_table_text
from kvmtui.facts import underlay
from kvmtui.model import Address, BridgeInfo, BridgeVlan, FdbEntry, Route, Snapshot, TunInfo, TunnelInfo, VxlanInfo
from kvmtui.topology import build_forest, walk
from kvmtui.views import fdb_rows, link_details
from tests.helpers import link
from tests.samples import HOST

TAP = TunInfo("tap", False, True, False, False)


def vlans(port: str, *vids: int, pvid: int | None = None, untagged: tuple[int, ...] = ()) -> tuple[BridgeVlan, ...]:
    every = sorted({*vids, *untagged, *([pvid] if pvid is not None else [])})
    return tuple(BridgeVlan(port, v, v == pvid, v in untagged or v == pvid) for v in every)


@pytest.mark.parametrize(("vids", "text"), [
    ((), ""), ((5,), "5"), ((1, 100, 101, 102, 103, 110, 200), "1, 100-103, 110, 200"), ((3, 2, 1, 2), "1-3"),
])
def test_vid_ranges(vids, text):
    assert vid_ranges(vids) == text


def test_vlan_table_text_marks_pvid_and_untagged():
    table = vlans("p", *range(100, 111), 200, pvid=1)
    assert vlan_table_text(table) == "1 PVID untagged, 100-110, 200"
    assert vlan_table_text(vlans("p", 10, 11, untagged=(12, 13))) == "10-11, 12-13 untagged"
    assert vlan_table_text(vlans("p", 9, 10, 11, pvid=10)) == "9, 10 PVID untagged, 11"  # a PVID stands alone
    assert vlan_table_text(()) == "none"


def test_port_vlan_summary():
    assert port_vlan_summary(vlans("p", 100, 200, pvid=10)) == "vlans 100,200 pvid 10"
    assert port_vlan_summary(vlans("p", pvid=100)) == "pvid 100"
    assert port_vlan_summary(vlans("p", 100, 101, 102, 200)) == "vlans 100-102,200"
    assert port_vlan_summary(()) == "no vlans"
    assert port_vlan_summary(vlans("p", pvid=1)) == ""  # as the kernel made it: nothing to say
    assert port_vlan_summary(vlans("p", 100, pvid=1)) == "vlans 100 pvid 1"


def vlan_host(filtering: bool = True, **overrides) -> Snapshot:
    """br0 (vlan filtering): trunk eno1 (100, 200, PVID 1), tap vnet0 (PVID 100), tap vnet1
    (PVID 300); br1 (vlan filtering): eno2 with no VLAN, tap vnet2."""
    bridge = BridgeInfo(0, 1500, 200, 2000, 30000, 32768, filtering, "802.1Q", None, None)
    links = (
        link("eno1", 2, None, master="br0"), link("eno2", 3, None, master="br1"),
        link("br0", 4, "bridge", info=bridge), link("br1", 5, "bridge", info=bridge),
        link("vnet0", 6, "tun", master="br0", info=TAP), link("vnet1", 7, "tun", master="br0", info=TAP),
        link("vnet2", 8, "tun", master="br1", info=TAP),
    )
    table = (vlans("eno1", 100, 200, pvid=1) + vlans("vnet0", pvid=100) + vlans("vnet1", pvid=300)
             + vlans("vnet2", pvid=1) + vlans("br0", pvid=1) + vlans("br1", pvid=1))
    fdb = (FdbEntry("52:54:00:00:00:01", "vnet0", 6, "br0", None, "static", ("master",)),
           FdbEntry("52:54:00:00:00:02", "vnet1", 7, "br0", 300, "", ("master",)),
           FdbEntry("02:00:00:00:00:09", "eno1", 2, None, None, "permanent", ("self",)))
    return replace(Snapshot(host=HOST, links=links, bridge_vlans=table, fdb=fdb), **overrides)


def summaries(snapshot: Snapshot) -> dict[str, str]:
    return {node.name: node.summary for _depth, node in walk(build_forest(snapshot)) if node.ref is None}


def test_tree_rows_and_details_show_the_port_vlans():
    snapshot = vlan_host()
    rows = summaries(snapshot)
    assert (rows["vnet0"], rows["vnet1"], rows["eno2"]) == ("tap, pvid 100", "tap, pvid 300", "no vlans")
    assert rows["eno1"] == "vlans 100,200 pvid 1"
    details = dict(link_details(snapshot, snapshot.link("eno1")))
    assert (details["vlans"], details["pvid"]) == ("1 PVID untagged, 100, 200", "1")
    assert dict(link_details(snapshot, snapshot.link("eno2")))["pvid"].startswith("none")
    # Without VLAN filtering the kernel's VLAN 1 everywhere means nothing: not shown.
    plain = vlan_host(filtering=False)
    assert summaries(plain)["vnet0"] == "tap"
    assert "vlans" not in dict(link_details(plain, plain.link("vnet0")))


def test_fdb_vlan_from_the_port_pvid():
    rows = {row.mac: row.vlan for row in fdb_rows(vlan_host(), "br0")}
    # static without a VLAN: its port's PVID; learned with one: its own; a port's own (self) entry: as it is
    assert rows == {"52:54:00:00:00:01": "100", "52:54:00:00:00:02": "300", "02:00:00:00:00:09": ""}
    assert {row.mac: row.vlan for row in fdb_rows(vlan_host(filtering=False), "br0")}["52:54:00:00:00:01"] == ""
    # The kernel's copy of the entry in the PVID: the VLAN-less one is not filled in, one row says 100.
    copy = FdbEntry("52:54:00:00:00:01", "vnet0", 6, "br0", 100, "static", ("master",))
    both = vlan_host()
    both = replace(both, fdb=(*both.fdb, copy))
    assert sorted(row.vlan for row in fdb_rows(both, "br0") if row.mac == "52:54:00:00:00:01") == ["", "100"]


def test_vlan_rules():
    found = {(f.rule, f.key): f for f in audit(vlan_host()) if f.rule.startswith("bridge-vlan-")}
    assert set(found) == {("bridge-vlan-guest-pvid", "link:vnet1"), ("bridge-vlan-uplink-none", "link:eno2")}
    pvid = found["bridge-vlan-guest-pvid", "link:vnet1"]
    assert pvid.commands[0] == "bridge vlan add dev eno1 vid 300" and "1, 100, 200" in pvid.what
    # the uplink should carry what its guests are in (vnet2: VLAN 1)
    assert found["bridge-vlan-uplink-none", "link:eno2"].commands[0] == "bridge vlan add dev eno2 vid 1"
    assert {"bridge-vlan-guest-pvid", "bridge-vlan-uplink-none"} <= set(RULES)
    # No table read (a recording without one), or no filtering: nothing to judge.
    assert not [f for f in audit(vlan_host(bridge_vlans=())) if f.rule.startswith("bridge-vlan-")]
    assert not [f for f in audit(vlan_host(filtering=False)) if f.rule.startswith("bridge-vlan-")]


# -- underlays ------------------------------------------------------------------------


def routed_host(*tunnels) -> Snapshot:
    """eth1 (10.0.0.1/24) with the default route, eth2 (192.0.2.1/24, 2001:db8::/64), the tunnels."""
    eth1 = replace(link("eth1", 2, None), addresses=(Address("inet", "10.0.0.1", 24, "global"),))
    eth2 = replace(link("eth2", 3, None), addresses=(Address("inet", "192.0.2.1", 24, "global"),))
    routes = (Route("inet", "default", "10.0.0.254", "eth1", None, "static", "global", 254, None),
              Route("inet", "10.0.0.0/24", None, "eth1", "10.0.0.1", "kernel", "link", 254, None),
              Route("inet", "192.0.2.0/24", None, "eth2", "192.0.2.1", "kernel", "link", 254, None),
              Route("inet6", "2001:db8::/64", None, "eth2", None, "kernel", "global", 254, 256))
    return Snapshot(host=HOST, links=(eth1, eth2, *tunnels), routes=routes)


@pytest.mark.parametrize(("info", "expected"), [
    (TunnelInfo(remote="192.0.2.7"), "eth2"),  # the connected route
    (TunnelInfo(remote="198.51.100.7"), "eth1"),  # the default route
    (TunnelInfo(remote="2001:db8::7"), "eth2"),
    (TunnelInfo(remote="198.51.100.7", link="eth2"), "eth2"),  # bound to a device: that one
    (TunnelInfo(local="192.0.2.1"), "eth2"),  # no remote: the device holding local
    (TunnelInfo(), None),  # a fallback device (gre0, sit0): nowhere
    (TunnelInfo(remote="2001:db8:ffff::1"), None),  # no IPv6 route there
])
def test_tunnel_underlay(info, expected):
    snapshot = routed_host(link("gre1", 9, "gre", info=info))
    assert underlay(snapshot, snapshot.link("gre1")) == expected


def test_vxlan_without_dev_follows_the_route():
    vxlan = link("vx0", 9, "vxlan", info=VxlanInfo(42, 4789, None, "192.0.2.9", None, None, True))
    bound = link("vx1", 10, "vxlan", info=VxlanInfo(43, 4789, None, "192.0.2.9", None, "eth1", True))
    snapshot = routed_host(vxlan, bound)
    assert underlay(snapshot, vxlan) == "eth2" and underlay(snapshot, bound) == "eth1"
    roles = {(node.name, node.role) for _d, node in walk(build_forest(snapshot)) if node.ref is None}
    assert {("vx0", "underlay-of"), ("vx1", "underlay-of")} <= roles


def test_tunnel_in_a_bridge_under_its_underlay():
    tap = link("gretap1", 9, "gretap", master="br9", info=TunnelInfo(local="10.0.0.1", remote="203.0.113.5", ikey=7, okey=7))
    snapshot = routed_host(tap, link("br9", 10, "bridge"))
    forest = build_forest(snapshot)
    eth1 = next(node for node in forest if node.name == "eth1")
    (gretap,) = [c for c in eth1.children if c.name == "gretap1"]
    assert gretap.summary == "key 7 -> 203.0.113.5" and [c.name for c in gretap.children] == ["br9"]
    assert dict(link_details(snapshot, tap))["underlay"] == "eth1"


def test_a_tunnel_routed_through_itself_has_no_underlay():
    routes = (Route("inet", "203.0.113.0/24", None, "gre1", None, "static", "link", 254, None),)
    gre = link("gre1", 9, "gre", info=TunnelInfo(remote="203.0.113.5"))
    assert underlay(Snapshot(host=HOST, links=(gre,), routes=routes), gre) is None


def test_tunnels_round_trip_through_dump_json():
    """`dump --json` then `--from`: each tunnel kind comes back with its data."""
    import json

    from kvmtui.model import TUNNEL_KINDS
    from kvmtui.serialize import snapshot_document, snapshot_from_document

    info = TunnelInfo(local="10.0.0.1", remote="2001:db8::7", ttl=64, ikey=1, okey=2, id=5000, port=6081)
    tunnels = tuple(link(f"t-{kind}", 20 + n, kind, info=info) for n, kind in enumerate(TUNNEL_KINDS))
    snapshot = routed_host(*tunnels, link("wg0", 40, "wireguard"))
    again = snapshot_from_document(json.loads(json.dumps(snapshot_document(snapshot))))
    assert again.links == snapshot.links
