"""Bonding collector: the /proc/net/bonding parser on real-world samples, the sysfs
fallback, and collect_bonds' way of turning failures into problem lines.

The expected values below were written by reading each sample file: they are what an
administrator checks (mode, active slave, each slave's MII status, speed, failures...).
"""

from __future__ import annotations

import errno
import os
import re
from dataclasses import dataclass
from pathlib import Path

import pytest

from kvmtui.collect.bonding import PROCFS_KEYS, BondingParseError, collect_bonds, parse_bonding_file
from kvmtui.collect.bonding_sysfs import read_bond_sysfs
from kvmtui.errors import KvmtuiError
from kvmtui.model.bonding import Aggregator, LacpPort
from kvmtui.vocabulary import BOND_MODES
from tests.helpers import SHARED_FIXTURES

FIXTURES = SHARED_FIXTURES / "bonding"


@dataclass(frozen=True)
class Expected:
    mode: str
    active_slave: str | None
    # (name, mii_status, speed, duplex, link_failure_count, perm_hwaddr, aggregator_id)
    slaves: tuple[tuple[str, str, int | None, str | None, int, str | None, int | None], ...]
    primary: str | None = None
    primary_reselect: str | None = None
    xmit_hash_policy: str | None = None
    arp_ip_target: tuple[str, ...] = ()
    aggregator_id: int | None = None  # the active aggregator's
    partner_mac: str | None = None  # the active aggregator's


def _same(names: str, mii: str, speed, duplex, failures: int, macs: str, agg=None):
    """Slaves that differ only by name and MAC: "eth0 eth1", "..:8e ..:8f"."""
    return tuple((n, mii, speed, duplex, failures, m, agg) for n, m in zip(names.split(), macs.split()))


EXPECTED = {
    "8023ad-v3.2.4-old-format-stray-speed-line-insights.txt": Expected(
        "802.3ad", None,
        (("eth1", "up", 1000, "full", 0, "00:16:35:5e:42:fc", 3),
         ("eth2", "up", 1000, "full", 0, "00:16:35:5e:02:7e", 2)),
        xmit_hash_policy="layer2", aggregator_id=3, partner_mac="00:00:00:00:00:00"),
    "8023ad-v3.4.0-four-slaves-two-aggregators-augeas.txt": Expected(
        "802.3ad", None,
        (("eth0", "up", None, None, 0, "00:15:17:00:11:22", 2),
         ("eth1", "up", None, None, 0, "00:15:17:00:11:22", 2),
         ("eth2", "up", None, None, 0, "00:30:48:00:11:22", 3),
         ("eth3", "up", None, None, 0, "00:30:48:00:11:22", 3)),
        xmit_hash_policy="layer2+3", aggregator_id=3, partner_mac="00:22:67:00:11:22"),
    "8023ad-v3.5.0-no-active-aggregator-telegraf.txt": Expected(
        "802.3ad", None,
        (("eth1", "up", None, None, 0, "00:0c:29:f5:b7:11", None),
         ("eth2", "up", None, None, 3, "00:0c:29:f5:b7:1b", None)),
        xmit_hash_policy="layer2"),
    "8023ad-v3.7.1-active-aggregator-monitoringplug.txt": Expected(
        "802.3ad", None, _same("eth0 eth1", "up", 1000, "full", 0, "00:14:22:57:66:8e 00:14:22:57:66:8f", 1),
        xmit_hash_policy="layer2", aggregator_id=1, partner_mac="00:40:96:de:af:6e"),
    "8023ad-v3.7.1-churn-counts-telegraf.txt": Expected(
        "802.3ad", None,
        (("eth0", "up", 10000, "full", 2, "3c:ec:ef:5e:71:58", 2),
         ("eth1", "up", 10000, "full", 1, "3c:ec:ef:5e:71:59", 2)),
        xmit_hash_policy="layer2"),
    "8023ad-v3.7.1-encap3+4-lacp-pdu-details-libtpa.txt": Expected(
        "802.3ad", None,
        (("eth1", "down", 100000, "full", 122, "b8:ce:f6:80:d7:8d", 1),
         ("eth0", "up", 100000, "full", 47, "b8:ce:f6:80:d7:8c", 1)),
        xmit_hash_policy="encap3+4", aggregator_id=1, partner_mac="00:00:5e:00:01:bd"),
    "8023ad-v3.7.1-second-slave-down-speed-unknown-telegraf.txt": Expected(
        "802.3ad", None,
        (("eth0", "up", 10000, "full", 2, "3c:ec:ef:5e:71:58", 2),
         ("eth1", "down", None, None, 1, "3c:ec:ef:5e:71:59", 2)),
        xmit_hash_policy="layer2"),
    "8023ad-v3.7.1-slave-down-lacp-pdu-layer3+4-linuxnotes.txt": Expected(
        "802.3ad", None,
        (("enp1s0f0", "down", None, None, 2, "00:25:90:85:81:f2", 1),
         ("enp1s0f1", "up", 1000, "full", 2, "00:25:90:85:81:f3", 2)),
        xmit_hash_policy="layer3+4", aggregator_id=2, partner_mac="00:00:00:00:00:00"),
    "8023ad-v5.15.0-91-generic-lacp-active-otuslinuxprof.txt": Expected(
        "802.3ad", None, _same("eth1 eth2", "up", 1000, "full", 0, "08:00:27:63:6a:11 08:00:27:81:2d:34", 1),
        xmit_hash_policy="layer2", aggregator_id=1, partner_mac="8a:a3:b3:dc:c5:fb"),
    "active-backup-arp-monitor-primary-reselect-failure-insights.txt": Expected(
        "active-backup", "em3",
        (("em3", "up", 1000, "full", 92028, "00:1f:f3:af:d3:f1", None),
         ("p2p3", "up", 1000, "full", 71524, "00:1f:f3:af:d3:f1", None)),
        primary="em3", primary_reselect="failure", arp_ip_target=("10.152.1.1",)),
    "active-backup-fail_over_mac-primary-reselect-v3.7.1-otus1804.txt": Expected(
        "active-backup", "eth1", _same("eth1 eth2", "up", 1000, "full", 0, "08:00:27:99:e7:e7 08:00:27:d1:fc:5b"),
        primary="eth1", primary_reselect="always"),
    "active-backup-fail_over_mac-single-slave-after-ifdown-otus1804.txt": Expected(
        "active-backup", "eth2", (("eth2", "up", 1000, "full", 0, "08:00:27:d1:fc:5b", None),)),
    "active-backup-v3.4.0-arp-targets-augeas.txt": Expected(
        "active-backup", "eth1",
        (("eth0", "up", None, None, 1, "00:21:9b:a4:49:65", None),
         ("eth1", "up", None, None, 0, "00:21:9b:a4:49:67", None)),
        arp_ip_target=("169.254.144.20", "169.254.144.21")),
    "active-backup-v3.6.0-slave-down-telegraf.txt": Expected(
        "active-backup", "eth2",
        (("eth3", "down", 1000, "full", 2, None, None),
         ("eth2", "up", 100, "full", 0, None, None)),
        primary="eth2", primary_reselect="always"),
    "active-backup-v3.7.1-monitoringplug.txt": Expected(
        "active-backup", "eth2", _same("eth3 eth2", "up", 1000, "full", 0, "00:0a:95:9d:68:16 00:14:22:01:23:45")),
    "active-backup-v3.7.1-primary-none-insights.txt": Expected(
        "active-backup", "enp17s0f0",
        _same("enp17s0f0 enp17s0f1", "up", 10000, "full", 0, "00:1f:f3:af:d3:f0 00:1f:f3:af:d3:f1")),
    "balance-alb-v6.8.0-90-generic-marktaguiad.txt": Expected(
        "balance-alb", "eno1", _same("enp5s0 eno1", "up", 1000, "full", 0, "00:30:64:5c:e2:4b 00:30:64:5c:e2:4a")),
    "balance-rr-driver-2.6.1-kernel-doc-style-augeas.txt": Expected(
        "balance-rr", "eth0", (("eth1", "up", None, None, 1, None, None), ("eth0", "up", None, None, 1, None, None))),
    "balance-rr-v3.7.1-insights.txt": Expected(
        "balance-rr", None, _same("eno1 eno2", "up", 1000, "full", 0, "2c:44:fd:80:5c:f8 2c:44:fd:80:5c:f9")),
    "balance-xor-layer2+3-v3.7.1-insights.txt": Expected(
        "balance-xor", None, _same("eno1 eno2", "up", 1000, "full", 0, "2c:44:fd:80:5c:f8 2c:44:fd:80:5c:f9"),
        xmit_hash_policy="layer2+3"),
}


def _fixture(name: str) -> str:
    return (FIXTURES / name).read_text()


def _parse(name: str):
    return parse_bonding_file("bond0", _fixture(name))


def test_every_sample_file_has_expectations():
    assert sorted(p.name for p in FIXTURES.iterdir()) == sorted(EXPECTED)


@pytest.mark.parametrize("filename", sorted(EXPECTED))
def test_sample_reads_as_an_administrator_reads_it(filename):
    expected = EXPECTED[filename]
    bond = _parse(filename)
    assert bond.source == "procfs"
    assert bond.mode == expected.mode
    assert bond.active_slave == expected.active_slave
    assert bond.primary == expected.primary
    assert bond.primary_reselect == expected.primary_reselect
    assert bond.xmit_hash_policy == expected.xmit_hash_policy
    assert bond.arp_ip_target == expected.arp_ip_target
    assert bond.mii_status == "up"
    slaves = tuple(
        (s.name, s.mii_status, s.speed, s.duplex, s.link_failure_count, s.perm_hwaddr, s.aggregator_id)
        for s in bond.slaves
    )
    assert slaves == expected.slaves
    aggregator = bond.active_aggregator
    assert (aggregator and aggregator.aggregator_id) == expected.aggregator_id
    assert (aggregator and aggregator.partner_mac) == expected.partner_mac


def _labels(text: str) -> tuple[set[str], set[str]]:
    """Independently of the parser: the labels of "Label: value" lines, and the bare lines."""
    keys, bare = set(), set()
    for line in text.splitlines():
        line = line.strip()
        match = re.fullmatch(r"(.+?):(?: (.*))?", line)
        if match and (match[2] is not None or line.endswith(":")):
            keys.add(match[1].strip())
        elif line:
            bare.add(line)
    return keys, bare


@pytest.mark.parametrize("filename", sorted(EXPECTED))
def test_no_field_is_lost(filename):
    """Every label in the file is mapped to a field or kept in extra; for these samples, all are mapped."""
    text = _fixture(filename)
    bond = parse_bonding_file("bond0", text)
    keys, bare = _labels(text)
    kept = {k for k, _ in bond.extra} | {k for s in bond.slaves for k, _ in s.extra}
    assert keys - PROCFS_KEYS - kept == set()
    assert bond.extra == () and all(s.extra == () for s in bond.slaves)
    # The only bare lines: the 802.3ad section title, the kernel's "no aggregator" sentence,
    # and the stray "Speed" of the v3.2.4 sample (tolerated, not a field).
    assert bare <= {"802.3ad info", "bond bond0 has no active aggregator", "Speed"}


def test_stray_bare_speed_line_is_skipped_not_a_field():
    eth2 = _parse("8023ad-v3.2.4-old-format-stray-speed-line-insights.txt").slave("eth2")
    assert (eth2.speed, eth2.duplex, eth2.link_failure_count, eth2.extra) == (1000, "full", 0, ())


@pytest.mark.parametrize(("filename", "version", "date"), [
    ("balance-rr-driver-2.6.1-kernel-doc-style-augeas.txt", "2.6.1", "October 29, 2004"),
    ("balance-rr-v3.7.1-insights.txt", "3.7.1", "April 27, 2011"),
    ("balance-alb-v6.8.0-90-generic-marktaguiad.txt", "6.8.0-90-generic", None),
    ("8023ad-v5.15.0-91-generic-lacp-active-otuslinuxprof.txt", "5.15.0-91-generic", None),
])
def test_driver_version_in_every_header_form(filename, version, date):
    bond = _parse(filename)
    assert (bond.driver_version, bond.driver_date) == (version, date)


def test_header_without_blank_line_still_finds_bond_settings():
    bond = _parse("balance-rr-driver-2.6.1-kernel-doc-style-augeas.txt")
    assert (bond.mode_text, bond.miimon, bond.updelay, bond.downdelay) == ("load balancing (round-robin)", 1000, 0, 0)


def test_fail_over_mac_comes_from_the_mode_suffix_and_mode_text_stays_verbatim():
    bond = _parse("active-backup-fail_over_mac-primary-reselect-v3.7.1-otus1804.txt")
    assert bond.mode == "active-backup"
    assert bond.mode_text == "fault-tolerance (active-backup) (fail_over_mac active)"
    assert bond.fail_over_mac == "active"
    assert (bond.updelay, bond.downdelay) == (200, 200)
    assert _parse("active-backup-v3.7.1-monitoringplug.txt").fail_over_mac is None


@pytest.mark.parametrize(("text", "mode"), [
    ("load balancing (round-robin)", "balance-rr"),
    ("fault-tolerance (active-backup)", "active-backup"),
    ("load balancing (xor)", "balance-xor"),
    ("fault-tolerance (broadcast)", "broadcast"),
    ("IEEE 802.3ad Dynamic link aggregation", "802.3ad"),
    ("transmit load balancing", "balance-tlb"),
    ("adaptive load balancing", "balance-alb"),
])
def test_every_human_mode_text_maps_to_its_mode_name(text, mode):
    bond = parse_bonding_file("bond0", f"Ethernet Channel Bonding Driver: v3.7.1 (April 27, 2011)\n\nBonding Mode: {text}\n")
    assert bond.mode == mode and bond.mode in BOND_MODES and bond.mode_text == text
    assert bond.slaves == ()


def test_arp_monitoring_settings():
    bond = _parse("active-backup-arp-monitor-primary-reselect-failure-insights.txt")
    assert (bond.miimon, bond.arp_interval) == (0, 1000)


def test_lacp_details_per_slave():
    bond = _parse("8023ad-v3.7.1-encap3+4-lacp-pdu-details-libtpa.txt")
    assert (bond.lacp_rate, bond.min_links, bond.ad_select, bond.peer_notify_delay) == ("fast", 1, "stable", 0)
    assert (bond.ad_actor_sys_prio, bond.ad_actor_system) == (65535, "b8:ce:f6:80:d7:8d")
    assert bond.active_aggregator == Aggregator(1, 2, 29, 9, "00:00:5e:00:01:bd")
    eth1 = bond.slave("eth1")
    assert eth1.actor == LacpPort(65535, "b8:ce:f6:80:d7:8d", 29, 255, 1, 63)
    assert eth1.partner == LacpPort(200, "00:00:5e:00:01:bd", 9, 32768, 238, 63)  # "oper key" is its port key
    assert bond.slave("eth0").partner.port_number == 138


def test_slave_health_is_its_mii_status_even_with_a_speed():
    eth1 = _parse("8023ad-v3.7.1-encap3+4-lacp-pdu-details-libtpa.txt").slave("eth1")
    assert (eth1.mii_status, eth1.healthy, eth1.speed) == ("down", False, 100000)


def test_churn_state_and_counts():
    bond = _parse("8023ad-v3.7.1-slave-down-lacp-pdu-layer3+4-linuxnotes.txt")
    down = bond.slave("enp1s0f0")
    assert (down.actor_churn_state, down.partner_churn_state) == ("churned", "churned")
    assert (down.actor_churned_count, down.partner_churned_count) == (1, 2)
    assert (down.actor.port_key, down.actor.port_state, down.partner.port_state) == (0, 71, 1)


def test_no_active_aggregator_is_told_apart_from_not_shown():
    said_none = _parse("8023ad-v3.5.0-no-active-aggregator-telegraf.txt")
    assert said_none.active_aggregator is None and said_none.no_active_aggregator
    assert said_none.ad_select == "stable"
    not_shown = _parse("8023ad-v3.7.1-churn-counts-telegraf.txt")  # read without CAP_NET_ADMIN
    assert not_shown.active_aggregator is None and not not_shown.no_active_aggregator


def test_newer_kernel_lacp_active_and_tab_indented_aggregator():
    bond = _parse("8023ad-v5.15.0-91-generic-lacp-active-otuslinuxprof.txt")
    assert bond.lacp_active == "on"
    assert bond.active_aggregator == Aggregator(1, 2, 9, 9, "8a:a3:b3:dc:c5:fb")
    assert [s.actor.port_state for s in bond.slaves] == [15, 63]


def test_two_space_and_eight_space_aggregator_blocks():
    assert _parse("8023ad-v3.7.1-active-aggregator-monitoringplug.txt").active_aggregator == Aggregator(
        1, 2, 17, 20045, "00:40:96:de:af:6e")
    assert _parse("8023ad-v3.2.4-old-format-stray-speed-line-insights.txt").active_aggregator == Aggregator(
        3, 1, 17, 1, "00:00:00:00:00:00")


def test_missing_queue_id_and_empty_permanent_address():
    bond = _parse("active-backup-v3.6.0-slave-down-telegraf.txt")
    assert [(s.queue_id, s.perm_hwaddr) for s in bond.slaves] == [(0, None), (None, None)]


def test_unknown_lines_are_kept_verbatim_in_extra():
    text = _fixture("8023ad-v3.7.1-encap3+4-lacp-pdu-details-libtpa.txt")
    text = text.replace("Down Delay (ms): 0\n", "Down Delay (ms): 0\nARP Missed Max: 2\nNS IPv6 target/s (xx::xx form): fe80::1\n")
    text = text.replace("Slave queue ID: 0\n", "Slave queue ID: 0\nPrio: 5\nsomething odd\n", 1)
    text = text.replace("    port state: 63\n", "    port state: 63\n    port flags: 7\n", 1)
    text = text.replace("Up Delay (ms): 0", "Up Delay (ms): soon")
    bond = parse_bonding_file("bond0", text)
    assert bond.extra == (("Up Delay (ms)", "soon"), ("ARP Missed Max", "2"), ("NS IPv6 target/s (xx::xx form)", "fe80::1"))
    assert bond.updelay is None
    assert bond.slave("eth1").extra == (("Prio", "5"), ("something odd", ""), ("details actor lacp pdu/port flags", "7"))
    assert bond.slave("eth1").actor.port_state == 63


# -- truncated and foreign input -------------------------------------------------------

@pytest.mark.parametrize("text", [
    "",
    "\n\n",
    "Ethernet Channel Bonding Driver: v3.7.1 (April 27, 2011)\n\n",
    "Ethernet Channel Bonding Driver: v3.7.1 (April 27, 2011)\n\nBonding Mode: fault-tol",
    "Inter-|   Receive                            |  Transmit\n face |bytes    packets errs drop\n",
    "lorem ipsum: dolor\nsit amet\n",
])
def test_text_without_a_bonding_mode_line_is_refused_with_the_file_named(text):
    with pytest.raises(BondingParseError) as caught:
        parse_bonding_file("bond0", text)
    assert "/proc/net/bonding/bond0" in str(caught.value)
    assert isinstance(caught.value, KvmtuiError)


def test_unknown_mode_is_refused_naming_the_mode_and_the_given_path():
    with pytest.raises(BondingParseError, match=r"^cannot understand /proc/thread-self/net/bonding/b: unknown bonding mode 'warp drive'$"):
        parse_bonding_file("b", "Bonding Mode: warp drive\n", path="/proc/thread-self/net/bonding/b")


def test_cut_inside_a_slave_block_keeps_the_complete_slaves():
    text = _fixture("8023ad-v3.7.1-encap3+4-lacp-pdu-details-libtpa.txt")
    cut = text[: text.index("Link Failure Count: 47") + len("Link Failure Count: 4")]  # mid-line: 47 -> 4
    bond = parse_bonding_file("bond0", cut)
    assert [s.name for s in bond.slaves] == ["eth1"]
    assert bond.slave("eth1").partner.port_state == 63
    assert bond.active_aggregator.aggregator_id == 1


def test_cut_after_the_health_lines_keeps_the_slave_with_what_it_has():
    text = _fixture("8023ad-v3.7.1-encap3+4-lacp-pdu-details-libtpa.txt")
    cut = text[: text.index("Link Failure Count: 47\n") + len("Link Failure Count: 47\n")]
    eth0 = parse_bonding_file("bond0", cut).slave("eth0")
    assert (eth0.mii_status, eth0.link_failure_count, eth0.perm_hwaddr, eth0.actor) == ("up", 47, None, None)


def test_cut_before_any_slave_gives_a_bond_without_slaves():
    text = _fixture("active-backup-v3.7.1-monitoringplug.txt")
    bond = parse_bonding_file("bond0", text[: text.index("Slave Interface")])
    assert (bond.mode, bond.active_slave, bond.slaves) == ("active-backup", "eth2", ())


# -- sysfs fallback ----------------------------------------------------------------------
#
# This machine's kernel has no bonding module, so these tests read a tree written into
# tmp_path that mirrors the kernel's layout and print formats (bond_sysfs.c,
# bond_sysfs_slave.c, net-sysfs.c). It is a stand-in: a kernel-VM test, written later by
# the lead, checks read_bond_sysfs against a real bond.


def _write(root: Path, files: dict[str, str]) -> Path:
    for relative, content in files.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(content)
    return root


def _lacp_tree(root: Path) -> Path:
    """An 802.3ad bond as root sees it: eth0 in the active aggregator, eth1 with no link."""
    return _write(root, {
        "bond0/bonding/mode": "802.3ad 4\n",
        "bond0/bonding/slaves": "eth0 eth1\n",
        "bond0/bonding/mii_status": "up\n",
        "bond0/bonding/miimon": "100\n",
        "bond0/bonding/updelay": "0\n",
        "bond0/bonding/downdelay": "0\n",
        "bond0/bonding/peer_notif_delay": "0\n",
        "bond0/bonding/arp_interval": "0\n",
        "bond0/bonding/arp_ip_target": "",
        "bond0/bonding/arp_validate": "none 0\n",
        "bond0/bonding/primary": "",
        "bond0/bonding/primary_reselect": "always 0\n",
        "bond0/bonding/active_slave": "",
        "bond0/bonding/fail_over_mac": "none 0\n",
        "bond0/bonding/xmit_hash_policy": "layer3+4 1\n",
        "bond0/bonding/lacp_active": "on 1\n",
        "bond0/bonding/lacp_rate": "fast 1\n",
        "bond0/bonding/min_links": "1\n",
        "bond0/bonding/ad_select": "stable 0\n",
        "bond0/bonding/ad_actor_sys_prio": "65535\n",
        "bond0/bonding/ad_actor_system": "00:00:00:00:00:00\n",
        "bond0/bonding/ad_aggregator": "1\n",
        "bond0/bonding/ad_num_ports": "1\n",
        "bond0/bonding/ad_actor_key": "9\n",
        "bond0/bonding/ad_partner_key": "1\n",
        "bond0/bonding/ad_partner_mac": "8a:a3:b3:dc:c5:fb\n",
        "eth0/speed": "1000\n",
        "eth0/duplex": "full\n",
        "eth0/bonding_slave/state": "active\n",
        "eth0/bonding_slave/mii_status": "up\n",
        "eth0/bonding_slave/link_failure_count": "0\n",
        "eth0/bonding_slave/perm_hwaddr": "52:54:00:12:34:01\n",
        "eth0/bonding_slave/queue_id": "0\n",
        "eth0/bonding_slave/ad_aggregator_id": "1\n",
        "eth0/bonding_slave/ad_actor_oper_port_state": "61\n",
        "eth0/bonding_slave/ad_partner_oper_port_state": "61\n",
        "eth1/speed": "-1\n",  # interface up, no carrier: SPEED_UNKNOWN
        "eth1/duplex": "unknown\n",
        "eth1/bonding_slave/state": "backup\n",
        "eth1/bonding_slave/mii_status": "down\n",
        "eth1/bonding_slave/link_failure_count": "3\n",
        "eth1/bonding_slave/perm_hwaddr": "52:54:00:12:34:02\n",
        "eth1/bonding_slave/queue_id": "0\n",
        "eth1/bonding_slave/ad_aggregator_id": "2\n",
        "eth1/bonding_slave/ad_actor_oper_port_state": "69\n",
        "eth1/bonding_slave/ad_partner_oper_port_state": "1\n",
    })


def _active_backup_tree(root: Path) -> Path:
    return _write(root, {
        "bond1/bonding/mode": "active-backup 1\n",
        "bond1/bonding/slaves": "eth2 eth3\n",
        "bond1/bonding/mii_status": "up\n",
        "bond1/bonding/miimon": "0\n",
        "bond1/bonding/arp_interval": "1000\n",
        "bond1/bonding/arp_ip_target": "10.0.0.1 10.0.0.2\n",
        "bond1/bonding/arp_validate": "all 3\n",
        "bond1/bonding/primary": "eth2\n",
        "bond1/bonding/primary_reselect": "failure 2\n",
        "bond1/bonding/active_slave": "eth3\n",
        "bond1/bonding/fail_over_mac": "active 1\n",
        "bond1/bonding/xmit_hash_policy": "layer2 0\n",  # printed in every mode; unused here
        "bond1/bonding/lacp_rate": "slow 0\n",
        "bond1/bonding/ad_aggregator": "",  # empty outside 802.3ad
        "eth2/speed": "",  # replaced by EINVAL below: the link is administratively down
        "eth2/duplex": "",
        "eth2/bonding_slave/state": "backup\n",
        "eth2/bonding_slave/mii_status": "down\n",
        "eth2/bonding_slave/link_failure_count": "5\n",
        "eth2/bonding_slave/perm_hwaddr": "52:54:00:12:34:03\n",
        "eth2/bonding_slave/queue_id": "0\n",
        "eth2/bonding_slave/ad_aggregator_id": "N/A\n",
        "eth2/bonding_slave/ad_actor_oper_port_state": "N/A\n",
        "eth2/bonding_slave/ad_partner_oper_port_state": "N/A\n",
        "eth3/speed": "10000\n",
        "eth3/duplex": "full\n",
        "eth3/bonding_slave/state": "active\n",
        "eth3/bonding_slave/mii_status": "up\n",
        "eth3/bonding_slave/link_failure_count": "0\n",
        "eth3/bonding_slave/perm_hwaddr": "52:54:00:12:34:04\n",
        "eth3/bonding_slave/queue_id": "0\n",
        "eth3/bonding_slave/ad_aggregator_id": "N/A\n",
    })


@pytest.fixture
def refuse(monkeypatch):
    """Paths whose read fails with the given errno, as sysfs and procfs files can."""
    refused: dict[Path, int] = {}

    def guarded(real):
        def read(self, *args, **kwargs):
            if self in refused:
                raise OSError(refused[self], os.strerror(refused[self]), str(self))
            return real(self, *args, **kwargs)
        return read

    monkeypatch.setattr(Path, "read_text", guarded(Path.read_text))
    monkeypatch.setattr(Path, "read_bytes", guarded(Path.read_bytes))
    return refused


def test_sysfs_802_3ad_bond_as_root_sees_it(tmp_path):
    bond = read_bond_sysfs("bond0", _lacp_tree(tmp_path))
    assert (bond.source, bond.mode, bond.mode_text, bond.driver_version) == ("sysfs", "802.3ad", "802.3ad 4", None)
    assert (bond.xmit_hash_policy, bond.lacp_active, bond.lacp_rate, bond.ad_select) == ("layer3+4", "on", "fast", "stable")
    assert (bond.min_links, bond.ad_actor_sys_prio, bond.ad_actor_system) == (1, 65535, None)  # zeros: unset
    assert (bond.miimon, bond.updelay, bond.peer_notify_delay, bond.arp_interval) == (100, 0, 0, 0)
    assert (bond.primary, bond.active_slave, bond.arp_ip_target, bond.arp_validate) == (None, None, (), "none")
    assert bond.active_aggregator == Aggregator(1, 1, 9, 1, "8a:a3:b3:dc:c5:fb")
    assert not bond.no_active_aggregator
    eth0, eth1 = bond.slaves
    assert (eth0.name, eth0.state, eth0.mii_status, eth0.speed, eth0.duplex) == ("eth0", "active", "up", 1000, "full")
    assert (eth0.link_failure_count, eth0.perm_hwaddr, eth0.queue_id, eth0.aggregator_id) == (0, "52:54:00:12:34:01", 0, 1)
    assert (eth0.actor.port_state, eth0.partner.port_state, eth0.actor.port_key) == (61, 61, None)
    assert (eth1.state, eth1.mii_status, eth1.healthy, eth1.speed, eth1.duplex) == ("backup", "down", False, None, None)
    assert (eth1.link_failure_count, eth1.aggregator_id, eth1.actor.port_state) == (3, 2, 69)


def test_sysfs_without_cap_net_admin_leaves_lacp_secrets_unknown(tmp_path, refuse):
    root = _lacp_tree(tmp_path)
    for empty in ("ad_actor_key", "ad_partner_key", "ad_actor_sys_prio", "ad_actor_system"):
        (root / "bond0/bonding" / empty).write_text("")  # what the kernel prints without the capability
    refuse[root / "bond0/bonding/ad_partner_mac"] = errno.EPERM
    bond = read_bond_sysfs("bond0", root)
    assert bond.active_aggregator == Aggregator(1, 1, None, None, None)
    assert (bond.ad_actor_sys_prio, bond.ad_actor_system) == (None, None)


def test_sysfs_tolerates_missing_optional_files(tmp_path):
    root = _lacp_tree(tmp_path)
    for gone in ("bond0/bonding/ad_num_ports", "bond0/bonding/lacp_active", "bond0/bonding/peer_notif_delay",
                 "eth0/bonding_slave/ad_actor_oper_port_state", "eth0/bonding_slave/state", "eth0/speed"):
        (root / gone).unlink()  # older kernels lack these
    bond = read_bond_sysfs("bond0", root)
    assert (bond.active_aggregator.number_of_ports, bond.lacp_active, bond.peer_notify_delay) == (None, None, None)
    assert (bond.slaves[0].actor, bond.slaves[0].state, bond.slaves[0].speed) == (None, None, None)


def test_sysfs_no_active_aggregator(tmp_path):
    root = _lacp_tree(tmp_path)
    (root / "bond0/bonding/ad_aggregator").write_text("0\n")
    bond = read_bond_sysfs("bond0", root)
    assert bond.active_aggregator is None and bond.no_active_aggregator


def test_sysfs_active_backup_with_a_down_link(tmp_path, refuse):
    root = _active_backup_tree(tmp_path)
    refuse[root / "eth2/speed"] = errno.EINVAL
    refuse[root / "eth2/duplex"] = errno.EINVAL
    bond = read_bond_sysfs("bond1", root)
    assert (bond.mode, bond.primary, bond.primary_reselect, bond.active_slave) == ("active-backup", "eth2", "failure", "eth3")
    assert (bond.fail_over_mac, bond.arp_interval, bond.arp_ip_target, bond.arp_validate) == (
        "active", 1000, ("10.0.0.1", "10.0.0.2"), "all")
    assert (bond.xmit_hash_policy, bond.lacp_rate, bond.active_aggregator) == (None, None, None)
    eth2, eth3 = bond.slaves
    assert (eth2.mii_status, eth2.speed, eth2.duplex, eth2.link_failure_count, eth2.aggregator_id, eth2.actor) == (
        "down", None, None, 5, None, None)
    assert (eth3.mii_status, eth3.speed, eth3.duplex, eth3.state) == ("up", 10000, "full", "active")


def test_sysfs_drops_a_slave_that_left_the_bond_while_reading(tmp_path):
    root = _lacp_tree(tmp_path)
    for path in (root / "eth1/bonding_slave").iterdir():
        path.unlink()
    assert [s.name for s in read_bond_sysfs("bond0", root).slaves] == ["eth0"]


def test_sysfs_lists_slaves_from_lower_links_when_the_slaves_file_is_unreadable(tmp_path, refuse):
    root = _lacp_tree(tmp_path)
    refuse[root / "bond0/bonding/slaves"] = errno.EACCES
    for slave in ("eth1", "eth0"):
        (root / "bond0" / f"lower_{slave}").symlink_to(root / slave)
    assert [s.name for s in read_bond_sysfs("bond0", root).slaves] == ["eth0", "eth1"]


def test_sysfs_missing_bond_raises_oserror_and_garbled_mode_names_the_file(tmp_path):
    with pytest.raises(FileNotFoundError):
        read_bond_sysfs("bond9", tmp_path)
    _write(tmp_path, {"bond9/bonding/mode": "warp 9\n"})
    with pytest.raises(BondingParseError, match="bond9/bonding/mode: unknown bonding mode 'warp 9'"):
        read_bond_sysfs("bond9", tmp_path)


# -- collect_bonds -------------------------------------------------------------------------


def test_collect_reads_procfs_first(tmp_path):
    name = "8023ad-v3.7.1-encap3+4-lacp-pdu-details-libtpa.txt"
    bonds, problems = collect_bonds([name], proc_dir=FIXTURES, sysfs_net=_lacp_tree(tmp_path))
    assert problems == ()
    assert [(b.name, b.source, len(b.slaves)) for b in bonds] == [(name, "procfs", 2)]


def test_collect_falls_back_to_sysfs_when_procfs_is_missing(tmp_path):
    bonds, problems = collect_bonds(["bond0"], proc_dir=tmp_path / "proc", sysfs_net=_lacp_tree(tmp_path / "sys"))
    assert problems == ()
    assert [(b.name, b.source, [s.name for s in b.slaves]) for b in bonds] == [("bond0", "sysfs", ["eth0", "eth1"])]


def test_collect_falls_back_to_sysfs_when_procfs_is_refused(tmp_path, refuse):
    proc = _write(tmp_path / "proc", {"bond0": _fixture("balance-rr-v3.7.1-insights.txt")})
    refuse[proc / "bond0"] = errno.EACCES
    bonds, problems = collect_bonds(["bond0"], proc_dir=proc, sysfs_net=_lacp_tree(tmp_path / "sys"))
    assert problems == () and bonds[0].source == "sysfs"


def test_collect_says_why_when_neither_source_reads_and_carries_on(tmp_path, refuse):
    proc = _write(tmp_path / "proc", {"bond0": "x\n", "bond2": _fixture("balance-rr-v3.7.1-insights.txt")})
    refuse[proc / "bond0"] = errno.EACCES
    bonds, problems = collect_bonds(["bond0", "bond1", "bond2"], proc_dir=proc, sysfs_net=tmp_path / "sys")
    assert [b.name for b in bonds] == ["bond2"]
    assert problems == (
        f"bond0: cannot read {proc}/bond0 (permission denied), nor {tmp_path}/sys/bond0/bonding (no such file or directory)",
        f"bond1: cannot read {proc}/bond1 (no such file or directory), nor {tmp_path}/sys/bond1/bonding (no such file or directory)",
    )


def test_collect_reports_a_garbled_procfs_file_and_shows_sysfs_instead(tmp_path):
    proc = _write(tmp_path / "proc", {"bond0": "Ethernet Channel Bonding Driver: v3.7.1 (April 27, 2011)\n\n"})
    bonds, problems = collect_bonds(["bond0"], proc_dir=proc, sysfs_net=_lacp_tree(tmp_path / "sys"))
    assert [b.source for b in bonds] == ["sysfs"]
    assert len(problems) == 1
    assert problems[0].startswith(f"bond0: cannot understand {proc}/bond0: it has no 'Bonding Mode:' line")
    assert problems[0].endswith("; showing what sysfs reports instead")


def test_collect_garbled_procfs_and_no_sysfs_is_a_problem_not_an_exception(tmp_path):
    proc = _write(tmp_path / "proc", {"bond0": "Bonding Mode: warp drive\n"})
    bonds, problems = collect_bonds(["bond0"], proc_dir=proc, sysfs_net=tmp_path / "sys")
    assert bonds == ()
    assert problems == (
        f"bond0: cannot understand {proc}/bond0: unknown bonding mode 'warp drive', "
        f"nor {tmp_path}/sys/bond0/bonding (no such file or directory)",
    )


def test_collect_in_another_namespace_has_no_sysfs_fallback(tmp_path):
    bonds, problems = collect_bonds(["bond0"], proc_dir=tmp_path, sysfs_net=None)
    assert bonds == ()
    assert problems == (f"bond0: cannot read {tmp_path}/bond0 (no such file or directory), and sysfs cannot show this namespace",)


# -- slave blocks that cannot be so --------------------------------------------------------

_HEADER = ("Ethernet Channel Bonding Driver: v3.7.1 (April 27, 2011)\n\n"
           "Bonding Mode: fault-tolerance (active-backup)\nMII Status: up\n")


def _slave_block(name: str, mii: str = "up", failures: str = "0") -> str:
    """One slave's block; a name of "" gives the bare `Slave Interface:` line."""
    return f"\nSlave Interface:{' ' + name if name else ''}\nMII Status: {mii}\nLink Failure Count: {failures}\n"


def test_a_slave_without_a_name_is_a_problem_not_a_slave():
    bond = parse_bonding_file("bond0", _HEADER + _slave_block("") + _slave_block("eth1"))
    assert [s.name for s in bond.slaves] == ["eth1"]
    assert bond.problems == ("slave block 1 has a 'Slave Interface:' line without a name: not shown",)


def test_a_slave_listed_twice_is_shown_once_with_a_problem():
    bond = parse_bonding_file("bond0", _HEADER + _slave_block("eth0") + _slave_block("eth0", "down", "7"))
    assert [(s.name, s.mii_status, s.link_failure_count) for s in bond.slaves] == [("eth0", "up", 0)]
    assert bond.problems == ("slave eth0 is listed twice: only the first is shown",)


def test_a_negative_link_failure_count_is_a_problem_not_a_count():
    bond = parse_bonding_file("bond0", _HEADER + _slave_block("eth0", failures="-1") + _slave_block("eth1"))
    assert [s.name for s in bond.slaves] == ["eth1"]
    assert bond.problems == ("slave eth0: 'Link Failure Count: -1' is not a count: not shown",)


def test_collect_reports_the_bonding_file_problems(tmp_path):
    (tmp_path / "bond0").write_text(_HEADER + _slave_block("eth0") + _slave_block("eth0"))
    bonds, problems = collect_bonds(["bond0"], proc_dir=tmp_path, sysfs_net=None)
    assert [s.name for s in bonds[0].slaves] == ["eth0"]
    assert problems == (f"bond0: {tmp_path / 'bond0'}: slave eth0 is listed twice: only the first is shown",)


def test_sysfs_negative_failure_count_and_a_slave_listed_twice_are_problems(tmp_path):
    root = _lacp_tree(tmp_path)
    (root / "bond0/bonding/slaves").write_text("eth0 eth1 eth0\n")
    (root / "eth1/bonding_slave/link_failure_count").write_text("-1\n")
    bond = read_bond_sysfs("bond0", root)
    assert [s.name for s in bond.slaves] == ["eth0"]
    assert bond.problems == ("slave eth1: link_failure_count -1 is not a count: not shown",
                             "slave eth0 is listed twice: only the first is shown")


def test_8000_slaves_parse_in_one_pass():
    """Functional: every slave of a very large bond, in order (the timing is in the bench)."""
    text = _HEADER + "".join(_slave_block(f"eth{n}", failures=str(n)) for n in range(8000))
    bond = parse_bonding_file("bond0", text)
    assert len(bond.slaves) == 8000 and bond.problems == ()
    assert [(s.name, s.link_failure_count) for s in bond.slaves[::1999]] == [
        ("eth0", 0), ("eth1999", 1999), ("eth3998", 3998), ("eth5997", 5997), ("eth7996", 7996)]
