"""Decoders and parsers on what a stock Debian kernel really produced (recorded in the
kernel VM by tests/kernelvm/record_fixtures.py): raw netlink dumps against the
`ip`/`bridge` JSON of the same moment, bonding files against sysfs of the same bonds."""

from __future__ import annotations

import json

import pytest

from kvmtui.collect.bonding import parse_bonding_file
from kvmtui.collect.bonding_sysfs import read_bond_sysfs
from kvmtui.collect.decode_links import decode_links
from kvmtui.collect.decode_tables import decode_addresses, decode_bridge_vlans, decode_fdb
from kvmtui.model import HostInfo, Snapshot
from kvmtui.topology import build_forest
from tests.helpers import OWN_FIXTURES

RECORDED = OWN_FIXTURES / "kernelvm"
BONDS = {"bond0": "active-backup", "bond1": "802.3ad", "bond2": "balance-rr", "bond3": "balance-xor",
         "bond4": "broadcast", "bond5": "balance-tlb", "bond6": "balance-alb"}


def recorded(name: str):
    return json.loads((RECORDED / name).read_text())


def raw(name: str) -> list[bytes]:
    return [(RECORDED / "netlink" / name).read_bytes()]


@pytest.fixture(scope="module")
def links():
    return {link.ifname: link for link in decode_links(raw("rtm_getlink.bin"))}


def test_links_match_ip_json(links):
    ip = {link["ifname"]: link for link in recorded("ip-d-j-link.json")}
    assert links.keys() == ip.keys()
    for name, theirs in ip.items():
        ours = links[name]
        info = theirs.get("linkinfo", {})
        assert (ours.kind, ours.master, ours.link, ours.mac, ours.mtu) == (
            info.get("info_kind"), theirs.get("master"), theirs.get("link"), theirs.get("address"), theirs["mtu"]), name


@pytest.mark.parametrize("bond", sorted(BONDS))
def test_bond_netlink_data_matches_ip(links, bond):
    theirs = next(l for l in recorded("ip-d-j-link.json") if l["ifname"] == bond)["linkinfo"]["info_data"]
    ours = links[bond].info_data
    assert ours.mode == theirs["mode"] == BONDS[bond]
    assert (ours.miimon, ours.xmit_hash_policy, ours.ad_lacp_rate, ours.ad_select, ours.arp_validate) == (
        theirs["miimon"], theirs["xmit_hash_policy"], theirs["ad_lacp_rate"], theirs["ad_select"], theirs["arp_validate"])
    assert ours.active_slave == theirs.get("active_slave") and ours.primary == theirs.get("primary")
    for slave in (l for l in recorded("ip-d-j-link.json") if l.get("master") == bond):
        ip_slave = slave["linkinfo"]["info_slave_data"]
        data = links[slave["ifname"]].info_slave_data
        assert (data.state, data.mii_status, data.link_failure_count, data.perm_hwaddr, data.ad_aggregator_id) == (
            ip_slave["state"], ip_slave["mii_status"], ip_slave["link_failure_count"], ip_slave["perm_hwaddr"],
            ip_slave.get("ad_aggregator_id"))


def test_vlans_and_bridge(links):
    assert (links["bond0.100"].info_data.id, links["bond0.100"].info_data.protocol) == (100, "802.1Q")
    assert (links["bond1.300"].info_data.id, links["bond1.300"].info_data.protocol) == (300, "802.1ad")
    assert links["kt-br100"].info_data.vlan_filtering is True
    names = {link.ifindex: name for name, link in links.items()}
    ours = {(v.ifname, v.vlan, v.pvid, v.untagged) for v in decode_bridge_vlans(raw("rtm_getlink-af_bridge-brvlan.bin"), names)}
    theirs = {(e["ifname"], v["vlan"], "PVID" in v.get("flags", []), "Egress Untagged" in v.get("flags", []))
              for e in recorded("bridge-j-vlan.json") for v in e["vlans"]}
    assert ours == theirs


def test_fdb_and_addresses(links):
    names = {link.ifindex: name for name, link in links.items()}
    ours = sorted((e.mac, e.ifname, e.vlan or 0, e.master or "", e.state, e.flags)
                  for e in decode_fdb(raw("rtm_getneigh-af_bridge.bin"), names))
    theirs = sorted((e["mac"], e["ifname"], e.get("vlan", 0), e.get("master", ""), e["state"], tuple(e["flags"]))
                    for e in recorded("bridge-j-fdb.json"))
    assert ours == theirs
    assert any(vlan == 200 for _, _, vlan, *_ in ours)  # VLAN-tagged entries of the filtering bridge
    addresses = decode_addresses(raw("rtm_getaddr.bin"))
    ours_addr = {(names[i], a.local, a.prefixlen) for i, addrs in addresses.items() for a in addrs}
    theirs_addr = {(e["ifname"], a["local"], a["prefixlen"]) for e in recorded("ip-j-addr.json") for a in e["addr_info"]}
    assert ours_addr == theirs_addr


@pytest.mark.parametrize("bond", sorted(BONDS))
def test_bonding_file_and_sysfs_agree(bond):
    from_proc = parse_bonding_file(bond, (RECORDED / f"proc-bonding-{BONDS[bond]}.txt").read_text())
    from_sysfs = read_bond_sysfs(bond, RECORDED / "sysfs")
    assert from_proc.mode == from_sysfs.mode == BONDS[bond]
    assert from_proc.extra == ()  # every line of a current kernel's file is understood
    assert (from_proc.miimon, from_proc.active_slave) == (from_sysfs.miimon, from_sysfs.active_slave)
    assert [(s.name, s.mii_status, s.link_failure_count, s.perm_hwaddr) for s in from_proc.slaves] == \
        [(s.name, s.mii_status, s.link_failure_count, s.perm_hwaddr) for s in from_sysfs.slaves]


def test_recorded_topology_tree(links):
    bonds = tuple(parse_bonding_file(b, (RECORDED / f"proc-bonding-{m}.txt").read_text()) for b, m in BONDS.items())
    snapshot = Snapshot(host=HostInfo("vm", "6.1", "now", None, None, None, "0"), links=tuple(links.values()), bonds=bonds)
    paths = set()

    def walk(nodes, prefix):
        for node in nodes:
            paths.add(prefix + (node.name,))
            walk(node.children, prefix + (node.name,))

    walk(build_forest(snapshot), ())
    assert ("kt-d0", "bond0", "bond0.100", "kt-br100", "kt-d9") not in paths  # kt-d9 is an uplink too
    assert ("kt-d0", "bond0", "bond0.100", "kt-br100") in paths
    assert ("kt-d2", "bond1", "bond1.300") in paths
