"""LLDP neighbours NetworkManager heard itself (collect/lldp_nm.py): a private NM in a
namespace (tests/networkmanager.py) with a veth profile that has `connection.lldp enable`,
and a real lldpd on the veth's other end announcing itself as sw-lab-1; the reader names
it on NM's port. The parser also on the VLAN TLVs NM reports (lldpd on a veth here cannot
send them: this kernel has no 802.1Q module), in the shape NM's D-Bus answer had."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

from kvmtui.collect.lldp_nm import neighbours_of, nm_port_neighbours
from kvmtui.model.wire import Neighbour, PortNeighbour
from tests.helpers import sh, stop_process
from tests.helpers import wait_until as wait
from tests.networkmanager import nmcli, private_networkmanager


@pytest.fixture
def lldpd_socket():
    """A directory lldpcli (setuid _lldpd) can reach, for lldpd's control socket."""
    socket_dir = tempfile.mkdtemp(prefix="kt-lldpd-")
    os.chmod(socket_dir, 0o755)
    yield os.path.join(socket_dir, "lldpd.sock")
    shutil.rmtree(socket_dir, ignore_errors=True)


def test_networkmanagers_lldp_neighbour(make_netns, tmp_path, lldpd_socket, monkeypatch):
    netns = make_netns()
    with private_networkmanager(netns, tmp_path / "nm") as address:
        monkeypatch.setenv("DBUS_SYSTEM_BUS_ADDRESS", address)
        assert nm_port_neighbours() == ()  # NM answers, nothing heard yet
        nmcli(address, "connection", "add", "type", "veth", "con-name", "kt-lldp", "ifname", "kt-nv",
              "veth.peer", "kt-np", "connection.lldp", "enable", "ipv4.method", "disabled", "ipv6.method", "disabled")
        wait(lambda: "kt-np" in sh("ip", "-n", netns, "link", "show"), timeout=20, what="NM's veth")
        sh("ip", "-n", netns, "addr", "add", "192.0.2.30/24", "dev", "kt-np")
        sh("ip", "-n", netns, "link", "set", "kt-np", "up")
        daemon = subprocess.Popen(["ip", "netns", "exec", netns, "lldpd", "-d", "-u", lldpd_socket, "-I", "kt-np",
                                   "-S", "switch one"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            wait(lambda: Path(lldpd_socket).exists(), timeout=30, what="lldpd's socket")
            for words in (["configure", "system", "hostname", "sw-lab-1"], ["configure", "lldp", "portidsubtype", "ifname"],
                          ["configure", "system", "ip", "management", "pattern", "192.0.2.30"]):
                sh("lldpcli", "-u", lldpd_socket, *words)

            def heard() -> tuple[PortNeighbour, ...]:
                sh("lldpcli", "-u", lldpd_socket, "update")
                return tuple(h for h in nm_port_neighbours() if h.neighbour.system_name == "sw-lab-1"
                             and h.neighbour.management_addresses)

            (found,) = wait(heard, timeout=60, interval=1.0, what="NM hearing sw-lab-1 on kt-nv")
        finally:
            stop_process(daemon)
    n = found.neighbour
    assert (found.ifname, found.source, n.protocol, n.system_name, n.port_id, n.platform) == (
        "kt-nv", "NetworkManager", "lldp", "sw-lab-1", "kt-np", "switch one")
    assert n.management_addresses == ("192.0.2.30",) and n.chassis_id
    assert n.brief == "sw-lab-1 port kt-np"


class _Variant:
    """dbus-fast's Variant as far as the parser sees it: a `.value`."""

    def __init__(self, value):
        self.value = value


def _dict(entries: dict) -> dict:
    """An a{sv} as dbus-fast gives it: each value a Variant, a list of dicts (aa{sv}) inside too."""
    return {key: _Variant([_dict(i) if isinstance(i, dict) else i for i in value] if isinstance(value, list) else value)
            for key, value in entries.items()}


def test_the_vlan_tlvs_nm_reports():
    tlvs = {"chassis-id-type": 4, "chassis-id": "52:54:00:00:00:0A", "port-id-type": 5, "port-id": "Eth1/7",
            "system-name": "sw-core-1", "port-description": "to kvm1", "ieee-802-1-pvid": 10,
            "ieee-802-1-vlans": [{"vid": 10, "name": "users"}, {"vid": 20, "name": "voice"}],
            "management-addresses": [{"address-subtype": 1, "address": b"\xc0\x00\x02\x1e", "interface-number": 2}]}
    objects = {"/org/freedesktop/NetworkManager/Devices/3": {
        "org.freedesktop.NetworkManager.Device": {"Interface": _Variant("eno1"), "LldpNeighbors": _Variant([_dict(tlvs)])}},
        "/org/freedesktop/NetworkManager/Devices/4": {
        "org.freedesktop.NetworkManager.Device": {"Interface": _Variant("eno2"), "LldpNeighbors": _Variant([])}}}
    assert neighbours_of(objects) == (PortNeighbour("eno1", "NetworkManager", Neighbour(
        "lldp", "52:54:00:00:00:0A", "Eth1/7", "to kvm1", "sw-core-1", None, 10, ("192.0.2.30",), None, (10, 20))),)
