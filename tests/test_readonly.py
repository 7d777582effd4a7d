"""--readonly is enforced by the kernel: no CAP_NET_ADMIN, so netlink changes fail."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.helpers import sh

PROBE = """
import sys
from kvmtui.cli import main
from kvmtui.collect.netns import run_in_netns
from kvmtui.privileges import drop_net_admin, has_net_admin, reading_bonding_files
drop_net_admin()
assert not has_net_admin()
with reading_bonding_files():
    assert has_net_admin()  # raised for this thread, for the bonding files only
assert not has_net_admin()

def try_change():
    from pyroute2 import IPRoute
    with IPRoute() as ipr:
        ipr.link("add", ifname="kt-ro0", kind="bridge")

try:
    run_in_netns(sys.argv[1], try_change)
except Exception as exc:
    print(type(exc).__name__, getattr(exc, "code", None))
else:
    print("CHANGED")
"""


def test_readonly_process_cannot_change_the_kernel(netns):
    proc = subprocess.run([sys.executable, "-c", PROBE, netns], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == ["NetlinkError", "1"]  # EPERM, from the kernel
    assert "kt-ro0" not in sh("ip", "-n", netns, "link", "show")


def test_readonly_cli_still_reads(netns):
    proc = subprocess.run([sys.executable, "-m", "kvmtui", "--readonly", "--netns", netns, "--no-libvirt", "dump"],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0 and "lo" in proc.stdout


@pytest.mark.kernelvm
def test_readonly_keeps_lacp_details(netns):
    """The bonding file's LACP details (printed to CAP_NET_ADMIN only) survive --readonly."""
    import json

    sh("ip", "-n", netns, "link", "add", "kt-bond0", "type", "bond", "mode", "802.3ad")
    sh("ip", "-n", netns, "link", "add", "kt-d0", "type", "dummy")
    sh("ip", "-n", netns, "link", "set", "kt-d0", "master", "kt-bond0")
    sh("ip", "-n", netns, "link", "set", "kt-bond0", "up")
    proc = subprocess.run([sys.executable, "-m", "kvmtui", "--readonly", "--netns", netns, "--no-libvirt", "dump", "--json"],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    (bond,) = json.loads(proc.stdout)["bonds"]
    assert bond["active_aggregator"]["partner_mac"] == "00:00:00:00:00:00"
    assert bond["slaves"][0]["actor"] is not None  # "details actor lacp pdu"
