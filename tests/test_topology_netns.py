"""The tree and its JSON on real namespaces, against what iproute2 says of the same devices."""

from __future__ import annotations

import functools
import json
import os
import time

from tests.topologies import ip, ns_json
from tests import helpers

kvmtui = functools.partial(helpers.kvmtui, check=True)  # every run here must succeed


def dump(netns: str) -> dict:
    return json.loads(kvmtui("--netns", netns, "--no-libvirt", "dump", "--json").stdout)


def nodes_by_name(tree: list[dict]) -> dict[str, dict]:
    found: dict[str, dict] = {}
    for node in tree:
        if node["ref"] is None:
            found.setdefault(node["name"], node)
            found.update({k: v for k, v in nodes_by_name(node["children"]).items() if k not in found})
    return found


def test_veth_peer_elsewhere_with_the_same_ifindex(make_netns):
    here, there = make_netns(), make_netns()
    ip(here, "link", "add", "v", "type", "veth", "peer", "name", "w", "netns", there)
    theirs = {link["ifname"]: link for link in ns_json(here, "ip", "-j", "link", "show")}
    peer = {link["ifname"]: link for link in ns_json(there, "ip", "-j", "link", "show")}["w"]
    assert theirs["v"]["ifindex"] == peer["ifindex"] == theirs["v"]["link_index"]  # the case under test
    document = dump(here)
    v = next(link for link in document["links"] if link["ifname"] == "v")
    assert (v["link"], v["link_index"], v["link_netnsid"], v["link_netns"]) == \
        (None, peer["ifindex"], theirs["v"]["link_netnsid"], there)
    assert (v["link_netns_ifname"], v["link_netns_master"]) == ("w", None)
    assert nodes_by_name(document["tree"])["v"]["summary"] == f"peer w in netns {there}"


def test_veth_peer_in_another_namespace_is_named_with_its_bridge(make_netns, tmp_path):
    """The far end, enslaved to a bridge in its own namespace, is named as ip -n there names it."""
    here, there = make_netns(), make_netns()
    ip(there, "link", "add", "br0", "type", "bridge")
    ip(here, "link", "add", "v0", "type", "veth", "peer", "name", "eth0", "netns", there)
    ip(there, "link", "set", "eth0", "master", "br0")
    far = {link["ifname"]: link for link in ns_json(there, "ip", "-j", "link", "show")}["eth0"]
    assert far["master"] == "br0"
    document = dump(here)
    v0 = next(link for link in document["links"] if link["ifname"] == "v0")
    assert (v0["link_index"], v0["link_netns"]) == (far["ifindex"], there)
    assert (v0["link_netns_ifname"], v0["link_netns_master"]) == ("eth0", "br0")
    assert nodes_by_name(document["tree"])["v0"]["summary"] == f"peer eth0 in netns {there} (port of br0)"
    text = kvmtui("--netns", here, "--no-libvirt", "dump", env=os.environ | {"NO_COLOR": "1"}).stdout
    assert f"peer eth0 in netns {there} (port of br0)" in next(line for line in text.splitlines() if " v0 veth" in line)
    # Seen from the other side: the bridge port's peer is v0, free in its namespace.
    back = nodes_by_name(dump(there)["tree"])["eth0"]
    assert back["summary"] == f"peer v0 in netns {here}"
    # A recording made before kvmtui asked the other namespace keeps the number.
    for link in document["links"]:
        link.pop("link_netns_ifname"), link.pop("link_netns_master")
    old = tmp_path / "old.json"
    old.write_text(json.dumps(document))
    recorded = json.loads(kvmtui("--from", str(old), "dump", "--json").stdout)
    assert nodes_by_name(recorded["tree"])["v0"]["summary"] == f"peer #{far['ifindex']} in netns {there}"


def test_external_vxlan_matches_ip_and_shows_no_vni(netns, tmp_path):
    ip(netns, "link", "add", "vxe", "type", "vxlan", "external", "dstport", "4789")
    ip(netns, "link", "add", "vx7", "type", "vxlan", "id", "7", "dstport", "4789", "remote", "10.9.0.2")
    theirs = {link["ifname"]: link["linkinfo"]["info_data"]
              for link in ns_json(netns, "ip", "-d", "-j", "link", "show") if link["ifname"].startswith("vx")}
    document = dump(netns)
    ours = {link["ifname"]: link["info_data"] for link in document["links"] if link["ifname"].startswith("vx")}
    for name in ("vxe", "vx7"):
        assert ours[name]["external"] is theirs[name].get("external", False), name
        assert ours[name]["id"] == theirs[name]["id"], name
    assert ours["vxe"]["external"] is True
    summaries = {name: node["summary"] for name, node in nodes_by_name(document["tree"]).items()}
    assert (summaries["vxe"], summaries["vx7"]) == ("external", "vni 7 -> 10.9.0.2")
    recorded = tmp_path / "snapshot.json"
    recorded.write_text(json.dumps(document))
    text = kvmtui("--from", str(recorded), "dump").stdout
    assert next(line for line in text.splitlines() if " vxe vxlan" in line).endswith("  external")


def wait_operstate(netns: str, dev: str, wanted: str) -> None:
    """The kernel's linkwatch settles operstate up to a second after the change."""
    deadline = time.monotonic() + 5
    while ns_json(netns, "ip", "-j", "link", "show", dev)[0]["operstate"] != wanted:
        assert time.monotonic() < deadline, f"{dev} never reached {wanted}"
        time.sleep(0.05)


def test_admin_down_and_no_carrier_bridges_read_apart(netns):
    ip(netns, "link", "add", "br-off", "type", "bridge")
    ip(netns, "link", "add", "br-dark", "type", "bridge")
    ip(netns, "link", "add", "p0", "type", "veth", "peer", "name", "p1")
    ip(netns, "link", "set", "p0", "master", "br-dark")
    ip(netns, "link", "set", "br-dark", "up")  # up, but its only port is down: no carrier
    wait_operstate(netns, "br-dark", "DOWN")
    dark = ns_json(netns, "ip", "-j", "link", "show", "br-dark")[0]
    assert "NO-CARRIER" in dark["flags"] and "UP" in dark["flags"]
    states = {name: node["state"] for name, node in nodes_by_name(dump(netns)["tree"]).items()}
    assert (states["br-off"], states["br-dark"]) == ("down", "no-carrier")
    text = kvmtui("--netns", netns, "--no-libvirt", "dump", env=os.environ | {"NO_COLOR": "1"}).stdout
    lines = {name: next(line for line in text.splitlines() if f" {name} bridge" in line) for name in ("br-off", "br-dark")}
    assert "[down]" in lines["br-off"] and "[no-carrier]" in lines["br-dark"]
    assert "[down]" not in lines["br-dark"]


def plan_attach(netns: str, *how: str) -> list[str]:
    out = kvmtui("--netns", netns, "--connect", "test:///default", "plan", "attach", "test", *how).stdout
    topology = out.split("Topology (+ added, − removed, ~ changed)\n", 1)[1].split("\n\n", 1)[0]
    return topology.splitlines()


def test_plan_attach_draws_the_new_nic_under_where_it_lands(netns):
    ip(netns, "link", "add", "br0", "type", "bridge")
    ip(netns, "link", "add", "v1p", "type", "veth", "peer", "name", "v1q")
    for how, parent in ((("--bridge", "br0"), "br0 bridge"), (("--macvtap", "v1p"), "v1p veth")):
        lines = plan_attach(netns, *how)
        added = [n for n, line in enumerate(lines) if line.startswith("+")]
        assert len(added) == 1, lines
        assert lines[added[0]].lstrip("+ ").startswith("test guest  52:54:"), lines
        assert lines[added[0] - 1].strip().startswith(parent), lines
        assert not any("without a host device" in line for line in lines), lines


def test_no_orphan_taps_when_guests_were_not_read(netns):
    """--netns --no-libvirt: nothing says whose the taps are, so none is called an orphan;
    they hang under their bridge as before."""
    ip(netns, "link", "add", "br0", "type", "bridge")
    for tap in ("vnet0", "vnet1"):
        ip(netns, "tuntap", "add", tap, "mode", "tap")
        ip(netns, "link", "set", tap, "master", "br0")
    tree = dump(netns)["tree"]
    assert [node["key"] for node in tree if node["key"].startswith("group:")] == []
    br0 = nodes_by_name(tree)["br0"]
    assert {child["name"] for child in br0["children"]} == {"vnet0", "vnet1"}
