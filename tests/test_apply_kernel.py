"""Bonds, VLANs and bridges created by `kvmtui apply` on a stock Debian kernel (inside
the kernel VM), checked against that kernel's /proc/net/bonding and `ip -d -j link`."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from kvmtui.collect.bonding import parse_bonding_file
from tests.helpers import sh
from tests.helpers import kvmtui_in, links

pytestmark = pytest.mark.kernelvm

MODES = {
    "balance-rr": (),
    "active-backup": ("--primary", "kt-d1"),
    "balance-xor": ("--xmit-hash-policy", "layer2+3"),
    "broadcast": (),
    "802.3ad": ("--lacp-rate", "fast", "--xmit-hash-policy", "layer3+4"),
    "balance-tlb": ("--xmit-hash-policy", "layer3+4"),
    "balance-alb": ("--primary", "kt-d0"),
}


def dummies(ns: str, *names: str) -> None:
    for name in names:
        sh("ip", "-n", ns, "link", "add", name, "type", "dummy")
        sh("ip", "-n", ns, "link", "set", name, "up")  # the plan must take them down to enslave them


@pytest.mark.parametrize("mode", sorted(MODES))
def test_bond_in_every_mode(netns, mode):
    dummies(netns, "kt-d0", "kt-d1")
    proc = kvmtui_in(netns, "apply", "--yes", "bond", "kt-bond0", "--mode", mode, "--slave", "kt-d0", "--slave", "kt-d1",
                  "--miimon", "150", *MODES[mode])
    assert proc.returncode == 0, proc.stdout + proc.stderr
    bond = parse_bonding_file("kt-bond0", sh("ip", "netns", "exec", netns, "cat", "/proc/net/bonding/kt-bond0"))
    assert bond.mode == mode and bond.miimon == 150
    assert [s.name for s in bond.slaves] == ["kt-d0", "kt-d1"]
    options = dict(zip(MODES[mode][::2], MODES[mode][1::2]))
    if "--primary" in options:
        assert bond.primary == options["--primary"]
    if "--lacp-rate" in options:
        assert bond.lacp_rate == options["--lacp-rate"]
    found = links(netns)["kt-bond0"]
    if "--xmit-hash-policy" in options:
        # the bonding file prints the policy for balance-xor and 802.3ad only; netlink always has it
        assert found["linkinfo"]["info_data"]["xmit_hash_policy"] == options["--xmit-hash-policy"]
        if mode in ("balance-xor", "802.3ad"):
            assert bond.xmit_hash_policy == options["--xmit-hash-policy"]
    assert "UP" in found["flags"]


def test_arp_monitoring_bond(netns):
    dummies(netns, "kt-d0")
    proc = kvmtui_in(netns, "apply", "--yes", "bond", "kt-bond0", "--mode", "active-backup", "--slave", "kt-d0",
                  "--arp-interval", "200", "--arp-ip-target", "10.1.1.1", "--arp-ip-target", "10.1.1.2")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    bond = parse_bonding_file("kt-bond0", sh("ip", "netns", "exec", netns, "cat", "/proc/net/bonding/kt-bond0"))
    assert bond.arp_interval == 200 and bond.arp_ip_target == ("10.1.1.1", "10.1.1.2")


def test_vlan_on_bond_bridge_on_vlan_then_delete(netns):
    dummies(netns, "kt-d0", "kt-d1")
    assert kvmtui_in(netns, "apply", "--yes", "bond", "kt-bond0", "--mode", "802.3ad", "--slave", "kt-d0", "--slave", "kt-d1").returncode == 0
    proc = kvmtui_in(netns, "apply", "--yes", "vlan", "kt-bond0", "100")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    proc = kvmtui_in(netns, "apply", "--yes", "vlan", "kt-bond0", "200", "--name", "kt-qinq", "--protocol", "802.1ad")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    proc = kvmtui_in(netns, "apply", "--yes", "bridge", "kt-br100", "--port", "kt-bond0.100", "--stp", "on")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    found = links(netns)
    assert found["kt-bond0.100"]["linkinfo"]["info_data"]["id"] == 100
    assert found["kt-qinq"]["linkinfo"]["info_data"]["protocol"] == "802.1ad"
    assert found["kt-bond0.100"]["link"] == "kt-bond0" and found["kt-bond0.100"]["master"] == "kt-br100"
    taken = subprocess.run([sys.executable, "-m", "kvmtui", "--netns", netns, "--no-libvirt", "apply", "--yes",
                            "vlan", "kt-bond0", "100", "--name", "kt-again"], capture_output=True, text=True)
    assert taken.returncode == 1 and "VLAN 100 already exists on kt-bond0 as kt-bond0.100" in taken.stderr
    busy = kvmtui_in(netns, "apply", "--yes", "delete", "kt-bond0")
    assert busy.returncode == 1 and "carries" in busy.stderr
    for name in ("kt-br100", "kt-bond0.100", "kt-qinq", "kt-bond0"):
        proc = kvmtui_in(netns, "apply", "--yes", "delete", name)
        assert proc.returncode == 0, proc.stdout + proc.stderr
    found = links(netns)
    assert {"kt-br100", "kt-bond0.100", "kt-qinq", "kt-bond0"}.isdisjoint(found)
    assert "master" not in found["kt-d0"] and "master" not in found["kt-d1"]


def test_failed_bond_creation_rolls_back(netns):
    """The kernel itself refuses: a slave that vanished between plan and apply."""
    from kvmtui.apply import Executor
    from kvmtui.collect.snapshot import collect_snapshot
    from kvmtui.kinds import CreateBond, make_plan

    dummies(netns, "kt-d0", "kt-d1")
    plan = make_plan(CreateBond("kt-bond0", "active-backup", ("kt-d0", "kt-d1")), collect_snapshot(netns=netns, with_libvirt=False))
    sh("ip", "-n", netns, "link", "del", "kt-d1")
    report = Executor(netns, None, readonly=False).apply(plan)
    assert not report.ok and "kt-d1" in (report.error or "")
    found = links(netns)
    assert "kt-bond0" not in found and "master" not in found["kt-d0"] and "UP" in found["kt-d0"]["flags"]


def test_deleting_a_bond_brings_its_slaves_back_up(netns):
    """The bonding driver closes the slaves it releases: the plan opens them again, so
    the addresses moved onto one of them work at once."""
    dummies(netns, "kt-d0", "kt-d1")
    proc = kvmtui_in(netns, "apply", "--yes", "bond", "kt-bond0", "--mode", "active-backup", "--slave", "kt-d0", "--slave", "kt-d1")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    # Tuning the wizard does not set, which an undone delete must bring back all the same.
    sh("ip", "-n", netns, "link", "set", "kt-bond0", "type", "bond", "updelay", "300", "downdelay", "150",
       "primary_reselect", "better", "min_links", "2")
    sh("ip", "-n", netns, "addr", "add", "10.7.0.1/24", "dev", "kt-bond0")
    proc = kvmtui_in(netns, "apply", "--yes", "delete", "kt-bond0", "--move-ip-to", "kt-d0")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "ip link set kt-d0 up" in proc.stdout and "ip link set kt-d1 up" in proc.stdout
    found = links(netns)
    assert "kt-bond0" not in found
    assert "UP" in found["kt-d0"]["flags"] and "UP" in found["kt-d1"]["flags"]
    addrs = json.loads(sh("ip", "-n", netns, "-j", "addr", "show", "dev", "kt-d0"))[0]["addr_info"]
    assert "10.7.0.1" in [a["local"] for a in addrs]


def test_a_failed_delete_of_a_vlan_in_a_bridge_puts_it_back_in_the_bridge(netns):
    from kvmtui.collect.snapshot import collect_snapshot
    from kvmtui.kinds import DeleteLink, make_plan
    from tests.states import assert_every_failure_undone, no_dad

    no_dad(netns)
    dummies(netns, "kt-d0", "kt-d1")
    sh("ip", "-n", netns, "link", "add", "link", "kt-d0", "name", "kt-d0.100", "type", "vlan", "id", "100")
    sh("ip", "-n", netns, "link", "add", "kt-br0", "type", "bridge")
    for port in ("kt-d0.100", "kt-d1"):
        sh("ip", "-n", netns, "link", "set", port, "master", "kt-br0")
        sh("ip", "-n", netns, "link", "set", port, "up")
    sh("ip", "-n", netns, "link", "set", "kt-br0", "up")
    sh("ip", "-n", netns, "addr", "add", "10.8.0.1/24", "dev", "kt-br0")
    plan = make_plan(DeleteLink("kt-d0.100"), collect_snapshot(netns=netns, with_libvirt=False))
    assert "ip link set kt-d0.100 nomaster" in plan.commands
    assert_every_failure_undone(netns, plan)
    assert links(netns)["kt-d0.100"]["master"] == "kt-br0"


def test_a_failed_delete_of_a_bond_puts_back_its_slaves_primary_tuning_and_addresses(netns):
    from kvmtui.collect.snapshot import collect_snapshot
    from kvmtui.kinds import DeleteLink, make_plan
    from tests.states import assert_every_failure_undone, no_dad

    no_dad(netns)
    dummies(netns, "kt-d0", "kt-d1", "kt-d2")
    proc = kvmtui_in(netns, "apply", "--yes", "bond", "kt-bond0", "--mode", "active-backup", "--slave", "kt-d0", "--slave", "kt-d1",
                  "--slave", "kt-d2", "--primary", "kt-d1", "--miimon", "150")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    # Tuning the wizard does not set, which an undone delete must bring back all the same.
    sh("ip", "-n", netns, "link", "set", "kt-bond0", "type", "bond", "updelay", "300", "downdelay", "150",
       "primary_reselect", "better", "min_links", "2")
    sh("ip", "-n", netns, "addr", "add", "10.7.0.1/24", "dev", "kt-bond0")
    sh("ip", "-n", netns, "route", "add", "10.77.0.0/16", "via", "10.7.0.254")
    plan = make_plan(DeleteLink("kt-bond0", move_ip_to="kt-d0"), collect_snapshot(netns=netns, with_libvirt=False))
    assert_every_failure_undone(netns, plan)
    bond = parse_bonding_file("kt-bond0", sh("ip", "netns", "exec", netns, "cat", "/proc/net/bonding/kt-bond0"))
    assert [s.name for s in bond.slaves] == ["kt-d0", "kt-d1", "kt-d2"] and bond.primary == "kt-d1"


def vlan_filtering_bridge(ns: str) -> None:
    """kt-br0 (vlan_filtering) with three ports of three kinds, each with other VLAN entries
    than the default one (vid 1 pvid untagged), a port cost and a static MAC in VLAN 20:
    kt-d0 (dummy): 10 pvid untagged, 20, 30-32, no vid 1;  kt-d2.100 (VLAN): the default and 20;
    kt-bond0 (bond of kt-d3): vid 1 tagged, 40 pvid;  kt-br0 itself: 1 untagged, 10 pvid untagged, 20."""
    dummies(ns, "kt-d0", "kt-d2")
    sh("ip", "-n", ns, "link", "add", "kt-d3", "type", "dummy")
    sh("ip", "-n", ns, "link", "add", "link", "kt-d2", "name", "kt-d2.100", "type", "vlan", "id", "100")
    sh("ip", "-n", ns, "link", "add", "kt-bond0", "type", "bond", "mode", "active-backup", "miimon", "100")
    sh("ip", "-n", ns, "link", "set", "kt-d3", "master", "kt-bond0")
    sh("ip", "-n", ns, "link", "add", "kt-br0", "type", "bridge", "vlan_filtering", "1")
    for port in ("kt-d0", "kt-d2.100", "kt-bond0"):
        sh("ip", "-n", ns, "link", "set", port, "master", "kt-br0")
        sh("ip", "-n", ns, "link", "set", port, "up")
    sh("ip", "-n", ns, "link", "set", "kt-br0", "up")
    vlans = (("kt-d0", "10", "pvid", "untagged"), ("kt-d0", "20"), ("kt-d0", "30-32"), ("kt-d2.100", "20"),
             ("kt-bond0", "1"), ("kt-bond0", "40", "pvid"),
             ("kt-br0", "10", "pvid", "untagged", "self"), ("kt-br0", "20", "self"))
    for dev, vid, *flags in vlans:
        sh("bridge", "-n", ns, "vlan", "add", "dev", dev, "vid", vid, *flags)
    sh("bridge", "-n", ns, "vlan", "del", "dev", "kt-d0", "vid", "1")
    sh("bridge", "-n", ns, "link", "set", "dev", "kt-d2.100", "cost", "70")
    sh("bridge", "-n", ns, "fdb", "add", "52:54:00:00:00:20", "dev", "kt-d0", "master", "static", "vlan", "20")


@pytest.mark.parametrize("name", ["kt-br0", "kt-d2.100", "kt-bond0"])
def test_a_failed_delete_puts_back_the_bridge_vlan_entries(netns, name):
    """Deleting the bridge releases every port; deleting a VLAN or bond port releases that
    one: either way the ports, and the bridge itself, come back with their VLAN entries."""
    from kvmtui.collect.snapshot import collect_snapshot
    from kvmtui.kinds import DeleteLink, make_plan
    from tests.states import assert_every_failure_undone, no_dad

    no_dad(netns)
    vlan_filtering_bridge(netns)
    def vlans() -> list[dict]:  # in ifname order: a device put back has a new ifindex
        return sorted(json.loads(sh("bridge", "-n", netns, "-j", "vlan", "show")), key=lambda v: v["ifname"])

    before = vlans()
    assert len(before) == 4
    plan = make_plan(DeleteLink(name), collect_snapshot(netns=netns, with_libvirt=False))
    undo = {after.command for st in plan.steps if st.inverse for after in st.inverse.then}
    expected = {"kt-br0": {"bridge vlan add dev kt-d0 vid 10 pvid untagged", "bridge vlan add dev kt-d0 vid 30-32",
                           "bridge vlan del dev kt-d0 vid 1", "bridge vlan add dev kt-br0 vid 20 self",
                           "bridge fdb add 52:54:00:00:00:20 dev kt-d0 master static vlan 20",
                           "bridge vlan add dev kt-bond0 vid 1", "bridge vlan add dev kt-bond0 vid 40 pvid"},
                "kt-d2.100": {"bridge link set dev kt-d2.100 cost 70", "bridge vlan add dev kt-d2.100 vid 20"},
                "kt-bond0": {"bridge vlan add dev kt-bond0 vid 1", "bridge vlan add dev kt-bond0 vid 40 pvid"}}[name]
    assert expected <= undo, undo
    assert_every_failure_undone(netns, plan)
    assert vlans() == before
