"""The LLDP audit rules end to end, inside the kernel VM (bonding, VLAN filtering): real lldpd
daemons, each in its own namespace with its own control socket, play two switches; the host
under test is a third namespace whose own lldpd hears them, and `kvmtui audit` reads that
lldpd ($KVMTUI_LLDPD_SOCKET) as it would the host's.

The native VLAN is announced with lldpd's custom-TLV command as an IEEE 802.1 Port VLAN ID
TLV (OUI 00-80-c2, subtype 1): lldpd announces no PVID of its own for a plain veth, and the
receiving lldpd decodes that TLV as any switch's native VLAN."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

from kvmtui.collect.lldpd import LLDPD_SOCKET_ENV
from tests.helpers import kvmtui_in, sh, stop_process, wait_until
from tests.topologies import ip

pytestmark = pytest.mark.kernelvm

NATIVE_VLAN = 20  # what switch A sends untagged on the bridge's port; the port's PVID stays 1


@pytest.fixture
def lldpd_runner():
    """start(netns, ports, *lldpd options) -> its control socket; every daemon stopped afterwards."""
    # lldpcli is setuid _lldpd: the sockets must be where that user can reach
    socket_dir = tempfile.mkdtemp(prefix="kt-lldpd-")
    os.chmod(socket_dir, 0o755)
    daemons: list[subprocess.Popen] = []

    def start(ns: str, ports: str, *options: str) -> str:
        socket = os.path.join(socket_dir, f"{ns}.sock")
        daemons.append(subprocess.Popen(["ip", "netns", "exec", ns, "lldpd", "-d", "-u", socket, "-I", ports, *options],
                                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        wait_until(lambda: Path(socket).exists(), timeout=30, what=f"lldpd's socket in {ns}")
        return socket

    try:
        yield start
    finally:
        for daemon in daemons:
            stop_process(daemon)
        shutil.rmtree(socket_dir, ignore_errors=True)


def test_bond_across_two_switches_and_a_native_vlan_the_bridge_does_not_take(make_netns, lldpd_runner):
    host, switch_a, switch_b = make_netns(), make_netns(), make_netns()
    # the host: an 802.3ad bond of kt-s0 (to switch A) and kt-s1 (to switch B), no LACP partner
    # answers; and kt-p (to switch A as well), a port of a VLAN-filtering bridge with PVID 1
    ip(host, "link", "add", "kt-bond", "type", "bond", "mode", "802.3ad", "miimon", "100")
    for slave, peer, switch in (("kt-s0", "kt-a0", switch_a), ("kt-s1", "kt-b0", switch_b), ("kt-p", "kt-a1", switch_a)):
        ip(host, "link", "add", slave, "type", "veth", "peer", "name", peer, "netns", switch)
        ip(switch, "link", "set", peer, "up")
    for slave in ("kt-s0", "kt-s1"):
        ip(host, "link", "set", slave, "master", "kt-bond")
    ip(host, "link", "add", "kt-br", "type", "bridge", "vlan_filtering", "1")
    ip(host, "link", "set", "kt-p", "master", "kt-br")
    for name in ("kt-bond", "kt-p", "kt-br"):
        ip(host, "link", "set", name, "up")

    switches = {switch_a: ("sw-a", "kt-a0,kt-a1"), switch_b: ("sw-b", "kt-b0")}
    sockets = {ns: lldpd_runner(ns, ports) for ns, (_, ports) in switches.items()}
    host_socket = lldpd_runner(host, "kt-s0,kt-s1,kt-p")
    for ns, (name, _) in switches.items():
        sh("lldpcli", "-u", sockets[ns], "configure", "system", "hostname", name)
        sh("lldpcli", "-u", sockets[ns], "configure", "lldp", "tx-interval", "1")
        # a TTL of 30 s, not 4: under TCG a busy VM may starve a daemon for seconds
        sh("lldpcli", "-u", sockets[ns], "configure", "lldp", "tx-hold", "30")
    sh("lldpcli", "-u", sockets[switch_a], "configure", "ports", "kt-a1", "lldp", "custom-tlv", "add",
       "oui", "00,80,c2", "subtype", "1", "oui-info", f"00,{NATIVE_VLAN:02x}")

    def host_lldpd() -> str:
        return sh("lldpcli", "-u", host_socket, "-f", "json0", "show", "neighbors", "details")

    def heard() -> dict:
        for socket in sockets.values():
            sh("lldpcli", "-u", socket, "update")
        shown = json.loads(host_lldpd())
        by_port = {entry["name"]: entry for block in shown.get("lldp") or [] for entry in block.get("interface") or []}
        names = {port: entry["chassis"][0].get("name", [{}])[0].get("value") for port, entry in by_port.items()}
        pvid = [vlan for vlan in by_port.get("kt-p", {}).get("vlan") or [] if vlan.get("pvid")]
        return names if names == {"kt-s0": "sw-a", "kt-s1": "sw-b", "kt-p": "sw-a"} and pvid else {}

    wait_until(heard, timeout=60, interval=1.0, what="the host's lldpd hearing sw-a on kt-s0 and kt-p, sw-b on kt-s1")

    proc = kvmtui_in(host, "audit", "--format", "json", env={LLDPD_SOCKET_ENV: host_socket})
    assert proc.returncode == 1, proc.stderr  # findings
    lldp = {(f["rule"], f["key"]): f for f in json.loads(proc.stdout)["findings"] if f["rule"].startswith("lldp-")}
    assert set(lldp) == {("lldp-bond-switches", "link:kt-bond"), ("lldp-native-vlan", "link:kt-p")}, (
        proc.stdout, host_lldpd())
    bond = lldp["lldp-bond-switches", "link:kt-bond"]
    assert "2 different switches" in bond["what"] and "sw-a" in bond["what"] and "sw-b" in bond["what"]
    native = lldp["lldp-native-vlan", "link:kt-p"]
    assert f"sends VLAN {NATIVE_VLAN} untagged" in native["what"] and "PVID on kt-br is 1" in native["what"]

    # the bridge takes VLAN 20 untagged now, as the switch sends it: that finding is gone
    sh("bridge", "-n", host, "vlan", "add", "dev", "kt-p", "vid", str(NATIVE_VLAN), "pvid", "untagged")
    after = kvmtui_in(host, "audit", "--format", "json", env={LLDPD_SOCKET_ENV: host_socket})
    assert {f["rule"] for f in json.loads(after.stdout)["findings"] if f["rule"].startswith("lldp-")} == {
        "lldp-bond-switches"}, (after.stdout, host_lldpd())
