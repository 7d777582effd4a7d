"""The saved network configuration: every real-world sample in ../shared/fixtures/netconfig
read in place (what an administrator would check of each, and its quirks from SOURCES.md),
then who owns what on small trees built here for each backend.
"""

from __future__ import annotations

import fnmatch
import os
from pathlib import Path

import pytest

from kvmtui.collect.netconfig import ifcfg, ifupdown, netplan, networkd, networkmanager, read_netconfig
from kvmtui.model.netconfig import ConfiguredRoute, ConfiguredVlan
from tests.helpers import SHARED_FIXTURES, link

SAMPLES = SHARED_FIXTURES / "netconfig"
ALL = sorted(p for p in SAMPLES.glob("*/*") if p.is_file())


def by_name(parsed):
    return {d.name: d for d in parsed.devices}


def problems(parsed):
    return [p.text for p in parsed.problems]


def read_netplan(name):
    path = SAMPLES / "netplan" / name
    return netplan.parse([(str(path), path.read_text())])


def read_keyfile(name):
    path = SAMPLES / "nm-keyfile" / name
    return networkmanager.parse(path.read_text(), str(path))


def read_interfaces(name):
    path = SAMPLES / "interfaces" / name
    return ifupdown.parse(path.read_text(), str(path))


def read_networkd(name):
    path = SAMPLES / "networkd" / name
    parse = networkd.parse_netdev if path.suffix == ".netdev" else networkd.parse_network
    return parse(path.read_text(), str(path))


def test_the_samples_are_there():
    assert len(ALL) >= 40, f"expected the shared netconfig samples in {SAMPLES}"


@pytest.mark.parametrize("path", ALL, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_every_sample_parses_or_names_file_and_line(path):
    text = path.read_text()
    if path.parent.name == "netplan":
        parsed = netplan.parse([(str(path), text)])
    elif path.parent.name == "nm-keyfile":
        parsed = networkmanager.parse(text, str(path))
    elif path.parent.name == "ifcfg":
        parsed = ifcfg.parse(text, str(path)) if path.name.startswith("ifcfg-") else None
        if parsed is None:  # a route- file: read with its ifcfg- companion
            return
    elif path.parent.name == "interfaces":
        parsed = ifupdown.parse(text, str(path))
    else:
        parsed = read_networkd(path.name)
    assert parsed.devices, "every sample describes at least one device"
    for problem in parsed.problems:
        assert problem.file == str(path) and problem.text.startswith(f"cannot read {path}")
        assert "kvmtui failed" not in problem.message
    for dev in parsed.devices:
        assert dev.file == str(path) and dev.line >= 1


# netplan


def test_netplan_active_backup_bond_with_primary():
    bond = by_name(read_netplan("bonding-active-backup-netplan.yaml"))["bond0"]
    assert (bond.kind, bond.bond_mode, bond.ports, bond.dhcp) == ("bond", "active-backup", ("enp3s0", "enp4s0"), ("ipv4",))
    assert ("primary", "enp3s0") in bond.bond_options and bond.why == "netplan renderer networkd"


def test_netplan_three_bonds_and_the_misspelled_gratuitous_arp():
    parsed = read_netplan("bonding-router-3modes-netplan.yaml")
    bonds = by_name(parsed)
    assert {n: bonds[n].bond_mode for n in ("bond-lan", "bond-wan", "bond-conntrack")} == \
        {"bond-lan": "802.3ad", "bond-wan": "active-backup", "bond-conntrack": "balance-rr"}
    wan = bonds["bond-wan"]
    assert wan.addresses == ("192.168.1.252/24",) and wan.routes == (ConfiguredRoute("default", "192.168.1.1"),)
    assert ("num_grat_arp", "5") in wan.bond_options and ("miimon", "1") in wan.bond_options
    assert bonds["enp4s0"].master == "bond-wan" and not problems(parsed)


def test_netplan_bridge_on_a_vlan():
    devices = by_name(read_netplan("bridge-on-vlan-netplan.yaml"))
    assert (devices["vlan15"].vlan_id, devices["vlan15"].parent, devices["vlan15"].master) == (15, "enp0s25", "br0")
    assert devices["br0"].ports == ("vlan15",) and devices["br0"].addresses == ("10.3.99.25/24",)
    assert devices["br0"].bridge_stp is True  # netplan's default


def test_netplan_renderer_networkmanager_and_inline_comments():
    devices = by_name(read_netplan("bridge-renderer-networkmanager-inline-comments-dotfiles.yaml"))
    br0 = devices["br0"]
    assert br0.why == "netplan renderer NetworkManager" and br0.bridge_stp is False
    assert ("forward_delay", "0") in br0.bridge_options and br0.ports == ("enp1s0",) and br0.dhcp == ("ipv4",)


def test_netplan_gateway4_under_a_misleading_comment_is_networkd():
    virbr0 = by_name(read_netplan("bridge-static-gateway4-misleading-comment-KVM.yaml"))["virbr0"]
    assert virbr0.why == "netplan renderer networkd"
    assert virbr0.addresses == ("172.16.1.50/24",) and virbr0.routes == (ConfiguredRoute("default", "172.16.1.254"),)


def test_netplan_vlan_aware_bridge_names_a_port_no_device_defines():
    parsed = read_netplan("bridge-vlan-aware-port-vlans-netplan.yaml")
    devices = by_name(parsed)
    br0 = devices["br0"]
    assert ("vlan_filtering", "1") in br0.bridge_options and ("default_pvid", "42") in br0.bridge_options
    assert br0.vlans[0] == ConfiguredVlan(10, 10, pvid=True, untagged=True) and len(br0.vlans) == 3
    assert devices["eno1"].vlans == (ConfiguredVlan(2, 2, True, True), ConfiguredVlan(4, 4, False, True))
    assert problems(parsed) == [f"cannot read {SAMPLES}/netplan/bridge-vlan-aware-port-vlans-netplan.yaml line 8: "
                                "br0: names eno2, which no device defines: netplan generate refuses it"]


def test_netplan_vxlan_in_bridges_in_a_vrf_without_version():
    parsed = read_netplan("vxlan-vrf-bridge-netplan.yaml")
    devices = by_name(parsed)
    vxlan = devices["vxlan1005"]
    assert (vxlan.kind, vxlan.vni, vxlan.parent, vxlan.mtu, vxlan.master) == ("vxlan", 1005, "lo", 8950, "br1005")
    assert ("learning", "0") in vxlan.options and ("local", "192.168.10.10") in vxlan.options
    assert devices["vrf1005"].ports == ("br1", "br1005") and ("table", "1005") in devices["vrf1005"].options
    assert devices["lo"].kind == "loopback" and not problems(parsed)


def test_netplan_mac_matched_renamed_parent_of_two_vlans():
    devices = by_name(read_netplan("vlan-static-routes-dns-netplan.yaml"))
    assert devices["mainif"].match_mac == "de:ad:be:ef:ca:fe"
    assert (devices["vlan10"].vlan_id, devices["vlan10"].parent, devices["vlan10"].addresses) == \
        (10, "mainif", ("10.3.98.5/24",))


def test_netplan_odd_indent():
    enp3s0 = by_name(read_netplan("static-multiaddress-odd-indent-netplan.yaml"))["enp3s0"]
    assert enp3s0.addresses == ("10.100.1.38/24", "10.100.1.39/24")
    assert enp3s0.routes == (ConfiguredRoute("default", "10.100.1.1"),)


def test_netplan_files_merge_in_name_order_and_a_syntax_error_names_its_line():
    first = "network:\n  version: 2\n  bridges:\n    br0:\n      interfaces: [eno1]\n      addresses: [10.0.0.1/24]\n"
    later = "network:\n  ethernets:\n    eno1: {}\n  bridges:\n    br0:\n      mtu: 9000\n"
    broken = "network:\n  bridges:\n    br1: [\n"
    parsed = netplan.parse([("/etc/netplan/01.yaml", first), ("/etc/netplan/02.yaml", later),
                            ("/etc/netplan/03.yaml", broken)])
    br0 = by_name(parsed)["br0"]
    assert (br0.addresses, br0.mtu, br0.file, br0.more_files) == (("10.0.0.1/24",), 9000, "/etc/netplan/02.yaml",
                                                                  ("/etc/netplan/01.yaml:4",))
    assert len(parsed.problems) == 1 and parsed.problems[0].file == "/etc/netplan/03.yaml"
    assert parsed.problems[0].line == 4 and "not YAML" in parsed.problems[0].message


# NetworkManager keyfiles


def test_keyfile_bond_without_final_newline():
    bond = read_keyfile("bond-active-backup-multiaddr-no-eol-NetworkManager-ci.nmconnection").devices[0]
    assert (bond.name, bond.kind, bond.bond_mode) == ("bond0", "bond", "active-backup")
    assert bond.addresses == ("192.168.50.112/24", "192.168.50.113/32") and bond.dhcp == ("ipv6",)
    assert bond.uuid == "a9732df4-4570-4f64-853f-f8b21d6c8a09"


def test_keyfile_bond_port_with_the_legacy_master_key():
    port = read_keyfile("bond-port-ethernet-master-key-no-eol-NetworkManager-ci.nmconnection").devices[0]
    assert (port.name, port.kind, port.master) == ("eth1", "ethernet", "bond0")


def test_keyfile_bridge_with_static_address_and_gateway():
    parsed = read_keyfile("bridge-master-static-NetworkManager.nmconnection")
    br0 = parsed.devices[0]
    assert (br0.name, br0.kind, br0.bridge_stp, br0.addresses) == ("br0", "bridge", True, ("1.2.3.4/24",))
    assert br0.routes == (ConfiguredRoute("default", "1.1.1.1"),) and not parsed.problems
    assert br0.why == "NM keyfile profile 'Test Write Bridge Main'"


def test_keyfile_bridge_port_by_mac_with_controller_and_long_type_name():
    port = read_keyfile("bridge-port-ethernet-NetworkManager.nmconnection").devices[0]
    assert (port.name, port.kind, port.master, port.match_mac) == (None, "ethernet", "br0", "00:22:15:59:62:97")
    assert dict(port.port_options) == {"priority": "28", "hairpin": "1", "cost": "100"}


def test_keyfile_minimal_port_without_id_or_uuid():
    port = read_keyfile("bridge-port-minimal-NetworkManager.nmconnection").devices[0]
    assert (port.name, port.profile, port.uuid, port.master, port.line) == (None, None, None, "br0", 1)


def test_keyfile_two_gateways_are_a_problem_naming_the_line():
    parsed = read_keyfile("ethernet-duplicate-gateways-NetworkManager.nmconnection")
    dev = parsed.devices[0]
    assert dev.addresses == ("192.168.0.5/24", "192.0.2.1/16", "fd01::1/64")
    assert ConfiguredRoute("default", "192.168.0.253") in dev.routes
    assert ConfiguredRoute("default", "fd01::bbbb") in dev.routes
    assert [(p.line, "192.168.0.254" in p.message) for p in parsed.problems][:1] == [(10, True)]


def test_keyfile_vlan_without_a_vlan_group_is_vlan_0():
    parsed = read_keyfile("vlan-missing-vlan-section-comments-NetworkManager.nmconnection")
    vlan = parsed.devices[0]
    assert (vlan.kind, vlan.vlan_id, vlan.parent, vlan.line) == ("vlan", 0, None, 4)
    assert ("parent_mac", "00:11:22:33:44:55") in vlan.options and not parsed.problems


def test_keyfile_a_line_glib_cannot_read_drops_the_whole_profile():
    parsed = networkmanager.parse("[connection]\ninterface-name=eth0\nthis is not a key\n", "/x.nmconnection")
    assert not parsed.devices and problems(parsed) == [
        "cannot read /x.nmconnection line 3: not a group, key or comment: NetworkManager ignores the whole file"]


# ifcfg-rh


@pytest.fixture(scope="module")
def ifcfg_samples():
    """The directory read in place, as NM's ifcfg-rh plugin would: each ifcfg- with its route- file."""
    return ifcfg.read_directory(SAMPLES / "ifcfg", SAMPLES)


def _ifcfg(parsed, name):
    return next(d for d in parsed.devices if d.file.endswith(name))


def test_ifcfg_balance_rr_bond_with_options_and_the_uuid_placeholder(ifcfg_samples):
    bond = _ifcfg(ifcfg_samples, "ifcfg-bond-balance-rr-static-uuid-placeholder-NetworkManager")
    assert (bond.name, bond.bond_mode, bond.addresses) == ("bond0", "balance-rr", ("1.1.1.3/24",))
    assert dict(bond.bond_options) == {"downdelay": "5", "miimon": "100", "updelay": "10"}
    assert bond.routes == (ConfiguredRoute("default", "1.1.1.1"),) and bond.uuid is None
    placeholder = [p for p in ifcfg_samples.problems if "placeholder" in p.message and "bond" in p.file]
    assert len(placeholder) == 1 and placeholder[0].line == 18 and "${UUID}" in placeholder[0].message
    assert placeholder[0].text.startswith("cannot read /ifcfg/ifcfg-bond-balance-rr-static-uuid-placeholder-")


def test_ifcfg_bond_port_bridge_and_bridge_port(ifcfg_samples):
    port = _ifcfg(ifcfg_samples, "ifcfg-bond-port-queue-id-NetworkManager")
    assert (port.name, port.master, port.port_options) == ("eth0", "bond99", (("queue_id", "1"),))
    bridge = _ifcfg(ifcfg_samples, "ifcfg-bridge-stp-bridging-opts-NetworkManager")
    assert (bridge.kind, bridge.bridge_stp, bridge.mac, bridge.autostart) == ("bridge", True, "00:16:41:11:22:33", False)
    assert dict(bridge.bridge_options)["forward_delay"] == "2" and dict(bridge.bridge_options)["priority"] == "32744"
    hairpin = _ifcfg(ifcfg_samples, "ifcfg-bridge-port-hairpin-NetworkManager")
    assert (hairpin.master, dict(hairpin.port_options)) == ("br0", {"priority": "28", "hairpin": "1"})


def test_ifcfg_vlans_from_the_name_and_from_physdev(ifcfg_samples):
    qinq = _ifcfg(ifcfg_samples, "ifcfg-vlan-flags-qinq-static-NetworkManager")
    assert (qinq.name, qinq.vlan_id, qinq.parent, qinq.vlan_protocol) == ("vlan43", 43, "eth9", "802.1ad")
    assert qinq.addresses == ("192.168.43.149/24",) and ("vlan_flags", "GVRP,LOOSE_BINDING") in qinq.options
    dotted = _ifcfg(ifcfg_samples, "ifcfg-vlan-physdev-dotted-name-NetworkManager")
    assert (dotted.name, dotted.vlan_id, dotted.parent) == ("vlan0.3", 3, "eth0")


def test_ifcfg_quoted_name_and_its_legacy_route_file(ifcfg_samples):
    eth = _ifcfg(ifcfg_samples, "ifcfg-ethernet-dhcp-comment-quoted-name-NetworkManager")
    assert (eth.profile, eth.dhcp, eth.match_mac) == ("test-static-routes-legacy", ("ipv4",), "00:16:41:11:22:33")
    assert eth.routes[0] == ConfiguredRoute("1.2.3.0/24", "222.173.190.239", 0)
    assert eth.routes[-1] == ConfiguredRoute("8.8.8.8/32", None, 12) and len(eth.routes) == 4


# /etc/network/interfaces


def test_interfaces_lacp_rate_words_and_numbers():
    bonds = by_name(read_interfaces("bond-lacp-rate-variants-placeholders-ifupdown2.interfaces"))
    assert [dict(bonds[b].bond_options)["lacp_rate"] for b in ("bond4", "bond7", "bond8", "bond9")] == \
        ["slow", "fast", "slow", "fast"]
    assert bonds["bond4"].ports == ("swp_EE_",) and bonds["bond4"].bond_mode == "802.3ad"
    assert bonds["eth0"].master == "mgmt" and bonds["mgmt"].kind == "vrf"


def test_interfaces_bridge_over_bonds_and_vlans_on_bonds():
    parsed = read_interfaces("bonds-bridge-on-bond-vlans-multiaddr-ifupdown2.interfaces")
    devices = by_name(parsed)
    bond3 = devices["bond3"]
    assert (bond3.bond_mode, bond3.ports, bond3.master) == ("802.3ad", ("swp1", "swp2"), "br0")
    assert dict(bond3.bond_options)["xmit_hash_policy"] == "layer3+4" and dict(bond3.bond_options)["lacp_rate"] == "fast"
    br0 = devices["br0"]
    assert (br0.ports, br0.bridge_stp) == (("bond3", "bond4", "swp5", "swp8"), True)
    assert br0.addresses == ("12.0.0.4/24", "12.0.0.6/24", "2000:1000:1000:1000:3::5/128")
    vlan = devices["bond3.2000"]
    assert (vlan.kind, vlan.vlan_id, vlan.parent, vlan.master) == ("vlan", 2000, "bond3", "br2000")
    assert devices["br2000"].addresses == ("2001:dad:beef::4/64",) and not problems(parsed)


def test_interfaces_mako_template_is_a_problem_with_its_line_and_the_rest_is_read():
    path = SAMPLES / "interfaces" / "bridge-vlan-bond-vxlan-vrf-mako-ifupdown2.interfaces"
    parsed = read_interfaces(path.name)
    assert [p.line for p in parsed.problems] == [7, 11]
    assert all(p.text.startswith(f"cannot read {path} line ") and "template placeholder" in p.message
               for p in parsed.problems)
    devices = by_name(parsed)
    assert "swp5" not in devices and "swp${id}" not in devices  # made by the loop
    assert devices["swp7"].vlans == (ConfiguredVlan(5, 5), ConfiguredVlan(9, 10)) and devices["swp7"].mtu == 9000
    assert (devices["v0"].vlan_id, devices["v0"].parent) == (42, "swp22")
    assert (devices["vx42"].kind, devices["vx42"].vni, devices["vx42"].master) == ("vxlan", 42, "br1-untag")
    assert ("vlan_filtering", "1") in devices["br0"].bridge_options and devices["bond2"].mtu == 1500
    assert devices["lo"].kind == "loopback" and devices["red"].ports == ("swp10.100",)


def test_interfaces_indented_mako_loop_glob_ports_and_a_vlan_stanza():
    parsed = read_interfaces("vlan-aware-bridge-bonds-mako-ifupdown2.interfaces")
    assert [(p.line, "template placeholder" in p.message) for p in parsed.problems] == [(62, True)]
    devices = by_name(parsed)
    assert devices["bridge"].ports[:3] == ("uplink1", "peerlink", "downlink")
    assert devices["bridge"].ports[3:] == tuple(f"swp{n}" for n in range(2, 21))  # glob swp2-20
    assert devices["peerlink"].vlans == (ConfiguredVlan(2000, 2079), ConfiguredVlan(4094, 4094))
    assert devices["bridge.4094"].addresses == ("11.100.1.252/24",) and devices["bridge.4094"].parent == "bridge"


def test_interfaces_vxlan_access_ports_of_a_vlan_aware_bridge():
    devices = by_name(read_interfaces("vxlan-vlan-aware-bridge-ifupdown2.interfaces"))
    vx = devices["vxlan10200"]
    assert (vx.vni, vx.master, vx.vlans) == (10200, "bridge", (ConfiguredVlan(200, 200, True, True),))
    assert dict(vx.options) == {"local": "6.0.0.15"}
    assert vx.fdb == (("00:00:00:00:00:00", "6.0.0.16"),)  # ifupdown2's vxlan-remoteip: head-end replication
    assert dict(devices["vx0"].options)["remote"] == "172.16.22.126"  # a unicast svcnodeip: the kernel's remote


def test_interfaces_repeated_bridge_ports_lines_merge():
    bridge = by_name(read_interfaces("bridge-multiple-bridge-ports-lines-ifupdown2.interfaces"))["bridge"]
    assert bridge.ports == ("swp_AA_", "swp_BB_", "swp_CC_", "swp_DD_")


def test_interfaces_proxmox_tabs_underscores_and_netmask():
    parsed = read_interfaces("vmbr0-bridge-tabs-source-directory-pve-common.interfaces")
    vmbr0 = by_name(parsed)["vmbr0"]
    assert (vmbr0.backend, vmbr0.ports, vmbr0.bridge_stp) == ("ifupdown", ("eth0",), False)
    assert vmbr0.addresses == ("10.0.0.2/24",) and vmbr0.routes == (ConfiguredRoute("default", "10.0.0.1"),)
    assert ("forward_delay", "0") in vmbr0.bridge_options and by_name(parsed)["eth0"].autostart is False


# systemd-networkd


def test_networkd_802_3ad_bond():
    bond = read_networkd("bond-802.3ad-full-systemd.netdev").devices[0]
    assert (bond.name, bond.bond_mode) == ("bond99", "802.3ad")
    assert dict(bond.bond_options) == {"xmit_hash_policy": "layer3+4", "miimon": "1000", "lacp_rate": "fast",
                                       "updelay": "2000", "downdelay": "2000", "resend_igmp": "4", "min_links": "1"}


def test_networkd_many_addresses_and_the_invalid_ones_named():
    parsed = read_networkd("address-multiple-and-sections-invalid-systemd.network")
    dev = parsed.devices[0]
    assert dev.name == "dummy98" and dev.addresses[:6] == ("10.1.2.3/16", "10.1.2.4/16", "10.2.2.4/16",
                                                           "2001:db8:0:f101::15/64", "2001:db8:0:f101::16/64",
                                                           "2001:db8:0:f102::15/64")
    assert "10.10.0.1/16" not in dev.addresses and "10.3.2.3/16" in dev.addresses
    assert [p.line for p in parsed.problems] == [13, 14, 33, 39]


def test_networkd_ports_bridge_and_vlans():
    assert read_networkd("bond-port-primary-systemd.network").devices[0].master == "bond199"
    port = read_networkd("bridge-port-vlan-range-systemd.network").devices[0]
    assert (port.name, port.master, port.vlans) == ("test1", "bridge99", (ConfiguredVlan(4064, 4094),))
    bridge = read_networkd("bridge-stp-igmp-systemd.netdev").devices[0]
    assert bridge.bridge_stp is True and ("mcast_querier", "1") in bridge.bridge_options  # "MulticastQuerier= true"
    static = read_networkd("bridge-static-gateway-mtu-systemd.network").devices[0]
    assert (static.mtu, static.routes) == (9000, (ConfiguredRoute("default", "192.168.0.1"),))
    vxlan = read_networkd("vxlan-independent-systemd.netdev").devices[0]
    assert (vxlan.vni, dict(vxlan.options)) == (1000, {"port": "5556", "independent": "1"})


def test_networkd_vlan_without_id_is_ignored_by_networkd():
    parsed = read_networkd("vlan-netdev-no-vlan-section-systemd.netdev")
    assert parsed.devices[0].vlan_id is None
    assert [(p.line, "Id=" in p.message and "ignores" in p.message) for p in parsed.problems] == [(1, True)]


def test_networkd_netdev_and_network_combine_and_a_shadowed_network_is_named():
    netdevs = [read_networkd(p.name) for p in sorted((SAMPLES / "networkd").glob("*.netdev"))]
    networks = [read_networkd(p.name) for p in sorted((SAMPLES / "networkd").glob("*.network"))]
    parsed = networkd.combine(netdevs, networks, lambda m, n: any(fnmatch.fnmatch(n, g) for g in m.get("Name", [])))
    devices = by_name(parsed)
    bridge = devices["bridge99"]
    assert (bridge.kind, bridge.addresses, bridge.mtu, bridge.ports) == ("bridge", ("192.168.0.15/24",), 9000, ("test1",))
    assert bridge.more_files == (f"{SAMPLES}/networkd/bridge-static-gateway-mtu-systemd.network:2",)
    assert devices["vlan99"].addresses == ("192.168.23.5/24",)
    assert any("never applies to dummy98" in p.message for p in parsed.problems)


# who owns what, on trees built here


def write(root: Path, path: str, text: str = "", mode: int = 0o644) -> None:
    target = root / path.lstrip("/")
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(text)
    os.chmod(target, mode)


ENABLE = {"netplan": "/usr/sbin/netplan",
          "NetworkManager": "/etc/systemd/system/multi-user.target.wants/NetworkManager.service",
          "systemd-networkd": "/etc/systemd/system/multi-user.target.wants/systemd-networkd.service",
          "ifupdown": "/var/lib/dpkg/info/ifupdown.list", "ifupdown2": "/usr/share/ifupdown2/__init__.py"}
LINKS = (link("lo", 1, None), link("eno1", 2, None, mac="52:54:00:00:00:01"), link("br0", 3, "bridge"),
         link("eno2", 4, None, mac="52:54:00:00:00:02"), link("vnet0", 5, "tun", master="br0"))


def owners(root: Path, links=LINKS):
    config = read_netconfig(root, links)
    return {o.ifname: o for o in config.owners}, config


def test_netplan_owns_its_devices_and_its_generated_files(tmp_path):
    write(tmp_path, ENABLE["netplan"])
    write(tmp_path, "/etc/netplan/01-kvm.yaml", "network:\n  version: 2\n  renderer: NetworkManager\n"
          "  ethernets:\n    eno1: {}\n  bridges:\n    br0:\n      interfaces: [eno1]\n")
    write(tmp_path, "/run/NetworkManager/system-connections/netplan-br0.nmconnection",
          "[connection]\nid=netplan-br0\nuuid=1\ntype=bridge\ninterface-name=br0\n", 0o600)
    found, config = owners(tmp_path)
    assert (found["br0"].backend, found["br0"].file, found["br0"].why) == \
        ("netplan", "/etc/netplan/01-kvm.yaml", "netplan renderer NetworkManager")
    assert found["eno1"].backend == "netplan" and not found["br0"].also
    assert [d.name for d in config.devices] == ["eno1", "br0"]  # the generated profile mirrors the YAML


def test_a_generated_profile_alone_is_still_netplan_s(tmp_path):
    write(tmp_path, ENABLE["netplan"])
    write(tmp_path, "/run/NetworkManager/system-connections/netplan-br0.nmconnection",
          "[connection]\nid=netplan-br0\nuuid=1\ntype=bridge\ninterface-name=br0\n", 0o600)
    found, _ = owners(tmp_path)
    assert (found["br0"].backend, found["br0"].why) == ("netplan", "netplan-generated NM profile")


def test_networkmanager_keyfile_ifcfg_and_unmanaged(tmp_path):
    write(tmp_path, ENABLE["NetworkManager"])
    write(tmp_path, "/etc/NetworkManager/system-connections/br0.nmconnection",
          "[connection]\nid=br0\nuuid=2\ntype=bridge\ninterface-name=br0\n", 0o600)
    write(tmp_path, "/etc/NetworkManager/system-connections/eno1.nmconnection",
          "[connection]\nid=port\ntype=ethernet\ncontroller=br0\n[ethernet]\nmac-address=52:54:00:00:00:01\n", 0o600)
    write(tmp_path, "/etc/NetworkManager/system-connections/loose.nmconnection",
          "[connection]\nid=loose\ntype=ethernet\ninterface-name=vnet0\n", 0o644)
    write(tmp_path, "/etc/sysconfig/network-scripts/ifcfg-eno2", "DEVICE=eno2\nTYPE=Ethernet\nBOOTPROTO=dhcp\n")
    write(tmp_path, "/etc/NetworkManager/conf.d/unmanaged.conf", "[keyfile]\nunmanaged-devices=interface-name:eno2\n")
    found, config = owners(tmp_path)
    assert (found["br0"].backend, found["br0"].why) == ("NetworkManager", "NM keyfile profile 'br0'")
    assert found["eno1"].why == "NM keyfile profile 'port'"  # by its MAC
    assert found["eno2"].backend is None and "unmanaged-devices interface-name:eno2" in found["eno2"].why
    assert "vnet0" not in found  # NM ignores a keyfile others can read
    assert any("loose.nmconnection" in p.file and "0644" in p.message for p in config.problems)


def test_networkmanager_device_state_unmanaged_wins_over_a_profile(tmp_path):
    write(tmp_path, ENABLE["NetworkManager"])
    write(tmp_path, "/etc/NetworkManager/system-connections/br0.nmconnection",
          "[connection]\nid=br0\nuuid=2\ntype=bridge\ninterface-name=br0\n", 0o600)
    write(tmp_path, "/run/NetworkManager/devices/3", "[device]\nmanaged=false\n")
    found, _ = owners(tmp_path)
    assert found["br0"].backend is None and found["br0"].why.startswith("NM device state: unmanaged")


def test_networkd_first_network_in_name_order_and_netdevs(tmp_path):
    write(tmp_path, ENABLE["systemd-networkd"])
    write(tmp_path, "/etc/systemd/network/br0.netdev", "[NetDev]\nName=br0\nKind=bridge\n")
    write(tmp_path, "/etc/systemd/network/10-br0.network", "[Match]\nName=br0\n[Network]\nAddress=10.0.0.1/24\n")
    write(tmp_path, "/usr/lib/systemd/network/20-en.network", "[Match]\nName=en*\n[Network]\nBridge=br0\n")
    write(tmp_path, "/usr/lib/systemd/network/30-all.network", "[Match]\nName=*\n[Network]\nDHCP=yes\n")
    write(tmp_path, "/etc/systemd/network/20-en.network", "")  # masks the one in /usr/lib
    write(tmp_path, "/etc/systemd/network/05-taps.network", "[Match]\nKind=tun\n[Link]\nUnmanaged=yes\n")
    found, _ = owners(tmp_path)
    assert (found["br0"].backend, found["br0"].file) == ("systemd-networkd", "/etc/systemd/network/10-br0.network")
    assert found["eno1"].file == "/usr/lib/systemd/network/30-all.network"  # 20-en is masked
    assert found["vnet0"].backend is None and "Unmanaged=yes" in found["vnet0"].why


def test_networkd_not_enabled_claims_nothing(tmp_path):
    write(tmp_path, "/etc/systemd/network/10-br0.network", "[Match]\nName=br0\n")
    found, config = owners(tmp_path)
    assert found["br0"].backend is None and "systemd-networkd.service is not enabled" in found["br0"].why
    assert {b.backend: b.in_use for b in config.backends}["systemd-networkd"] is False


def test_networkd_run_state_names_the_network_file(tmp_path):
    write(tmp_path, "/run/systemd/netif/state", "OPER_STATE=routable\n")
    write(tmp_path, "/run/systemd/netif/links/2", "ADMIN_STATE=configured\nNETWORK_FILE=/etc/systemd/network/x.network\n")
    write(tmp_path, "/etc/systemd/network/x.network", "[Match]\nMACAddress=52:54:00:00:00:01\n")
    found, _ = owners(tmp_path)
    assert (found["eno1"].backend, found["eno1"].file) == ("systemd-networkd", "/etc/systemd/network/x.network")


def test_ifupdown2_stanzas_through_source_and_a_template(tmp_path):
    write(tmp_path, ENABLE["ifupdown2"])
    write(tmp_path, "/etc/network/interfaces",
          "auto lo\niface lo inet loopback\n\nsource /etc/network/interfaces.d/*\nsource-directory missing.d\n")
    write(tmp_path, "/etc/network/interfaces.d/bridge",
          "auto br0\niface br0\n    bridge-ports eno1\n    address 10.0.0.2/24\n%for i in range(2):\n"
          "iface swp${i}\n%endfor\n")
    found, config = owners(tmp_path)
    assert (found["br0"].backend, found["br0"].file, found["br0"].line) == \
        ("ifupdown2", "/etc/network/interfaces.d/bridge", 2)
    assert (found["eno1"].backend, found["eno1"].why) == ("ifupdown2", "port of br0 (ifupdown2 iface stanza)")
    texts = [p.text for p in config.problems]
    assert "cannot read /etc/network/interfaces line 5: source-directory missing.d: no such directory" in texts
    assert any(t.startswith("cannot read /etc/network/interfaces.d/bridge line 5: template placeholder") for t in texts)


def test_debian_nm_with_the_ifupdown_plugin_leaves_interfaces_to_ifupdown(tmp_path):
    write(tmp_path, ENABLE["ifupdown"])
    write(tmp_path, ENABLE["NetworkManager"])
    write(tmp_path, "/etc/NetworkManager/NetworkManager.conf",
          "[main]\nplugins=ifupdown,keyfile\n\n[ifupdown]\nmanaged=false\n")
    write(tmp_path, "/etc/network/interfaces", "auto br0\niface br0 inet dhcp\n    bridge_ports eno1\n")
    write(tmp_path, "/etc/NetworkManager/system-connections/br0.nmconnection",
          "[connection]\nid=br0\ntype=bridge\ninterface-name=br0\n", 0o600)
    found, _ = owners(tmp_path)
    assert (found["br0"].backend, found["br0"].also) == ("ifupdown", ())


def test_two_backends_claiming_one_interface_are_reported(tmp_path):
    write(tmp_path, ENABLE["ifupdown"])
    write(tmp_path, ENABLE["NetworkManager"])
    write(tmp_path, "/etc/network/interfaces", "auto br0\niface br0 inet static\n    address 10.0.0.2/24\n"
                                               "    bridge-ports eno1\n")
    write(tmp_path, "/etc/NetworkManager/system-connections/br0.nmconnection",
          "[connection]\nid=br0\ntype=bridge\ninterface-name=br0\n", 0o600)
    found, _ = owners(tmp_path)
    br0 = found["br0"]
    assert br0.backend == "NetworkManager" and [(c.backend, c.file, c.line) for c in br0.also] == \
        [("ifupdown", "/etc/network/interfaces", 2)]


def test_an_empty_root_has_no_owner_and_no_problem(tmp_path):
    found, config = owners(tmp_path)
    assert not found and not config.problems and not config.devices


# exposed: the Snapshot, `dump --json` and `--from`


def test_a_snapshot_with_its_owners_goes_through_json_and_back(tmp_path):
    import json

    from kvmtui.errors import SnapshotFileError
    from kvmtui.model import HostInfo, Snapshot
    from kvmtui.serialize import read_snapshot_file, snapshot_document
    from tests.helpers import EXAMPLE

    write(tmp_path, ENABLE["ifupdown"])
    write(tmp_path, ENABLE["NetworkManager"])
    write(tmp_path, "/etc/network/interfaces", "auto br0\niface br0 inet static\n    address 10.0.0.2/24\n"
                                               "    bridge-ports eno1\n    bridge-vids 10-20\n")
    write(tmp_path, "/etc/NetworkManager/system-connections/br0.nmconnection",
          "[connection]\nid=br0\ntype=bridge\ninterface-name=br0\n", 0o600)
    config = read_netconfig(tmp_path, LINKS)
    snapshot = Snapshot(host=HostInfo("h", "k", "t", None, None, None, "0"), links=LINKS, netconfig=config)
    path = tmp_path / "recorded.json"
    path.write_text(json.dumps(snapshot_document(snapshot)))
    again = read_snapshot_file(str(path))
    assert again.netconfig == config and again.owners_by_name["br0"].also[0].backend == "ifupdown"
    old = read_snapshot_file(str(EXAMPLE))  # recorded before the field existed
    assert old.netconfig is None and old.owners_by_name == {}
    document = json.loads(path.read_text())
    document["netconfig"]["owners"][0]["line"] = "two"
    path.write_text(json.dumps(document))
    with pytest.raises(SnapshotFileError, match=r"netconfig\.owners\[0\]\.line: expected an integer, got a string"):
        read_snapshot_file(str(path))


def test_dump_json_of_this_host_carries_the_saved_configuration():
    import json

    from tests.helpers import kvmtui

    document = json.loads(kvmtui("--no-libvirt", "dump", "--json").stdout)
    assert document["netconfig"]["root"] == "/" and document["netconfig"]["dbus"] is False
    assert {b["backend"] for b in document["netconfig"]["backends"]} == {
        "NetworkManager", "netplan", "systemd-networkd", "ifupdown", "ifupdown2"}
