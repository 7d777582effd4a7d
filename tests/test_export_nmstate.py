"""`kvmtui export --format nmstate` of a real namespace: the YAML read back gives what
`ip -d -j` says, under nmstate's documented field names. nmstate itself is not installable
here (not in Debian 12; the PyPI release needs nispor), so nothing applies the YAML: the
check is the field names of nmstate's API docs and the values of the kernel."""

from __future__ import annotations

import json

from ruamel.yaml import YAML

from tests.helpers import kvmtui_in, sh


def exported(ns: str, *args: str) -> dict:
    proc = kvmtui_in(ns, "export", "--format", "nmstate", *args)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("# nmstate desired state of "), proc.stdout
    return YAML(typ="safe").load(proc.stdout)


def ip_links(ns: str) -> dict[str, dict]:
    return {link["ifname"]: link for link in json.loads(sh("ip", "-n", ns, "-d", "-j", "addr", "show"))}


def test_bridge_veth_vxlan_macvlan_and_routes_as_nmstate(netns):
    ns = netns
    sh("ip", "-n", ns, "link", "add", "kt-br0", "type", "bridge", "stp_state", "1", "forward_delay", "800")
    sh("ip", "-n", ns, "link", "add", "kt-p1", "type", "veth", "peer", "name", "kt-q1")
    sh("ip", "-n", ns, "link", "set", "kt-p1", "master", "kt-br0")
    sh("ip", "-n", ns, "link", "add", "kt-vx9", "type", "vxlan", "id", "900", "remote", "10.79.0.9", "local",
       "10.79.0.1", "dstport", "4789", "dev", "kt-q1")
    sh("ip", "-n", ns, "link", "set", "kt-vx9", "master", "kt-br0")
    sh("ip", "-n", ns, "link", "add", "kt-mv0", "link", "kt-q1", "type", "macvlan", "mode", "bridge")
    sh("ip", "-n", ns, "tuntap", "add", "kt-tap0", "mode", "tap")  # a guest's: not exported
    sh("ip", "-n", ns, "link", "set", "kt-tap0", "master", "kt-br0")
    sh("ip", "-n", ns, "addr", "add", "10.79.0.1/24", "dev", "kt-q1")
    sh("ip", "-n", ns, "addr", "add", "10.80.0.1/24", "dev", "kt-br0")
    sh("ip", "-n", ns, "addr", "add", "10.81.0.5/24", "dev", "kt-mv0", "valid_lft", "600", "preferred_lft", "600")
    for dev in ("kt-br0", "kt-p1", "kt-q1", "kt-mv0"):
        sh("ip", "-n", ns, "link", "set", dev, "up")
    sh("ip", "-n", ns, "route", "add", "10.82.0.0/16", "via", "10.80.0.254", "metric", "50")
    state = exported(ns)
    live = ip_links(ns)
    got = {i["name"]: i for i in state["interfaces"]}
    assert set(got) == {"kt-br0", "kt-p1", "kt-q1", "kt-vx9", "kt-mv0"}, sorted(got)

    bridge = got["kt-br0"]
    assert (bridge["type"], bridge["state"], bridge["mtu"]) == ("linux-bridge", "up", live["kt-br0"]["mtu"])
    assert bridge["mac-address"].lower() == live["kt-br0"]["address"]
    assert bridge["bridge"]["options"]["stp"] == {"enabled": True, "forward-delay": 8, "hello-time": 2,
                                                  "max-age": 20, "priority": 32768}
    assert [p["name"] for p in bridge["bridge"]["port"]] == ["kt-p1", "kt-vx9"]  # no tap
    assert bridge["ipv4"] == {"enabled": True, "dhcp": False, "address": [{"ip": "10.80.0.1", "prefix-length": 24}]}

    assert got["kt-q1"]["veth"] == {"peer": "kt-p1"} and got["kt-q1"]["type"] == "veth"
    assert got["kt-vx9"]["type"] == "vxlan"
    assert got["kt-vx9"]["vxlan"] == {"id": 900, "remote": "10.79.0.9", "local": "10.79.0.1",
                                      "destination-port": 4789, "base-iface": "kt-q1", "learning": True}
    assert got["kt-mv0"]["mac-vlan"] == {"base-iface": "kt-q1", "mode": "bridge", "promiscuous": True}
    assert got["kt-mv0"]["ipv4"] == {"enabled": True, "dhcp": True}  # a lease is DHCP, not a static address
    assert state["routes"]["config"] == [{"destination": "10.82.0.0/16", "next-hop-interface": "kt-br0",
                                          "next-hop-address": "10.80.0.254", "metric": 50, "table-id": 254}]


def test_a_plans_result_as_a_kubernetes_nmstate_policy(netns):
    sh("ip", "-n", netns, "link", "add", "kt-p1", "type", "veth", "peer", "name", "kt-q1")
    policy = exported(netns, "--nncp", "node-7", "bridge", "kt-br5", "--port", "kt-p1")
    assert policy["apiVersion"] == "nmstate.io/v1" and policy["kind"] == "NodeNetworkConfigurationPolicy"
    assert policy["spec"]["nodeSelector"] == {"kubernetes.io/hostname": "node-7"}
    got = {i["name"]: i for i in policy["spec"]["desiredState"]["interfaces"]}
    assert [p["name"] for p in got["kt-br5"]["bridge"]["port"]] == ["kt-p1"]
    assert "kt-br5" not in ip_links(netns)  # simulated, not applied
