"""What deleting a bridge would take with it: refused or warned before anything changes."""

from __future__ import annotations

from dataclasses import replace

import pytest

from kvmtui.collect.snapshot import collect_snapshot
from kvmtui.model import Network
from kvmtui.plan import PlanError
from kvmtui.kinds import DeleteLink, make_plan
from tests.helpers import sh


@pytest.fixture
def bridge_ns(netns):
    sh("ip", "-n", netns, "link", "add", "kt-br0", "type", "bridge")
    sh("ip", "-n", netns, "addr", "add", "192.168.5.1/24", "dev", "kt-br0")
    return netns


def test_a_vxlan_over_the_bridge_is_refused_not_destroyed(bridge_ns):
    sh("ip", "-n", bridge_ns, "link", "add", "kt-vx", "type", "vxlan", "id", "77", "local", "192.168.5.1",
       "remote", "192.168.5.2", "dev", "kt-br0", "dstport", "4789")
    with pytest.raises(PlanError, match="kt-br0 carries kt-vx: delete those first"):
        make_plan(DeleteLink("kt-br0"), collect_snapshot(netns=bridge_ns, with_libvirt=False))


def test_a_libvirt_network_on_the_bridge_is_named(bridge_ns):
    """The network is described, not defined in libvirt: the plan is a pure function of
    the snapshot, and what it warns about is read from the snapshot alone."""
    snapshot = collect_snapshot(netns=bridge_ns, with_libvirt=False)
    # forward bridge: the bridge is the administrator's (a NAT network's is libvirt's, and refused: test_foreign.py)
    network = Network("lab", None, True, True, False, "bridge", "kt-br0", None)
    plan = make_plan(DeleteLink("kt-br0"), replace(snapshot, networks=(network,)))
    assert any("libvirt network lab is built on kt-br0" in w for w in plan.warnings)


def test_deleting_a_bond_reopens_its_slaves_and_its_undo_restores_the_primary():
    """On the recorded host, without the VLAN and macvtap on bond0 (they would block it)."""
    from kvmtui.cli import read_snapshot_file
    from tests.helpers import REPO

    snapshot = read_snapshot_file(str(REPO / "examples" / "kvm-host.json"))
    snapshot = replace(snapshot, links=tuple(l for l in snapshot.links if l.ifname not in ("bond0.100", "macvtap0")))
    plan = make_plan(DeleteLink("bond0", move_ip_to="eno1"), snapshot)
    commands = list(plan.commands)
    deleted = commands.index("ip link del bond0")
    assert {"ip link set eno1 up", "ip link set eno2 up"} <= set(commands[deleted:])
    first = plan.steps[0]
    assert first.inverse.command == "ip link set bond0 type bond primary eno1"  # undone after the slaves are back
    assert "xmit_hash_policy layer2" in plan.steps[deleted].inverse.command
