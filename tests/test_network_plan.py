"""libvirt network plans on the recorded example host (pure: no libvirt, no host): the XML
each kind gets, the refusals at the field, the steps and inverses of define and undefine,
and what the confirmation shows."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import replace

import pytest

from kvmtui.cli import read_snapshot_file
from kvmtui.kinds import COMMANDS, make_plan
from kvmtui.kinds.libvirt_network import DefineNetwork
from kvmtui.kinds.libvirt_network_undefine import UndefineNetwork
from kvmtui.libvirt_xml import parse_network_xml
from kvmtui.plan import PlanError
from kvmtui.plan.diff import confirmation
from kvmtui.plan.simulate import simulate
from tests.helpers import REPO

EXAMPLE = read_snapshot_file(str(REPO / "examples" / "kvm-host.json"))  # default 192.168.122.1/24, lan100 on br100


def xml_of(intent: DefineNetwork) -> ET.Element:
    plan = make_plan(intent, EXAMPLE)
    assert plan.xml == (plan.steps[0].xml,)
    return ET.fromstring(plan.xml[0])


def test_nat_xml_and_steps():
    plan = make_plan(DefineNetwork("lab", "nat", None, "10.9.0.0/24", "10.9.0.10-10.9.0.99",
                                   ("52:54:00:aa:00:01,10.9.0.5,web",), False, ("eno5",), autostart=True), EXAMPLE)
    assert plan.commands == ("virsh net-define lab.xml", "virsh net-start lab", "virsh net-autostart lab")
    assert [step.inverse.command for step in plan.steps] == [
        "virsh net-undefine lab", "virsh net-destroy lab", "virsh net-autostart lab --disable"]
    root = ET.fromstring(plan.xml[0])
    assert root.find("forward").attrib == {"mode": "nat", "dev": "eno5"}
    assert root.find("bridge").get("name") == "virbr1"  # virbr0 is the default network's
    assert root.find("dns").get("enable") == "no"
    assert root.find("ip").attrib == {"address": "10.9.0.1", "prefix": "24"}
    assert root.find("ip/dhcp/host").attrib == {"mac": "52:54:00:aa:00:01", "ip": "10.9.0.5", "name": "web"}
    network = parse_network_xml(plan.xml[0], active=False, persistent=True, autostart=False)
    assert (network.forward, network.addresses, network.forward_dev) == ("nat", ("10.9.0.1/24",), "eno5")


def test_isolated_has_no_forward_and_a_given_host_address_is_kept():
    root = xml_of(DefineNetwork("iso", "isolated", "kt-iso", "fd00:9::fe/64"))
    assert root.find("forward") is None
    assert root.find("ip").attrib == {"address": "fd00:9::fe", "prefix": "64", "family": "ipv6"}


def test_pools_and_host_bridge():
    assert xml_of(DefineNetwork("br", "bridge", "br-mgmt")).find("bridge").attrib == {"name": "br-mgmt"}
    root = xml_of(DefineNetwork("pool", "macvtap", devs=("eno5", "eno6"), macvtap_mode="passthrough"))
    assert root.find("forward").get("mode") == "passthrough"
    assert [i.get("dev") for i in root.findall("forward/interface")] == ["eno5", "eno6"]
    root = xml_of(DefineNetwork("vfs", "hostdev", devs=("eno6",)))
    assert root.find("forward").attrib == {"mode": "hostdev", "managed": "yes"}
    assert root.find("forward/pf").get("dev") == "eno6"


@pytest.mark.parametrize("intent, field, words", [
    (DefineNetwork("default", "isolated"), "name", "a libvirt network named 'default' already exists"),
    (DefineNetwork("n", "nat", subnet="192.168.122.128/25"), "subnet",
     "overlaps 192.168.122.0/24 of libvirt network default"),
    (DefineNetwork("n", "route", subnet="198.51.100.0/23"), "subnet", "which this host already routes via eno4"),
    (DefineNetwork("n", "nat"), "subnet", "needs its subnet"),
    (DefineNetwork("n", "nat", subnet="10.9.0.0/24", dhcp_range="10.9.1.1-10.9.1.9"), "dhcp_range",
     "outside the subnet"),
    (DefineNetwork("n", "nat", subnet="10.9.0.0/24", dhcp_range="10.9.0.1-10.9.0.9"), "dhcp_range",
     "the host's own address"),
    (DefineNetwork("n", "nat", subnet="10.9.0.0/24", dhcp_range="10.9.0.50-10.9.0.9"), "dhcp_range",
     "reversed"),
    (DefineNetwork("n", "nat", subnet="10.9.0.0/24", hosts=("52:54:00:aa:00:01,10.8.0.5",)), "hosts", "outside"),
    (DefineNetwork("n", "nat", "br100", "10.9.0.0/24"), "bridge", "br100 is already in use on this host"),
    (DefineNetwork("n", "nat", "virbr0", "10.9.0.0/24"), "bridge", "already libvirt network default's"),
    (DefineNetwork("n", "nat", "virbr-0123456789", "10.9.0.0/24"), "bridge", "at most 15 bytes"),
    (DefineNetwork("n", "bridge", "eno5"), "bridge", "not a Linux bridge"),
    (DefineNetwork("n", "bridge", "nosuch"), "bridge", "there is no bridge 'nosuch'"),
    (DefineNetwork("n", "bridge", "br-mgmt", subnet="10.9.0.0/24"), "subnet", "has no subnet of its own"),
    (DefineNetwork("n", "macvtap"), "devs", "needs its devices"),
    (DefineNetwork("n", "macvtap", "br100", devs=("eno5",)), "bridge", "has no bridge"),
    (DefineNetwork("n", "hostdev", devs=("nosuch",)), "devs", "there is no device 'nosuch'"),
    (DefineNetwork("n", "isolated", macvtap_mode="vepa"), "macvtap_mode", "for --forward macvtap"),
])
def test_refusals_at_the_field(intent, field, words):
    with pytest.raises(PlanError) as refused:
        make_plan(intent, EXAMPLE)
    assert refused.value.field == field and words in str(refused.value)


def test_without_libvirt_nothing_is_planned():
    no_libvirt = replace(EXAMPLE, host=replace(EXAMPLE.host, libvirt_uri=None), networks=())
    with pytest.raises(PlanError, match="libvirt was not read"):
        make_plan(DefineNetwork("n", "isolated"), no_libvirt)


def test_the_confirmation_shows_the_new_network_and_its_xml():
    plan = make_plan(DefineNetwork("lab", "nat", subnet="10.9.0.0/24", autostart=True), EXAMPLE)
    shown = confirmation(plan, EXAMPLE)
    assert any(line.mark == "+" and line.text.startswith("lab network  nat on virbr1") for line in shown.tree)
    assert shown.xml == plan.xml and "<name>lab</name>" in shown.xml[0]
    after = next(n for n in simulate(EXAMPLE, plan.steps).networks if n.name == "lab")
    assert (after.active, after.autostart, after.persistent) == (True, True, True)


def test_undefine_keeps_the_xml_to_define_it_again():
    xml = "<network><name>lan100</name><forward mode='bridge'/><bridge name='br100'/></network>"
    host = replace(EXAMPLE, networks=tuple(replace(n, xml=xml, autostart=True) if n.name == "lan100" else n
                                           for n in EXAMPLE.networks))
    plan = make_plan(UndefineNetwork("lan100"), host)
    assert plan.commands == ("virsh net-destroy lan100", "virsh net-autostart lan100 --disable",
                             "virsh net-undefine lan100")
    assert plan.steps[-1].inverse.command == "virsh net-define lan100.xml" and plan.steps[-1].inverse.xml == xml
    assert all(n.name != "lan100" for n in simulate(host, plan.steps).networks)
    with pytest.raises(PlanError, match="recorded before it was kept"):  # the example has no XML: no undo possible
        make_plan(UndefineNetwork("lan100"), EXAMPLE)
    with pytest.raises(PlanError, match="no libvirt network 'nosuch'"):
        make_plan(UndefineNetwork("nosuch"), host)


def test_the_form_drops_what_the_kind_does_not_use():
    intent = COMMANDS["net-define"].from_form({"name": "b", "forward": "bridge", "bridge": "br-mgmt",
                                               "subnet": "192.168.100.0/24", "dhcp_range": None, "hosts": "",
                                               "dns": True, "devs": (), "macvtap_mode": "bridge",
                                               "autostart": False, "start": True})
    assert intent == DefineNetwork("b", "bridge", "br-mgmt")
    assert make_plan(intent, EXAMPLE).title == "define libvirt network b"
