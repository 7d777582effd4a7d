"""The confirmation's before -> after tree on the example recording, line by line (pure).

What an administrator reads before pressing `y`: the NIC that goes is the one named, its
tap or macvtap goes with it (libvirt deletes it), and devices are drawn in the state the
kernel leaves them in.
"""

from __future__ import annotations

from dataclasses import replace

from kvmtui.cli import read_snapshot_file
from kvmtui.facts import guest_nic_of
from kvmtui.kinds import AttachInterface, CreateBond, DetachInterface, make_plan
from kvmtui.plan.diff import confirmation
from kvmtui.plan.simulate import simulate
from kvmtui.topology import build_forest, walk
from tests.helpers import EXAMPLE

CONTEXT = [(" ", 0, "eno1 dummy  slave of bond0, 26:5d:84:4b:3d:c1"),
           (" ", 1, "bond0 bond  active-backup, active eno1")]


def example():
    return read_snapshot_file(str(EXAMPLE))


def with_spare_nic(snapshot):
    """The example host plus a free, up NIC (the recording's own NICs are all in use)."""
    eno3 = snapshot.link("eno3")
    spare = replace(eno3, ifindex=99, ifname="spare0", mac="52:54:00:99:00:01", master=None, slave_kind=None,
                    info_slave_data=None, addresses=())
    return replace(snapshot, links=(*snapshot.links, spare))


def tree(intent, snapshot) -> list[tuple[str, int, str]]:
    return [(line.mark, line.depth, line.text) for line in confirmation(make_plan(intent, snapshot), snapshot).tree]


def test_detaching_the_macvtap_nic_removes_that_nic_and_its_macvtap():
    assert tree(DetachInterface("db1", "52:54:00:6b:02:01"), example()) == [
        *CONTEXT,
        ("−", 2, "macvtap0 macvtap  mode bridge"),
        ("−", 3, "db1 guest  52:54:00:6b:02:01, macvtap bridge"),
    ]


def test_detaching_a_bridged_nic_removes_its_tap_and_leaves_no_orphan():
    assert tree(DetachInterface("web1", "52:54:00:6b:01:01"), example()) == [
        *CONTEXT,
        (" ", 2, "bond0.100 vlan  vlan 100"),
        (" ", 3, "br100 bridge  stp on, vlan filtering"),
        ("−", 4, "vnet0 tun  tap"),
        ("−", 5, "web1 guest  52:54:00:6b:01:01"),
    ]


def test_db1s_other_nic_keeps_its_key_when_the_first_is_detached():
    """Keys follow the NIC: the tree's selection, the details and `d` name the same NIC after a refresh."""
    before = example()
    after = simulate(before, make_plan(DetachInterface("db1", "52:54:00:6b:02:01"), before).steps)
    key = next(node.key for _, node in walk(build_forest(before)) if "52:54:00:6b:03:01" in node.summary)
    assert key in {node.key for _, node in walk(build_forest(after))}
    domain, nic = guest_nic_of(after, key)
    assert (domain.name, nic.mac, nic.target) == ("db1", "52:54:00:6b:03:01", "vnet1")
    assert guest_nic_of(after, key.replace("03:01", "02:01")) is None  # the detached one names nothing


def test_a_definition_only_detach_leaves_the_running_guest_as_it_runs():
    shown = confirmation(make_plan(DetachInterface("web1", "52:54:00:6b:01:01", config=True), example()), example())
    assert shown.tree == ()


def test_an_attach_shows_the_new_nic_on_its_bridge():
    assert tree(AttachInterface("web1", bridge="br-mgmt", mac="52:54:00:6b:01:02"), example()) == [
        (" ", 0, "eno3 dummy  06:75:ef:63:c3:33"),
        (" ", 1, "br-mgmt bridge  stp off"),
        ("+", 2, "web1 guest  52:54:00:6b:01:02"),
    ]


def test_an_attached_macvtap_nic_is_drawn_on_its_lower_device():
    snapshot = with_spare_nic(example())
    assert tree(AttachInterface("db1", macvtap="spare0", mode="bridge", mac="52:54:00:6b:03:02"), snapshot) == [
        (" ", 0, "spare0 dummy  52:54:00:99:00:01"),
        ("+", 1, "db1 guest  52:54:00:6b:03:02, macvtap bridge"),
    ]


def test_new_bond_slaves_are_drawn_up_as_the_bonding_driver_opens_them():
    """The plan takes an up NIC down to enslave it; the bonding driver opens every device it
    enslaves (bond_enslave calls dev_open), so the after-tree shows it up, not [down]."""
    assert tree(CreateBond("bond1", "active-backup", ("spare0",)), with_spare_nic(example())) == [
        ("~", 0, "spare0 dummy  slave of bond1, 52:54:00:99:00:01"),
        ("+", 1, "bond1 bond  active-backup"),
    ]

