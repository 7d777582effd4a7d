"""`kvmtui dump --json --netns` against iproute2 and pyroute2 on a real namespace."""

from __future__ import annotations

import asyncio
import json
import uuid

import pytest
from pyroute2 import AsyncIPRoute

from kvmtui.collect.netlink import fdb_incomplete, read_netlink
from kvmtui.collect.netns import run_in_netns
from tests.helpers import sh
from tests.topologies import MACVTAP_MODES, STATIC_MAC, build_host_like, ns_json
from tests.helpers import kvmtui


PEER_NS = f"kt-{uuid.uuid4().hex[:8]}"


@pytest.fixture(scope="module")
def host_ns():
    name, peer = f"kt-{uuid.uuid4().hex[:8]}", PEER_NS
    sh("ip", "netns", "add", name)
    sh("ip", "netns", "add", peer)
    try:
        build_host_like(name, peer)
        yield name
    finally:
        sh("ip", "netns", "del", name, check=False)
        sh("ip", "netns", "del", peer, check=False)


@pytest.fixture(scope="module")
def dump(host_ns):
    proc = kvmtui("--netns", host_ns, "--no-libvirt", "dump", "--json")
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def test_links_match_ip_link(host_ns, dump):
    ours = {link["ifname"]: link for link in dump["links"]}
    theirs = {link["ifname"]: link for link in ns_json(host_ns, "ip", "-d", "-j", "link", "show")}
    assert ours.keys() == theirs.keys()
    for name, ip in theirs.items():
        link = ours[name]
        assert link["ifindex"] == ip["ifindex"], name
        assert link["mtu"] == ip["mtu"], name
        assert link["operstate"] == ip["operstate"], name
        assert link["mac"] == ip.get("address"), name
        assert link["master"] == ip.get("master"), name
        assert link["link"] == ip.get("link"), name
        assert link["link_netnsid"] == ip.get("link_netnsid"), name
        # M-DOWN is iproute2's own note that the IFLA_LINK device is down, not a kernel flag.
        assert set(link["flags"]) == set(ip["flags"]) - {"M-DOWN"}, name
        assert link["kind"] == ip.get("linkinfo", {}).get("info_kind"), name
        assert link["promiscuity"] == ip["promiscuity"], name


def test_kind_data_matches_ip_link(host_ns, dump):
    ours = {link["ifname"]: link for link in dump["links"]}
    theirs = {link["ifname"]: link["linkinfo"] for link in ns_json(host_ns, "ip", "-d", "-j", "link", "show") if "linkinfo" in link}
    br0 = theirs["br0"]["info_data"]
    for key in ("stp_state", "forward_delay", "hello_time", "max_age", "ageing_time", "priority", "bridge_id", "root_id"):
        assert ours["br0"]["info_data"][key] == br0[key], key
    assert ours["br0"]["info_data"]["vlan_filtering"] is bool(br0["vlan_filtering"])
    for mode in MACVTAP_MODES:
        assert ours[f"mvt-{mode}"]["info_data"]["mode"] == theirs[f"mvt-{mode}"]["info_data"]["mode"] == mode
        assert ours[f"mvt-{mode}"]["link"] == f"low-{mode}"
    vx = theirs["vx0"]["info_data"]
    assert ours["vx0"]["info_data"] | {} == ours["vx0"]["info_data"]
    assert (ours["vx0"]["info_data"]["id"], ours["vx0"]["info_data"]["port"]) == (vx["id"], vx["port"]) == (42, 4789)
    assert ours["vx0"]["info_data"]["remote"] == vx["remote"] == "10.9.0.2"
    assert ours["vx0"]["info_data"]["local"] == vx["local"]
    assert ours["vx0"]["info_data"]["link"] == vx["link"] == "lowv"
    assert ours["tap0"]["info_data"]["type"] == theirs["tap0"]["info_data"]["type"] == "tap"
    for port in ("tap0", "tap1", "tap2", "kt-up"):
        slave = theirs[port]["info_slave_data"]
        assert ours[port]["slave_kind"] == theirs[port]["info_slave_kind"] == "bridge"
        assert ours[port]["info_slave_data"]["state"] == slave["state"], port
        for key in ("priority", "cost", "hairpin", "learning", "flood", "guard", "isolated", "mcast_flood", "bcast_flood"):
            assert ours[port]["info_slave_data"][key] == slave[key], (port, key)


def test_fdb_matches_bridge_fdb(host_ns, dump):
    def key(entry):
        return (entry["mac"], entry["ifname"], entry.get("vlan"), entry.get("master"), entry["state"],
                tuple(entry["flags"]), entry.get("dst"))

    theirs = sorted(key(e) for e in ns_json(host_ns, "bridge", "-j", "fdb", "show"))
    assert sorted(key(e) for e in dump["fdb"]) == theirs
    assert (STATIC_MAC, "tap0", None, "br0", "static", (), None) in theirs


def test_addresses_and_routes_match_ip(host_ns, dump):
    ours = {(link["ifname"], a["local"], a["prefixlen"], a["scope"]) for link in dump["links"] for a in link["addresses"]}
    theirs = {(entry["ifname"], a["local"], a["prefixlen"], a["scope"])
              for entry in ns_json(host_ns, "ip", "-j", "addr", "show") for a in entry["addr_info"]}
    assert ours == theirs
    ip_routes = ns_json(host_ns, "ip", "-j", "route", "show") + ns_json(host_ns, "ip", "-6", "-j", "route", "show")
    assert {(r["dst"], r.get("gateway"), r.get("dev")) for r in dump["routes"]} == \
        {(r["dst"], r.get("gateway"), r.get("dev")) for r in ip_routes}
    assert ("10.77.0.0/16", "10.9.0.254", "lowv") in {(r["dst"], r["gateway"], r["dev"]) for r in dump["routes"]}


def test_decoders_agree_with_pyroute2(host_ns):
    """Our FDB and link decoding against pyroute2's decoding of the same namespace."""
    ours = run_in_netns(host_ns, read_netlink)

    async def pyroute2_view():
        async with AsyncIPRoute(netns=host_ns) as ipr:
            fdb = [m async for m in await ipr.fdb("dump")]
            links = [m async for m in await ipr.get_links()]
        return fdb, links

    fdb, links = asyncio.run(pyroute2_view())
    assert sorted((e.mac, e.ifindex, e.vlan, e.master is not None) for e in ours.fdb) == sorted(
        (m.get("NDA_LLADDR"), m["ifindex"], m.get("NDA_VLAN"), m.get("NDA_MASTER") is not None) for m in fdb
    )
    theirs = {m.get("IFLA_IFNAME"): m for m in links}
    for link in ours.links:
        msg = theirs[link.ifname]
        assert link.mtu == msg.get("IFLA_MTU")
        assert link.mac == msg.get("IFLA_ADDRESS")
        assert link.kind == (msg.get(("IFLA_LINKINFO", "IFLA_INFO_KIND")))
        # pyroute2 read a moment later and IPv6 neighbour discovery never sleeps: counters only grow.
        assert link.stats.rx_packets <= msg.get("IFLA_STATS64")["rx_packets"] <= link.stats.rx_packets + 10


def test_fdb_that_never_settles_is_reported(host_ns, dump):
    """Five torn FDB dumps in a row cannot be forced on a real kernel (the bridge FDB dump
    hardly ever flags one): the sentence a user would read, and a calm read without it."""
    assert fdb_incomplete() == "the FDB changed while it was read 5 times: it may be incomplete"
    assert run_in_netns(host_ns, read_netlink).problems == ()
    assert not any("FDB" in problem for problem in dump["problems"])


def test_tree_has_expected_chains(dump):
    paths = set()

    def walk(nodes, prefix):
        for node in nodes:
            path = prefix + (node["name"],)
            paths.add(path)
            if node["ref"] is None:
                walk(node["children"], path)

    walk(dump["tree"], ())
    assert ("kt-wire", "kt-up", "br0", "tap0") in paths
    assert ("kt-wire", "kt-up", "br0", "tap2") in paths
    assert ("br1", "tap3") in paths
    for mode in MACVTAP_MODES:
        assert (f"lowp-{mode}", f"low-{mode}", f"mvt-{mode}") in paths or (f"low-{mode}", f"mvt-{mode}") in paths
    assert ("lowv", "vx0") in paths or ("lowvp", "lowv", "vx0") in paths
    # libvirt was not read for this namespace: its taps are not called orphans, they stay on their bridges.
    assert not any(node["key"] == "group:orphans" for node in dump["tree"])
    xns = next(link for link in dump["links"] if link["ifname"] == "xns")
    assert xns["link_netnsid"] is not None and xns["link"] is None
    assert xns["link_netns"] == PEER_NS
    assert (xns["link_netns_ifname"], xns["link_netns_master"]) == ("xpeer", None)  # not enslaved there
    xns_node = next(node for node in dump["tree"] if node["name"] == "xns")
    assert xns_node["summary"] == f"peer xpeer in netns {PEER_NS}"


def test_dump_tree_text(host_ns):
    proc = kvmtui("--netns", host_ns, "--no-libvirt", "dump")
    assert proc.returncode == 0, proc.stderr
    assert "br0" in proc.stdout and "mode passthru" in proc.stdout and "vni 42 -> 10.9.0.2" in proc.stdout


def test_unknown_namespace_is_one_line():
    proc = kvmtui("--netns", "kt-does-not-exist", "--no-libvirt", "dump")
    assert proc.returncode == 1
    assert proc.stderr.strip() == "kvmtui: network namespace 'kt-does-not-exist' does not exist (see `ip netns list`)"
    assert "Traceback" not in proc.stderr
