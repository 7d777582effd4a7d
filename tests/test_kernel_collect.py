"""The collector on a stock Debian kernel (runs inside the kernel VM: bonding, 802.1Q,
dummy and bridge VLAN filtering are missing from this machine's kernel)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from kvmtui.collect.bonding import parse_bonding_file
from kvmtui.collect.bonding_sysfs import read_bond_sysfs
from tests.topologies import ip
from tests.helpers import sh

pytestmark = pytest.mark.kernelvm



def stack(ns: str, mode_opts: tuple[str, ...]) -> None:
    """kt-d0 + kt-d1 -> bond0 -> bond0.100 -> kt-br100 (vlan_filtering, VLAN 200 on the port)."""
    primary = mode_opts[mode_opts.index("primary"):][:2] if "primary" in mode_opts else ()
    ip(ns, "link", "add", "bond0", "type", "bond", *(o for o in mode_opts if o not in primary))
    for slave in ("kt-d0", "kt-d1"):
        ip(ns, "link", "add", slave, "type", "dummy")
        ip(ns, "link", "set", slave, "master", "bond0")
    if primary:  # the kernel accepts a primary only once it is a slave
        ip(ns, "link", "set", "bond0", "type", "bond", *primary)
    ip(ns, "link", "add", "link", "bond0", "name", "bond0.100", "type", "vlan", "id", "100")
    ip(ns, "link", "add", "link", "bond0", "name", "bond0.300", "type", "vlan", "id", "300", "protocol", "802.1ad")
    ip(ns, "link", "add", "kt-br100", "type", "bridge", "vlan_filtering", "1")
    ip(ns, "link", "set", "bond0.100", "master", "kt-br100")
    sh("bridge", "-n", ns, "vlan", "add", "dev", "bond0.100", "vid", "200")
    for dev in ("bond0", "bond0.100", "kt-br100"):
        ip(ns, "link", "set", dev, "up")


def dump(ns: str) -> dict:
    proc = subprocess.run([sys.executable, "-m", "kvmtui", "--netns", ns, "--no-libvirt", "dump", "--json"],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def chains(nodes, prefix=()):
    for node in nodes:
        path = prefix + (node["name"],)
        yield path
        if node["ref"] is None:
            yield from chains(node["children"], path)


@pytest.mark.parametrize("mode_opts", [
    ("mode", "active-backup", "miimon", "100", "primary", "kt-d0"),
    ("mode", "802.3ad", "miimon", "100", "lacp_rate", "fast", "xmit_hash_policy", "layer3+4"),
], ids=["active-backup", "802.3ad"])
def test_bond_vlan_bridge_stack(netns, mode_opts):
    stack(netns, mode_opts)
    proc_text = sh("ip", "netns", "exec", netns, "cat", "/proc/net/bonding/bond0")
    doc = dump(netns)

    # The collected bond is what this kernel's bonding file says.
    (bond,) = doc["bonds"]
    expected = parse_bonding_file("bond0", proc_text)
    assert bond["source"] == "procfs"
    assert bond["mode"] == expected.mode == mode_opts[1]
    assert f"Bonding Mode: {bond['mode_text']}" in proc_text
    assert [s["name"] for s in bond["slaves"]] == ["kt-d0", "kt-d1"]
    for slave in bond["slaves"]:
        block = proc_text.split(f"Slave Interface: {slave['name']}\n", 1)[1]
        assert f"MII Status: {slave['mii_status']}" in block.split("\n\n", 1)[0]
        assert f"Link Failure Count: {slave['link_failure_count']}" in block
    if bond["mode"] == "active-backup":
        assert bond["active_slave"] == "kt-d0" and f"Currently Active Slave: {bond['active_slave']}" in proc_text
        assert bond["primary"] == "kt-d0"
    else:
        assert bond["lacp_rate"] == "fast" and bond["xmit_hash_policy"] == "layer3+4"
        assert {s["aggregator_id"] for s in bond["slaves"]} and all(s["aggregator_id"] for s in bond["slaves"])

    # Netlink's view agrees with iproute2's on the same kernel.
    links = {link["ifname"]: link for link in doc["links"]}
    theirs = {link["ifname"]: link for link in json.loads(ip(netns, "-d", "-j", "link", "show"))}
    ip_bond = theirs["bond0"]["linkinfo"]["info_data"]
    for key in ("mode", "miimon", "xmit_hash_policy", "ad_lacp_rate", "ad_select", "primary_reselect", "fail_over_mac",
                "arp_validate", "updelay", "downdelay", "arp_interval", "min_links"):
        assert links["bond0"]["info_data"][key] == ip_bond.get(key), key
    assert links["bond0"]["info_data"]["active_slave"] == ip_bond.get("active_slave")
    for slave in ("kt-d0", "kt-d1"):
        ip_slave = theirs[slave]["linkinfo"]["info_slave_data"]
        ours = links[slave]["info_slave_data"]
        assert links[slave]["slave_kind"] == "bond"
        assert (ours["state"], ours["mii_status"], ours["link_failure_count"]) == \
            (ip_slave["state"], ip_slave["mii_status"], ip_slave["link_failure_count"])
        assert ours["perm_hwaddr"] == ip_slave["perm_hwaddr"]
    assert links["bond0.100"]["info_data"] == {"protocol": "802.1Q", "id": 100}
    assert links["bond0.300"]["info_data"] == {"protocol": "802.1ad", "id": 300}
    assert links["bond0.100"]["link"] == "bond0"
    assert links["kt-br100"]["info_data"]["vlan_filtering"] is True

    # Bridge VLANs as `bridge -j vlan show` lists them.
    ip_vlans = {(entry["ifname"], v["vlan"], "PVID" in v.get("flags", []), "Egress Untagged" in v.get("flags", []))
                for entry in json.loads(sh("bridge", "-n", netns, "-j", "vlan", "show")) for v in entry["vlans"]}
    ours = {(v["ifname"], v["vlan"], v["pvid"], v["untagged"]) for v in doc["bridge_vlans"]}
    assert ours == ip_vlans
    assert ("bond0.100", 200, False, False) in ours

    # The tree reads NIC -> bond -> VLAN -> bridge.
    paths = set(chains(doc["tree"]))
    assert ("kt-d0", "bond0", "bond0.100", "kt-br100") in paths
    assert ("kt-d0", "bond0", "bond0.300") in paths
    d1 = next(n for n in doc["tree"] if n["name"] == "kt-d1")
    assert [(c["name"], c["ref"]) for c in d1["children"]] == [("bond0", "link:bond0")]


def test_sysfs_fallback_reads_a_real_bond_like_procfs():
    """sysfs shows the namespace it was mounted in, so this bond lives in the VM's own."""
    try:
        sh("ip", "link", "add", "kt-bond9", "type", "bond", "mode", "active-backup", "miimon", "50")
        for slave in ("kt-s0", "kt-s1"):
            sh("ip", "link", "add", slave, "type", "dummy")
            sh("ip", "link", "set", slave, "master", "kt-bond9")
        sh("ip", "link", "set", "kt-bond9", "up")
        from_proc = parse_bonding_file("kt-bond9", Path("/proc/net/bonding/kt-bond9").read_text())
        from_sysfs = read_bond_sysfs("kt-bond9")
        for field in ("mode", "miimon", "active_slave", "updelay", "downdelay"):
            assert getattr(from_sysfs, field) == getattr(from_proc, field), field
        # procfs prints the ARP interval only when ARP monitoring is on; sysfs always says 0.
        assert from_sysfs.arp_interval == 0 and from_proc.arp_interval is None
        assert [(s.name, s.mii_status, s.link_failure_count, s.perm_hwaddr) for s in from_sysfs.slaves] == \
            [(s.name, s.mii_status, s.link_failure_count, s.perm_hwaddr) for s in from_proc.slaves]
    finally:
        for dev in ("kt-bond9", "kt-s0", "kt-s1"):
            sh("ip", "link", "del", dev, check=False)
