"""The libvirt XML parsers against real XML from libvirt, virt-manager, oVirt and our own guest."""

from __future__ import annotations

from pathlib import Path

import pytest

from kvmtui.libvirt_xml import (
    LibvirtXmlError,
    parse_domain_xml,
    parse_interface_xml,
    parse_network_xml,
    pci_address,
)
from kvmtui.errors import KvmtuiError
from tests.helpers import OWN_FIXTURES, SHARED_FIXTURES

SHARED_DOMAINS = SHARED_FIXTURES / "libvirt" / "domains"
SHARED_NETWORKS = SHARED_FIXTURES / "libvirt" / "networks"
OWN_LIBVIRT = OWN_FIXTURES / "libvirt"

DOMAIN_FILES = sorted(SHARED_DOMAINS.glob("*.xml")) + sorted(OWN_LIBVIRT.glob("*.xml"))
NETWORK_FILES = sorted(SHARED_NETWORKS.glob("*.xml"))


def domain(path: Path | str, **kw):
    path = Path(path)
    if not path.is_absolute():
        path = SHARED_DOMAINS / path
    args = {"state": "running", "id": None, "persistent": True} | kw
    return parse_domain_xml(path.read_text(), **args)


def network(name: str, **kw):
    args = {"active": True, "persistent": True, "autostart": False} | kw
    return parse_network_xml((SHARED_NETWORKS / name).read_text(), **args)


def nics(dom):
    """(type, mac, target, source) per interface: what `virsh domiflist` would show."""
    return [(i.type, i.mac, i.target, i.source) for i in dom.interfaces]


def test_fixtures_are_there():
    assert len(DOMAIN_FILES) >= 12 and len(NETWORK_FILES) >= 12


@pytest.mark.parametrize("path", DOMAIN_FILES, ids=lambda p: p.name)
def test_every_domain_fixture_parses(path):
    dom = parse_domain_xml(path.read_text(), state="shut off", id=None, persistent=False)
    assert dom.name and dom.uuid
    assert dom.state == "shut off" and not dom.active and dom.persistent is False
    for nic in dom.interfaces:
        assert nic.type
        assert nic.mac is None or nic.mac == nic.mac.lower()
        assert nic.link_state in (None, "up", "down")


@pytest.mark.parametrize("path", NETWORK_FILES, ids=lambda p: p.name)
def test_every_network_fixture_parses(path):
    net = parse_network_xml(path.read_text(), active=False, persistent=True, autostart=True)
    assert net.name and net.forward
    assert (net.active, net.persistent, net.autostart) == (False, True, True)
    names = [group.name for group in net.portgroups]
    assert all(names) and len(set(names)) == len(names)
    assert sum(group.default for group in net.portgroups) <= 1
    assert net.vlan_trunk is False or net.vlan_tags


# --- domains, one file at a time -----------------------------------------------------


def test_live_domain_state_and_id_come_from_the_caller():
    dom = domain("live-bridge-ovirtmgmt-vnet0-link-state-vdsm.xml", id=109)
    assert (dom.name, dom.uuid) == ("HostedEngine", "346b8d80-b4f2-4a81-bf60-a662220c27a4")
    assert dom.id == 109 and dom.active and dom.state == "running"
    assert nics(dom) == [("bridge", "00:1a:4a:16:10:9f", "vnet0", "ovirtmgmt")]
    nic = dom.interfaces[0]
    assert (nic.bridge, nic.model, nic.link_state, nic.alias) == ("ovirtmgmt", "virtio", "up", "net0")
    assert nic.address is None  # the guest-side PCI slot is not a host address


def test_live_bridge_and_sriov_vf():
    dom = domain("live-bridge-plus-sriov-hostdev-vfio-vdsm.xml", id=5)
    assert nics(dom) == [
        ("bridge", "52:54:00:59:ff:ff", "vnet2", ";vdsmdummy;"),
        ("hostdev", "00:00:00:00:00:43", None, "0000:05:00.1"),
    ]
    vf = dom.interfaces[1]
    assert vf.address == "0000:05:00.1" and vf.alias == "hostdev2"
    assert vf.bridge is None and vf.dev is None


def test_vdsm_placeholder_bridge_name_with_semicolons():
    dom = domain("live-bridge-vdsmdummy-placeholder-vdsm.xml")
    assert [i.bridge for i in dom.interfaces] == [";vdsmdummy;", ";vdsmdummy;"]
    assert [i.target for i in dom.interfaces] == ["vnet1", "vnet2"]
    assert [i.alias for i in dom.interfaces] == ["net0", "net1"]


def test_live_network_interface_reports_its_bridge():
    dom = domain("live-network-default-source-bridge-virbr0-vdsm.xml")
    (nic,) = dom.interfaces
    assert (nic.type, nic.network, nic.bridge, nic.source) == ("network", "default", "virbr0", "default")
    assert (nic.mac, nic.target) == ("54:52:c0:a8:c8:63", "vnet0")


def test_many_devices_has_18_interfaces_and_one_capabilities_nic():
    dom = domain("many-devices-18-interfaces-virt-manager.xml")
    assert len(dom.interfaces) == 19
    types = [i.type for i in dom.interfaces]
    assert types == (["user", "bridge", "bridge", "direct", "user", "vhostuser", "vdpa", "user",
                      "bridge"] + ["user"] * 6 + ["hostdev"] * 4)
    # the nested <interface>wlan0</interface> is not a devices/interface of its own ...
    assert not any(i.type == "" for i in dom.interfaces)
    # ... but the capabilities hostdev it sits in is one NIC, last, a leaf
    wlan = dom.interfaces[-1]
    assert (wlan.type, wlan.source, wlan.dev, wlan.mac, wlan.address) == (
        "hostdev", "wlan0", "wlan0", None, None)


def test_many_devices_details():
    i = domain("many-devices-18-interfaces-virt-manager.xml").interfaces
    assert (i[0].mac, i[0].link_state, i[0].source) == ("12:34:56:78:11:22", "down", None)
    assert (i[1].bridge, i[1].portgroup, i[1].virtualport) == ("foobar", "foo", None)
    assert (i[2].bridge, i[2].target, i[2].virtualport, i[2].link_state) == (
        "ovsbr", "mytargetname", "openvswitch", "up")
    direct = i[3]
    assert (direct.dev, direct.mode, direct.target, direct.virtualport, direct.source) == (
        "eth5", "vepa", "mytap12", "802.1Qbg", "eth5")
    assert (i[5].type, i[5].source, i[5].mode) == ("vhostuser", "/tmp/vhost1.sock", None)
    assert (i[6].type, i[6].source, i[6].mac) == ("vdpa", "/dev/vhost-vdpa-0", "12:34:56:78:9a:bc")
    assert (i[8].model, i[8].bridge) == ("vmxnet3", "testsuitebr0")
    assert [x.backend for x in i[9:15]] == ["passt"] * 6
    assert i[0].backend is None and i[7].backend is None  # plain user (slirp)
    # decimal PCI addresses on the hostdev NICs
    assert [x.address for x in i[15:18]] == ["0000:00:07.0", "0000:00:09.0", "0000:00:04.0"]


def test_many_devices_mtu_and_virtualport_parameters():
    i = domain("many-devices-18-interfaces-virt-manager.xml").interfaces
    assert [x.mtu for x in i] == [None] * 3 + [1500] + [None] * 15
    assert i[2].virtualport_params == (
        ("profileid", "demo"), ("interfaceid", "09b11c53-8b5c-4eeb-8f00-d84eaa0aaa3b"))
    assert dict(i[3].virtualport_params) == {  # 802.1Qbg: the switch's manager and type ids
        "managerid": "12", "typeid": "1193046", "typeidversion": "1",
        "instanceid": "09b11c53-8b5c-4eeb-8f00-d84eaa0aaa3b"}
    assert [x.virtualport_params for x in i if x.virtualport is None] == [()] * 17


def test_ethernet_with_user_chosen_target():
    dom = domain("net-ethernet-target-dev-script-libvirt.xml")
    assert nics(dom) == [("ethernet", "00:11:22:33:44:55", "nic02", None)]
    assert dom.interfaces[0].model == "rtl8139"


def test_hostdev_sriov_with_vlan_and_virtualport():
    (nic,) = domain("net-hostdev-sriov-vlan-libvirt.xml").interfaces
    assert (nic.type, nic.address, nic.source) == ("hostdev", "0000:03:07.1", "0000:03:07.1")
    assert (nic.vlan_tags, nic.vlan_trunk, nic.virtualport) == ((42,), False, "802.1Qbg")


def test_network_name_with_semicolon():
    (nic,) = domain("net-network-bandwidth-libvirt.xml").interfaces
    assert nic.network == nic.source == "nat-network;plug-network-basic"
    assert nic.bridge is None  # inactive-style XML: no live bridge attribute


def test_openvswitch_vlan_trunk():
    (nic,) = domain("net-openvswitch-vlan-trunk-libvirt.xml").interfaces
    assert (nic.type, nic.network) == ("network", "ovs-net")
    assert nic.vlan_tags == (42, 48, 456) and nic.vlan_trunk is True
    assert nic.virtualport == "openvswitch"


def test_vhostuser_source_is_the_socket_path():
    dom = domain("net-vhostuser-libvirt.xml")
    assert nics(dom) == [
        ("vhostuser", "52:54:00:ee:96:6b", None, "/tmp/vhost0.sock"),
        ("vhostuser", "52:54:00:ee:96:6c", None, "/tmp/vhost1.sock"),
        ("server", "52:54:00:95:db:c0", None, "*:2015"),
    ]


def test_portgroups_and_virtualports_with_and_without_type():
    a, b, c = domain("net-virtio-network-portgroup-libvirt.xml").interfaces
    assert (a.network, a.portgroup, a.vlan_tags, a.virtualport) == ("rednet", "bob", (4095,), "802.1Qbg")
    assert (b.network, b.portgroup, b.virtualport) == ("blue", "sam", "")  # typeless
    assert (c.network, c.virtualport, c.mac) == ("blue", "802.1Qbh", "22:11:22:33:44:55")
    assert dict(b.virtualport_params) == {"instanceid": "09b11c53-8b5c-4eeb-8f00-d84eaa0aaa4f",
                                          "interfaceid": "09b11c53-8b5c-4eeb-8f00-d84eaa0aaa4f"}
    assert c.virtualport_params == (("profileid", "testhis99"),)


def test_source_before_mac_and_direct_mode():
    dom = domain("user-network-bridge-ethernet-direct-virt-manager.xml")
    assert nics(dom) == [
        ("user", "22:11:11:11:11:11", None, None),
        ("network", "22:22:33:44:55:66", None, "default"),
        ("bridge", "22:22:22:22:22:22", None, "foobr0"),
        ("ethernet", "00:11:22:33:44:55", "nic02", None),
        ("direct", "00:11:22:33:44:55", None, "eth0.1"),
    ]
    direct = dom.interfaces[4]
    assert (direct.dev, direct.mode, direct.virtualport) == ("eth0.1", "vepa", "802.1Qbg")


def test_own_live_fixture_from_a_real_guest():
    """Recorded with `virsh dumpxml` from the guest in test_libvirt_collect.py (unedited)."""
    dom = domain(OWN_LIBVIRT / "live-bridge-direct-macvtap-kvmtui.xml", id=3)
    assert (dom.name, dom.uuid) == ("kt-lv43e917", "16b9c8cb-5da1-4759-b3ae-99ebc5301158")
    assert nics(dom) == [
        ("bridge", "52:54:00:e8:d1:06", "vnet1", "kt-br20635a"),
        ("direct", "52:54:00:87:a2:7b", "macvtap1", "kt-va5e67ec"),
    ]
    bridge, direct = dom.interfaces
    assert (bridge.bridge, bridge.alias, bridge.model, bridge.dev, bridge.mode) == (
        "kt-br20635a", "net0", "virtio", None, None)
    assert (direct.dev, direct.mode, direct.alias, direct.bridge) == (
        "kt-va5e67ec", "bridge", "net1", None)
    assert all(i.link_state is None and i.virtualport is None for i in dom.interfaces)


def test_own_inactive_fixture_has_no_targets():
    dom = domain(OWN_LIBVIRT / "inactive-bridge-direct-macvtap-kvmtui.xml", state="shut off")
    assert [i.type for i in dom.interfaces] == ["bridge", "direct"]
    assert [i.target for i in dom.interfaces] == [None, None]
    assert [i.alias for i in dom.interfaces] == [None, None]
    assert [i.mac for i in dom.interfaces] == ["52:54:00:e8:d1:06", "52:54:00:87:a2:7b"]
    assert dom.interfaces[1].mode == "bridge"


# --- small cases libvirt allows -----------------------------------------------------


def test_direct_without_mode_is_vepa():
    xml = """<domain><name>d</name><uuid>u</uuid><devices>
      <interface type='direct'><source dev='eth0'/></interface></devices></domain>"""
    (nic,) = parse_domain_xml(xml, state="shut off", id=None, persistent=True).interfaces
    assert (nic.mode, nic.dev, nic.source) == ("vepa", "eth0", "eth0")


def test_live_network_shown_with_its_actual_type():
    """Live XML of a type='network' NIC on a macvtap network shows type='direct'."""
    xml = """<domain id='3'><name>d</name><uuid>u</uuid><devices>
      <interface type='direct'><mac address='52:54:00:AA:BB:CC'/>
        <source network='vepa-net' portid='x' dev='eth1' mode='vepa'/>
        <target dev='macvtap3'/></interface></devices></domain>"""
    (nic,) = parse_domain_xml(xml, state="running", id=3, persistent=True).interfaces
    assert (nic.network, nic.dev, nic.mode, nic.source) == ("vepa-net", "eth1", "vepa", "vepa-net")
    assert nic.mac == "52:54:00:aa:bb:cc"


def test_interfaces_outside_devices_are_ignored():
    xml = """<domain><name>d</name><uuid>u</uuid><metadata><interface type='bridge'/></metadata>
      <devices><hostdev mode='subsystem' type='pci'><source><address bus='1'/></source></hostdev>
      </devices></domain>"""
    assert parse_domain_xml(xml, state="shut off", id=None, persistent=True).interfaces == ()


def test_pci_address_forms():
    import xml.etree.ElementTree as ET

    def addr(attrs):
        return pci_address(ET.fromstring(f"<address {attrs}/>"))

    assert addr("type='pci' domain='0x0000' bus='0x03' slot='0x00' function='0x1'") == "0000:03:00.1"
    assert addr("type='pci' domain='0' bus='0' slot='16' function='0'") == "0000:00:10.0"
    assert addr("type='pci' domain='0x0001' bus='0xAF' slot='0x1f' function='0x7'") == "0001:af:1f.7"
    assert addr("type='usb' bus='1' port='2'") is None


@pytest.mark.parametrize("xml, words", [
    ("<domain><name>x</name>", "not well-formed"),
    ("", "not well-formed"),
    ("<network><name>n</name></network>", "expected a <domain>"),
    ("<domain><uuid>u</uuid></domain>", "no <name>"),
])
def test_malformed_domain_xml(xml, words):
    with pytest.raises(LibvirtXmlError, match=words) as info:
        parse_domain_xml(xml, state="running", id=1, persistent=True)
    assert isinstance(info.value, KvmtuiError)


@pytest.mark.parametrize("xml, words", [
    ("<network><name>n</name><forward mode='nat'>", "not well-formed"),
    ("<domain><name>d</name></domain>", "expected a <network>"),
    ("<network><ip address='10.0.0.1' netmask='255.0.255.0'/><name>n</name></network>",
     "invalid <ip>"),
])
def test_malformed_network_xml(xml, words):
    with pytest.raises(LibvirtXmlError, match=words):
        parse_network_xml(xml, active=True, persistent=True, autostart=False)


# --- networks -----------------------------------------------------------------------


def test_nat_with_dev_and_netmask():
    net = network("forward-nat-dev-dhcp-hosts-libvirt.xml")
    assert (net.name, net.forward, net.forward_dev, net.bridge) == ("default", "nat", "eth1", "virbr0")
    assert net.addresses == ("192.168.122.1/24",)
    assert net.uuid == "81ff0d90-c91e-6742-64da-4a736edb9a9b"


def test_route_open_bridge():
    route = network("forward-route-libvirt.xml")
    assert (route.forward, route.forward_dev, route.bridge) == ("route", "eth1", "virbr1")
    open_ = network("forward-open-libvirt.xml")
    assert (open_.forward, open_.bridge, open_.mac) == ("open", "virbr1", "12:34:56:78:9a:bc")
    host = network("forward-bridge-host-bridge-br0-libvirt.xml")
    assert (host.forward, host.bridge, host.addresses) == ("bridge", "br0", ())


def test_macvtap_pools():
    vepa = network("forward-vepa-macvtap-pool-portgroups-libvirt.xml")
    assert (vepa.forward, vepa.interfaces, vepa.virtualport) == (
        "vepa", ("eth1", "eth2", "eth3"), "802.1Qbg")  # not the portgroups' virtualports
    private = network("forward-private-macvtap-pool-8021Qbh-vlan-libvirt.xml")
    assert (private.forward, private.forward_dev, private.virtualport) == ("private", "eth1", "802.1Qbh")
    assert private.interfaces == ("eth1", "eth2", "eth3", "eth4", "eth5")
    assert (private.vlan_tags, private.vlan_trunk, private.portgroups) == ((549,), False, ())
    assert private.virtualport_params == (("profileid", "spongebob24"),)


def test_vepa_portgroups_carry_their_own_8021qbg_ids():
    vepa = network("forward-vepa-macvtap-pool-portgroups-libvirt.xml")
    assert vepa.vlan_tags == () and dict(vepa.virtualport_params)["managerid"] == "11"
    bob, alice = vepa.portgroups
    assert (bob.name, bob.default, bob.vlan_tags, bob.virtualport) == ("bob", True, (), "802.1Qbg")
    assert (alice.name, alice.default) == ("alice", False)
    assert [dict(g.virtualport_params)["instanceid"] for g in vepa.portgroups] == [
        "5d00e0ba-e15c-959c-fbb6-b595b0655735", "70bf45f9-01a8-f5ee-3c0f-e25a0a2e44a6"]
    assert vepa.portgroup(None) is bob and vepa.portgroup("alice") is alice
    assert vepa.portgroup("carol") is None  # a missing name does not fall back to the default


def test_passthrough_and_hostdev_pools():
    pt = network("forward-passthrough-pf-libvirt.xml")
    assert (pt.forward, pt.pf, pt.interfaces) == ("passthrough", "eth0", ("eth10", "eth11"))
    vfs = network("forward-hostdev-vf-pool-pci-libvirt.xml")
    assert vfs.forward == "hostdev"
    assert vfs.interfaces == ("0000:03:00.1", "0000:03:00.2", "0000:03:00.3", "0000:03:00.4")
    pf = network("forward-hostdev-pf-vf-pool-virt-manager.xml")
    assert (pf.forward, pf.pf, pf.uuid, pf.bridge) == ("hostdev", "eth3", None, None)


def test_isolated_network():
    net = network("isolated-no-forward-libvirt.xml")
    assert (net.forward, net.bridge, net.mac) == ("isolated", "virbr2", "52:54:00:17:3f:37")
    assert net.addresses == ("192.168.152.1/24",)


def test_openvswitch_network_without_bridge_name():
    net = network("forward-bridge-openvswitch-portgroups-vlan-trunk-libvirt.xml")
    assert (net.forward, net.bridge, net.virtualport) == ("bridge", None, "openvswitch")
    assert (net.vlan_tags, net.virtualport_params) == ((), ())


def test_openvswitch_portgroups_with_vlan_trunks():
    net = network("forward-bridge-openvswitch-portgroups-vlan-trunk-libvirt.xml")
    assert [(g.name, g.default, g.vlan_tags, g.vlan_trunk) for g in net.portgroups] == [
        ("bob", True, (666,), True), ("alice", False, (777, 888, 999), True)]
    assert [(g.virtualport, g.virtualport_params) for g in net.portgroups] == [  # typeless: the network's
        ("", (("profileid", "bob-profile"),)), ("", (("profileid", "alice-profile"),))]


def test_several_ipv4_and_ipv6_addresses():
    net = network("forward-nat-multi-ipv4-ipv6-portgroups-virt-manager.xml")
    assert net.addresses == ("192.168.7.1/24", "fd00:beef:10:7::1/64", "fd00:beef:12::/48",
                             "192.168.19.0/24")
    assert net.virtualport is None  # only the portgroups have one
    assert net.bridge == "virbr3"
    assert [(g.name, g.default, g.vlan_tags, g.virtualport, g.virtualport_params) for g in net.portgroups] == [
        ("engineering", True, (), "802.1Qbh", (("profileid", "test"),)),
        ("sales", False, (), "802.1Qbh", (("profileid", "salestest"),))]


def test_forward_without_mode_is_nat_and_prefix_defaults():
    xml = """<network><name>n</name><forward/><ip address='10.1.2.3'/>
      <ip family='ipv6' address='FD00::1'/><ip address='172.16.0.1' prefix='12'/></network>"""
    net = parse_network_xml(xml, active=False, persistent=False, autostart=False)
    assert net.forward == "nat"
    assert net.addresses == ("10.1.2.3/8", "fd00::1/64", "172.16.0.1/12")


# --- each interface keeps its own element -----------------------------------------------


@pytest.mark.parametrize("path", DOMAIN_FILES, ids=lambda p: p.name)
def test_each_interface_keeps_its_element_and_reads_back_the_same(path):
    """What a rollback re-attaches is the element itself: read on its own, it is the same NIC."""
    dom = parse_domain_xml(path.read_text(), state="running", id=1, persistent=True)
    for nic in dom.interfaces:
        assert nic.xml is not None and "\n" not in nic.xml
        if nic.xml.startswith("<interface"):
            assert parse_interface_xml(nic.xml) == nic


def test_the_element_is_kept_whole_without_indentation():
    xml = """<domain><name>d</name><uuid>u</uuid><devices>
      <interface type='bridge'>
        <mac address='52:54:00:00:00:01'/>
        <source bridge='br0'/>
        <bandwidth>
          <inbound average='1000'/>
        </bandwidth>
        <model type='virtio'/>
        <driver name='vhost' queues='4'/>
        <link state='down'/>
        <address type='pci' domain='0x0000' bus='0x00' slot='0x07' function='0x0'/>
      </interface>
      <hostdev mode='capabilities' type='net'><source><interface>wlan0</interface></source></hostdev>
    </devices></domain>"""
    nic, wlan = parse_domain_xml(xml, state="shut off", id=None, persistent=True).interfaces
    assert nic.xml == ('<interface type="bridge"><mac address="52:54:00:00:00:01" /><source bridge="br0" />'
                       '<bandwidth><inbound average="1000" /></bandwidth><model type="virtio" />'
                       '<driver name="vhost" queues="4" /><link state="down" />'
                       '<address type="pci" domain="0x0000" bus="0x00" slot="0x07" function="0x0" /></interface>')
    assert wlan.xml == '<hostdev mode="capabilities" type="net"><source><interface>wlan0</interface></source></hostdev>'
