"""Audit rules on real topologies built in namespaces (kernel only: --no-libvirt).

Each test starts from a clean small host (a bridge with STP, one uplink, two taps held
open by a process the way QEMU holds them, a container veth, a vxlan on its underlay),
breaks one thing, and checks that exactly the matching finding appears.
"""

from __future__ import annotations

import time
from dataclasses import replace

import pytest

from kvmtui.audit import audit
from kvmtui.collect.snapshot import collect_snapshot
from kvmtui.model import Domain, DomainInterface, Snapshot
from tests.helpers import sh
from tests.frames import send_frame
from tests.topologies import build_host_like
from tests.topologies import build_clean, held_taps

# Opens taps the way QEMU does (TUNSETIFF), so they have carrier while this runs.


def ip(ns: str, *args: str) -> str:
    return sh("ip", "-n", ns, *args)


def found(ns: str) -> set[tuple[str, str]]:
    return {(f.rule, f.key) for f in audit(collect_snapshot(ns, with_libvirt=False))}


@pytest.fixture
def host(make_netns):
    """The clean host, its taps held open for the test's duration."""
    ns, peer = make_netns(), make_netns()
    with held_taps(ns, "tap0", "tap1"):
        build_clean(ns, peer)
        yield ns


def test_clean_host_is_silent(host):
    assert found(host) == set()


def test_disabled_port(host):
    ip(host, "link", "set", "ct0", "down")
    assert found(host) == {("bridge-port-blocked", "link:ct0")}


def test_blocking_port(host):
    """A second bridge joined to br0 by two veth pairs: STP blocks one of the four ports."""
    ip(host, "link", "add", "brB", "type", "bridge", "stp_state", "1", "hello_time", "100")
    for n in (1, 2):
        ip(host, "link", "add", f"a{n}", "type", "veth", "peer", "name", f"b{n}")
        ip(host, "link", "set", f"a{n}", "master", "br0")
        ip(host, "link", "set", f"b{n}", "master", "brB")
    for dev in ("brB", "a1", "a2", "b1", "b2"):
        ip(host, "link", "set", dev, "up")
    deadline = time.monotonic() + 20
    while (result := found(host)) == set() and time.monotonic() < deadline:
        time.sleep(0.5)
    assert len(result) == 1
    ((rule, key),) = result
    assert rule == "bridge-port-blocked" and key in {"link:a1", "link:a2", "link:b1", "link:b2"}
    state = sh("bridge", "-n", host, "link", "show", "dev", key[5:])
    assert "state blocking" in state


def test_bridge_down_with_guests(host):
    ip(host, "link", "set", "br0", "down")
    findings = audit(collect_snapshot(host, with_libvirt=False))
    assert {(f.rule, f.key) for f in findings} == {("bridge-down-with-guests", "link:br0")}
    assert findings[0].severity == "error" and "tap tap0, tap tap1" in findings[0].what
    assert findings[0].commands == ("ip link set dev br0 up",)


def test_stp_off_with_two_uplinks(host):
    ip(host, "link", "set", "br0", "type", "bridge", "stp_state", "0")
    assert found(host) == set()  # one uplink: no loop possible
    ip(host, "link", "add", "kt-up2", "type", "veth", "peer", "name", "kt-wire2")
    ip(host, "link", "set", "kt-up2", "master", "br0")
    for dev in ("kt-up2", "kt-wire2"):
        ip(host, "link", "set", dev, "up")
    # a port just up is "blocking" until the bridge's next state change (a moment, longer on
    # a busy machine): what stays is the finding about the loop
    wanted = {("bridge-stp-off-uplinks", "link:br0")}
    deadline = time.monotonic() + 10
    while (now := found(host)) != wanted and time.monotonic() < deadline:
        time.sleep(0.2)
    assert now == wanted


def test_address_on_bridge_port(host):
    ip(host, "addr", "add", "198.51.100.7/24", "dev", "kt-up")
    (finding,) = audit(collect_snapshot(host, with_libvirt=False))
    assert (finding.rule, finding.key) == ("bridge-port-address", "link:kt-up")
    assert finding.commands == ("ip addr del 198.51.100.7/24 dev kt-up", "ip addr add 198.51.100.7/24 dev br0")


def test_guest_port_mtu_above_bridge(host):
    ip(host, "link", "set", "ct0", "mtu", "9000")
    (finding,) = audit(collect_snapshot(host, with_libvirt=False))
    assert (finding.rule, finding.key) == ("mtu-larger-than-lower", "link:ct0")
    assert "MTU 9000" in finding.what and "br0 only 1500" in finding.what


def test_bridge_mtu_above_uplink(host):
    ip(host, "link", "set", "kt-up", "mtu", "1400")  # the bridge follows its smallest port...
    assert found(host) == {("mtu-larger-than-lower", f"link:{port}") for port in ("tap0", "tap1", "ct0")}
    for port in ("tap0", "tap1", "ct0"):
        ip(host, "link", "set", port, "mtu", "1400")
    assert found(host) == set()
    ip(host, "link", "set", "br0", "mtu", "1500")  # ...until someone sets it by hand
    assert found(host) == {("mtu-larger-than-lower", "link:br0")}


def test_vxlan_without_underlay_room(host):
    """A vxlan created without `dev` keeps MTU 1500 on a 1500 underlay (found by route)."""
    ip(host, "link", "add", "vx1", "type", "vxlan", "id", "43", "dstport", "4789",
       "remote", "10.9.0.3", "local", "10.9.0.1")
    ip(host, "addr", "add", "2001:db8:9::1/64", "dev", "kt-wire", "nodad")
    ip(host, "link", "add", "vx6", "type", "vxlan", "id", "46", "dstport", "4789", "remote", "2001:db8:9::2")
    ip(host, "link", "set", "vx6", "mtu", "1450")  # fine over IPv4, 20 bytes short over IPv6
    findings = {f.key: f for f in audit(collect_snapshot(host, with_libvirt=False))}
    assert {(f.rule, k) for k, f in findings.items()} == {("mtu-vxlan-underlay", "link:vx1"),
                                                          ("mtu-vxlan-underlay", "link:vx6")}
    assert "needs 1550" in findings["link:vx1"].what and "kt-wire" in findings["link:vx1"].what
    assert "needs 1520" in findings["link:vx6"].what
    assert findings["link:vx1"].commands == ("ip link set dev vx1 mtu 1450",)


def test_macvtap_vepa_and_host_reach(host):
    ip(host, "link", "add", "kt-low", "type", "veth", "peer", "name", "kt-lowp")
    for name in ("mvt0", "mvt1"):
        ip(host, "link", "add", name, "link", "kt-low", "type", "macvtap", "mode", "vepa")
    # A bridge-mode macvtap next to the host's own macvlan (with the address): the cure.
    ip(host, "link", "add", "kt-lowb", "type", "veth", "peer", "name", "kt-lowbp")
    ip(host, "link", "add", "mvb0", "link", "kt-lowb", "type", "macvtap", "mode", "bridge")
    ip(host, "link", "add", "hostmv", "link", "kt-lowb", "type", "macvlan", "mode", "bridge")
    ip(host, "addr", "add", "203.0.113.1/24", "dev", "hostmv")
    findings = audit(collect_snapshot(host, with_libvirt=False))
    assert {(f.rule, f.key, f.severity) for f in findings} == {
        ("guest-macvtap-vepa", "link:mvt0", "warning"), ("guest-macvtap-vepa", "link:mvt1", "warning"),
        ("guest-macvtap-host", "link:mvt0", "info"), ("guest-macvtap-host", "link:mvt1", "info"),
    }


def test_single_vepa_macvtap_is_info(host):
    ip(host, "link", "add", "kt-low", "type", "veth", "peer", "name", "kt-lowp")
    ip(host, "link", "add", "mvt0", "link", "kt-low", "type", "macvtap", "mode", "vepa")
    assert {(f.rule, f.severity) for f in audit(collect_snapshot(host, with_libvirt=False))} == {
        ("guest-macvtap-vepa", "info"), ("guest-macvtap-host", "info")}


def test_passthrough_lower_shared_with_host_address(host):
    ip(host, "link", "add", "kt-pt", "type", "veth", "peer", "name", "kt-ptp")
    ip(host, "link", "add", "mvp0", "link", "kt-pt", "type", "macvtap", "mode", "passthru")
    assert found(host) == set()
    ip(host, "addr", "add", "203.0.113.9/24", "dev", "kt-pt")
    (finding,) = audit(collect_snapshot(host, with_libvirt=False))
    assert (finding.rule, finding.key, finding.severity) == ("guest-passthrough-shared", "link:mvp0", "error")
    assert "203.0.113.9/24" in finding.what


def test_bridge_nf_call_iptables_with_guest_bridge(host):
    sh("ip", "netns", "exec", host, "sysctl", "-qw", "net.bridge.bridge-nf-call-iptables=1")
    (finding,) = audit(collect_snapshot(host, with_libvirt=False))
    assert (finding.rule, finding.key, finding.severity) == ("host-bridge-nf-call-iptables", "link:br0", "info")


def test_bridge_nf_call_iptables_without_guests(make_netns):
    """sysctl 1 (a fresh namespace's default) with only a container bridge: nothing to say."""
    ns, peer = make_netns(), make_netns()
    ip(ns, "link", "add", "br0", "type", "bridge")
    ip(ns, "link", "add", "ct0", "type", "veth", "peer", "name", "eth0", "netns", peer)
    ip(ns, "link", "set", "ct0", "master", "br0")
    for dev in ("br0", "ct0"):
        ip(ns, "link", "set", dev, "up")
    sh("ip", "-n", peer, "link", "set", "eth0", "up")
    assert ("net.bridge.bridge-nf-call-iptables", "1") in collect_snapshot(ns, with_libvirt=False).sysctls
    assert found(ns) == set()


def test_libvirt_helper_tap_is_silent(host):
    """libvirt < 6 pinned each network bridge's MAC with a down tap `<bridge>-nic`."""
    ip(host, "link", "add", "virbr9", "type", "bridge")
    ip(host, "tuntap", "add", "virbr9-nic", "mode", "tap")
    ip(host, "link", "set", "virbr9-nic", "master", "virbr9")
    ip(host, "link", "set", "virbr9", "up")
    assert found(host) == set()


def test_host_like_topology_findings_are_real(make_netns):
    """tests/topologies.py's host: taps without a program (tap2 also down) and macvtaps."""
    ns, peer = make_netns(), make_netns()
    build_host_like(ns, peer)
    assert found(ns) == {
        ("bridge-port-blocked", "link:tap0"), ("bridge-port-blocked", "link:tap1"),
        ("bridge-port-blocked", "link:tap2"), ("bridge-port-blocked", "link:tap3"),
        ("guest-macvtap-vepa", "link:mvt-vepa"),
        ("guest-macvtap-host", "link:mvt-vepa"), ("guest-macvtap-host", "link:mvt-bridge"),
        ("guest-macvtap-host", "link:mvt-private"),
        ("host-bridge-nf-call-iptables", "link:br0"),
    }


GUEST_MACS = ("52:54:00:6b:74:01", "52:54:00:6b:74:02")


def as_host_with_guest(snapshot: Snapshot) -> Snapshot:
    """The namespace read as if it were the host's own, with libvirt's answer being one running
    guest whose two NICs are tap0 and tap1. The guest is a pure Domain: the rule only needs to
    know which tap is whose, and the FDB it judges is the kernel's, learned from real frames."""
    nics = tuple(DomainInterface("bridge", mac, "virtio", tap, "br0", "br0", None, None, None, None, None)
                 for mac, tap in zip(GUEST_MACS, ("tap0", "tap1")))
    guest = Domain("web1", "uuid-web1", "running", 7, True, nics)
    host = replace(snapshot.host, netns=None, libvirt_uri="qemu:///system", libvirt_version="10.0.0")
    return replace(snapshot, host=host, domains=(guest,))


def learning_at_once(ns: str) -> None:
    """STP off and the ports set forwarding: they learn now, not after two forward delays."""
    ip(ns, "link", "set", "br0", "type", "bridge", "stp_state", "0")
    for port in ("kt-up", "ct0", "tap0", "tap1"):
        sh("bridge", "-n", ns, "link", "set", "dev", port, "state", "3")


def test_guest_mac_learned_behind_another_port(host):
    """A frame from the wire with the guest's MAC: a clone or a loop, reported on the guest."""
    learning_at_once(host)
    snap = lambda: as_host_with_guest(collect_snapshot(host, with_libvirt=False))  # noqa: E731
    assert audit(snap()) == ()
    send_frame(host, "kt-wire", "02:00:00:00:00:42")  # some machine on the wire: nothing wrong
    assert audit(snap()) == ()
    send_frame(host, "kt-wire", GUEST_MACS[0])
    fdb = sh("bridge", "-n", host, "fdb", "show", "br", "br0")
    assert f"{GUEST_MACS[0]} dev kt-up" in fdb  # the kernel learned it on the uplink
    (finding,) = audit(snap())
    assert (finding.rule, finding.key, finding.severity) == ("bridge-mac-two-ports", f"guest:uuid-web1:{GUEST_MACS[0]}", "warning")
    assert finding.what == "the MAC of guest web1 (tap0) is in br0's FDB on kt-up"
    # Read as what it is (a namespace, no libvirt), nobody's MAC is known: silent.
    assert audit(collect_snapshot(host, with_libvirt=False)) == ()


def test_mac_moving_between_ports_is_found_against_the_previous_snapshot(host, make_netns):
    """One MAC first behind the uplink, then behind the container's veth: flapping. Ports that
    come and go (a guest restarted on a new vnet) do not count as a move."""
    learning_at_once(host)
    read = lambda: collect_snapshot(host, with_libvirt=False)  # noqa: E731
    mac = "02:00:00:00:00:43"
    send_frame(host, "kt-wire", mac)
    before = read()
    assert audit(read(), before) == ()
    peer = next(link.link_netns for link in before.links if link.ifname == "ct0")
    send_frame(peer, "eth0", mac)
    after = read()
    assert audit(after) == ()  # one snapshot alone cannot tell
    (finding,) = audit(after, before)
    assert (finding.rule, finding.key) == ("bridge-mac-moved", "link:br0")
    assert finding.what == f"{mac} moved from kt-up to ct0 on br0 since {before.host.taken_at}"
    # ct0 deleted and made again (new ifindex): the MAC behind it is a new arrival, not a move.
    ip(host, "link", "del", "ct0")
    ip(host, "link", "add", "ct0", "type", "veth", "peer", "name", "eth0", "netns", peer)
    ip(host, "link", "set", "ct0", "master", "br0")
    ip(host, "link", "set", "ct0", "up")
    sh("ip", "-n", peer, "link", "set", "eth0", "up")
    send_frame(host, "kt-wire", mac)
    back = read()
    send_frame(peer, "eth0", mac)
    assert [f.rule for f in audit(read(), back)] == ["bridge-mac-moved"]  # same ports both times
    recreated = read()
    ip(host, "link", "del", "ct0")
    ip(host, "link", "add", "ct0", "type", "veth", "peer", "name", "eth0", "netns", peer)
    ip(host, "link", "set", "ct0", "master", "br0")
    for dev, where in (("ct0", host), ("eth0", peer)):
        sh("ip", "-n", where, "link", "set", dev, "up")
    send_frame(peer, "eth0", mac)
    assert audit(read(), recreated) == ()
