"""Real topologies built with iproute2 inside a test's namespace."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from contextlib import contextmanager

from tests.helpers import sh

MACVTAP_MODES = ("vepa", "bridge", "private", "passthru")
STATIC_MAC = "02:00:00:00:00:aa"


def ip(netns: str, *args: str) -> str:
    """`ip -n NETNS ...`, stdout."""
    return sh("ip", "-n", netns, *args)


def bond_with_dummies(netns: str, bond: str, slaves: tuple[str, ...], *options: str) -> None:
    """A bond of fresh dummy devices, up (kernel VM only: this machine has no bonding or dummy)."""
    ip(netns, "link", "add", bond, "type", "bond", *options)
    for slave in slaves:
        ip(netns, "link", "add", slave, "type", "dummy")
        ip(netns, "link", "set", slave, "master", bond)
    ip(netns, "link", "set", bond, "up")


def ns_json(netns: str, *cmd: str) -> list[dict]:
    """`ip`/`bridge` JSON output inside the namespace."""
    return json.loads(sh("ip", "netns", "exec", netns, *cmd) or "[]")


def build_host_like(netns: str, peer_ns: str) -> None:
    """What a small KVM host looks like, minus bonds and VLANs (not in this kernel):

    kt-wire -- kt-up (veth) -> br0 -> tap0, tap1, tap2   bridge with an uplink and guests
    br1 -> tap3                                          bridge with no uplink
    low-<mode> (veth) -> mvt-<mode> (macvtap <mode>)      one per macvtap mode
    lowv (veth, 10.9.0.1/24) -> vx0 (vxlan 42)            vxlan on its underlay
    xns (veth) <-> peer in `peer_ns`                      a pair across namespaces
    """
    ip = ("ip", "-n", netns)
    sh(*ip, "link", "add", "br0", "type", "bridge", "stp_state", "1")
    sh(*ip, "link", "add", "kt-up", "type", "veth", "peer", "name", "kt-wire")
    sh(*ip, "link", "set", "kt-up", "master", "br0")
    for n in range(4):
        sh(*ip, "tuntap", "add", f"tap{n}", "mode", "tap")
    sh(*ip, "link", "add", "br1", "type", "bridge")
    for n in range(3):
        sh(*ip, "link", "set", f"tap{n}", "master", "br0")
    sh(*ip, "link", "set", "tap3", "master", "br1")
    for dev in ("br0", "br1", "kt-up", "kt-wire", "tap0", "tap1", "tap3"):
        sh(*ip, "link", "set", dev, "up")
    for mode in MACVTAP_MODES:
        sh(*ip, "link", "add", f"low-{mode}", "type", "veth", "peer", "name", f"lowp-{mode}")
        sh(*ip, "link", "add", f"mvt-{mode}", "link", f"low-{mode}", "type", "macvtap", "mode", mode)
    sh(*ip, "link", "add", "lowv", "type", "veth", "peer", "name", "lowvp")
    sh(*ip, "addr", "add", "10.9.0.1/24", "dev", "lowv")
    sh(*ip, "link", "set", "lowv", "up")
    sh(*ip, "link", "add", "vx0", "type", "vxlan", "id", "42", "dstport", "4789",
       "remote", "10.9.0.2", "local", "10.9.0.1", "dev", "lowv")
    sh(*ip, "route", "add", "10.77.0.0/16", "via", "10.9.0.254")
    sh(*ip, "link", "add", "xns", "type", "veth", "peer", "name", "xpeer", "netns", peer_ns)
    sh("bridge", "-n", netns, "fdb", "add", STATIC_MAC, "dev", "tap0", "master", "static")
    sh("bridge", "-n", netns, "fdb", "append", "00:00:00:00:00:00", "dev", "vx0", "dst", "10.9.0.3", "self", "permanent")


HOLD_TAPS = r"""
import fcntl, os, struct, sys
TUNSETIFF, IFF_TAP, IFF_NO_PI = 0x400454CA, 0x0002, 0x1000
fds = [os.open("/dev/net/tun", os.O_RDWR) for _ in sys.argv[1:]]
for fd, name in zip(fds, sys.argv[1:]):
    fcntl.ioctl(fd, TUNSETIFF, struct.pack("16sH", name.encode(), IFF_TAP | IFF_NO_PI))
print("ready", flush=True)
sys.stdin.read()
"""


@contextmanager
def held_taps(ns: str, *names: str):
    """Taps in `ns` with a program attached (carrier up); gone when the block ends."""
    proc = subprocess.Popen(["ip", "netns", "exec", ns, sys.executable, "-c", HOLD_TAPS, *names],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == "ready"
        yield names
    finally:
        proc.stdin.close()
        proc.wait(timeout=10)


def build_clean(ns: str, peer_ns: str) -> None:
    """br0 (STP on, 192.0.2.1/24) <- kt-up (veth to kt-wire, 10.9.0.1/24); tap0, tap1
    (held open); ct0 (veth to a container namespace); vx0 (vxlan on kt-wire, MTU 1450)."""
    ip(ns, "link", "add", "br0", "type", "bridge", "stp_state", "1")
    ip(ns, "link", "add", "kt-up", "type", "veth", "peer", "name", "kt-wire")
    ip(ns, "link", "set", "kt-up", "master", "br0")
    ip(ns, "link", "add", "ct0", "type", "veth", "peer", "name", "eth0", "netns", peer_ns)
    ip(ns, "link", "set", "ct0", "master", "br0")
    sh("ip", "-n", peer_ns, "link", "set", "eth0", "up")
    for dev in ("tap0", "tap1"):
        ip(ns, "link", "set", dev, "master", "br0")
    for dev in ("br0", "kt-up", "kt-wire", "ct0", "tap0", "tap1"):
        ip(ns, "link", "set", dev, "up")
    ip(ns, "addr", "add", "192.0.2.1/24", "dev", "br0")
    ip(ns, "addr", "add", "10.9.0.1/24", "dev", "kt-wire")
    ip(ns, "link", "add", "vx0", "type", "vxlan", "id", "42", "dstport", "4789",
       "remote", "10.9.0.2", "local", "10.9.0.1", "dev", "kt-wire")
    ip(ns, "link", "set", "vx0", "up")
    sh("ip", "netns", "exec", ns, "sysctl", "-qw", "net.bridge.bridge-nf-call-iptables=0")


def bridge_with_two_veth_ports(netns: str) -> None:
    """kt-br0, up, with ports kt-p1 and kt-p2 (veths whose far ends kt-q1/kt-q2 are up)."""
    from tests.states import no_dad  # states reads through this module: imported here, not above

    no_dad(netns)
    for n in (1, 2):
        sh("ip", "-n", netns, "link", "add", f"kt-p{n}", "type", "veth", "peer", "name", f"kt-q{n}")
    sh("ip", "-n", netns, "link", "add", "kt-br0", "type", "bridge")
    for n in (1, 2):
        sh("ip", "-n", netns, "link", "set", f"kt-p{n}", "master", "kt-br0")
        sh("ip", "-n", netns, "link", "set", f"kt-p{n}", "up")
        sh("ip", "-n", netns, "link", "set", f"kt-q{n}", "up")
    sh("ip", "-n", netns, "link", "set", "kt-br0", "up")
    # the bridge's carrier and its IPv6 link-local address come a moment later (linkwatch
    # runs at most once a second, later on a busy machine): the "before" state must have them
    deadline = time.monotonic() + 15
    while not has_carrier_and_link_local(netns, "kt-br0"):
        assert time.monotonic() < deadline, "kt-br0 never got its carrier and link-local address"
        time.sleep(0.1)


def has_carrier_and_link_local(netns: str, ifname: str) -> bool:
    link = ns_json(netns, "ip", "-j", "addr", "show", "dev", ifname)[0]
    return "LOWER_UP" in link["flags"] and any(a["family"] == "inet6" for a in link["addr_info"])
