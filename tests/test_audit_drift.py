"""Drift rules: the running network against the saved configuration, on hosts where they
differ in each way an administrator meets (a bridge made at run time, an address moved onto
it, a port, MTU, kind, bond mode or VLAN that the files say otherwise, two backends on one
interface, lines a backend ignores).

Bridges, veths, macvlans and vxlans are real, in a namespace (veths whose peers sit in a
"wire" namespace stand in for NICs); bonds and VLANs come from the recorded host
(examples/kvm-host.json), whose dummies stand in for NICs, and from the kernel VM. The
saved configuration is written for each backend under tmp_path and read with
read_netconfig, as collect_kernel reads / on the host itself.
"""

from __future__ import annotations

import json
import os
from dataclasses import replace
from pathlib import Path

import pytest

from kvmtui.audit import RULES, SEVERITIES, audit
from kvmtui.audit.drift_config import not_the_admins
from kvmtui.audit.report import text_report
from kvmtui.collect.netconfig import read_netconfig
from kvmtui.collect.snapshot import collect_kernel
from kvmtui.model import Network, Snapshot
from kvmtui.serialize import read_snapshot_file, snapshot_document
from tests.helpers import EXAMPLE, SHARED_FIXTURES, kvmtui
from tests.topologies import ip

NICS = ("kt-e1", "kt-e2", "kt-e3", "kt-e4")
ENABLE = {"netplan": "/usr/sbin/netplan",
          "NetworkManager": "/etc/systemd/system/multi-user.target.wants/NetworkManager.service",
          "systemd-networkd": "/etc/systemd/system/multi-user.target.wants/systemd-networkd.service",
          "ifupdown": "/var/lib/dpkg/info/ifupdown.list", "ifupdown2": "/usr/share/ifupdown2/__init__.py"}
ETC_NI = "/etc/network/interfaces"


def write(root: Path, path: str, text: str = "", mode: int = 0o644) -> None:
    target = root / path.lstrip("/")
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(text)
    os.chmod(target, mode)


def enable(root: Path, *backends: str) -> None:
    for backend in backends:
        write(root, ENABLE[backend])


def as_nics(snapshot: Snapshot, names) -> Snapshot:
    """These devices judged as NICs (no kind), as hardware would be."""
    return replace(snapshot, links=tuple(replace(l, kind=None, info_data=None) if l.ifname in names else l
                                         for l in snapshot.links))


def with_config(snapshot: Snapshot, root: Path) -> Snapshot:
    """What collect_kernel does on the host itself, with the files of `root`."""
    return replace(snapshot, netconfig=read_netconfig(root, snapshot.links, runtime=False))


def drift(findings) -> dict[tuple[str, str], list]:
    found: dict[tuple[str, str], list] = {}
    for finding in findings:
        if finding.rule.startswith("drift-"):
            found.setdefault((finding.rule, finding.key), []).append(finding)
    return found


def one(findings, rule: str, key: str):
    (finding,) = drift(findings)[(rule, key)]
    return finding


@pytest.fixture
def host(make_netns):
    """kt-e1..kt-e4 (NICs); br0 (10.0.0.2/24, default route) with ports kt-e1, kt-e2, a tap
    and a container's veth; kt-e3 with 10.9.0.1/24; a macvlan kt-mv and a vxlan kt-vx on
    kt-e4; docker0 and virbr0 with addresses, as their daemons leave them; kt-idle, a bridge
    that is down and carries nothing."""
    ns, wire, container = make_netns(), make_netns(), make_netns()
    for n in range(1, 5):
        ip(ns, "link", "add", f"kt-e{n}", "type", "veth", "peer", "name", f"kt-w{n}", "netns", wire)
    ip(ns, "link", "add", "br0", "type", "bridge")
    ip(ns, "tuntap", "add", "dev", "kt-tap0", "mode", "tap")
    ip(ns, "link", "add", "kt-ct0", "type", "veth", "peer", "name", "eth0", "netns", container)
    for port in ("kt-e1", "kt-e2", "kt-tap0", "kt-ct0"):
        ip(ns, "link", "set", port, "master", "br0")
    ip(ns, "link", "add", "kt-mv", "link", "kt-e4", "type", "macvlan", "mode", "bridge")
    ip(ns, "link", "add", "kt-vx", "type", "vxlan", "id", "10", "dstport", "4789", "dev", "kt-e4")
    for bridge in ("docker0", "virbr0", "kt-nat0", "kt-idle"):
        ip(ns, "link", "add", bridge, "type", "bridge")
    for dev in (*NICS, "br0", "kt-ct0", "kt-mv", "kt-vx", "docker0", "virbr0", "kt-nat0"):
        ip(ns, "link", "set", dev, "up")
    for address, dev in (("10.0.0.2/24", "br0"), ("10.9.0.1/24", "kt-e3"), ("172.17.0.1/16", "docker0"),
                         ("192.168.122.1/24", "virbr0"), ("192.168.100.1/24", "kt-nat0")):
        ip(ns, "addr", "add", address, "dev", dev)
    ip(ns, "route", "add", "default", "via", "10.0.0.1")
    return ns


def live(ns: str) -> Snapshot:
    return as_nics(collect_kernel(ns, with_fdb=False), NICS)


def test_no_configuration_read_no_drift(host):
    """A named namespace (and a recording of before) has no netconfig: nothing is judged."""
    snapshot = live(host)
    assert snapshot.netconfig is None and drift(audit(snapshot)) == {}


def test_what_is_not_the_admins_to_save(host, tmp_path):
    """Nothing saved at all: the bridge, macvlan and vxlan made by hand are lost at reboot
    (warnings), kt-e3's address too (info: a NIC exists anyway). Not judged: the tap, the
    container's veth, lo, docker0 and virbr0 (their daemons make them), kt-idle (down, carries
    nothing), the bridge ports (their bridge's finding names them)."""
    snapshot = with_config(live(host), tmp_path)
    findings = audit(snapshot)
    assert {(rule, key, f[0].severity) for (rule, key), f in drift(findings).items()} == {
        ("drift-unsaved", "link:br0", "warning"), ("drift-unsaved", "link:kt-mv", "warning"),
        ("drift-unsaved", "link:kt-vx", "warning"), ("drift-unsaved", "link:kt-nat0", "warning"),
        ("drift-unsaved", "link:kt-e3", "info")}
    br0 = one(findings, "drift-unsaved", "link:br0")
    assert br0.what == "bridge br0 runs but no saved configuration creates it"
    assert "save br0 (ports kt-e1, kt-e2; address 10.0.0.2/24)" in br0.fix and "kt-tap0" not in br0.fix
    nic = one(findings, "drift-unsaved", "link:kt-e3")
    assert nic.what == "kt-e3 has 10.9.0.1/24 but no saved configuration sets it"
    assert nic.commands == ("ip addr del 10.9.0.1/24 dev kt-e3",)
    reasons = {link.ifname: not_the_admins(snapshot, link) for link in snapshot.links}
    assert "container" in reasons["kt-ct0"] and "tap" in reasons["kt-tap0"] and "daemon" in reasons["docker0"]
    assert reasons["lo"] == "the loopback" and reasons["kt-e1"] is None

    # libvirt read: kt-nat0 is its NAT network's bridge (libvirt makes it), and virbr0, which
    # no network names, is a leftover like any other bridge.
    nat = Network("kt-nat", None, True, True, True, "nat", "kt-nat0", None)
    read = replace(snapshot, host=replace(snapshot.host, libvirt_uri="qemu:///system"), networks=(nat,))
    keys = {key for rule, key in drift(audit(read))}
    assert "link:kt-nat0" not in keys and "link:virbr0" in keys
    assert "libvirt network kt-nat" in not_the_admins(read, read.link("kt-nat0"))


def test_ifupdown_after_an_address_moved_onto_a_new_bridge(host, tmp_path):
    """The Proxmox host after `kvmtui apply bridge br0 --port kt-e1 --move-ip-from kt-e1`
    without persisting: the file still has the address on kt-e1 and no br0. A reboot brings
    back kt-e1 with the address and no bridge."""
    enable(tmp_path, "ifupdown")
    write(tmp_path, ETC_NI, "auto lo\niface lo inet loopback\n\nauto kt-e1\niface kt-e1 inet static\n"
                            "    address 10.0.0.2/24\n    gateway 10.0.0.1\n\nauto kt-e4\niface kt-e4 inet manual\n"
                            "\nauto kt-vx\niface kt-vx\n    vxlan-id 10\n    vxlan-physdev kt-e4\n")
    findings = audit(with_config(live(host), tmp_path))
    assert set(drift(findings)) == {("drift-unsaved", "link:br0"), ("drift-unsaved", "link:kt-mv"),
                                    ("drift-unsaved", "link:kt-nat0"), ("drift-unsaved", "link:kt-e3"),
                                    ("drift-address", "link:kt-e1")}
    moved = one(findings, "drift-address", "link:kt-e1")
    assert moved.subject == "kt-e1 address 10.0.0.2/24"
    assert moved.what == f"{ETC_NI} line 5 saves 10.0.0.2/24 on kt-e1, but it is live on br0"
    assert moved.commands == ("ip addr del 10.0.0.2/24 dev br0", "ip addr add 10.0.0.2/24 dev kt-e1")
    assert "lands on kt-e1 again after a reboot" in moved.why
    br0 = one(findings, "drift-unsaved", "link:br0")
    assert br0.fix.startswith("to keep it, save br0 (ports kt-e1, kt-e2; address 10.0.0.2/24) as an `auto br0` + "
                              "`iface br0 inet static` stanza in /etc/network/interfaces;")
    assert "ifupdown is this host's backend (it owns" in br0.fix


def test_netplan_port_mtu_kind_and_a_port_netplan_refuses(host, tmp_path):
    enable(tmp_path, "netplan")
    write(tmp_path, "/etc/netplan/01-kvm.yaml", """network:
  version: 2
  ethernets:
    kt-e1: {}
    kt-e2:
      mtu: 9000
    kt-e3:
      dhcp4: true
    kt-e4: {}
    kt-mv: {}
  bridges:
    br0:
      interfaces: [kt-e1, kt-e9]
      addresses: [10.0.0.2/24]
  tunnels:
    kt-vx:
      mode: vxlan
      id: 10
      link: kt-e4
""", 0o600)
    findings = audit(with_config(live(host), tmp_path))
    assert set(drift(findings)) == {
        ("drift-unsaved-member", "link:kt-e2"), ("drift-mtu", "link:kt-e2"), ("drift-kind", "link:kt-mv"),
        ("drift-member", "link:br0"), ("drift-config-problem", "link:br0"), ("drift-unsaved", "link:kt-nat0")}
    member = one(findings, "drift-unsaved-member", "link:kt-e2")
    assert (member.subject, member.commands) == ("br0 port kt-e2", ("ip link set dev kt-e2 nomaster",))
    assert member.what == ("kt-e2 is a port of br0, but no saved configuration puts it there "
                           "(/etc/netplan/01-kvm.yaml line 12 gives br0 the ports: kt-e1, kt-e9)")
    mtu = one(findings, "drift-mtu", "link:kt-e2")
    assert mtu.what == "kt-e2 runs with MTU 1500, but /etc/netplan/01-kvm.yaml line 5 says 9000"
    assert mtu.commands == ("ip link set dev kt-e2 mtu 9000",)
    kind = one(findings, "drift-kind", "link:kt-mv")
    assert kind.what.startswith("kt-mv runs as a macvlan, but /etc/netplan/01-kvm.yaml line 10 (netplan renderer "
                                "networkd) describes it as an existing device")
    assert one(findings, "drift-member", "link:br0").what == \
        "/etc/netplan/01-kvm.yaml line 12 gives br0 the port kt-e9, which does not exist"
    problem = one(findings, "drift-config-problem", "link:br0")
    assert problem.severity == "warning" and problem.subject == "/etc/netplan/01-kvm.yaml line 12"
    assert problem.what == ("cannot read /etc/netplan/01-kvm.yaml line 12: br0: names kt-e9, which no device "
                            "defines: netplan generate refuses it")


def test_networkd_addresses_a_port_saved_in_another_bridge_and_mtu(host, tmp_path):
    enable(tmp_path, "systemd-networkd")
    net = "/etc/systemd/network/"
    write(tmp_path, net + "br0.netdev", "[NetDev]\nName=br0\nKind=bridge\n")
    write(tmp_path, net + "br0.network", "[Match]\nName=br0\n\n[Network]\nAddress=10.0.0.3/24\nGateway=10.0.0.1\n")
    write(tmp_path, net + "kt-e1.network", "[Match]\nName=kt-e1\n[Network]\nBridge=br0\n")
    write(tmp_path, net + "kt-e2.network", "[Match]\nName=kt-e2\n[Network]\nBridge=br1\n")
    write(tmp_path, net + "kt-e3.network", "[Match]\nName=kt-e3\n[Link]\nMTUBytes=1400\n[Network]\nDHCP=ipv4\n")
    write(tmp_path, net + "kt-e4.network", "[Match]\nName=kt-e4\n[Network]\nVXLAN=kt-vx\nMACVLAN=kt-mv\n")
    write(tmp_path, net + "kt-vx.netdev", "[NetDev]\nName=kt-vx\nKind=vxlan\n[VXLAN]\nVNI=10\n")
    write(tmp_path, net + "kt-mv.netdev", "[NetDev]\nName=kt-mv\nKind=macvlan\n[MACVLAN]\nMode=bridge\n")
    findings = audit(with_config(live(host), tmp_path))
    assert set(drift(findings)) == {("drift-address", "link:br0"), ("drift-member", "link:kt-e2"),
                                    ("drift-mtu", "link:kt-e3"), ("drift-unsaved", "link:kt-nat0")}
    assert sorted(f.what for f in drift(findings)[("drift-address", "link:br0")]) == [
        "/etc/systemd/network/br0.network line 1 saves 10.0.0.3/24 on br0, but it is not live",
        "br0 has 10.0.0.2/24 live, but /etc/systemd/network/br0.network line 1 does not save it"]
    moved = one(findings, "drift-member", "link:kt-e2")
    assert moved.what == ("/etc/systemd/network/kt-e2.network line 1 makes kt-e2 a port of br1, but live it is a "
                          "port of br0, and br1 does not run")
    assert moved.commands == ("ip link set dev kt-e2 nomaster",)
    assert one(findings, "drift-mtu", "link:kt-e3").what == \
        "kt-e3 runs with MTU 1500, but /etc/systemd/network/kt-e3.network line 1 says 1400"


def test_networkmanager_a_port_by_mac_an_mtu_and_a_profile_only_in_run(host, tmp_path):
    """kt-e1 is br0's port by its MAC; kt-mv's profile is in /run (in memory, `nmcli
    connection add save no`): a reboot loses it as surely as no profile."""
    enable(tmp_path, "NetworkManager")
    snapshot = live(host)
    conn = "/etc/NetworkManager/system-connections/"
    write(tmp_path, conn + "br0.nmconnection", "[connection]\nid=br0\nuuid=b0\ntype=bridge\ninterface-name=br0\n"
          "[bridge]\nstp=false\n[ipv4]\nmethod=manual\naddress1=10.0.0.2/24\n", 0o600)
    write(tmp_path, conn + "port1.nmconnection", "[connection]\nid=port1\ntype=ethernet\ncontroller=br0\n"
          f"port-type=bridge\n[ethernet]\nmac-address={snapshot.link('kt-e1').mac}\n", 0o600)
    write(tmp_path, conn + "kt-e2.nmconnection", "[connection]\nid=kt-e2\ntype=ethernet\ninterface-name=kt-e2\n"
                                                 "master=br0\nslave-type=bridge\n", 0o600)
    write(tmp_path, conn + "kt-e3.nmconnection", "[connection]\nid=kt-e3\ntype=ethernet\ninterface-name=kt-e3\n"
                                                 "[ethernet]\nmtu=1400\n[ipv4]\nmethod=manual\naddress1=10.9.0.1/24\n",
          0o600)
    write(tmp_path, "/run/NetworkManager/system-connections/kt-mv.nmconnection",
          "[connection]\nid=kt-mv\nuuid=m1\ntype=macvlan\ninterface-name=kt-mv\n[macvlan]\nparent=kt-e4\nmode=2\n",
          0o600)
    findings = audit(with_config(snapshot, tmp_path))
    assert set(drift(findings)) == {("drift-mtu", "link:kt-e3"), ("drift-unsaved", "link:kt-mv"),
                                    ("drift-unsaved", "link:kt-vx"), ("drift-unsaved", "link:kt-nat0")}
    transient = one(findings, "drift-unsaved", "link:kt-mv")
    assert transient.what == ("macvlan kt-mv runs but no saved configuration creates it (only "
                              "/run/NetworkManager/system-connections/kt-mv.nmconnection describes it, and a reboot "
                              "empties /run)")
    assert "`nmcli connection add type vxlan ifname kt-vx ...`" in one(findings, "drift-unsaved", "link:kt-vx").fix


def test_two_backends_claim_one_bridge(host, tmp_path):
    enable(tmp_path, "ifupdown", "NetworkManager")
    write(tmp_path, ETC_NI, "auto br0\niface br0 inet static\n    address 10.0.0.2/24\n    bridge-ports kt-e1 kt-e2\n")
    write(tmp_path, "/etc/NetworkManager/system-connections/br0.nmconnection",
          "[connection]\nid=br0\ntype=bridge\ninterface-name=br0\n[ipv4]\nmethod=manual\naddress1=10.0.0.2/24\n", 0o600)
    findings = audit(with_config(live(host), tmp_path))
    both = one(findings, "drift-two-owners", "link:br0")
    assert both.what == ("br0 is claimed by NetworkManager (/etc/NetworkManager/system-connections/br0.nmconnection "
                         f"line 1) and by ifupdown ({ETC_NI} line 2)")
    assert both.severity == "warning" and "NM keyfile profile 'br0'" in both.fix


def test_lines_a_backend_ignores_and_lines_kvmtui_cannot_read(host, tmp_path):
    """A keyfile NM will not load (mode 0644) and a broken netplan file: warnings, on the
    device they are about or else the uplink. A Mako loop in ifupdown2's file: info."""
    enable(tmp_path, "NetworkManager", "netplan", "ifupdown2")
    write(tmp_path, "/etc/NetworkManager/system-connections/kt-e3.nmconnection",
          "[connection]\nid=kt-e3\ntype=ethernet\ninterface-name=kt-e3\n", 0o644)
    write(tmp_path, "/etc/netplan/50-broken.yaml", "network:\n  bridges:\n    br0: [\n")
    write(tmp_path, ETC_NI, "auto br0\niface br0\n    bridge-ports kt-e1 kt-e2\n    address 10.0.0.2/24\n"
                            "%for i in range(2):\niface kt-x${i}\n%endfor\n")
    findings = audit(with_config(live(host), tmp_path))
    problems = {(f.subject, f.severity, f.key) for f in drift(findings).get(("drift-config-problem", "link:kt-e3"), [])
                + drift(findings).get(("drift-config-problem", "link:br0"), [])}
    assert problems == {("/etc/NetworkManager/system-connections/kt-e3.nmconnection", "warning", "link:kt-e3"),
                        ("/etc/netplan/50-broken.yaml line 4", "warning", "link:br0"),
                        (f"{ETC_NI} line 5", "info", "link:br0")}
    (mako,) = [f for f in findings if f.subject == f"{ETC_NI} line 5"]
    assert mako.what.startswith(f"cannot read {ETC_NI} line 5: template placeholder")


# bonds and VLANs: the recorded host


def recorded() -> Snapshot:
    return as_nics(read_snapshot_file(str(EXAMPLE)), ("eno1", "eno2", "eno3", "eno4", "eno5", "eno6"))


RECORDED_IFUPDOWN = """auto lo
iface lo inet loopback

auto eno4
iface eno4 inet static
    address 198.51.100.10/24
    mtu 9000

auto bond0
iface bond0 inet manual
    bond-slaves eno1 eno3
    bond-mode 802.3ad
    bond-miimon 100

auto bond0.100
iface bond0.100 inet manual
    vlan-raw-device eno1
    vlan-id 200

auto br100
iface br100 inet manual
    bridge-ports bond0.100
    bridge-stp on
    bridge-vlan-aware yes

auto br-mgmt
iface br-mgmt inet static
    bridge-ports eno3
    address 192.0.2.10/24
    gateway 192.0.2.1
"""


def test_recorded_host_bond_mode_slaves_and_vlan_differ(tmp_path):
    enable(tmp_path, "ifupdown")
    write(tmp_path, ETC_NI, RECORDED_IFUPDOWN)
    snapshot = with_config(recorded(), tmp_path)
    findings = audit(snapshot)
    assert set(drift(findings)) == {("drift-bond-mode", "link:bond0"), ("drift-vlan", "link:bond0.100"),
                                    ("drift-unsaved-member", "link:eno2"), ("drift-member", "link:eno3"),
                                    ("drift-mtu", "link:eno4")}
    mode = one(findings, "drift-bond-mode", "link:bond0")
    assert mode.what == f"bond0 runs in mode active-backup, but {ETC_NI} line 10 says mode 802.3ad"
    tag = one(findings, "drift-vlan", "link:bond0.100")
    assert tag.what == (f"VLAN bond0.100 differs from {ETC_NI} line 16: id 100 live, 200 saved; "
                        "parent bond0 live, eno1 saved")
    assert tag.commands == ("ip link del dev bond0.100", "ip link add link eno1 name bond0.100 type vlan id 200",
                            "ip link set dev bond0.100 master br100", "ip link set dev bond0.100 up")
    slave = one(findings, "drift-unsaved-member", "link:eno2")
    assert slave.subject == "bond0 slave eno2" and "bond0 has one slave less" in slave.why
    elsewhere = one(findings, "drift-member", "link:eno3")
    assert elsewhere.what == f"{ETC_NI} line 10 makes eno3 a slave of bond0, but live it is a port of br-mgmt"
    assert elsewhere.commands == ("ip link set dev eno3 nomaster", "ip link set dev eno3 down",
                                  "ip link set dev eno3 master bond0", "ip link set dev eno3 up")
    text = text_report(snapshot, findings)
    assert max(map(len, text.splitlines())) <= 80


def test_recorded_host_in_netplan_is_clean_then_a_vlan_on_the_wrong_parent(tmp_path):
    enable(tmp_path, "netplan")
    yaml = """network:
  version: 2
  ethernets:
    eno1: {}
    eno2: {}
    eno3: {}
    eno4:
      addresses: [198.51.100.10/24]
  bonds:
    bond0:
      interfaces: [eno1, eno2]
      parameters: {mode: active-backup, primary: eno1, mii-monitor-interval: 100}
  vlans:
    bond0.100:
      id: 100
      link: PARENT
  bridges:
    br100:
      interfaces: [bond0.100]
    br-mgmt:
      interfaces: [eno3]
      addresses: [192.0.2.10/24]
      routes: [{to: default, via: 192.0.2.1}]
"""
    write(tmp_path, "/etc/netplan/00-host.yaml", yaml.replace("PARENT", "bond0"), 0o600)
    assert drift(audit(with_config(recorded(), tmp_path))) == {}
    write(tmp_path, "/etc/netplan/00-host.yaml", yaml.replace("PARENT", "eno2"), 0o600)
    (finding,) = [f for f in audit(with_config(recorded(), tmp_path)) if f.rule.startswith("drift-")]
    assert (finding.rule, finding.key, finding.what) == (
        "drift-vlan", "link:bond0.100", "VLAN bond0.100 differs from /etc/netplan/00-host.yaml line 14: "
        "parent bond0 live, eno2 saved")


SAMPLES = sorted(p for p in (SHARED_FIXTURES / "netconfig").glob("*/*") if p.is_file())
PLACES = {"netplan": "/etc/netplan/{name}.yaml", "nm-keyfile": "/etc/NetworkManager/system-connections/{name}",
          "ifcfg": "/etc/sysconfig/network-scripts/{name}", "interfaces": ETC_NI,
          "networkd": "/etc/systemd/network/{name}"}


def test_the_samples_are_there():
    assert len(SAMPLES) >= 40


@pytest.mark.parametrize("path", SAMPLES, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_every_sample_is_audited_against_the_recorded_host(path, tmp_path):
    """Written by others, placed where its backend reads it, every backend enabled: no
    exception, and each finding well formed; what kvmtui cannot read is a finding naming
    the file and line."""
    enable(tmp_path, *ENABLE)
    name = path.name.removesuffix(".yaml")
    write(tmp_path, PLACES[path.parent.name].format(name=name), path.read_text(), 0o600)
    snapshot = with_config(recorded(), tmp_path)
    findings = audit(snapshot)
    for finding in findings:
        assert finding.rule in RULES and finding.severity in SEVERITIES
        assert finding.key.startswith("link:") or not finding.rule.startswith("drift-")
        assert finding.what and finding.why and finding.fix and finding.subject
    problems = [f for f in findings if f.rule == "drift-config-problem"]
    assert len(problems) == len(snapshot.netconfig.problems)
    said = sorted(p.text for p in snapshot.netconfig.problems)
    for finding, problem in zip(sorted(problems, key=lambda f: f.what), said):
        assert finding.what == problem and finding.subject.startswith("/etc/")
    text_report(snapshot, findings)


def test_a_template_is_a_problem_naming_its_file_and_line(tmp_path):
    enable(tmp_path, "ifupdown2")
    sample = SHARED_FIXTURES / "netconfig" / "interfaces" / "bridge-vlan-bond-vxlan-vrf-mako-ifupdown2.interfaces"
    write(tmp_path, ETC_NI, sample.read_text())
    findings = [f for f in audit(with_config(recorded(), tmp_path)) if f.rule == "drift-config-problem"]
    assert sorted((f.subject, f.severity) for f in findings) == [(f"{ETC_NI} line 11", "info"),
                                                                 (f"{ETC_NI} line 7", "info")]
    assert all("template placeholder" in f.what for f in findings)


def test_a_recording_without_the_configuration_audits_as_before():
    snapshot = read_snapshot_file(str(EXAMPLE))
    assert snapshot.netconfig is None and drift(audit(snapshot)) == {}
    proc = kvmtui("audit", "--from", str(EXAMPLE), "--format", "json")
    assert not [f for f in json.loads(proc.stdout)["findings"] if f["rule"].startswith("drift-")]


def test_a_recording_with_the_configuration_goes_through_audit_from(tmp_path):
    enable(tmp_path, "ifupdown")
    write(tmp_path, ETC_NI, RECORDED_IFUPDOWN)
    path = tmp_path / "recorded.json"
    path.write_text(json.dumps(snapshot_document(with_config(recorded(), tmp_path))))
    proc = kvmtui("audit", "--from", str(path), "--format", "json")
    assert proc.returncode == 1, proc.stderr
    assert {(f["rule"], f["key"]) for f in json.loads(proc.stdout)["findings"] if f["rule"].startswith("drift-")} == {
        ("drift-bond-mode", "link:bond0"), ("drift-vlan", "link:bond0.100"), ("drift-unsaved-member", "link:eno2"),
        ("drift-member", "link:eno3"), ("drift-mtu", "link:eno4")}


@pytest.mark.kernelvm
def test_real_bond_and_vlan_against_ifupdown(netns, tmp_path):
    """In the kernel VM: a bond of dummies in balance-rr with a VLAN 30 on it, saved as
    active-backup with VLAN 31 and a slave that is not there."""
    ip(netns, "link", "add", "bond7", "type", "bond", "mode", "balance-rr", "miimon", "100")
    for slave in ("kt-d0", "kt-d1"):
        ip(netns, "link", "add", slave, "type", "dummy")
        ip(netns, "link", "set", slave, "master", "bond7")
    ip(netns, "link", "add", "link", "bond7", "name", "bond7.30", "type", "vlan", "id", "30")
    for dev in ("bond7", "bond7.30"):
        ip(netns, "link", "set", dev, "up")
    enable(tmp_path, "ifupdown2")
    write(tmp_path, ETC_NI, "auto bond7\niface bond7\n    bond-slaves kt-d0 kt-d2\n    bond-mode active-backup\n\n"
                            "auto bond7.30\niface bond7.30\n    vlan-id 31\n    vlan-raw-device bond7\n")
    snapshot = with_config(as_nics(collect_kernel(netns, with_fdb=False), ("kt-d0", "kt-d1")), tmp_path)
    findings = audit(snapshot)
    assert set(drift(findings)) == {("drift-bond-mode", "link:bond7"), ("drift-vlan", "link:bond7.30"),
                                    ("drift-unsaved-member", "link:kt-d1"), ("drift-member", "link:bond7")}
    assert one(findings, "drift-vlan", "link:bond7.30").what.endswith("id 30 live, 31 saved")
    assert "mode balance-rr" in one(findings, "drift-bond-mode", "link:bond7").what


def test_a_networkd_glob_configures_but_creates_nothing(host, tmp_path):
    """`[Match] Name=*` with DHCP: every NIC is configured (saved), but no bridge, macvlan
    or vxlan is made by it."""
    enable(tmp_path, "systemd-networkd")
    write(tmp_path, "/etc/systemd/network/99-all.network", "[Match]\nName=*\n[Network]\nDHCP=yes\n")
    findings = audit(with_config(live(host), tmp_path))
    assert set(drift(findings)) == {("drift-unsaved", f"link:{name}") for name in ("br0", "kt-mv", "kt-vx", "kt-nat0")}
    assert one(findings, "drift-unsaved", "link:br0").what == (
        "bridge br0 runs but no saved configuration creates it (/etc/systemd/network/99-all.network line 1 "
        "configures whatever matches it, and creates nothing)")
