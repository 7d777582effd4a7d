"""The guard's reachability probes, for real: the default gateway answers before the change
and stops answering after it, so the guard reverts long before its deadline, and says
which probe failed. The gateway is a peer namespace at the other end of a veth."""

from __future__ import annotations

import time

from kvmtui.guard import journal
from kvmtui.guard.daemon import PROBE_SPAN
from kvmtui.guard.probes import Probe, run_probes
from tests.helpers import kvmtui_in, sh
from tests.states import changes, no_dad, undo_state


def gatewayed(make_netns) -> tuple[str, str]:
    """Host namespace: kt-br0 (10.72.0.1/24, default route via .254) with port kt-p1, whose
    peer kt-q1 is the gateway 10.72.0.254 in a second namespace."""
    host, wire = make_netns(), make_netns()
    no_dad(host)
    sh("ip", "-n", host, "link", "add", "kt-br0", "type", "bridge")
    sh("ip", "-n", host, "link", "add", "kt-p1", "type", "veth", "peer", "name", "kt-q1", "netns", wire)
    sh("ip", "-n", host, "link", "set", "kt-p1", "master", "kt-br0")
    sh("ip", "-n", host, "addr", "add", "10.72.0.1/24", "dev", "kt-br0")
    sh("ip", "-n", wire, "addr", "add", "10.72.0.254/24", "dev", "kt-q1")
    for ns, dev in ((host, "kt-br0"), (host, "kt-p1"), (wire, "kt-q1")):
        sh("ip", "-n", ns, "link", "set", dev, "up")
    sh("ip", "-n", host, "route", "add", "default", "via", "10.72.0.254")
    deadline = time.monotonic() + 10
    while not run_probes((Probe("default gateway", "10.72.0.254"),), host)[Probe("default gateway", "10.72.0.254")]:
        assert time.monotonic() < deadline, "the gateway never answered"
        time.sleep(0.2)
    return host, wire


def compared(ns: str) -> dict:
    """undo_state, less `bridge link`'s name for the port's peer: iproute2 prints the peer's
    ifindex in the other namespace as the name of whatever has that ifindex here (kt-br0
    before, nothing once kt-br0 came back with a new one)."""
    state = undo_state(ns)
    state["bridge"] = [{k: v for k, v in port.items() if k != "link"} for port in state["bridge"]]
    return state


def test_a_gateway_that_stops_answering_reverts_before_the_deadline(make_netns):
    host, _wire = gatewayed(make_netns)
    before = compared(host)
    proc = kvmtui_in(host, "apply", "--yes", "--confirm", "120", "delete", "kt-br0")
    assert proc.returncode == 0, proc.stderr
    guard_id = next(line.split()[1] for line in proc.stdout.splitlines() if line.startswith("guard: "))
    assert journal.read(guard_id).probes == ({"name": "default gateway", "address": "10.72.0.254", "passed": True},)
    started = time.monotonic()
    while not (record := journal.read(guard_id)).final:
        assert time.monotonic() - started < PROBE_SPAN + 15, "no early revert"
        time.sleep(0.2)
    assert record.state == journal.REVERTED and record.reason == \
        "stopped answering since the change: default gateway 10.72.0.254", record.reason
    assert compared(host) == before, changes(before, compared(host))


def test_probes_that_never_answered_do_not_count(netns):
    """A default gateway nobody answers for: not a probe of this change, no early revert."""
    sh("ip", "-n", netns, "link", "add", "kt-br0", "type", "bridge")
    sh("ip", "-n", netns, "addr", "add", "10.73.0.1/24", "dev", "kt-br0")
    sh("ip", "-n", netns, "link", "set", "kt-br0", "up")
    sh("ip", "-n", netns, "route", "add", "default", "via", "10.73.0.254", "dev", "kt-br0")
    proc = kvmtui_in(netns, "apply", "--yes", "--confirm", "60", "bridge", "kt-br1")
    assert proc.returncode == 0, proc.stderr
    guard_id = next(line.split()[1] for line in proc.stdout.splitlines() if line.startswith("guard: "))
    assert journal.read(guard_id).probes == ({"name": "default gateway", "address": "10.73.0.254", "passed": False},)
    time.sleep(PROBE_SPAN + 3)
    assert journal.read(guard_id).state == journal.PENDING
    assert kvmtui_in(netns, "revert", guard_id).returncode == 0
