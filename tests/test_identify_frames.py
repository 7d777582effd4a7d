"""The wire parsers on hand-built bytes: Ethernet/802.1Q/802.1ad, auxdata, LLDP, CDP, BPDUs,
the tally, and the text lines of `kvmtui identify`."""

from __future__ import annotations

import struct

from kvmtui.collect.wire_frames import (
    TP_STATUS_VLAN_TPID_VALID, TP_STATUS_VLAN_VALID, WireTally, auxdata_vlan, parse_bpdu, parse_cdp, parse_frame,
    parse_lldp)
from kvmtui.model.wire import Bpdu, MacSeen, NicFacts, VlanSeen
from kvmtui.views_identify import neighbour_rows, nic_lines, wire_lines
from tests.wire_samples import cdp_frame, cdp_tlv, data_frame, ether, lldp_frame, mac, rstp_bpdu, sample_traffic, tlv


def test_a_tag_in_the_frame_gives_the_vlan_and_the_ethertype_behind_it():
    frame = parse_frame(data_frame("02:00:00:00:00:0a", 10))
    assert (frame.vlan, frame.vlan_from_auxdata, frame.ethertype) == (10, False, 0x88B5)
    assert (frame.source_mac, frame.destination_mac) == ("02:00:00:00:00:0a", "ff:ff:ff:ff:ff:ff")


def test_qinq_reports_the_outer_vlan():
    frame = parse_frame(ether("ff:ff:ff:ff:ff:ff", "02:00:00:00:00:01", 0x0800, bytes(20), vlan=100, tpid=0x88A8,
                              inner_vlan=7))
    assert (frame.vlan, frame.ethertype) == (100, 0x0800)


def test_the_auxdata_vlan_wins_and_a_tag_left_in_the_frame_is_an_inner_one():
    untagged_on_the_wire = parse_frame(data_frame("02:00:00:00:00:0a"), aux_vlan=20)
    assert (untagged_on_the_wire.vlan, untagged_on_the_wire.vlan_from_auxdata) == (20, True)
    inner = parse_frame(data_frame("02:00:00:00:00:0a", 7), aux_vlan=300)
    assert (inner.vlan, inner.ethertype) == (300, 0x88B5)


def test_auxdata_status_bits():
    assert auxdata_vlan(TP_STATUS_VLAN_VALID | TP_STATUS_VLAN_TPID_VALID, 0x2000 | 4094) == 4094  # PCP bits dropped
    assert auxdata_vlan(0, 0) is None
    assert auxdata_vlan(0, 42) == 42  # kernels before TP_STATUS_VLAN_VALID set only the TCI
    assert auxdata_vlan(TP_STATUS_VLAN_VALID, 0) == 0  # a priority tag: parse_frame counts it untagged
    assert parse_frame(data_frame("02:00:00:00:00:0a"), aux_vlan=0).vlan is None


def test_a_priority_tag_is_untagged_and_a_runt_is_nothing():
    assert parse_frame(data_frame("02:00:00:00:00:0a", 0)).vlan is None
    assert parse_frame(bytes(13)) is None
    assert parse_frame(bytes.fromhex("ffffffffffff020000000001") + b"\x81\x00\x00").vlan is None  # cut inside the tag


def test_lldp_every_field():
    frame = parse_frame(lldp_frame())
    n = frame.neighbour
    assert (n.protocol, n.chassis_id, n.port_id, n.port_description, n.system_name) == (
        "lldp", "00:11:22:33:44:55", "Gi1/0/7", "uplink to kvm07", "sw-core-1")
    assert (n.native_vlan, n.management_addresses, n.ttl, n.platform) == (10, ("192.0.2.10",), 120, "Test switch OS 1.0")


def test_lldp_network_address_ids_ipv6_management_and_truncation():
    payload = (tlv(1, b"\x05\x01" + bytes([10, 0, 0, 1])) + tlv(2, b"\x03" + mac("00:11:22:33:44:66"))
               + tlv(3, b"\x00\x78") + tlv(8, bytes([17, 2]) + bytes(15) + b"\x01" + b"\x02\x00\x00\x00\x00\x00"))
    n = parse_lldp(payload)
    assert (n.chassis_id, n.port_id, n.management_addresses) == ("10.0.0.1", "00:11:22:33:44:66", ("::1",))
    assert parse_lldp(payload[:-3]).chassis_id == "10.0.0.1"  # a cut TLV costs only itself
    assert parse_lldp(tlv(2, b"\x05eth0")) is None  # no chassis id: no LLDPDU
    assert parse_lldp(tlv(1, b"\x07\xff\xfe")).chassis_id == "ff:fe"  # not text: hex
    assert parse_lldp(tlv(1, b"\x07sw") + tlv(127, bytes.fromhex("0080c201") + b"\x00\x00")).native_vlan is None
    vlan_names = b"".join(tlv(127, bytes.fromhex("0080c203") + struct.pack("!HB", vid, len(name)) + name)
                          for vid, name in ((20, b"voice"), (10, b"users"), (0, b"bad")))
    named = parse_lldp(tlv(1, b"\x07sw") + vlan_names)
    assert named.vlans == (10, 20)  # VLAN name TLVs: the port's VLANs
    assert neighbour_rows(named)[1][1].endswith("management n/a, VLANs 10, 20")


def test_cdp_device_port_platform_native_vlan_and_addresses():
    n = parse_frame(cdp_frame()).neighbour
    assert (n.protocol, n.chassis_id, n.system_name, n.port_id) == ("cdp", "sw-cdp-2", "sw-cdp-2", "GigabitEthernet0/3")
    assert (n.platform, n.native_vlan, n.management_addresses, n.ttl) == ("cisco WS-C2960", 10, ("192.0.2.20",), 180)


def test_cdp_ipv6_management_address_and_a_bad_tlv_length():
    v6 = struct.pack("!I", 1) + bytes([2, 8]) + bytes.fromhex("aaaa0300000086dd") + struct.pack("!H", 16) + bytes(15) + b"\x01"
    body = bytes([2, 180, 0, 0]) + cdp_tlv(0x0001, b"sw") + cdp_tlv(0x0016, v6)
    assert parse_cdp(body).management_addresses == ("::1",)
    broken = bytes([2, 180, 0, 0]) + cdp_tlv(0x0001, b"sw") + struct.pack("!HH", 3, 2) + b"xx"
    assert parse_cdp(broken).chassis_id == "sw"
    assert parse_cdp(bytes([2, 180, 0, 0]) + cdp_tlv(0x0003, b"Gi0/1")) is None


def test_rstp_stp_and_tcn_bpdus():
    bpdu = parse_frame(rstp_bpdu()).bpdu
    assert bpdu == Bpdu("rstp", "1000.00:aa:bb:cc:dd:01", 20000, "8000.00:aa:bb:cc:dd:02", "8003")
    config = b"\0\0\0\0\0" + bytes.fromhex("8000") + bytes(6) + bytes(4) + bytes.fromhex("8000") + bytes(6) + b"\x80\x01" + bytes(8)
    assert parse_bpdu(config).protocol == "stp" and parse_bpdu(config).port_id == "8001"
    assert parse_bpdu(b"\0\0\0\x80").protocol == "tcn"
    assert parse_bpdu(b"\0\0\x02\x02\x00\x10") is None  # cut short
    assert parse_bpdu(b"\x01\x00\x02\x02" + bytes(40)) is None  # not protocol 0


def test_the_tally_of_the_test_traffic():
    tally = WireTally()
    for frame in sample_traffic():
        tally.add(parse_frame(frame))
    report = tally.report("kt-rx", 3.04)
    assert report.frames == 14 and report.untagged == 2  # LLDP, CDP and the BPDU are not untagged traffic
    assert report.vlans == (VlanSeen(10, 3), VlanSeen(20, 5), VlanSeen(4094, 1))
    assert [n.protocol for n in report.neighbours] == ["lldp", "cdp"]
    assert [b.root_id for b in report.bpdus] == ["1000.00:aa:bb:cc:dd:01"]
    assert report.macs[0] == MacSeen("02:00:00:00:00:01", None, 2) and len(report.macs) == 4
    assert report.seconds == 3.0 and report.tags_in_auxdata == 0
    tally.add(parse_frame(lldp_frame()))  # the same neighbour again: still one
    assert len(tally.report("kt-rx", 1).neighbours) == 2


def test_the_lines_say_n_a_for_what_the_driver_does_not_tell():
    facts = NicFacts("kt-rx", "veth", "1.0", None, None, None, None, None, (), None, (), None, None, None, None)
    text = "\n".join(nic_lines(facts))
    assert "firmware       n/a" in text and "speed n/a, duplex n/a, autoneg n/a" in text and "SR-IOV         n/a" in text
    tally = WireTally()
    for frame in sample_traffic():
        tally.add(parse_frame(frame))
    text = "\n".join(wire_lines(tally.report("br0", 3, kind="bridge")))
    assert text.startswith("listened 3 s on bridge br0: 14 frames") and "not one cable" in text
    assert "VLANs          10 (3 frames), 20 (5 frames), 4094 (1 frame)" in text
    assert "MACs VLAN 4094 02:00:00:00:0f:fe (1)" in text and "a sample" not in text
    assert "1200 frames more arrived than kvmtui could read" in "\n".join(wire_lines(tally.report("br0", 3, dropped=1200)))
