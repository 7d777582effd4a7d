"""Open vSwitch as a source, against a real ovsdb-server and ovs-vswitchd (tests/ovs.py):
what the collector reads is what ovs-vsctl and ovs-appctl print, and `dump --json` carries
it and reads back."""

from __future__ import annotations

import json
import os
import re

import pytest

from kvmtui.collect.ovs import collect_ovs
from kvmtui.collect.snapshot import collect_kernel
from kvmtui.serialize import snapshot_document, snapshot_from_document
from tests.helpers import kvmtui
from tests.ovs import GHOST_UUID, TEST_GUEST_MAC, TEST_GUEST_UUID, UPLINK_MAC, build_lab, private_ovs


@pytest.fixture(scope="module")
def lab():
    with private_ovs() as ovs:
        build_lab(ovs)
        yield ovs


def _vsctl_rows(ovs, table: str, columns: str) -> list[dict]:
    """The table as ovs-vsctl prints it, read here without kvmtui's parser."""
    doc = json.loads(ovs.vsctl("--format=json", f"--columns={columns}", "list", table))
    return [dict(zip(doc["headings"], row)) for row in doc["data"]]


def _set(value) -> list:
    return value[1] if isinstance(value, list) and value[0] == "set" else [value]


def test_the_collector_reads_what_ovs_vsctl_and_ovs_appctl_print(lab):
    state, problems = collect_ovs(lab.environ())
    assert problems == ()
    assert [b.name for b in state.bridges] == ["br0", "br1"]
    assert {b["name"] for b in _vsctl_rows(lab, "Bridge", "name")} == {"br0", "br1"}
    ports = {p.name: p for b in state.bridges for p in b.ports}
    for row in _vsctl_rows(lab, "Port", "name,tag,trunks,fake_bridge"):
        port = ports[row["name"]]
        assert port.tag == (_set(row["tag"]) or [None])[0] and list(port.trunks) == _set(row["trunks"])
        assert port.fake_bridge == row["fake_bridge"]
    interfaces = {i.name: i for _b, _p, i in state.interfaces()}
    for row in _vsctl_rows(lab, "Interface", "name,type,ofport"):
        assert interfaces[row["name"]].ofport == next((n for n in _set(row["ofport"]) if n >= 0), None)  # -1: none
        assert interfaces[row["name"]].type == (row["type"] or "system")
    assert interfaces["patch-a"].peer == "patch-b" and interfaces["patch-b"].peer == "patch-a"
    assert (interfaces["vx1"].type, interfaces["vx1"].remote_ip, interfaces["vx1"].tunnel_key) == ("vxlan", "192.0.2.9", "42")
    assert (interfaces["vm1p"].vm_id, interfaces["vm1p"].attached_mac) == (TEST_GUEST_UUID, TEST_GUEST_MAC)
    vhu0 = interfaces["vhu0"]  # cannot be opened here: its type and vswitchd's error, no ofport
    assert (vhu0.type, vhu0.ofport) == ("dpdkvhostuserclient", None) and vhu0.error.startswith("could not open")
    assert [(f.name, f.parent, f.vlan) for f in state.fake_bridges] == [("br0.100", "br0", 100)]
    assert lab.vsctl("list-br").split() == ["br0", "br0.100", "br1"]  # the fake bridge as ovs-vsctl lists it

    bond0, bond1 = ports["bond0"].bond, ports["bond1"].bond
    shown = lab.appctl("bond/show", "bond0")
    active = re.search(r"active member mac: \S+\((\w+)\)", shown)[1]
    assert (bond0.mode, bond0.lacp, bond0.lacp_status, bond0.active_member) == ("active-backup", "off", "off", active)
    assert [(m.name, m.enabled, m.may_enable) for m in bond0.members] == [("p1", True, True), ("p2", True, True)]
    assert bond1.lacp == "active" and bond1.lacp_status in ("configured", "negotiated")
    assert [m.may_enable for m in bond1.members] == [False, False]  # no LACP partner on dummy ports
    assert all(m.lacp and m.partner_system == "00:00:00:00:00:00" for m in bond1.members)

    br0 = state.bridge("br0")
    fdb_text = lab.appctl("fdb/show", "br0")
    printed = {(vlan, mac) for _port, vlan, mac in re.findall(r"^\s*(\S+)\s+(\d+)\s+(\S+)\s+\d+", fdb_text, re.M)}
    assert {(str(e.vlan), e.mac) for e in br0.fdb} == printed
    assert {(e.port, e.vlan, e.mac) for e in br0.fdb} == {("bond0", 0, UPLINK_MAC), ("vm1p", 100, TEST_GUEST_MAC)}


def test_dump_json_carries_ovs_and_reads_back(lab, tmp_path):
    proc = kvmtui("--netns", lab.netns, "--connect", "test:///default", "dump", "--json", env=lab.env, check=True)
    document = json.loads(proc.stdout)
    assert document["problems"] == []
    ovs = document["ovs"]
    assert [b["name"] for b in ovs["bridges"]] == ["br0", "br1"]
    br0 = ovs["bridges"][0]
    ghost = next(p for p in br0["ports"] if p["name"] == "ghost0")["interfaces"][0]
    assert ["vm-id", GHOST_UUID] in ghost["external_ids"]
    assert {(e["port"], e["vlan"], e["mac"]) for e in br0["fdb"]} >= {("bond0", 0, UPLINK_MAC)}
    recorded = tmp_path / "ovs.json"
    recorded.write_text(proc.stdout)
    again = json.loads(kvmtui("--from", str(recorded), "dump", "--json", check=True).stdout)
    assert again["ovs"] == ovs and again["tree"] == document["tree"]


def test_round_trip_in_process_is_equal(lab, monkeypatch):
    for name, value in lab.env.items():
        monkeypatch.setenv(name, value)
    snapshot = collect_kernel(lab.netns)
    assert snapshot.ovs is not None
    assert snapshot_from_document(json.loads(json.dumps(snapshot_document(snapshot)))).ovs == snapshot.ovs


def test_no_ovs_is_no_problem(tmp_path, monkeypatch):
    """No socket where $OVS_RUNDIR says: OVS is not running, nothing is said."""
    monkeypatch.setenv("OVS_RUNDIR", str(tmp_path))
    assert collect_ovs() == (None, ())
    snapshot = collect_kernel(None)
    assert snapshot.ovs is None and not any("Open vSwitch" in p or "ovs" in p for p in snapshot.problems)
    (tmp_path / "db.sock").touch()  # a socket's name, but no ovs-vsctl on the PATH: not installed
    assert collect_ovs({**os.environ, "PATH": str(tmp_path / "bin")}) == (None, ())


def test_a_database_that_does_not_answer_is_one_problem(tmp_path, monkeypatch):
    """A socket nobody serves (ovsdb-server died): one line, no state, no exception."""
    import socket

    dead = socket.socket(socket.AF_UNIX)
    dead.bind(str(tmp_path / "db.sock"))  # bound, never listening: connect is refused
    try:
        monkeypatch.setenv("OVS_RUNDIR", str(tmp_path))
        state, problems = collect_ovs()
        assert state is None and len(problems) == 1 and problems[0].startswith("Open vSwitch database ")
        snapshot = collect_kernel(None)
        assert snapshot.ovs is None and sum("Open vSwitch" in p for p in snapshot.problems) == 1
    finally:
        dead.close()


def test_a_stopped_vswitchd_leaves_the_database_and_says_so():
    """ovsdb-server answers, ovs-vswitchd is gone: bridges from the database, no FDB, one line."""
    import signal

    with private_ovs() as ovs:
        ovs.add_bridge("br9")
        os.kill(ovs.pid("ovs-vswitchd"), signal.SIGKILL)
        state, problems = collect_ovs(ovs.environ())
        assert [b.name for b in state.bridges] == ["br9"] and state.bridges[0].fdb == ()
        assert len(problems) == 1 and problems[0].startswith("ovs-vswitchd: ")
