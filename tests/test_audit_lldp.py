"""The LLDP rules of the audit (kvmtui/audit/neighbours.py) on the recorded host
(examples/kvm-host.json: bond0 of eno1 and eno2, bond0.100 a port of the VLAN-filtering
br100, eno3 a port of the plain br-mgmt) with lldpd's neighbours added as `dump --json`
records them. Pure: a real switch pair (MLAG or not) cannot be had here; the end-to-end
path from a real lldpd into the Snapshot is tests/test_identify_lldpd.py's."""

from __future__ import annotations

from dataclasses import replace

import pytest

from kvmtui.audit.engine import audit
from kvmtui.model import BridgeVlan, LacpPort
from kvmtui.model.wire import Neighbour, PortNeighbour
from kvmtui.serialize import read_snapshot_file
from tests.helpers import EXAMPLE


def _heard(ifname: str, switch: str, port: str, native: int | None = 1) -> PortNeighbour:
    chassis = {"sw-a": "52:54:00:00:00:0a", "sw-b": "52:54:00:00:00:0b"}[switch]
    return PortNeighbour(ifname, "lldpd", Neighbour("lldp", chassis, port, system_name=switch, native_vlan=native))


@pytest.fixture(scope="module")
def host():
    return read_snapshot_file(str(EXAMPLE))


def _found(snapshot, rule: str) -> list:
    return [f for f in audit(snapshot) if f.rule == rule]


def _bond_mode(snapshot, mode: str, partner: str | None = None):
    bond = snapshot.bonds_by_name["bond0"]
    lacp = LacpPort(65535, partner, 15, 255, 1, 61) if partner else None
    slaves = tuple(replace(slave, partner=lacp) for slave in bond.slaves)
    return replace(snapshot, bonds=(replace(bond, mode=mode, slaves=slaves),))


def test_an_8023ad_bond_on_two_switches_needs_mlag(host):
    two = replace(_bond_mode(host, "802.3ad"), neighbours=(_heard("eno1", "sw-a", "Eth1/1"),
                                                           _heard("eno2", "sw-b", "Eth1/1")))
    (finding,) = _found(two, "lldp-bond-switches")
    assert (finding.severity, finding.key, finding.subject) == ("warning", "link:bond0", "bond bond0")
    assert finding.what == ("bond0 (802.3ad) has slaves on 2 different switches by LLDP: eno1 to sw-a port Eth1/1, "
                            "eno2 to sw-b port Eth1/1")
    assert "MLAG" in finding.why and "active-backup" in finding.fix
    # LACP agreed with one system through both switches: an MLAG pair, nothing to say
    assert _found(replace(two, bonds=_bond_mode(host, "802.3ad", "00:23:04:ee:be:01").bonds), "lldp-bond-switches") == []
    # a partner of all zeros is no agreement at all
    assert _found(replace(two, bonds=_bond_mode(host, "802.3ad", "00:00:00:00:00:00").bonds), "lldp-bond-switches")
    # active-backup across two switches is what it is made for; one switch is fine for 802.3ad
    assert _found(replace(two, bonds=host.bonds), "lldp-bond-switches") == []
    one = replace(two, neighbours=(_heard("eno1", "sw-a", "Eth1/1"), _heard("eno2", "sw-a", "Eth1/2")))
    assert _found(one, "lldp-bond-switches") == []


def test_a_native_vlan_a_vlan_device_waits_for_tagged(host):
    # the switch sends VLAN 100 untagged on bond0's cables; bond0.100 (port of br100) waits for it tagged
    native_100 = replace(host, neighbours=(_heard("eno1", "sw-a", "Eth1/1", 100), _heard("eno2", "sw-a", "Eth1/2", 100)))
    findings = _found(native_100, "lldp-native-vlan")
    assert [(f.key, f.subject) for f in findings] == [("link:bond0.100", "VLAN bond0.100")] * 2  # one per cable
    assert findings[0].what == ("sw-a port Eth1/1 sends VLAN 100 untagged (its native VLAN, by LLDP, heard on eno1), "
                                "but bond0.100 (and bridge br100 on it) expects it tagged on bond0")
    native_1 = replace(host, neighbours=(_heard("eno1", "sw-a", "Eth1/1", 1),))
    assert _found(native_1, "lldp-native-vlan") == []


def test_a_native_vlan_against_the_pvid_of_a_filtering_bridge(host):
    # eno4 joins the VLAN-filtering br100 with PVID 1 (what `ip link set eno4 master br100` gives)
    links = tuple(replace(link, master="br100") if link.ifname == "eno4" else link for link in host.links)
    joined = replace(host, links=links, bridge_vlans=host.bridge_vlans + (BridgeVlan("eno4", 1, True, True),))
    (finding,) = _found(replace(joined, neighbours=(_heard("eno4", "sw-b", "Gi0/4", 20),)), "lldp-native-vlan")
    assert (finding.key, finding.subject) == ("link:eno4", "br100 port eno4")
    assert finding.what == ("sw-b port Gi0/4 sends VLAN 20 untagged (its native VLAN, by LLDP), but eno4's PVID on "
                            "br100 is 1")
    assert "bridge vlan add dev eno4 vid 20 pvid untagged" in finding.commands
    assert _found(replace(joined, neighbours=(_heard("eno4", "sw-b", "Gi0/4", 1),)), "lldp-native-vlan") == []
    # a plain bridge (br-mgmt on eno3) takes whatever arrives untagged: nothing to compare
    assert _found(replace(host, neighbours=(_heard("eno3", "sw-b", "Gi0/3", 30),)), "lldp-native-vlan") == []
