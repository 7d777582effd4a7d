"""Steps as plain data (the journal a confirm-or-revert guard writes): every step type, and
the steps of real plans on the example host with their inverses and undo-only `then`
steps, survive JSON and come back equal; their command texts are the ones kvmtui printed
before steps had types (COMMANDS was produced by that code, commit f861dd1)."""

from __future__ import annotations

import json

import pytest

from kvmtui.plan import steps as s
from kvmtui.plan.steps import STEP_TYPES, step_from_data
from kvmtui.plan.steps.ovs import ovs_bridge_del, ovs_fake_bridge_del, ovs_port_del
from tests.step_plans import PLANS, commands, plans

ROUTE = s.RouteSpec("default", "192.0.2.1", 100, "static", "192.0.2.10", "global", True, "inet")
ROUTE6 = s.RouteSpec("2001:db8:2::/64", "fe80::1", family="inet6", scope="link")
EVERY_TYPE = (
    s.link_add("br0", "bridge", (("address", "52:54:00:00:00:01"), ("mtu", "9000"), ("stp_state", "1"))),
    s.link_add("eno1.7", "vlan", (("protocol", "802.1ad"), ("id", "7")), parent="eno1"),
    s.link_del("bond0", inverse=s.link_add("bond0", "bond", (("mode", "802.3ad"), ("arp_ip_target", "a,b")))),
    s.undone_with(s.link_set("eno1", (("master", ""),), (("master", "br0"),)),
                  [s.brport_set("eno1", (("cost", "50"), ("hairpin", "on"))), s.vlan_add("eno1", "30-39", untagged=True),
                   s.vlan_add("br0", "1", pvid=True, untagged=True, own=True), s.vlan_del("eno1", "1"),
                   s.vlan_del("br0", "1", own=True), s.fdb_add("eno1", "52:54:00:12:34:56", 20, sticky=True),
                   s.fdb_add("eno1", "52:54:00:12:34:57")]),
    s.link_set("bond0", (("primary", ""),), (("primary", "eno1"),), kind="bond"),
    s.link_set("br0", (("mtu", "9000"), ("state", "up")), ()),
    s.addr_add("br0", "192.0.2.10/24", "192.0.2.255", "br0:mgmt"),
    s.addr_del("eno1", "2001:db8::5/64"),
    s.route_add("br0", ROUTE),
    s.route_del("eno1", ROUTE6),
    s.attach("web1", "<interface type='bridge'/>", True, False),
    s.detach("web1", "<interface type='direct'/>", False, True),
    s.fdb_append("vx0", "192.0.2.7"),  # its inverse: fdb_del with dst
    s.net_define("kt-net", "<network><name>kt-net</name></network>"),  # its inverse: net_undefine
    s.net_start("kt-net"),  # its inverse: net_destroy
    s.net_autostart("kt-net", True),
    s.update_device("web1", "<interface type='bridge'/>", "<interface type='bridge'><link state='down'/></interface>",
                    True, False),  # its inverse: the element as it was
    ovs_port_del("br0", "bond0", ("p1", "p2"), (("bond_mode", "balance-slb"), ("trunks", "10,20")),
                 (("p1", "options:x", "a b"),)),  # its inverse: the bond put back (ovs_port_add)
    ovs_bridge_del("br0", (("datapath_type", "netdev"),)),  # its inverse: ovs_bridge_add
    ovs_fake_bridge_del("br0.7", "br0", 7),
)


def round_trip(step: s.Step) -> s.Step:
    return step_from_data(json.loads(json.dumps(step.to_data())))


def assert_same(back: s.Step, step: s.Step) -> None:
    """Equal as steps, and so are their inverses and `then` steps (which equality leaves out)."""
    assert type(back) is type(step) and back == step and back.command == step.command
    assert (back.inverse is None) == (step.inverse is None)
    if step.inverse is not None:
        assert_same(back.inverse, step.inverse)
    assert len(back.then) == len(step.then)
    for got, want in zip(back.then, step.then):
        assert_same(got, want)


def every_step(steps):
    for step in steps:
        yield step
        yield from every_step((step.inverse,) if step.inverse else ())
        yield from every_step(step.then)


def test_every_step_type_round_trips_through_json():
    assert {type(step) for step in every_step(EVERY_TYPE)} == set(STEP_TYPES.values())
    for step in EVERY_TYPE:
        assert_same(round_trip(step), step)


def test_what_each_step_type_says():
    """The command text, the backend and the old settings words, per type."""
    assert [(step.command, step.backend) for step in every_step(EVERY_TYPE[3:4])] == [
        ("ip link set eno1 nomaster", "kernel"), ("ip link set eno1 master br0", "kernel"),
        ("bridge link set dev eno1 cost 50 hairpin on", "kernel"), ("bridge vlan add dev eno1 vid 30-39 untagged", "kernel"),
        ("bridge vlan add dev br0 vid 1 pvid untagged self", "kernel"), ("bridge vlan del dev eno1 vid 1", "kernel"),
        ("bridge vlan del dev br0 vid 1 self", "kernel"),
        ("bridge fdb add 52:54:00:12:34:56 dev eno1 master static vlan 20 sticky", "kernel"),
        ("bridge fdb add 52:54:00:12:34:57 dev eno1 master static", "kernel")]
    assert EVERY_TYPE[0].command == "ip link add name br0 address 52:54:00:00:00:01 mtu 9000 type bridge stp_state 1"
    assert EVERY_TYPE[1].settings == (("kind", "vlan"), ("link", "eno1"), ("protocol", "802.1ad"), ("id", "7"))
    assert EVERY_TYPE[7].command == "ip addr del 2001:db8::5/64 dev eno1"
    assert EVERY_TYPE[7].inverse.command == "ip addr add 2001:db8::5/64 dev eno1 nodad && ip addr replace 2001:db8::5/64 dev eno1"
    assert EVERY_TYPE[8].command == "ip route add default via 192.0.2.1 onlink src 192.0.2.10 metric 100 proto static dev br0"
    assert EVERY_TYPE[9].command == "ip -6 route del 2001:db8:2::/64 via fe80::1 scope link dev eno1"
    assert (EVERY_TYPE[10].command, EVERY_TYPE[10].backend) == ("virsh attach-device web1 nic.xml --live", "libvirt")
    assert EVERY_TYPE[11].inverse.setting("config") == "True" and EVERY_TYPE[11].inverse.action == "attach"


def test_a_journal_with_an_unknown_step_is_refused():
    with pytest.raises(ValueError, match="unknown step type 'link_rename'"):
        step_from_data({"type": "link_rename", "target": "br0"})


@pytest.mark.parametrize("name", PLANS)
def test_real_plans_round_trip_with_inverses_and_undo_steps(name):
    plan, _host = plans()[name]
    journal = json.loads(json.dumps([step.to_data() for step in plan.steps]))
    back = tuple(step_from_data(data) for data in journal)
    for got, want in zip(back, plan.steps, strict=True):
        assert_same(got, want)
    assert [commands(step) for step in back] == COMMANDS[name]


@pytest.mark.parametrize("name", PLANS)
def test_command_texts_are_unchanged(name):
    plan, _host = plans()[name]
    assert [commands(step) for step in plan.steps] == COMMANDS[name]


def test_the_bridge_delete_undo_carries_what_the_bridge_forgets():
    plan, _host = plans()["delete br-mgmt, which remembers port settings"]
    undo = [after.command for step in plan.steps if step.inverse for after in step.inverse.then]
    assert undo == ["bridge link set dev eno3 cost 50 hairpin on", "bridge vlan add dev eno3 vid 20-21",
                    "bridge fdb add 52:54:00:12:34:56 dev eno3 master static vlan 20 sticky",
                    "bridge vlan add dev br-mgmt vid 30 untagged self"]


COMMANDS = {'attach db1 --macvtap eno3 --mode private': [('virsh attach-device db1 nic.xml --live --config',
                                                         ('virsh detach-device db1 nic.xml --live --config',
                                                          None,
                                                          ()),
                                                         ())],
           'attach web1 --bridge br100 --live --config': [('virsh attach-device web1 nic.xml --live --config',
                                                           ('virsh detach-device web1 nic.xml --live --config',
                                                            None,
                                                            ()),
                                                           ())],
           'bond bond1 active-backup --primary eno3': [('ip link add name bond1 type bond mode active-backup miimon '
                                                        '100',
                                                        ('ip link del bond1', None, ()),
                                                        ()),
                                                       ('ip link set eno3 down',
                                                        ('ip link set eno3 up', None, ()),
                                                        ()),
                                                       ('ip link set eno3 master bond1',
                                                        ('ip link set eno3 nomaster', None, ()),
                                                        ()),
                                                       ('ip link set bond1 type bond primary eno3',
                                                        ('echo > /sys/class/net/bond1/bonding/primary', None, ()),
                                                        ()),
                                                       ('ip link set bond1 up',
                                                        ('ip link set bond1 down', None, ()),
                                                        ())],
           'bond bond2 802.3ad --lacp-rate fast': [('ip link add name bond2 type bond mode 802.3ad miimon 100 '
                                                    'lacp_rate fast xmit_hash_policy layer3+4',
                                                    ('ip link del bond2', None, ()),
                                                    ()),
                                                   ('ip link set eno3 down', ('ip link set eno3 up', None, ()), ()),
                                                   ('ip link set eno3 master bond2',
                                                    ('ip link set eno3 nomaster', None, ()),
                                                    ()),
                                                   ('ip link set bond2 up',
                                                    ('ip link set bond2 down', None, ()),
                                                    ())],
           'bridge br0 --port eno3 --move-ip-from eno3 --stp': [('ip link add name br0 type bridge stp_state 1',
                                                                 ('ip link del br0', None, ()),
                                                                 ()),
                                                                ('ip link set br0 address 06:75:ef:63:c3:33',
                                                                 ('ip link set br0 ', None, ()),
                                                                 ()),
                                                                ('ip route del default via 192.0.2.1 dev eno3',
                                                                 ('ip route add default via 192.0.2.1 dev eno3',
                                                                  ('ip route del default via 192.0.2.1 dev eno3',
                                                                   None,
                                                                   ()),
                                                                  ()),
                                                                 ()),
                                                                ('ip addr del 192.0.2.10/24 dev eno3',
                                                                 ('ip addr add 192.0.2.10/24 dev eno3',
                                                                  ('ip addr del 192.0.2.10/24 dev eno3', None, ()),
                                                                  ()),
                                                                 ()),
                                                                ('ip link set eno3 master br0',
                                                                 ('ip link set eno3 nomaster', None, ()),
                                                                 ()),
                                                                ('ip link set br0 up',
                                                                 ('ip link set br0 down', None, ()),
                                                                 ()),
                                                                ('ip addr add 192.0.2.10/24 dev br0',
                                                                 ('ip addr del 192.0.2.10/24 dev br0', None, ()),
                                                                 ()),
                                                                ('ip route add default via 192.0.2.1 dev br0',
                                                                 ('ip route del default via 192.0.2.1 dev br0',
                                                                  None,
                                                                  ()),
                                                                 ())],
           'delete bond0': [('echo > /sys/class/net/bond0/bonding/primary',
                             ('ip link set bond0 type bond primary eno1', None, ()),
                             ()),
                            ('ip link set bond0 down', ('ip link set bond0 up', None, ()), ()),
                            ('ip link set eno2 nomaster', ('ip link set eno2 master bond0', None, ()), ()),
                            ('ip link set eno1 nomaster', ('ip link set eno1 master bond0', None, ()), ()),
                            ('ip link del bond0',
                             ('ip link add name bond0 address 26:5d:84:4b:3d:c1 mtu 1500 type bond mode '
                              'active-backup miimon 100 xmit_hash_policy layer2',
                              ('ip link del bond0', None, ()),
                              ()),
                             ()),
                            ('ip link set eno1 up', ('ip link set eno1 down', None, ()), ()),
                            ('ip link set eno2 up', ('ip link set eno2 down', None, ()), ())],
           'delete br-mgmt --move-ip-to eno3': [('ip route del default via 192.0.2.1 dev br-mgmt',
                                                 ('ip route add default via 192.0.2.1 dev br-mgmt',
                                                  ('ip route del default via 192.0.2.1 dev br-mgmt', None, ()),
                                                  ()),
                                                 ()),
                                                ('ip addr del 192.0.2.10/24 dev br-mgmt',
                                                 ('ip addr add 192.0.2.10/24 dev br-mgmt',
                                                  ('ip addr del 192.0.2.10/24 dev br-mgmt', None, ()),
                                                  ()),
                                                 ()),
                                                ('ip link set br-mgmt down',
                                                 ('ip link set br-mgmt up', None, ()),
                                                 ()),
                                                ('ip link set eno3 nomaster',
                                                 ('ip link set eno3 master br-mgmt', None, ()),
                                                 ()),
                                                ('ip link del br-mgmt',
                                                 ('ip link add name br-mgmt address 06:75:ef:63:c3:33 mtu 1500 type '
                                                  'bridge stp_state 0 forward_delay 1500 hello_time 200 max_age 2000 '
                                                  'ageing_time 30000 priority 32768',
                                                  ('ip link del br-mgmt', None, ()),
                                                  ()),
                                                 ()),
                                                ('ip addr add 192.0.2.10/24 dev eno3',
                                                 ('ip addr del 192.0.2.10/24 dev eno3', None, ()),
                                                 ()),
                                                ('ip route add default via 192.0.2.1 dev eno3',
                                                 ('ip route del default via 192.0.2.1 dev eno3', None, ()),
                                                 ())],
           'delete br-mgmt, which remembers port settings': [('ip route del default via 192.0.2.1 dev br-mgmt',
                                                              ('ip route add default via 192.0.2.1 dev br-mgmt',
                                                               ('ip route del default via 192.0.2.1 dev br-mgmt',
                                                                None,
                                                                ()),
                                                               ()),
                                                              ()),
                                                             ('ip addr del 192.0.2.10/24 dev br-mgmt',
                                                              ('ip addr add 192.0.2.10/24 dev br-mgmt',
                                                               ('ip addr del 192.0.2.10/24 dev br-mgmt', None, ()),
                                                               ()),
                                                              ()),
                                                             ('ip link set br-mgmt down',
                                                              ('ip link set br-mgmt up', None, ()),
                                                              ()),
                                                             ('ip link set eno3 nomaster',
                                                              ('ip link set eno3 master br-mgmt',
                                                               None,
                                                               (('bridge link set dev eno3 cost 50 hairpin on',
                                                                 None,
                                                                 ()),
                                                                ('bridge vlan add dev eno3 vid 20-21', None, ()),
                                                                ('bridge fdb add 52:54:00:12:34:56 dev eno3 master '
                                                                 'static vlan 20 sticky',
                                                                 None,
                                                                 ()))),
                                                              ()),
                                                             ('ip link del br-mgmt',
                                                              ('ip link add name br-mgmt address 06:75:ef:63:c3:33 '
                                                               'mtu 1500 type bridge stp_state 0 forward_delay 1500 '
                                                               'hello_time 200 max_age 2000 ageing_time 30000 '
                                                               'priority 32768',
                                                               ('ip link del br-mgmt', None, ()),
                                                               (('bridge vlan add dev br-mgmt vid 30 untagged self',
                                                                 None,
                                                                 ()),)),
                                                              ()),
                                                             ('ip addr add 192.0.2.10/24 dev eno3',
                                                              ('ip addr del 192.0.2.10/24 dev eno3', None, ()),
                                                              ()),
                                                             ('ip route add default via 192.0.2.1 dev eno3',
                                                              ('ip route del default via 192.0.2.1 dev eno3',
                                                               None,
                                                               ()),
                                                              ())],
           'delete br100': [('ip link set br100 down', ('ip link set br100 up', None, ()), ()),
                            ('ip link set vnet0 nomaster', ('ip link set vnet0 master br100', None, ()), ()),
                            ('ip link set vnet1 nomaster', ('ip link set vnet1 master br100', None, ()), ()),
                            ('ip link set bond0.100 nomaster', ('ip link set bond0.100 master br100', None, ()), ()),
                            ('ip link del br100',
                             ('ip link add name br100 address 26:5d:84:4b:3d:c1 mtu 1500 type bridge stp_state 1 '
                              'forward_delay 400 hello_time 200 max_age 2000 ageing_time 30000 priority 32768 '
                              'vlan_filtering 1',
                              ('ip link del br100', None, ()),
                              ()),
                             ())],
           'detach db1 52:54:00:6b:03:01': [('virsh detach-device db1 nic.xml --config',
                                             ('virsh attach-device db1 nic.xml --config',
                                              ('virsh detach-device db1 nic.xml --config', None, ()),
                                              ()),
                                             ()),
                                            ('virsh detach-device db1 nic.xml --live',
                                             ('virsh attach-device db1 nic.xml --live',
                                              ('virsh detach-device db1 nic.xml --live', None, ()),
                                              ()),
                                             ())],
           'vlan bond0 200': [('ip link add link bond0 name bond0.200 type vlan protocol 802.1Q id 200',
                               ('ip link del bond0.200', None, ()),
                               ()),
                              ('ip link set bond0.200 up', ('ip link set bond0.200 down', None, ()), ())],
           'vlan bond0 300 --protocol 802.1ad --name qinq': [('ip link add link bond0 name qinq type vlan protocol '
                                                              '802.1ad id 300',
                                                              ('ip link del qinq', None, ()),
                                                              ()),
                                                             ('ip link set qinq up',
                                                              ('ip link set qinq down', None, ()),
                                                              ())]}
