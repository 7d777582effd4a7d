"""Open vSwitch plans on a built snapshot (pure): the ovs-vsctl lines the confirmation shows,
their inverses, the tree after the change, and the refusals at the field."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest

from kvmtui.kinds import make_plan
from kvmtui.kinds.ovs_bond import CreateOvsBond
from kvmtui.kinds.ovs_bridge import CreateOvsBridge
from kvmtui.kinds.ovs_delete import DeleteOvs
from kvmtui.kinds.ovs_port import AddOvsPort
from kvmtui.model import Address, HostInfo, OvsBond, OvsBridge, OvsFakeBridge, OvsInterface, OvsPort, OvsState, \
    Snapshot
from kvmtui.plan import PlanError
from kvmtui.plan.diff import confirmation
from kvmtui.plan.expect import expectation_from_data, expectation_to_data
from kvmtui.plan.restore import restored_expectations
from kvmtui.plan.simulate import simulate
from kvmtui.plan.steps import step_from_data
from kvmtui.render import confirmation_text
from tests.helpers import link

VM_MAC = "52:54:00:00:00:09"


def _host(datapath: str = "system") -> Snapshot:
    """br0 (eth1, bond0 of p1 and p2, a guest's vnet0 with tag 100, fake bridge br0.100);
    free NICs eth2, eth3 (with an address) and eth5; eth4 a port of Linux bridge lbr0."""
    eth3 = replace(link("eth3", 4, None), addresses=(Address("inet", "192.0.2.5", 24, "global"),))
    links = (link("lo", 1, None, flags=("LOOPBACK", "UP", "LOWER_UP")), link("eth1", 2, None, master="ovs-system"),
             link("eth2", 3, None), eth3, link("eth4", 5, None, master="lbr0"), link("lbr0", 6, "bridge"),
             link("eth5", 7, None), link("ovs-system", 8, "openvswitch"),
             link("br0", 9, "openvswitch", master="ovs-system"))
    ports = (OvsPort("br0", (OvsInterface("br0", "internal", 65534),)),
             OvsPort("bond0", (OvsInterface("p1", "system", 2), OvsInterface("p2", "system", 3)),
                     bond=OvsBond("balance-slb", "active")),
             OvsPort("br0.100", (OvsInterface("br0.100", "internal", 5),), tag=100, fake_bridge=True),
             OvsPort("eth1", (OvsInterface("eth1", "system", 1),), trunks=(10, 20)),
             OvsPort("vnet0", (OvsInterface("vnet0", "system", 4, external_ids=(("attached-mac", VM_MAC),)),),
                     tag=100))
    host = HostInfo("h", "6.1", "2026-01-01T00:00:00+00:00", None, None, None, "test")
    return Snapshot(host=host, links=links, ovs=OvsState(bridges=(OvsBridge("br0", datapath, ports),),
                                                         fake_bridges=(OvsFakeBridge("br0.100", "br0", 100),)))


def _shown(plan, snapshot) -> str:
    return confirmation_text(confirmation(plan, snapshot))


def test_a_new_bridge_with_ports_is_one_ovs_vsctl_line_each_undone_by_deleting():
    snapshot = _host()
    plan = make_plan(CreateOvsBridge("ovsbr1", ("eth2", "eth5")), snapshot)
    assert plan.commands == ("ovs-vsctl --may-exist add-br ovsbr1",
                             "ovs-vsctl --may-exist add-port ovsbr1 eth2",
                             "ovs-vsctl --may-exist add-port ovsbr1 eth5")
    assert [s.inverse.command for s in plan.steps] == ["ovs-vsctl --if-exists del-br ovsbr1",
                                                       "ovs-vsctl --if-exists del-port ovsbr1 eth2",
                                                       "ovs-vsctl --if-exists del-port ovsbr1 eth5"]
    text = _shown(plan, snapshot)
    assert "ovs-vsctl --may-exist add-port ovsbr1 eth5" in text
    tree = [(line.mark, line.text.split()[0]) for line in confirmation(plan, snapshot).tree]
    assert ("+", "ovsbr1") in tree  # the simulated host holds the new bridge
    for step in plan.steps:  # journalled as JSON and read back, inverse included
        again = step_from_data(step.to_data())
        assert again == step and again.inverse == step.inverse and again.command == step.command


def test_the_datapath_follows_the_hosts_other_bridges():
    netdev = make_plan(CreateOvsBridge("ovsbr1"), _host("netdev"))
    assert netdev.commands == ("ovs-vsctl --may-exist add-br ovsbr1 -- set Bridge ovsbr1 datapath_type=netdev",)
    chosen = make_plan(CreateOvsBridge("ovsbr1", datapath="system"), _host("netdev"))
    assert chosen.commands == ("ovs-vsctl --may-exist add-br ovsbr1 -- set Bridge ovsbr1 datapath_type=system",)


def test_a_bond_and_a_tagged_port_and_a_trunk():
    snapshot = _host()
    bond = make_plan(CreateOvsBond("br0", "bond1", ("eth2", "eth5"), "balance-tcp", "active"), snapshot)
    assert bond.commands == ("ovs-vsctl --may-exist add-bond br0 bond1 eth2 eth5 bond_mode=balance-tcp lacp=active",)
    assert bond.steps[0].inverse.command == "ovs-vsctl --if-exists del-port br0 bond1"
    assert any("LACP" in w for w in bond.warnings)
    access = make_plan(AddOvsPort("br0", "eth2", tag=30), snapshot)
    assert access.commands == ("ovs-vsctl --may-exist add-port br0 eth2 tag=30",)
    trunk = make_plan(AddOvsPort("br0", "eth2", trunks=(10, 20, 30)), snapshot)
    assert trunk.commands == ("ovs-vsctl --may-exist add-port br0 eth2 trunks=10,20,30",)
    warned = make_plan(AddOvsPort("br0", "eth3"), snapshot)
    assert warned.warnings and "192.0.2.5/24" in warned.warnings[0]


def test_deleting_a_bridge_deletes_its_ports_and_an_undo_puts_them_back_as_they_were():
    snapshot = _host()
    plan = make_plan(DeleteOvs("br0"), snapshot)
    assert plan.commands[-1] == "ovs-vsctl --if-exists del-br br0"
    assert plan.steps[-1].inverse.command == "ovs-vsctl --may-exist add-br br0"
    undo = {s.target: s.inverse.command for s in plan.steps}
    assert undo["bond0"] == "ovs-vsctl --may-exist add-bond br0 bond0 p1 p2 bond_mode=balance-slb lacp=active"
    assert undo["eth1"] == "ovs-vsctl --may-exist add-port br0 eth1 trunks=10,20"
    assert plan.commands[-2:] == ("ovs-vsctl --if-exists del-br br0.100",  # a fake bridge, as ovs-vsctl makes them
                                  "ovs-vsctl --if-exists del-br br0")
    assert undo["br0.100"] == "ovs-vsctl --may-exist add-br br0.100 br0 100"
    assert undo["vnet0"] == (f"ovs-vsctl --may-exist add-port br0 vnet0 tag=100 "
                             f"-- set Interface vnet0 external_ids:attached-mac={VM_MAC}")
    assert "vnet0" in plan.warnings[0]  # a guest loses its network
    port = make_plan(DeleteOvs("bond0"), snapshot)
    assert port.commands == ("ovs-vsctl --if-exists del-port br0 bond0",)


@pytest.mark.parametrize("intent, field, words", [
    (CreateOvsBridge("br0"), "name", "already exists"),
    (CreateOvsBridge("bond0"), "name", "already a port of OVS bridge br0"),
    (CreateOvsBridge("kt-a-very-long-name"), "name", "at most 15 bytes"),
    (CreateOvsBridge("ovsbr1", ("eth1",)), "ports", "already a port of OVS bridge br0"),
    (CreateOvsBridge("ovsbr1", ("p1",)), "ports", "a member of OVS bond bond0"),
    (CreateOvsBridge("ovsbr1", ("eth4",)), "ports", "already a port of lbr0"),
    (CreateOvsBridge("ovsbr1", ("eth2", "eth2")), "ports", "listed twice"),
    (CreateOvsBridge("ovsbr1", ("nosuch0",)), "ports", "there is no device"),
    (CreateOvsBond("br0", "bond1", ("eth2",)), "members", "at least two members"),
    (CreateOvsBond("br0", "bond1", ("eth2", "eth5"), "balance-tcp", "off"), "lacp", "balance-tcp needs LACP"),
    (CreateOvsBond("nobr", "bond1", ("eth2", "eth5")), "bridge", "there is no OVS bridge 'nobr'"),
    (CreateOvsBond("br0.100", "bond1", ("eth2", "eth5")), "bridge", "fake bridge"),
    (AddOvsPort("br0", "eth2", tag=0), "tag", "1 to 4094"),
    (AddOvsPort("br0", "eth2", tag=4095), "tag", "1 to 4094"),
    (AddOvsPort("br0", "eth2", trunks=(10, 5000)), "trunks", "1 to 4094"),
    (AddOvsPort("br0", "eth2", tag=10, trunks=(20,)), "trunks", "not both"),
    (AddOvsPort("br0", "a-sixteen-bytes0"), "ifname", "at most 15 bytes"),
    (DeleteOvs("vnet0"), "name", "detach the guest's NIC"),
    (DeleteOvs("p1"), "name", "member of OVS bond bond0"),
    (DeleteOvs("br0.100"), "name", "fake bridge"),
    (DeleteOvs("eth2"), "name", "no OVS bridge, port or bond"),
])
def test_bad_input_is_refused_at_its_field(intent, field, words):
    with pytest.raises(PlanError) as refused:
        make_plan(intent, _host())
    assert refused.value.field == field and words in str(refused.value)


def test_without_open_vswitch_every_ovs_kind_says_so():
    snapshot = replace(_host(), ovs=None)
    for intent in (CreateOvsBridge("ovsbr1"), CreateOvsBond("br0", "b", ("eth2", "eth5")), AddOvsPort("br0", "eth2"),
                   DeleteOvs("br0")):
        with pytest.raises(PlanError, match="Open vSwitch is not running here"):
            make_plan(intent, snapshot)


def test_a_guard_checks_a_revert_against_ovs_as_it_was():
    """The restore expectations of an OVS plan (journalled as JSON) hold on the host before
    it and fail on the host after it."""
    snapshot = _host()
    plan = make_plan(DeleteOvs("br0"), snapshot)
    restore = [expectation_from_data(json.loads(json.dumps(expectation_to_data(e))))
               for e in restored_expectations(plan, snapshot)]
    assert {type(e).__name__ for e in restore} == {"OvsBridgeState", "OvsPortState"}
    assert [u for e in restore if (u := e.unmet(snapshot, None))] == []
    after = simulate(snapshot, plan.steps)
    assert "OVS bridge br0 is missing" in [e.unmet(after, None) for e in restore]
    added = make_plan(AddOvsPort("br0", "eth2", tag=5), snapshot)
    (back,) = [e for e in restored_expectations(added, snapshot) if type(e).__name__ == "OvsPortState"]
    assert back.unmet(simulate(snapshot, added.steps), None) == "OVS port eth2 is still on br0"
