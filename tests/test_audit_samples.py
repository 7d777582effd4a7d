"""The audit on samples written by others (../shared/fixtures): every bonding file, domain
and network XML and `ip -d -j link` sample. Each file's expected findings are listed
here; a finding on a sample is there because the sample really shows the problem
(read the file), and a new sample fails until someone has judged it."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest

from kvmtui.audit import RULES, SEVERITIES, audit
from kvmtui.audit.report import text_report
from kvmtui.collect.bonding import parse_bonding_file
from kvmtui.libvirt_xml import parse_domain_xml, parse_network_xml
from kvmtui.node_keys import guest_key
from kvmtui.model import INFO_DATA_CLASSES, SLAVE_DATA_CLASSES, Domain, DomainInterface, HostInfo, Link, Snapshot
from tests.helpers import SHARED_FIXTURES
from tests.samples import LIBVIRT_HOST

BONDING = SHARED_FIXTURES / "bonding"
DOMAINS = SHARED_FIXTURES / "libvirt" / "domains"
NETWORKS = SHARED_FIXTURES / "libvirt" / "networks"
IPROUTE2 = SHARED_FIXTURES / "iproute2"

HOST = HostInfo("sample", "6.1.0", "2025-01-01T00:00:00+00:00", None, None, None, "test")

BOND = "link:bond0"
BOND_EXPECTED = {
    # eth2 sits in aggregator 2, the active one is 3; the partner MAC is all zeros.
    "8023ad-v3.2.4-old-format-stray-speed-line-insights.txt": {
        ("bond-lacp-split", BOND), ("bond-lacp-no-partner", BOND)},
    # eth0/eth1 in aggregator 2, eth2/eth3 in the active aggregator 3.
    "8023ad-v3.4.0-four-slaves-two-aggregators-augeas.txt": {("bond-lacp-split", BOND)},
    # "bond bond0 has no active aggregator".
    "8023ad-v3.5.0-no-active-aggregator-telegraf.txt": {("bond-lacp-no-partner", BOND)},
    "8023ad-v3.7.1-active-aggregator-monitoringplug.txt": set(),
    # Read without CAP_NET_ADMIN: no partner shown, both slaves in aggregator 2.
    "8023ad-v3.7.1-churn-counts-telegraf.txt": set(),
    "8023ad-v3.7.1-encap3+4-lacp-pdu-details-libtpa.txt": {("bond-slave-down", "link:eth1")},
    "8023ad-v3.7.1-second-slave-down-speed-unknown-telegraf.txt": {("bond-slave-down", "link:eth1")},
    # enp1s0f0 down and in aggregator 1 (active: 2); partner MAC all zeros.
    "8023ad-v3.7.1-slave-down-lacp-pdu-layer3+4-linuxnotes.txt": {
        ("bond-slave-down", "link:enp1s0f0"), ("bond-lacp-split", BOND), ("bond-lacp-no-partner", BOND)},
    # One port not yet in sync (actor state 15) is a moment of LACP, not a misconfiguration.
    "8023ad-v5.15.0-91-generic-lacp-active-otuslinuxprof.txt": set(),
    # ARP monitoring instead of MII: monitored. The failure counts are history, not growth.
    "active-backup-arp-monitor-primary-reselect-failure-insights.txt": set(),
    "active-backup-fail_over_mac-primary-reselect-v3.7.1-otus1804.txt": set(),
    "active-backup-fail_over_mac-single-slave-after-ifdown-otus1804.txt": {("bond-single-slave", BOND)},
    "active-backup-v3.4.0-arp-targets-augeas.txt": set(),
    "active-backup-v3.6.0-slave-down-telegraf.txt": {("bond-slave-down", "link:eth3")},
    "active-backup-v3.7.1-monitoringplug.txt": set(),
    "active-backup-v3.7.1-primary-none-insights.txt": set(),
    "balance-alb-v6.8.0-90-generic-marktaguiad.txt": set(),
    "balance-rr-driver-2.6.1-kernel-doc-style-augeas.txt": set(),
    "balance-rr-v3.7.1-insights.txt": set(),
    "balance-xor-layer2+3-v3.7.1-insights.txt": set(),
}

# Domain samples: only the direct (macvtap) NICs in VEPA mode say anything.
DOMAIN_EXPECTED = {
    "many-devices-18-interfaces-virt-manager.xml": {
        ("guest-macvtap-vepa", 3, "info"), ("guest-macvtap-host", 3, "info")},
    "user-network-bridge-ethernet-direct-virt-manager.xml": {
        ("guest-macvtap-vepa", 4, "info"), ("guest-macvtap-host", 4, "info")},
}


def bond_snapshot(path: Path) -> Snapshot:
    return Snapshot(host=HOST, bonds=(parse_bonding_file("bond0", path.read_text()),))


def domain(path: Path):
    xml = path.read_text()
    live = " id=" in xml.split(">", 1)[0]  # live XML: <domain type='kvm' id='5'>
    return parse_domain_xml(xml, state="running" if live else "shut off", id=5 if live else None, persistent=True)


def network(path: Path, active: bool = True):
    return parse_network_xml(path.read_text(), active=active, persistent=True, autostart=active)


def judged(findings) -> set[tuple[str, str]]:
    return {(f.rule, f.key) for f in findings}


def test_every_bonding_sample_is_judged():
    assert sorted(p.name for p in BONDING.glob("*.txt")) == sorted(BOND_EXPECTED)


@pytest.mark.parametrize("name", sorted(BOND_EXPECTED))
def test_bonding_sample(name):
    snapshot = bond_snapshot(BONDING / name)
    findings = audit(snapshot, previous=snapshot)  # the same file twice: nothing grew
    assert judged(findings) == BOND_EXPECTED[name]
    for finding in findings:
        assert finding.rule in RULES and finding.severity in SEVERITIES
        assert finding.what and finding.why and finding.fix and finding.subject


def test_no_active_aggregator_is_an_error():
    (finding,) = audit(bond_snapshot(BONDING / "8023ad-v3.5.0-no-active-aggregator-telegraf.txt"))
    assert finding.severity == "error" and "no active aggregator" in finding.what


def test_zero_partner_names_the_up_slave():
    snapshot = bond_snapshot(BONDING / "8023ad-v3.7.1-slave-down-lacp-pdu-layer3+4-linuxnotes.txt")
    (finding,) = [f for f in audit(snapshot) if f.rule == "bond-lacp-no-partner"]
    assert "00:00:00:00:00:00 (slave enp1s0f1)" in finding.what
    (split,) = [f for f in audit(snapshot) if f.rule == "bond-lacp-split"]
    assert "enp1s0f0 (aggregator 1)" in split.what and "active aggregator 2" in split.what


@pytest.mark.parametrize("name", sorted(BOND_EXPECTED))
def test_failure_count_growth_on_samples(name):
    """Against a previous snapshot one failure behind, exactly the slaves that had failures grew."""
    snapshot = bond_snapshot(BONDING / name)
    (bond,) = snapshot.bonds
    earlier = replace(bond, slaves=tuple(replace(s, link_failure_count=max(s.link_failure_count - 1, 0))
                                         for s in bond.slaves))
    previous = replace(snapshot, bonds=(earlier,), host=replace(HOST, taken_at="2024-12-31T23:00:00+00:00"))
    grown = {f.key for f in audit(snapshot, previous) if f.rule == "bond-failures-grown"}
    assert grown == {f"link:{s.name}" for s in bond.slaves if s.link_failure_count > 0}


def test_active_not_primary_on_a_sample_with_the_primary_up():
    """The otus sample has primary eth1 active; had eth2 been active, that would be wrong."""
    snapshot = bond_snapshot(BONDING / "active-backup-fail_over_mac-primary-reselect-v3.7.1-otus1804.txt")
    (bond,) = snapshot.bonds
    moved = replace(snapshot, bonds=(replace(bond, active_slave="eth2"),))
    assert judged(audit(moved)) == {("bond-not-primary", BOND)}


def test_every_domain_sample_is_judged():
    for path in sorted(DOMAINS.glob("*.xml")):
        dom = domain(path)
        number = {guest_key(dom, n): n for n in range(len(dom.interfaces))}  # keys name the NIC by its MAC
        found = {(f.rule, number[f.key], f.severity) for f in audit(Snapshot(host=HOST, domains=(dom,)))}
        assert found == DOMAIN_EXPECTED.get(path.name, set()), path.name
        for finding in audit(Snapshot(host=HOST, domains=(dom,))):
            assert finding.key.startswith(f"guest:{dom.uuid}:")


def test_network_samples_are_silent():
    networks = tuple(network(p) for p in sorted(NETWORKS.glob("*.xml")))
    assert audit(Snapshot(host=LIBVIRT_HOST, networks=networks)) == ()


def test_live_guest_on_the_default_network_sample():
    """vdsm's live guest on network 'default' (libvirt's nat sample): fine while it is
    active, cut off when it is not."""
    dom = domain(DOMAINS / "live-network-default-source-bridge-virbr0-vdsm.xml")
    sample = NETWORKS / "forward-nat-dev-dhcp-hosts-libvirt.xml"
    assert audit(Snapshot(host=LIBVIRT_HOST, domains=(dom,), networks=(network(sample),))) == ()
    (finding,) = audit(Snapshot(host=LIBVIRT_HOST, domains=(dom,), networks=(network(sample, active=False),)))
    assert (finding.rule, finding.key, finding.severity) == ("guest-network-inactive", guest_key(dom, 0), "error")
    assert finding.commands == ("virsh net-start default", "virsh net-autostart default")


def _ip_link(entry: dict) -> Link:
    """The fields of one `ip -d -j link` object the rules read."""
    info = entry.get("linkinfo", {})
    kind, slave_kind = info.get("info_kind"), info.get("info_slave_kind")

    def build(table, key, data):
        cls = table.get(key)
        return None if cls is None or data is None else cls(**{f: data.get(f) for f in cls.__dataclass_fields__})

    return Link(
        ifindex=entry["ifindex"], ifname=entry["ifname"], kind=kind, mac=entry.get("address"), mtu=entry["mtu"],
        operstate=entry["operstate"], flags=tuple(entry["flags"]), carrier="LOWER_UP" in entry["flags"],
        promiscuity=entry.get("promiscuity", 0), master=entry.get("master"), link=entry.get("link"),
        link_index=entry.get("link_index"), link_netnsid=entry.get("link_netnsid"), max_mtu=entry.get("max_mtu"),
        parentbus=entry.get("parentbus"), info_data=build(INFO_DATA_CLASSES, kind, info.get("info_data")),
        slave_kind=slave_kind, info_slave_data=build(SLAVE_DATA_CLASSES, slave_kind, info.get("info_slave_data")),
    )


@pytest.mark.parametrize("path", sorted(IPROUTE2.glob("*.json")), ids=lambda p: p.name)
def test_iproute2_samples_are_silent(path):
    """Proxmox's eth1 is promiscuous, but it is a port of vmbr0: explained."""
    document = json.loads(path.read_text())
    links = tuple(_ip_link(e) for e in (document if isinstance(document, list) else [document]))
    assert audit(Snapshot(host=HOST, links=links)) == ()


def test_text_report_of_samples_fits_80_columns():
    bonds = tuple(parse_bonding_file(f"bond{n}", (BONDING / name).read_text())
                  for n, name in enumerate(sorted(BOND_EXPECTED)))
    domains = tuple(domain(p) for p in sorted(DOMAINS.glob("*.xml")))
    snapshot = Snapshot(host=HOST, bonds=bonds, domains=domains)
    text = text_report(snapshot, audit(snapshot))
    assert max(len(line) for line in text.splitlines()) <= 80
    assert "\x1b" not in text


# A guest on each network sample: only the macvtap networks (vepa, private) say anything.
GUEST_ON_NETWORK_EXPECTED = {
    "forward-private-macvtap-pool-8021Qbh-vlan-libvirt.xml": {("guest-macvtap-host", "info")},
    "forward-vepa-macvtap-pool-portgroups-libvirt.xml": {
        ("guest-macvtap-vepa", "info"), ("guest-macvtap-host", "info")},
}


def guest_on(network_name: str) -> Domain:
    """A defined guest with one type='network' NIC. libvirt's macvtap networks need their
    pool's devices (eth1...) to exist, so the network is the real sample and the guest,
    whose XML says no more than `<source network=...>`, a model object."""
    nic = DomainInterface(type="network", mac="52:54:00:00:00:01", model="virtio", target=None,
                          source=network_name, bridge=None, network=network_name, portgroup=None,
                          dev=None, mode=None, link_state=None)
    return Domain("kt-guest", "00000000-0000-0000-0000-00000000000a", "shut off", None, True, (nic,))


@pytest.mark.parametrize("path", sorted(NETWORKS.glob("*.xml")), ids=lambda p: p.name)
def test_guest_on_each_network_sample(path):
    net = network(path)
    dom = guest_on(net.name)
    findings = audit(Snapshot(host=LIBVIRT_HOST, domains=(dom,), networks=(net,)))
    assert {(f.rule, f.severity) for f in findings} == GUEST_ON_NETWORK_EXPECTED.get(path.name, set())
    assert all(f.key == guest_key(dom, 0) for f in findings)


def test_guest_on_the_vepa_macvtap_pool_sample():
    """Which of eth1-eth3 the guest gets is libvirt's pick at start: the finding names the
    pool and the network, and the fix is the network's forward mode."""
    net = network(NETWORKS / "forward-vepa-macvtap-pool-portgroups-libvirt.xml")
    findings = {f.rule: f for f in audit(Snapshot(host=LIBVIRT_HOST, domains=(guest_on(net.name),), networks=(net,)))}
    vepa, host = findings["guest-macvtap-vepa"], findings["guest-macvtap-host"]
    assert "VEPA mode on eth1, eth2 or eth3 (libvirt network vepa-net)" in vepa.what
    assert vepa.commands == ("virsh net-edit vepa-net",)
    assert "on eth1, eth2 or eth3" in host.what
    assert host.commands == ("ip link add link NIC name macvlan-host type macvlan mode bridge",)
    inactive = replace(net, active=False)  # not started: the guest cannot start either
    assert {f.rule for f in audit(Snapshot(host=LIBVIRT_HOST, domains=(guest_on(net.name),), networks=(inactive,)))} \
        == {"guest-macvtap-vepa", "guest-macvtap-host", "guest-network-inactive"}
