"""A delete that fails at any step is undone to the state before it: the device back with
its ports, its own master, its addresses and routes. Failure injection as in
test_apply_netns: the executor's before_step raises at step N; steps 1..N-1 ran for real.
A step that never runs is added after the last one, so the delete itself is undone too."""

from __future__ import annotations


from kvmtui.collect.snapshot import collect_snapshot
from kvmtui.kinds import DeleteLink, make_plan
from tests.helpers import sh
from tests.states import assert_every_failure_undone
from tests.topologies import bridge_with_two_veth_ports


def test_a_failed_delete_of_a_bridge_with_ports_puts_everything_back(netns):
    bridge_with_two_veth_ports(netns)
    sh("ip", "-n", netns, "addr", "add", "10.9.0.1/24", "dev", "kt-br0")
    sh("ip", "-n", netns, "route", "add", "10.99.0.0/16", "via", "10.9.0.254")
    plan = make_plan(DeleteLink("kt-br0"), collect_snapshot(netns=netns, with_libvirt=False))
    assert [st.command for st in plan.steps][-1] == "ip link del kt-br0"
    assert_every_failure_undone(netns, plan)


def test_a_failed_delete_of_a_bridge_gives_its_ports_back_their_settings_and_static_macs(netns):
    """A port released from its bridge forgets its cost, priority, hairpin, learning and the
    MACs pinned on it: the undo sets them again, and sets nothing the kernel gives anyway."""
    bridge_with_two_veth_ports(netns)
    sh("bridge", "-n", netns, "link", "set", "dev", "kt-p1", "cost", "50", "priority", "7", "hairpin", "on",
       "learning", "off")
    sh("bridge", "-n", netns, "link", "set", "dev", "kt-p2", "flood", "off", "isolated", "on")
    sh("bridge", "-n", netns, "fdb", "add", "52:54:00:12:34:56", "dev", "kt-p1", "master", "static")
    sh("bridge", "-n", netns, "fdb", "add", "52:54:00:12:34:57", "dev", "kt-p2", "master", "static", "sticky")
    plan = make_plan(DeleteLink("kt-br0"), collect_snapshot(netns=netns, with_libvirt=False))
    undo = [after.command for st in plan.steps if st.inverse for after in st.inverse.then]
    assert undo == ["bridge link set dev kt-p2 flood off isolated on",  # released last to first
                    "bridge fdb add 52:54:00:12:34:57 dev kt-p2 master static sticky",
                    "bridge link set dev kt-p1 cost 50 priority 7 hairpin on learning off",
                    "bridge fdb add 52:54:00:12:34:56 dev kt-p1 master static"]
    assert not any(c.startswith("bridge ") for c in plan.commands)  # the delete itself takes them along
    assert_every_failure_undone(netns, plan)
