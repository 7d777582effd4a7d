"""Tunnels and VLAN-aware bridges on a stock Debian kernel (this machine's lacks GRE,
GENEVE, ipip, sit, wireguard and bridge VLAN filtering): what the collector reads, what
the tree, the details, the FDB pane and the audit make of it. Everything in a namespace."""

from __future__ import annotations

import json
import os

import pytest

from kvmtui.collect.snapshot import collect_snapshot
from kvmtui.views import fdb_rows, link_details
from tests.frames import send_frame
from tests.helpers import kvmtui_in, sh, wait_until
from tests.topologies import ip, ns_json

pytestmark = pytest.mark.kernelvm

FAR_V4, FAR_V6 = "10.60.0.0/16", "2001:db8:60::/48"  # routed through kt-u0's gateway


def underlays(netns: str) -> None:
    """kt-u0 (10.50.0.1/24, 2001:db8:50::1/64, routes to the far networks) and kt-w0
    (10.70.0.1/24): two veth underlays, their peers in the same namespace."""
    for near, far in (("kt-u0", "kt-u1"), ("kt-w0", "kt-w1")):
        ip(netns, "link", "add", near, "type", "veth", "peer", "name", far)
        ip(netns, "link", "set", far, "up")
        ip(netns, "link", "set", near, "up")
    ip(netns, "addr", "add", "10.50.0.1/24", "dev", "kt-u0")
    ip(netns, "addr", "add", "2001:db8:50::1/64", "dev", "kt-u0", "nodad")
    ip(netns, "addr", "add", "10.70.0.1/24", "dev", "kt-w0")
    ip(netns, "route", "add", FAR_V4, "via", "10.50.0.254", "dev", "kt-u0")
    ip(netns, "-6", "route", "add", FAR_V6, "via", "2001:db8:50::fe", "dev", "kt-u0")


# name -> (ip link add arguments, kind, remote, (ikey, okey), underlay)
TUNNELS = {
    "kt-gre": (("type", "gre", "local", "10.50.0.1", "remote", "10.60.0.2", "key", "42", "ttl", "64"),
               "gre", "10.60.0.2", (42, 42), "kt-u0"),
    "kt-gtap": (("type", "gretap", "local", "10.50.0.1", "remote", "10.60.0.3", "ikey", "7", "okey", "8"),
                "gretap", "10.60.0.3", (7, 8), "kt-u0"),
    "kt-gre6": (("type", "ip6gre", "local", "2001:db8:50::1", "remote", "2001:db8:60::2", "key", "5"),
                "ip6gre", "2001:db8:60::2", (5, 5), "kt-u0"),
    "kt-g6tap": (("type", "ip6gretap", "remote", "2001:db8:60::3", "dev", "kt-w0"),
                 "ip6gretap", "2001:db8:60::3", (None, None), "kt-w0"),
    "kt-ipip": (("type", "ipip", "local", "10.70.0.1", "remote", "10.70.0.9", "ttl", "32"),
                "ipip", "10.70.0.9", (None, None), "kt-w0"),
    "kt-sit": (("type", "sit", "local", "10.50.0.1", "remote", "10.60.0.5"), "sit", "10.60.0.5", (None, None), "kt-u0"),
    "kt-ip6tnl": (("type", "ip6tnl", "local", "2001:db8:50::1", "remote", "2001:db8:60::7", "mode", "ip6ip6"),
                  "ip6tnl", "2001:db8:60::7", (None, None), "kt-u0"),
    "kt-gnv": (("type", "geneve", "id", "5000", "remote", "10.60.0.4", "dstport", "6081", "ttl", "10"),
               "geneve", "10.60.0.4", (None, None), "kt-u0"),
    "kt-vx": (("type", "vxlan", "id", "77", "remote", "10.70.0.5", "dstport", "4789"),  # no dev: the route
              "vxlan", "10.70.0.5", (None, None), "kt-w0"),
}


def chains(nodes, prefix=()):
    """Every root-to-leaf path of full nodes, as names."""
    for node in nodes:
        path = (*prefix, node["name"])
        if node["ref"] is None and node["children"]:
            yield from chains(node["children"], path)
        else:
            yield path


def test_tunnels_under_their_underlay(netns):
    underlays(netns)
    for name, (args, *_rest) in TUNNELS.items():
        ip(netns, "link", "add", name, *args)
    ip(netns, "link", "add", "kt-wg", "type", "wireguard")
    ip(netns, "link", "add", "kt-br9", "type", "bridge")
    ip(netns, "link", "set", "kt-gtap", "master", "kt-br9")

    snapshot = collect_snapshot(netns, with_libvirt=False)
    theirs = {l["ifname"]: l for l in ns_json(netns, "ip", "-d", "-j", "link", "show")}
    for name, (_args, kind, remote, keys, under) in TUNNELS.items():
        link = snapshot.link(name)
        assert link.kind == kind, name
        info = link.info_data
        assert info.remote == remote, name
        assert theirs[name]["linkinfo"]["info_data"]["remote"] == remote, name
        if kind != "vxlan":
            assert (info.ikey, info.okey) == keys, name
    assert snapshot.link("kt-gre").info_data.ttl == 64 and snapshot.link("kt-gre").info_data.local == "10.50.0.1"
    assert snapshot.link("kt-g6tap").info_data.link == "kt-w0"
    gnv = snapshot.link("kt-gnv").info_data
    assert (gnv.id, gnv.port, gnv.ttl) == (5000, 6081, 10)
    assert snapshot.link("kt-wg").kind == "wireguard" and snapshot.link("kt-wg").info_data is None
    assert snapshot.link("kt-gtap").master == "kt-br9"

    # The tree: each tunnel under its underlay, the gretap's bridge under the gretap.
    proc = kvmtui_in(netns, "dump", "--json")
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    paths = set(chains(doc["tree"]))
    for name, (*_rest, under) in TUNNELS.items():
        assert any(p[i:i + 2] == (under, name) for p in paths for i in range(len(p))), (name, paths)
    assert ("kt-u0", "kt-gtap", "kt-br9") in paths
    nodes = {n["name"]: n for n in _walk(doc["tree"])}
    assert nodes["kt-gre"]["role"] == "underlay-of" and nodes["kt-gre"]["summary"] == "key 42 -> 10.60.0.2"
    assert nodes["kt-gtap"]["summary"] == "key 7/8 -> 10.60.0.3"
    assert nodes["kt-gnv"]["summary"] == "vni 5000 -> 10.60.0.4"
    assert nodes["kt-vx"]["summary"] == "vni 77 -> 10.70.0.5"
    # The text tree says the same: the tunnel indented one step below its underlay.
    text = kvmtui_in(netns, "dump").stdout.splitlines()
    under_at = next(i for i, line in enumerate(text) if " kt-u0 " in line)
    gre_at = next(i for i, line in enumerate(text) if " kt-gre " in line)
    assert gre_at > under_at and text[gre_at].index("kt-gre") > text[under_at].index("kt-u0")
    assert "key 42 -> 10.60.0.2" in text[gre_at]
    # Round trip through dump --json / --from keeps the tunnels' data.
    links = {l["ifname"]: l for l in doc["links"]}
    assert links["kt-gre"]["info_data"]["ikey"] == 42 and links["kt-gnv"]["info_data"]["port"] == 6081

    details = dict(link_details(snapshot, snapshot.link("kt-gre")))
    assert details["underlay"] == "kt-u0" and details["gre.remote"] == "10.60.0.2" and details["gre.ikey"] == "42"
    assert details["summary"] == "key 42 -> 10.60.0.2"


def _walk(nodes):
    for node in nodes:
        yield node
        yield from _walk(node["children"])


GUEST_MAC, STATIC_MAC = "02:00:00:00:01:01", "02:00:00:00:01:02"


def vlan_bridges(netns: str, guest_ns: str) -> None:
    """kt-vbr (vlan_filtering): trunk kt-trunk (100, 200), access kt-acc (PVID 100, its
    peer in `guest_ns`, a static FDB entry without VLAN), tap kt-tap0 (PVID 300).
    kt-vbr2 (vlan_filtering): uplink kt-up2 without any VLAN, tap kt-tap1 (PVID 1)."""
    bridge = ("bridge", "-n", netns, "vlan")
    if not os.path.exists("/dev/net/tun"):  # the VM's devtmpfs has the node once the module is in
        sh("modprobe", "tun")
    ip(netns, "link", "add", "kt-vbr", "type", "bridge", "vlan_filtering", "1")
    ip(netns, "link", "add", "kt-trunk", "type", "veth", "peer", "name", "kt-trunkp")
    ip(netns, "link", "add", "kt-acc", "type", "veth", "peer", "name", "kt-accp", "netns", guest_ns)
    ip(netns, "tuntap", "add", "kt-tap0", "mode", "tap")
    for port in ("kt-trunk", "kt-acc", "kt-tap0"):
        ip(netns, "link", "set", port, "master", "kt-vbr")
        sh(*bridge, "del", "dev", port, "vid", "1")
    sh(*bridge, "add", "dev", "kt-trunk", "vid", "100")
    sh(*bridge, "add", "dev", "kt-trunk", "vid", "200")
    # added while kt-acc has no VLAN: the kernel keeps it without one, and no copy in VLAN 100
    sh("bridge", "-n", netns, "fdb", "add", STATIC_MAC, "dev", "kt-acc", "master", "static")
    sh(*bridge, "add", "dev", "kt-acc", "vid", "100", "pvid", "untagged")
    sh(*bridge, "add", "dev", "kt-tap0", "vid", "300", "pvid", "untagged")
    ip(netns, "link", "add", "kt-vbr2", "type", "bridge", "vlan_filtering", "1")
    ip(netns, "link", "add", "kt-up2", "type", "veth", "peer", "name", "kt-up2p")
    ip(netns, "tuntap", "add", "kt-tap1", "mode", "tap")
    for port in ("kt-up2", "kt-tap1"):
        ip(netns, "link", "set", port, "master", "kt-vbr2")
    sh(*bridge, "del", "dev", "kt-up2", "vid", "1")
    for dev in ("kt-vbr", "kt-vbr2", "kt-trunk", "kt-trunkp", "kt-acc", "kt-up2", "kt-up2p"):
        ip(netns, "link", "set", dev, "up")
    ip(guest_ns, "link", "set", "kt-accp", "up")


def test_vlan_aware_bridges(netns, make_netns):
    guest_ns = make_netns()
    vlan_bridges(netns, guest_ns)
    def learned() -> bool:  # on kt-acc, in its PVID 100, once the port forwards
        send_frame(guest_ns, "kt-accp", GUEST_MAC)
        return GUEST_MAC in sh("bridge", "-n", netns, "fdb", "show", "br", "kt-vbr")

    assert wait_until(learned, timeout=30)

    proc = kvmtui_in(netns, "dump", "--json")
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    theirs = {(e["ifname"], v["vlan"], "PVID" in v.get("flags", []), "Egress Untagged" in v.get("flags", []))
              for e in ns_json(netns, "bridge", "-j", "vlan", "show") for v in e["vlans"]}
    assert {(v["ifname"], v["vlan"], v["pvid"], v["untagged"]) for v in doc["bridge_vlans"]} == theirs
    summaries = {n["name"]: n["summary"] for n in _walk(doc["tree"]) if n["ref"] is None}
    assert summaries["kt-trunk"].endswith(", vlans 100,200")
    assert summaries["kt-acc"].endswith(", pvid 100")
    assert summaries["kt-tap0"] == "tap, pvid 300"
    assert summaries["kt-up2"].endswith(", no vlans")
    assert any(p[i:i + 3] == ("kt-trunk", "kt-vbr", "kt-tap0") for p in chains(doc["tree"]) for i in range(len(p)))

    snapshot = collect_snapshot(netns, with_libvirt=False)
    assert dict(link_details(snapshot, snapshot.link("kt-trunk")))["vlans"] == "100, 200"
    acc = dict(link_details(snapshot, snapshot.link("kt-acc")))
    assert (acc["vlans"], acc["pvid"]) == ("100 PVID untagged", "100")
    assert dict(link_details(snapshot, snapshot.link("kt-up2")))["vlans"] == "none"
    assert dict(link_details(snapshot, snapshot.link("kt-vbr")))["vlans"] == "1 PVID untagged"  # the bridge's own

    # The static entry has no VLAN: the FDB pane shows its port's PVID. The learned one has its own.
    assert {e.vlan for e in snapshot.fdb if e.mac == STATIC_MAC and e.master == "kt-vbr"} == {None}
    assert {(e.ifname, e.vlan) for e in snapshot.fdb if e.mac == GUEST_MAC and e.master == "kt-vbr"} == {("kt-acc", 100)}
    rows = fdb_rows(snapshot, "kt-vbr")
    assert {row.vlan for row in rows if row.mac in (STATIC_MAC, GUEST_MAC)} == {"100"}

    proc = kvmtui_in(netns, "audit", "--format", "json")
    assert proc.returncode == 1, proc.stderr
    findings = [f for f in json.loads(proc.stdout)["findings"] if f["rule"].startswith("bridge-vlan-")]
    assert {(f["rule"], f["key"]) for f in findings} == {
        ("bridge-vlan-guest-pvid", "link:kt-tap0"), ("bridge-vlan-uplink-none", "link:kt-up2")}
    pvid = next(f for f in findings if f["rule"] == "bridge-vlan-guest-pvid")
    assert "VLAN 300" in pvid["what"] and "100, 200" in pvid["what"]
    assert pvid["commands"][0] == "bridge vlan add dev kt-trunk vid 300"
    none = next(f for f in findings if f["rule"] == "bridge-vlan-uplink-none")
    assert none["commands"][0] == "bridge vlan add dev kt-up2 vid 1"  # kt-tap1's VLAN
