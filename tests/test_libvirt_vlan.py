"""The VLAN a guest interface ends up on: its own <vlan>, else its portgroup's, else the
network's. Networks are the shared samples (and one defined in the real libvirtd);
interfaces go through the same parser the collector uses."""

from __future__ import annotations

import json
from dataclasses import replace

import libvirt
import pytest

from kvmtui.collect.libvirt import collect_libvirt
from kvmtui.libvirt_xml import parse_interface_xml, parse_network_xml
from kvmtui.model import Domain, HostInfo, Snapshot
from kvmtui.model.libvirt import Vlan, effective_vlan
from kvmtui.serialize import snapshot_document, snapshot_from_document
from kvmtui.views import guest_rows, network_rows, node_details
from tests.helpers import SHARED_FIXTURES
from tests.guests import SYSTEM_URI, diskless_guest, unique_name

NETWORKS = SHARED_FIXTURES / "libvirt" / "networks"
HOST = HostInfo("h", "k", "t", None, None, None, "0")


def sample(name: str):
    return parse_network_xml((NETWORKS / name).read_text(), active=True, persistent=True, autostart=False)


OVS = sample("forward-bridge-openvswitch-portgroups-vlan-trunk-libvirt.xml")  # portgroups bob*, alice
QBH = sample("forward-private-macvtap-pool-8021Qbh-vlan-libvirt.xml")  # the network's own vlan 549
VEPA = sample("forward-vepa-macvtap-pool-portgroups-libvirt.xml")  # portgroups without vlans


def nic(network: str, portgroup: str | None = None, vlan: str = ""):
    group = f" portgroup='{portgroup}'" if portgroup else ""
    return parse_interface_xml(f"<interface type='network'><mac address='52:54:00:00:00:01'/>"
                               f"<source network='{network}'{group}/>{vlan}</interface>")


def test_the_named_portgroup_gives_its_trunk():
    assert effective_vlan(nic("openvswitch-net", "alice"), (OVS,)) == Vlan((777, 888, 999), True, "portgroup alice")


def test_no_portgroup_named_gets_the_default_one():
    assert effective_vlan(nic("openvswitch-net"), (OVS,)) == Vlan((666,), True, "portgroup bob")


def test_the_interfaces_own_vlan_wins():
    own = nic("openvswitch-net", "alice", "<vlan><tag id='42'/></vlan>")
    assert effective_vlan(own, (OVS,)) == Vlan((42,), False, "interface")


def test_a_network_without_portgroups_gives_its_own_vlan():
    assert effective_vlan(nic("8021Qbh-net"), (QBH,)) == Vlan((549,), False, "network")


def test_portgroups_without_vlans_give_none():
    assert effective_vlan(nic("vepa-net", "alice"), (VEPA,)) is None
    assert effective_vlan(nic("vepa-net"), (VEPA, OVS, QBH)) is None


def test_a_missing_portgroup_falls_back_to_the_network_not_the_default():
    """libvirt's virPortGroupFindByName: a name it lacks finds nothing, not the default."""
    tagged = replace(OVS, vlan_tags=(5,))
    assert effective_vlan(nic("openvswitch-net", "carol"), (tagged,)) == Vlan((5,), False, "network")
    assert effective_vlan(nic("openvswitch-net", "carol"), (OVS,)) is None


def test_an_unknown_network_leaves_the_vlan_unknown():
    assert effective_vlan(nic("openvswitch-net"), ()) is None
    assert effective_vlan(nic("openvswitch-net"), (QBH,)) is None


def snapshot_with(*nics) -> Snapshot:
    guest = Domain("web1", "6f1b2c3d-0000-4000-8000-0000000000a1", "shut off", None, True, tuple(nics))
    return Snapshot(host=HOST, domains=(guest,), networks=(OVS, QBH, VEPA))


def test_guests_pane_shows_the_effective_vlan():
    snapshot = snapshot_with(nic("openvswitch-net", "alice"), nic("openvswitch-net"), nic("8021Qbh-net"),
                             nic("vepa-net"), nic("elsewhere"))
    assert [row.lands_on for row in guest_rows(snapshot)] == [
        "network openvswitch-net, vlan 777,888,999 trunk", "network openvswitch-net, vlan 666 trunk",
        "network 8021Qbh-net, vlan 549", "network vepa-net", "network elsewhere"]


def test_details_say_where_the_vlan_comes_from():
    snapshot = snapshot_with(nic("openvswitch-net"))
    _, lines = node_details(snapshot, (), "guest:6f1b2c3d-0000-4000-8000-0000000000a1:52:54:00:00:00:01")
    assert ("effective vlan", "vlan 666 trunk (from portgroup bob of openvswitch-net)") in lines
    _, lines = node_details(snapshot, (), "net:openvswitch-net")
    assert ("portgroup bob", "default, vlan 666 trunk, virtualport profileid=bob-profile") in lines
    assert ("portgroup alice", "vlan 777,888,999 trunk, virtualport profileid=alice-profile") in lines
    _, lines = node_details(snapshot, (), "net:8021Qbh-net")
    assert ("vlan_tags", "549") in lines and ("virtualport_params", "profileid=spongebob24") in lines
    assert [row.name for row in network_rows(snapshot)] == ["openvswitch-net", "8021Qbh-net", "vepa-net"]


def test_new_fields_survive_the_json_round_trip():
    snapshot = snapshot_with(nic("openvswitch-net", "alice"))
    document = json.loads(json.dumps(snapshot_document(snapshot)))
    assert document["networks"][0]["portgroups"][0] == {
        "name": "bob", "default": True, "vlan_tags": [666], "vlan_trunk": True, "virtualport": "",
        "virtualport_params": [["profileid", "bob-profile"]]}
    assert snapshot_from_document(document) == snapshot


def test_a_recording_without_the_new_fields_still_opens():
    document = json.loads(json.dumps(snapshot_document(snapshot_with(nic("8021Qbh-net")))))
    for key in ("vlan_tags", "vlan_trunk", "virtualport_params", "portgroups"):
        for net in document["networks"]:
            del net[key]
    for key in ("mtu", "virtualport_params"):
        del document["domains"][0]["interfaces"][0][key]
    old = snapshot_from_document(document)
    assert old.networks[1].portgroups == () and old.networks[1].vlan_tags == ()
    assert guest_rows(old)[0].lands_on == "network 8021Qbh-net"  # nothing known, nothing claimed


# --- the real daemon: what it keeps of portgroups and how kvmtui reads it back --------------


NETWORK_XML = """<network>
  <name>{name}</name>
  <forward mode='passthrough'><interface dev='{name}'/></forward>
  <vlan><tag id='549'/></vlan>
  <portgroup name='bob' default='yes'><vlan trunk='yes'><tag id='666'/></vlan></portgroup>
  <portgroup name='alice'><vlan trunk='yes'><tag id='777'/><tag id='888'/></vlan></portgroup>
  <portgroup name='plain'/>
</network>"""


@pytest.mark.libvirt
def test_real_libvirt_network_portgroups_reach_the_guests_pane():
    """Passthrough, because libvirt 9 accepts a network <vlan> only there (or on OVS).
    Neither is started: the VLAN is read from the definitions."""
    name = unique_name("pg")
    conn = libvirt.open(SYSTEM_URI)
    net = conn.networkDefineXML(NETWORK_XML.format(name=name))
    try:
        nics = [f"<interface type='network'><source network='{name}'{group}/>{vlan}</interface>"
                for group, vlan in (("", ""), (" portgroup='alice'", ""), (" portgroup='plain'", ""),
                                    (" portgroup='alice'", "<vlan><tag id='42'/></vlan>"))]
        with diskless_guest(name, nics, start=False):
            state = collect_libvirt(SYSTEM_URI)
            assert state.error is None, state.error
            network = next(n for n in state.networks if n.name == name)
            assert [(g.name, g.default, g.vlan_tags, g.vlan_trunk) for g in network.portgroups] == [
                ("bob", True, (666,), True), ("alice", False, (777, 888), True), ("plain", False, (), False)]
            assert network.vlan_tags == (549,)
            snapshot = Snapshot(host=HOST, domains=state.domains, networks=state.networks)
            lands = [row.lands_on for row in guest_rows(snapshot) if row.domain == name]
            assert lands == [f"network {name}, vlan 666 trunk", f"network {name}, vlan 777,888 trunk",
                             f"network {name}, vlan 549", f"network {name}, vlan 42"]
    finally:
        net.undefine()
        conn.close()
