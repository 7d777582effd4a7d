"""Bond rules (and what needs bonding or bridge VLAN filtering) on real bonds, inside the
kernel VM: a stock Debian kernel with bonding and dummy NICs standing in for real ones."""

from __future__ import annotations

import json
import time
from dataclasses import replace

import pytest

from kvmtui.audit import audit
from kvmtui.collect.snapshot import collect_snapshot
from tests.helpers import sh
from tests.frames import send_frame
from tests.topologies import bond_with_dummies, ip, ns_json
from tests.helpers import kvmtui

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


def as_nics(snapshot, *names: str):
    """The snapshot with these dummies standing in for hardware NICs (no kind): the VM has
    no NIC to spare, and the promiscuity rule judges NICs and bonds only."""
    return replace(snapshot, links=tuple(replace(l, kind=None) if l.ifname in names else l for l in snapshot.links))


def until_nics(ns: str, nics: tuple[str, ...], expected: set[tuple[str, str]], timeout: float = 10.0):
    """As `until`, with `nics` judged as NICs."""
    deadline = time.monotonic() + timeout
    while (result := {(f.rule, f.key) for f in audit(as_nics(snap(ns), *nics))}) != expected \
            and time.monotonic() < deadline:
        time.sleep(0.2)
    return result


def test_promiscuous_bond_outside_a_bridge(netns):
    slaves = ("kt-d5", "kt-d6")
    bond_with_dummies(netns, "bond3", slaves, "mode", "active-backup", "miimon", "100")
    ip(netns, "link", "set", "bond3", "promisc", "on")
    # The active slave is promiscuous too, because its bond is: only the bond is reported.
    assert until_nics(netns, slaves, {("host-promisc-nic", "link:bond3")}) == {("host-promisc-nic", "link:bond3")}
    assert any(l.promiscuity > 0 for l in snap(netns).links if l.ifname in slaves)
    ip(netns, "link", "set", "bond3", "promisc", "off")
    ip(netns, "link", "add", "kt-br3", "type", "bridge")
    ip(netns, "link", "set", "bond3", "master", "kt-br3")  # a bridge port is promiscuous by design
    ip(netns, "link", "set", "kt-br3", "up")
    assert int(json.loads(ip(netns, "-d", "-j", "link", "show", "bond3"))[0]["promiscuity"]) > 0
    assert until_nics(netns, slaves, set()) == set()


def test_promiscuous_slave_of_a_bond_outside_a_bridge(netns):
    """A capture on a slave of a bond that is no bridge port: being a bond slave explains
    nothing. The bond as a bridge port, or a VLAN on it as one, does."""
    slaves = ("kt-d8", "kt-d9")
    bond_with_dummies(netns, "bond5", slaves, "mode", "active-backup", "miimon", "100")
    ip(netns, "link", "set", "kt-d8", "promisc", "on")
    expected = {("host-promisc-nic", "link:kt-d8")}
    assert until_nics(netns, slaves, expected) == expected
    (finding,) = audit(as_nics(snap(netns), *slaves))
    assert "neither it nor its bond bond5 is a bridge port" in finding.what
    assert finding.commands == ("ss -f link -p", "ip link set dev kt-d8 promisc off")

    ip(netns, "link", "add", "kt-br5", "type", "bridge")
    ip(netns, "link", "add", "link", "bond5", "name", "bond5.10", "type", "vlan", "id", "10")
    ip(netns, "link", "set", "bond5.10", "master", "kt-br5")
    for dev in ("bond5.10", "kt-br5"):
        ip(netns, "link", "set", dev, "up")
    assert until_nics(netns, slaves, set()) == set()  # slave <- bond5 <- bond5.10, a bridge port
    ip(netns, "link", "set", "bond5.10", "nomaster")
    assert until_nics(netns, slaves, expected) == expected
    ip(netns, "link", "set", "bond5", "master", "kt-br5")
    assert until_nics(netns, slaves, set()) == set()


def test_mac_flapping_inside_one_vlan_but_not_across_vlans(make_netns, tmp_path):
    """Real frames into a VLAN-filtering bridge from two containers (veths to another namespace).
    One MAC in VLAN 10 behind kt-p1 and in VLAN 20 behind kt-p2 is normal (a router's VLAN
    interfaces share a MAC); the kernel keys its FDB by (MAC, VLAN), so it holds both. Once kt-p2
    is in VLAN 10 too and the MAC arrives there, it moved within one VLAN: found against the
    previous snapshot, and only with it."""
    netns, outside = make_netns(), make_netns()
    mac = "02:00:00:00:00:99"
    ip(netns, "link", "add", "kt-brv", "type", "bridge", "vlan_filtering", "1")
    for port, peer, vid in (("kt-p1", "kt-q1", "10"), ("kt-p2", "kt-q2", "20")):
        ip(netns, "link", "add", port, "type", "veth", "peer", "name", peer, "netns", outside)
        ip(netns, "link", "set", port, "master", "kt-brv")
        sh("bridge", "-n", netns, "vlan", "add", "dev", port, "vid", vid, "pvid", "untagged")
        ip(netns, "link", "set", port, "up")
        ip(outside, "link", "set", peer, "up")
    ip(netns, "link", "set", "kt-brv", "up")
    for peer in ("kt-q1", "kt-q2"):
        send_frame(outside, peer, mac)
    learned = {(e["ifname"], e.get("vlan")) for e in ns_json(netns, "bridge", "-j", "fdb", "show", "br", "kt-brv")
               if e["mac"] == mac}
    assert learned == {("kt-p1", 10), ("kt-p2", 20)}
    before = snap(netns)
    assert found(netns) == set() and audit(snap(netns), before) == ()
    record(netns, tmp_path / "before.json")

    sh("bridge", "-n", netns, "vlan", "add", "dev", "kt-p2", "vid", "10", "pvid", "untagged")
    send_frame(outside, "kt-q2", mac)
    assert found(netns) == set()  # one snapshot cannot tell a move
    (finding,) = audit(snap(netns), before)
    assert (finding.rule, finding.key) == ("bridge-mac-moved", "link:kt-brv")
    assert finding.what == f"{mac} moved from kt-p1 to kt-p2 on kt-brv in VLAN 10 since {before.host.taken_at}"

    record(netns, tmp_path / "after.json")
    proc = kvmtui("audit", "--from", str(tmp_path / "after.json"), "--previous", str(tmp_path / "before.json"),
                  "--format", "json")
    assert proc.returncode == 1, proc.stderr
    assert [(f["rule"], f["key"]) for f in json.loads(proc.stdout)["findings"]] == [("bridge-mac-moved", "link:kt-brv")]


def test_bond_rules_fall_back_to_netlink_without_the_bonding_file(netns):
    """Neither /proc/net/bonding nor sysfs readable (bonds empty): netlink's data says the same."""
    bond_with_dummies(netns, "bond4", ("kt-d7",), "mode", "active-backup")
    expected = {("bond-single-slave", "link:bond4"), ("bond-no-monitor", "link:bond4")}
    assert until(netns, expected) == expected
    bare = replace(snap(netns), bonds=())
    assert {(f.rule, f.key) for f in audit(bare)} == expected
    ip(netns, "link", "set", "bond4", "type", "bond", "miimon", "100")
    ip(netns, "link", "set", "kt-d7", "down")
    expected = {("bond-single-slave", "link:bond4"), ("bond-slave-down", "link:kt-d7")}
    assert until(netns, expected) == expected
    deadline = time.monotonic() + 10
    while {(f.rule, f.key) for f in audit(replace(snap(netns), bonds=()))} != expected and time.monotonic() < deadline:
        time.sleep(0.2)
    bare = audit(replace(snap(netns), bonds=()))
    assert {(f.rule, f.key, f.severity) for f in bare} == {
        ("bond-single-slave", "link:bond4", "warning"), ("bond-slave-down", "link:kt-d7", "error")}


def record(ns: str, path) -> None:
    proc = kvmtui("--netns", ns, "--no-libvirt", "dump", "--json")
    assert proc.returncode == 0, proc.stderr
    path.write_text(proc.stdout)


