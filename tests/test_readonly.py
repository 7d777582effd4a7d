"""--readonly is enforced by the kernel: no CAP_NET_ADMIN, so netlink changes fail."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.guests import SYSTEM_URI, diskless_guest, kt_bridge, unique_name
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


APPLY_PROBE = """
import sys
from kvmtui.privileges import drop_net_admin
drop_net_admin()  # as `kvmtui --readonly` does, first thing

import libvirt
opened = []  # a spy, not a mock: it records read-write connections and still opens them
real_open = libvirt.open
libvirt.open = lambda *args: opened.append(args) or real_open(*args)

from kvmtui.apply import Executor, KernelBackend, LibvirtBackend, ReadOnlyRefused
from kvmtui.collect.snapshot import collect_snapshot
from kvmtui.kinds import AttachInterface, CreateBridge, make_plan

netns, uri, guest, bridge = sys.argv[1:5]
kernel_plan = make_plan(CreateBridge("kt-ro0"), collect_snapshot(netns=netns, with_libvirt=False))
guest_plan = make_plan(AttachInterface(guest, bridge=bridge, mac="52:54:00:0e:ad:01", config=True),
                       collect_snapshot(uri=uri, with_fdb=False))
for what, call in (("kernel plan", lambda: Executor(netns, uri, readonly=False).apply(kernel_plan)),
                   ("libvirt plan", lambda: Executor(netns, uri, readonly=False).apply(guest_plan)),
                   ("kernel backend", lambda: KernelBackend(netns).run(kernel_plan.steps[0])),
                   ("libvirt backend", lambda: LibvirtBackend(uri).run(guest_plan.steps[0]))):
    try:
        report = call()
    except ReadOnlyRefused as exc:
        print(what, "refused:", exc)
    except Exception as exc:
        print(what, "failed otherwise:", type(exc).__name__, exc)
    else:
        print(what, "RAN:", report.summary() if report else "done")
print("read-write connections:", len(opened))
"""


def test_a_readonly_process_refuses_every_plan_and_backend_whatever_the_caller_says(netns):
    """readonly=False passed in a process that went read-only: the executor refuses a
    netlink plan and a libvirt plan, and each backend refuses its step, before touching
    anything (root could still open a read-write libvirt connection: none is opened)."""
    import libvirt

    with kt_bridge() as bridge, diskless_guest(unique_name("ro"), [], start=False) as dom:
        before = dom.XMLDesc(libvirt.VIR_DOMAIN_XML_INACTIVE)
        proc = subprocess.run([sys.executable, "-c", APPLY_PROBE, netns, SYSTEM_URI, dom.name(), bridge],
                              capture_output=True, text=True, timeout=120)
        assert proc.returncode == 0, proc.stderr
        refusal = "refused: read-only mode: kvmtui changes nothing on this host"
        assert proc.stdout.splitlines() == [f"kernel plan {refusal}", f"libvirt plan {refusal}",
                                            f"kernel backend {refusal}", f"libvirt backend {refusal}",
                                            "read-write connections: 0"]
        assert dom.XMLDesc(libvirt.VIR_DOMAIN_XML_INACTIVE) == before
        assert "52:54:00:0e:ad:01" not in before
    assert "kt-ro0" not in sh("ip", "-n", netns, "link", "show")


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
