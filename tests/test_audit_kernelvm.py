"""Bond rules (and what needs bonding or bridge VLAN filtering) on real bonds, inside the
kernel VM: a stock Debian kernel with bonding and dummy NICs standing in for real ones."""

from __future__ import annotations

import json
import subprocess
import sys
import time

import pytest

from kvmtui.audit import audit
from kvmtui.collect.snapshot import collect_snapshot
from tests.topologies import bond_with_dummies, ip
from tests.conftest import sh

pytestmark = pytest.mark.kernelvm




def snap(ns: str):
    return collect_snapshot(ns, with_libvirt=False)


def found(ns: str, previous=None) -> set[tuple[str, str]]:
    return {(f.rule, f.key) for f in audit(snap(ns), previous)}


def until(ns: str, expected: set[tuple[str, str]], timeout: float = 10.0) -> set[tuple[str, str]]:
    """The findings once they equal `expected` (bonding's state machines take a moment)."""
    deadline = time.monotonic() + timeout
    while (result := found(ns)) != expected and time.monotonic() < deadline:
        time.sleep(0.2)
    return result


def test_active_backup_bond(netns, tmp_path):
    """Clean, then the active slave moved off the primary, then a slave lost."""
    bond_with_dummies(netns, "bond0", ("kt-d0", "kt-d1"), "mode", "active-backup", "miimon", "100")
    ip(netns, "link", "set", "bond0", "type", "bond", "primary", "kt-d0")
    assert until(netns, set()) == set()

    ip(netns, "link", "set", "bond0", "type", "bond", "active_slave", "kt-d1")
    (finding,) = audit(snap(netns))
    assert (finding.rule, finding.key) == ("bond-not-primary", "link:bond0")
    assert finding.commands == ("ip link set dev bond0 type bond active_slave kt-d0",)

    before = snap(netns)
    record(netns, tmp_path / "before.json")
    ip(netns, "link", "set", "kt-d1", "down")
    expected = {("bond-slave-down", "link:kt-d1")}  # the bond went back to its primary
    assert until(netns, expected) == expected
    after = audit(snap(netns), before)
    assert {(f.rule, f.key) for f in after} == expected | {("bond-failures-grown", "link:kt-d1")}
    (grown,) = [f for f in after if f.rule == "bond-failures-grown"]
    assert "from 0 to 1" in grown.what
    (down,) = [f for f in after if f.rule == "bond-slave-down"]
    assert down.severity == "warning" and down.commands == ("ip link set dev kt-d1 up",)

    # The same through the command line, on recorded snapshots.
    record(netns, tmp_path / "after.json")
    proc = kvmtui("audit", "--from", str(tmp_path / "after.json"), "--previous", str(tmp_path / "before.json"),
                  "--format", "json")
    assert proc.returncode == 1, proc.stderr
    rules = {(f["rule"], f["key"]) for f in json.loads(proc.stdout)["findings"]}
    assert rules == expected | {("bond-failures-grown", "link:kt-d1")}
    alone = kvmtui("audit", "--from", str(tmp_path / "after.json"), "--format", "json")
    assert {f["rule"] for f in json.loads(alone.stdout)["findings"]} == {"bond-slave-down"}

    ip(netns, "link", "set", "kt-d0", "down")  # the last slave: nothing passes any more
    expected = {("bond-slave-down", "link:kt-d0"), ("bond-slave-down", "link:kt-d1")}
    assert until(netns, expected) == expected
    assert {f.severity for f in audit(snap(netns))} == {"error"}


def test_lacp_without_partner(netns):
    """Dummies have no LACP partner: partner MAC zero, and each port its own aggregator."""
    bond_with_dummies(netns, "bond1", ("kt-d2", "kt-d3"), "mode", "802.3ad", "miimon", "100", "lacp_rate", "fast")
    expected = {("bond-lacp-no-partner", "link:bond1"), ("bond-lacp-split", "link:bond1")}
    assert until(netns, expected) == expected
    text = sh("ip", "netns", "exec", netns, "cat", "/proc/net/bonding/bond1")
    assert "Partner Mac Address: 00:00:00:00:00:00" in text


def test_single_slave_without_monitoring(netns):
    bond_with_dummies(netns, "bond2", ("kt-d4",), "mode", "active-backup")  # miimon defaults to 0
    assert until(netns, {("bond-single-slave", "link:bond2"), ("bond-no-monitor", "link:bond2")}) == {
        ("bond-single-slave", "link:bond2"), ("bond-no-monitor", "link:bond2")}
    ip(netns, "link", "set", "bond2", "type", "bond", "miimon", "100")
    assert found(netns) == {("bond-single-slave", "link:bond2")}


def test_promiscuous_bond_outside_a_bridge(netns):
    bond_with_dummies(netns, "bond3", ("kt-d5", "kt-d6"), "mode", "active-backup", "miimon", "100")
    ip(netns, "link", "set", "bond3", "promisc", "on")
    # The slaves are promiscuous too, because their bond is: only the bond is reported.
    assert until(netns, {("host-promisc-nic", "link:bond3")}) == {("host-promisc-nic", "link:bond3")}
    ip(netns, "link", "set", "bond3", "promisc", "off")
    ip(netns, "link", "add", "kt-br3", "type", "bridge")
    ip(netns, "link", "set", "bond3", "master", "kt-br3")  # a bridge port is promiscuous by design
    ip(netns, "link", "set", "kt-br3", "up")
    assert int(json.loads(ip(netns, "-d", "-j", "link", "show", "bond3"))[0]["promiscuity"]) > 0
    assert found(netns) == set()


def test_one_mac_on_two_ports_of_a_vlan_bridge(netns):
    ip(netns, "link", "add", "kt-brv", "type", "bridge", "vlan_filtering", "1")
    for port, vid in (("kt-p1", "10"), ("kt-p2", "20")):
        ip(netns, "link", "add", port, "type", "dummy")
        ip(netns, "link", "set", port, "master", "kt-brv")
        ip(netns, "link", "set", port, "up")
        sh("bridge", "-n", netns, "vlan", "add", "dev", port, "vid", vid)
    ip(netns, "link", "set", "kt-brv", "up")
    assert found(netns) == set()
    for port, vid in (("kt-p1", "10"), ("kt-p2", "20")):
        sh("bridge", "-n", netns, "fdb", "add", "02:00:00:00:00:99", "dev", port, "master", "dynamic", "vlan", vid)
    (finding,) = audit(snap(netns))
    assert (finding.rule, finding.key) == ("bridge-mac-two-ports", "link:kt-brv")
    assert "02:00:00:00:00:99 is learned on 2 ports of kt-brv: kt-p1, kt-p2" in finding.what


def record(ns: str, path) -> None:
    proc = kvmtui("--netns", ns, "--no-libvirt", "dump", "--json")
    assert proc.returncode == 0, proc.stderr
    path.write_text(proc.stdout)


def kvmtui(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "kvmtui", *args], capture_output=True, text=True, timeout=120)
