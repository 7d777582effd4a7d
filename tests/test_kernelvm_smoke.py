"""The kernel VM works: bonds, VLANs and a VLAN-filtering bridge on a stock Debian kernel.

The kernelvm tests run inside the VM (tests/kernelvm/plugin.py), each in its own netns;
the last test checks the runner itself from the host.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from tests.topologies import bond_with_dummies, ip
from tests.helpers import REPO, sh
from tests.helpers import links


@pytest.mark.kernelvm
def test_active_backup_bond_with_vlan_on_a_vlan_filtering_bridge(netns):
    assert os.environ.get("KVMTUI_IN_KERNELVM") == "1"
    bond_with_dummies(netns, "bond0", ("kt-d0", "kt-d1"), "mode", "active-backup", "miimon", "100")
    ip(netns, "link", "add", "link", "bond0", "name", "bond0.100", "type", "vlan", "id", "100")
    ip(netns, "link", "add", "kt-br0", "type", "bridge", "vlan_filtering", "1")
    ip(netns, "link", "set", "bond0.100", "master", "kt-br0")
    ip(netns, "link", "set", "bond0.100", "up")
    ip(netns, "link", "set", "kt-br0", "up")

    proc = sh("ip", "netns", "exec", netns, "cat", "/proc/net/bonding/bond0")
    assert "Bonding Mode: fault-tolerance (active-backup)" in proc
    assert "Slave Interface: kt-d0" in proc and "Slave Interface: kt-d1" in proc
    assert "MII Polling Interval (ms): 100" in proc

    found = links(netns)
    vlan = found["bond0.100"]
    assert vlan["link"] == "bond0" and vlan["master"] == "kt-br0"
    assert vlan["linkinfo"]["info_kind"] == "vlan" and vlan["linkinfo"]["info_data"]["id"] == 100
    assert found["kt-br0"]["linkinfo"]["info_data"]["vlan_filtering"] == 1
    assert found["kt-d0"]["master"] == "bond0"

    ports = {p["ifname"]: p for p in json.loads(sh("bridge", "-n", netns, "-j", "vlan", "show"))}
    assert [v["vlan"] for v in ports["bond0.100"]["vlans"]] == [1]


@pytest.mark.kernelvm
def test_lacp_bond(netns):
    opts = ("mode", "802.3ad", "lacp_rate", "fast", "miimon", "100")
    bond_with_dummies(netns, "bond1", ("kt-d2", "kt-d3"), *opts)
    proc = sh("ip", "netns", "exec", netns, "cat", "/proc/net/bonding/bond1")
    assert "Bonding Mode: IEEE 802.3ad Dynamic link aggregation" in proc
    assert "LACP rate: fast" in proc
    info = links(netns)["bond1"]["linkinfo"]["info_data"]
    assert info["mode"] == "802.3ad" and info["ad_lacp_rate"] == "fast"


def test_runner_exit_status_and_kernel():
    """Host side: the runner returns the command's status, and the VM runs another kernel."""
    cmd = [sys.executable, "-m", "tests.kernelvm.vm", "--", "sh", "-c", "uname -r; exit 3"]
    proc = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 3, proc.stderr
    assert proc.stdout.strip() and proc.stdout.strip() != os.uname().release
