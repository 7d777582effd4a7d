"""Open vSwitch in the tree, the panes' rows and the audit, on a real private OVS
(tests/ovs.py) with test:/// guests: NIC -> OVS bond -> bridge -> fake bridge -> port ->
guest, patch ports joining bridges, a tunnel with its remote."""

from __future__ import annotations

import json

import pytest

from kvmtui.audit import audit
from kvmtui.collect.snapshot import collect_snapshot
from kvmtui.topology import build_forest, walk
from kvmtui.views import bond_rows, bridge_of, fdb_rows, node_details
from tests.helpers import kvmtui
from tests.ovs import (GHOST_UUID, IFACE_GUEST_MAC, TEST_GUEST_MAC, TEST_GUEST_UUID, UPLINK_MAC, build_lab,
                       guest_node_xml, private_ovs, tree_chains)


@pytest.fixture(scope="module")
def lab():
    with private_ovs() as ovs:
        build_lab(ovs)
        yield ovs


@pytest.fixture
def ovs_env(lab, monkeypatch):
    for name, value in lab.env.items():
        monkeypatch.setenv(name, value)
    return lab


def test_dump_shows_the_chains_from_the_wire_to_the_guest(lab):
    proc = kvmtui("--netns", lab.netns, "--connect", "test:///default", "dump", "--json", env=lab.env, check=True)
    paths = tree_chains(json.loads(proc.stdout)["tree"])
    first = "p1" if ("p1", "bond0") in paths else "p2"  # the bond is in full under one member, a ref under the other
    assert (first, "bond0", "br0", "br0.100", "vm1p", "test") in paths  # NIC -> bond -> bridge -> VLAN -> port -> guest
    assert (first, "bond0", "br0", "patch-a", "br1") in paths  # the patch pair joins br1 (a reference)
    assert (first, "bond0", "br0", "vx1") in paths
    assert ("q1", "bond1", "br1", "patch-b", "br0") in paths
    tree = json.loads(proc.stdout)["tree"]
    nodes = {n["key"]: n for n in _walk(tree) if n["ref"] is None}
    assert nodes["link:br0"]["kind"] == "ovs-bridge" and nodes["link:bond0"]["kind"] == "ovs-bond"
    assert nodes["link:br0.100"]["summary"] == "vlan 100 of br0"
    assert nodes["link:vx1"]["summary"] == "ovs br0, vxlan key 42 -> 192.0.2.9"
    assert "active " in nodes["link:bond0"]["summary"]

    text = kvmtui("--netns", lab.netns, "--connect", "test:///default", "dump", env=lab.env, check=True).stdout
    assert "bond0 ovs-bond  ovs bond active-backup, lacp off, active p" in text
    assert "br0.100 ovs-fake-bridge  vlan 100 of br0" in text
    assert "vm1p ovs-internal  ovs br0, tag 100, internal" in text
    assert f"test guest  {TEST_GUEST_MAC}" in text
    assert "patch-a ovs-patch  ovs br0, patch to patch-b" in text
    assert "vhu0 ovs-dpdkvhostuserclient [unknown]" in text
    assert nodes["link:vhu0"]["summary"].startswith("ovs br1, dpdkvhostuserclient, error: could not open")


def _walk(nodes: list[dict]):
    for node in nodes:
        yield node
        yield from _walk(node["children"])


def test_a_virtualport_interfaceid_ties_the_guest_to_its_port(lab, tmp_path):
    """libvirt's <virtualport type='openvswitch'> interfaceid is the Interface's iface-id."""
    uri = guest_node_xml(tmp_path / "node.xml")
    proc = kvmtui("--netns", lab.netns, "--connect", uri, "dump", "--json", env=lab.env, check=True)
    paths = tree_chains(json.loads(proc.stdout)["tree"])
    assert any(path[-3:] == ("br0.100", "vnet7", "kt-ovsguest") for path in paths), sorted(paths)


def test_views_fdb_bonds_details_and_audit(ovs_env):
    snapshot = collect_snapshot(ovs_env.netns, uri="test:///default")
    assert snapshot.ovs is not None and snapshot.domains
    for name in ("br0", "bond0", "p1", "vm1p", "patch-a"):
        assert bridge_of(snapshot, name) == "br0"
    assert bridge_of(snapshot, "br0.100") == "br0.100"  # a fake bridge: br0's FDB in VLAN 100
    assert {(r.mac, r.vlan) for r in fdb_rows(snapshot, "br0.100")} == {(TEST_GUEST_MAC, "100")}
    rows = {row.mac: row for row in fdb_rows(snapshot, "br0")}
    assert (rows[TEST_GUEST_MAC].port, rows[TEST_GUEST_MAC].vlan, rows[TEST_GUEST_MAC].owner) == ("vm1p", "100", "guest test")
    assert (rows[UPLINK_MAC].port, rows[UPLINK_MAC].vlan, rows[UPLINK_MAC].state) == ("bond0", "0", "learned")
    assert rows[UPLINK_MAC].age.endswith("s")

    bonds = {(row.bond, row.slave): row for row in bond_rows(snapshot, {})}
    assert bonds[("bond0", "p1")].mode == "ovs active-backup" and not bonds[("bond0", "p1")].alarm
    assert sum(bonds[("bond0", m)].active for m in ("p1", "p2")) == 1
    assert bonds[("bond1", "q1")].alarm == "may_enable false"

    forest = build_forest(snapshot)
    title, lines = node_details(snapshot, forest, "link:bond0")
    assert title == "bond0" and dict(lines)["member p1"].startswith("enabled, may_enable true")
    _, lines = node_details(snapshot, forest, "link:vm1p")
    assert dict(lines)["ovs external_ids vm-id"] == TEST_GUEST_UUID
    _, lines = node_details(snapshot, forest, "link:vx1")
    assert dict(lines)["ovs remote"].startswith("192.0.2.9")

    findings = {(f.rule, f.key): f for f in audit(snapshot)}
    assert findings[("ovs-bond-member-disabled", "link:q1")].severity == "error"  # neither member of bond1 may
    assert ("ovs-bond-member-disabled", "link:p1") not in findings
    orphan = findings[("ovs-guest-port-orphan", "link:ghost0")]
    assert GHOST_UUID in orphan.what and orphan.commands == ("ovs-vsctl --if-exists del-port br0 ghost0",)
    assert ("ovs-guest-port-orphan", "link:vm1p") not in findings  # the test guest is known
    assert ("ovs-guest-port-orphan", "link:vnet7") in findings  # its interfaceid's guest is not in test:///default


def test_the_guest_of_an_interfaceid_is_no_orphan(ovs_env, tmp_path):
    snapshot = collect_snapshot(ovs_env.netns, uri=guest_node_xml(tmp_path / "node.xml"))
    keys = {f.key for f in audit(snapshot) if f.rule == "ovs-guest-port-orphan"}
    assert "link:vnet7" not in keys and "link:ghost0" in keys
    macs = {row.mac: row.owner for row in fdb_rows(snapshot, "br0")}
    assert IFACE_GUEST_MAC not in macs or macs[IFACE_GUEST_MAC] == "guest kt-ovsguest"


def test_tree_of_a_snapshot_without_ovs_is_unchanged(ovs_env):
    """The same host without its OVS part: no OVS node at all."""
    from dataclasses import replace

    snapshot = replace(collect_snapshot(ovs_env.netns, with_libvirt=False), ovs=None)
    assert not any(node.kind.startswith("ovs-") for _depth, node in walk(build_forest(snapshot)))
