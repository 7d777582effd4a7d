"""Bond refusals stay true to a stock kernel (inside the kernel VM): the refused plans,
forced through apply with the test-only make_plan(kernel_checks=False), fail there with
EBUSY and are rolled back; a macvtap on a bond slave is refused by the kernel as the
shared check (the one plan_attach uses) says. The VM has no libvirt, so that one asks
the kernel directly."""

from __future__ import annotations

import subprocess

import pytest

from kvmtui.apply import Executor
from kvmtui.collect.snapshot import collect_snapshot
from kvmtui.plan import PlanError
from kvmtui.kinds import CreateBond, CreateBridge, make_plan
from kvmtui.plan.eligible import macvtap_lower_unfit
from tests.helpers import sh
from tests.helpers import links

pytestmark = pytest.mark.kernelvm


def ip(ns: str, *args: str) -> str:
    return sh("ip", "-n", ns, *args)


def forced(ns: str, intent, words: str) -> None:
    snapshot = collect_snapshot(netns=ns, with_libvirt=False)
    with pytest.raises(PlanError, match=words):
        make_plan(intent, snapshot)
    report = Executor(ns, None, False).apply(make_plan(intent, snapshot, kernel_checks=False))
    assert not report.ok and "busy" in (report.error or "").lower(), report.summary()
    assert not report.undo_errors, report.summary()


def test_a_slave_carrying_a_macvlan_and_a_bond_carrying_a_macvtap(netns):
    for name in ("kt-d0", "kt-d1", "kt-d2"):
        ip(netns, "link", "add", name, "type", "dummy")
    ip(netns, "link", "add", "link", "kt-d0", "name", "kt-ml", "type", "macvlan")
    forced(netns, CreateBond("kt-bond1", "active-backup", ("kt-d0",)), r"kt-d0 carries kt-ml.*bond slave \(EBUSY\)")
    assert "kt-bond1" not in links(netns) and "master" not in links(netns)["kt-d0"]
    ip(netns, "link", "add", "kt-bond0", "type", "bond", "mode", "active-backup")
    ip(netns, "link", "set", "kt-d1", "master", "kt-bond0")
    ip(netns, "link", "add", "link", "kt-bond0", "name", "kt-mvt", "type", "macvtap")
    forced(netns, CreateBridge("kt-br0", ("kt-bond0",)), r"kt-bond0 carries kt-mvt.*bridge port \(EBUSY\)")
    assert "kt-br0" not in links(netns) and "master" not in links(netns)["kt-bond0"]


def test_a_macvtap_on_a_bond_slave(netns):
    ip(netns, "link", "add", "kt-d0", "type", "dummy")
    ip(netns, "link", "add", "kt-bond0", "type", "bond", "mode", "active-backup")
    ip(netns, "link", "set", "kt-d0", "master", "kt-bond0")
    snapshot = collect_snapshot(netns=netns, with_libvirt=False)
    unfit = macvtap_lower_unfit(snapshot, snapshot.link("kt-d0"))
    assert unfit is not None and "slave of bond kt-bond0" in unfit.reason and "EBUSY" in unfit.reason
    assert macvtap_lower_unfit(snapshot, snapshot.link("kt-bond0")) is None
    busy = subprocess.run(["ip", "-n", netns, "link", "add", "link", "kt-d0", "name", "kt-mvt", "type", "macvtap"],
                          capture_output=True, text=True)
    assert busy.returncode != 0 and "busy" in busy.stderr.lower(), busy.stderr
    ip(netns, "link", "add", "link", "kt-bond0", "name", "kt-mvt", "type", "macvtap")  # on the bond itself: fine
