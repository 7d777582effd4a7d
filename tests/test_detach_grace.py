"""A live detach is a request the guest's OS completes a moment later: verification
waits for it instead of rolling back at once.

The guest OS is simulated: the diskless guests the suite can boot here have no OS to
acknowledge a PCI unplug (their real detaches are tested with usb-net, which libvirt
removes at once, in test_apply_guest.py). Only the re-read of the host is replaced.
"""

from __future__ import annotations

from dataclasses import replace

from kvmtui import apply
from kvmtui.apply import Executor
from kvmtui.model import Domain, DomainInterface, Snapshot
from kvmtui.kinds import DetachInterface
from kvmtui.plan.expect import GuestNic
from kvmtui.plan.model import Plan
from tests.samples import LIBVIRT_HOST

MAC = "52:54:00:aa:bb:cc"
NIC = DomainInterface("bridge", MAC, "virtio", "vnet0", "br0", "br0", None, None, None, None, None)


class GuestReleasingAfter(Executor):
    """The running guest still shows the NIC for the first `reads` re-reads."""

    def __init__(self, reads: int):
        super().__init__(None, None, readonly=False)
        self.reads, self.count = reads, 0

    def _reread(self, with_libvirt):
        self.count += 1
        nics = (NIC,) if self.count <= self.reads else ()
        return Snapshot(host=LIBVIRT_HOST, domains=(Domain("web1", "u", "running", 1, True, nics),))


def plan_detaching_live() -> Plan:
    return Plan(DetachInterface("web1", MAC, True, False), "detach", (), (GuestNic("web1", MAC, False, True, False),))


def test_verification_waits_for_the_guest_to_release_the_nic(monkeypatch):
    monkeypatch.setattr(apply.time, "sleep", lambda _s: None)
    executor = GuestReleasingAfter(reads=3)
    report = executor.apply(plan_detaching_live())
    assert report.ok and executor.count == 4


def test_a_guest_that_does_not_release_in_time_is_reported_as_waiting(monkeypatch):
    """Not rolled back: the NIC is still in the guest, a re-attach could only fail."""
    monkeypatch.setattr(apply, "DETACH_GRACE", 0.0)
    report = GuestReleasingAfter(reads=10**6).apply(plan_detaching_live())
    assert report.ok and report.waiting == (f"{MAC} is still in the running guest",)
    assert "waiting for the guest" in report.summary() and "virsh domiflist" in report.summary()


def test_other_unmet_expectations_are_not_waited_for(monkeypatch):
    waits = []
    monkeypatch.setattr(apply.time, "sleep", waits.append)
    plan = plan_detaching_live()
    plan = replace(plan, expectations=(*plan.expectations, GuestNic("web1", "52:54:00:00:00:01", True, True, False)))
    report = GuestReleasingAfter(reads=10**6).apply(plan)
    assert not report.ok and waits == []
